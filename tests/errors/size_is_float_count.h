/* The count of a sized array must be an integer. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    float count;
    uint8_t fifo[16] VMGEN_SIZE_IS(count);
};
