/* The argument of VMGEN_SIZE_IS is a field name, not an expression. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint8_t n;
    uint8_t fifo[16] VMGEN_SIZE_IS(n + 1);
};
