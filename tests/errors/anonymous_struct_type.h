/* A named member whose type is an untagged struct: no ASN.1 type name. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    struct {
        uint8_t lo;
        uint8_t hi;
    } pair;
};
