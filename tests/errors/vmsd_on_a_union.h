/* A union has no VMStateDescription of its own. */
#include <stdint.h>
#include "vmgen.h"

union VMGEN_VMSD("u") U {
    uint32_t a;
};

typedef struct VMGEN_STATE(1, 1) Dev {
    uint32_t config;
} Dev;
