/* The "(at ...)" of a collision names the original column (blanks folded by the preprocessor). */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t        a_b;
    uint32_t        a__b;
};
