/* A union member is refused. */
#include <stdint.h>
#include "vmgen.h"

union Reg {
    uint32_t word;
    uint8_t bytes[4];
};

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    union Reg reg;
};
