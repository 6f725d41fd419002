/* VMGEN_UNUSED is padding: an array of bytes. */
#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_STATE(1, 1) VMGEN_VMSD("dev") Dev {
    uint32_t config;
    uint32_t pad VMGEN_UNUSED;
} Dev;
