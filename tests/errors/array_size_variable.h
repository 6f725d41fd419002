/* An array size must be an integer constant, not a variable. */
#include <stdint.h>
#include "vmgen.h"

extern const int n_regs;

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    uint8_t regs[n_regs];
};
