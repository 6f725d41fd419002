/* VMGEN_EQUAL compares one integer, enum or bool with the value in place. */
#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_STATE(1, 1) Dev {
    uint8_t ids[4] VMGEN_EQUAL;
} Dev;
