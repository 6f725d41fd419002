/* Versions are 32-bit unsigned. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(4294967296, 1) Dev {
    uint32_t count;
};
