/* A field newer than the struct's own version. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(2, 1) Dev {
    uint32_t count;
    uint32_t flags VMGEN_SINCE(3);
};
