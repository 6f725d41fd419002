/* A const field cannot be loaded into. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    const uint32_t id;
};
