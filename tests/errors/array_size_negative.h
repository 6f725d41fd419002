/* A negative array size, spelled through a macro. */
#include <stdint.h>
#include "vmgen.h"

#define N_REGS (2 - 3)

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    uint8_t regs[N_REGS];
};
