/* With VMGEN_VMSD a count travels where it is declared: before its array. */
#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_STATE(1, 1) VMGEN_VMSD("dev") Dev {
    uint64_t regs[8] VMGEN_SIZE_IS(nregs);
    uint8_t nregs VMGEN_RANGE(0, 8);
} Dev;
