/* A uint8_t count cannot reach a capacity of 300 without VMGEN_RANGE. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint8_t count;
    uint16_t fifo[300] VMGEN_SIZE_IS(count);
};
