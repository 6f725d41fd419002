/* Other annotations on a VMGEN_SKIP field. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    uint8_t index VMGEN_SKIP VMGEN_RANGE(0, 15);
};
