/* The bounds of VMGEN_RANGE must be constants. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

extern int max_index;

struct VMGEN_STATE(1, 1) Dev {
    uint8_t index VMGEN_RANGE(0, max_index);
};
