/* An array size must be an integer, not a floating constant. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    uint8_t regs[2.5];
};
