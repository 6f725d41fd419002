/* Padding carries no value, so nothing can constrain it. */
#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_STATE(1, 1) VMGEN_VMSD("dev") Dev {
    uint32_t config;
    uint8_t pad[4] VMGEN_UNUSED VMGEN_RANGE(0, 1);
} Dev;
