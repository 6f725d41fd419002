/* VMGEN_STRING on an array of wider integers. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint16_t name[16] VMGEN_STRING;
};
