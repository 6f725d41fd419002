/* A named bit-field of width zero. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    unsigned mode : 0;
};
