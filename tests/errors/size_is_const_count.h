/* A const count cannot be loaded. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    const uint8_t count;
    uint8_t fifo[16] VMGEN_SIZE_IS(count);
};
