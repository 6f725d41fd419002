/* VMGEN_RANGE is reserved for ranged integers. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    uint8_t index VMGEN_RANGE(0, 15);
};
