/* One count field sizes one array. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint8_t count;
    uint8_t rx[16] VMGEN_SIZE_IS(count);
    uint8_t tx[16] VMGEN_SIZE_IS(count);
};
