/* VMGEN_VMSD belongs on a struct. */
#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_STATE(1, 1) Dev {
    uint32_t config VMGEN_VMSD("dev");
} Dev;
