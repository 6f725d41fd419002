/* A function pointer needs VMGEN_SKIP. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    void (*callback)(void *opaque, int level);
};
