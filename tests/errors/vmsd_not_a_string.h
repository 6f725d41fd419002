/* VMGEN_VMSD names QEMU's VMStateDescription: a string literal. */
#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_STATE(1, 1) VMGEN_VMSD(hpet) Dev {
    uint32_t config;
} Dev;
