/* A struct named END maps to an ASN.1 reserved word. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) END {
    uint32_t count;
};
