/* VMGEN_SIZE_IS is reserved for variable-size arrays. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    uint8_t fifo[16] VMGEN_SIZE_IS(count);
};
