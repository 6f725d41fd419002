/* A missing semicolon after a member. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count
    uint32_t flags;
};
