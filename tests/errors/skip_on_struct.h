/* VMGEN_SKIP marks a field, not a struct. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_SKIP Helper {
    uint32_t x;
};

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
};
