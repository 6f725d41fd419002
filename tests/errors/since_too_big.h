/* VMGEN_SINCE outside 0..4294967295. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    uint32_t flags VMGEN_SINCE(4294967296);
};
