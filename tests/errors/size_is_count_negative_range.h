/* A count whose range holds no valid element count. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    int8_t count VMGEN_RANGE(-8, -1);
    uint8_t fifo[16] VMGEN_SIZE_IS(count);
};
