/* VMGEN_STATE marks a struct, not a field. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count VMGEN_STATE(1, 1);
};
