/* VMGEN_SIZE_IS names a field the struct does not have. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint8_t len;
    uint8_t fifo[16] VMGEN_SIZE_IS(count);
};
