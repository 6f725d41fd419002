/* The same annotation given twice on one field. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint8_t index VMGEN_RANGE(0, 15) VMGEN_RANGE(0, 7);
};
