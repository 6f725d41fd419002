/* VMGEN_STATE on a union. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

union VMGEN_STATE(1, 1) Regs {
    uint32_t word;
    uint8_t bytes[4];
};

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
};
