/* VMGEN_CASE on a field of a struct. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint8_t kind;
    uint32_t word VMGEN_CASE(0);
};
