/* The count of a sized array must be migrated. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint8_t count VMGEN_SKIP;
    uint8_t fifo[16] VMGEN_SIZE_IS(count);
};
