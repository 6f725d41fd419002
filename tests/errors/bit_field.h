/* Bit-fields are refused. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    unsigned int enabled : 1;
};
