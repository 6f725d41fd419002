/* A sized array and its count must appear in the same version. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(2, 1) Dev {
    uint8_t count;
    uint8_t fifo[16] VMGEN_SIZE_IS(count) VMGEN_SINCE(2);
};
