/* A union directly inside a union. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

union Inner {
    uint32_t word VMGEN_CASE(0);
};

union Payload {
    uint32_t word VMGEN_CASE(0);
    union Inner inner VMGEN_CASE(1);
};

struct VMGEN_STATE(1, 1) Dev {
    uint8_t kind;
    union Payload payload VMGEN_UNION(kind);
};
