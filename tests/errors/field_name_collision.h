/* a_b and a__b both map to the ASN.1 name a-b. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t a_b;
    uint32_t a__b;
};
