/* The arguments of an annotation must be C expressions. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(2 +, 1) Dev {
    uint32_t count;
};
