/* VMGEN_SIZE_IS on a field that is not an array. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint8_t count;
    uint32_t value VMGEN_SIZE_IS(count);
};
