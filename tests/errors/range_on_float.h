/* VMGEN_RANGE on a float. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    float gain VMGEN_RANGE(0, 1);
};
