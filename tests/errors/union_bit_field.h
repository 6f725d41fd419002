/* A bit-field member of a union. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

union Payload {
    uint32_t word VMGEN_CASE(0);
    unsigned flag VMGEN_CASE(1) : 1;
};

struct VMGEN_STATE(1, 1) Dev {
    uint8_t kind;
    union Payload payload VMGEN_UNION(kind);
};
