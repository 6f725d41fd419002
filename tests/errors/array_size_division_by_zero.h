/* Folding an array size that divides by zero. */
#include <stdint.h>
#include "vmgen.h"

enum { N_BANKS = 0 };

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    uint8_t regs[64 / N_BANKS];
};
