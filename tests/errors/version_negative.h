/* Versions are 32-bit unsigned. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, -1) Dev {
    uint32_t count;
};
