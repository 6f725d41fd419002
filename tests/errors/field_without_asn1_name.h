/* _1x has no ASN.1 name: after dropping underscores it starts with a digit. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    uint32_t _1x;
};
