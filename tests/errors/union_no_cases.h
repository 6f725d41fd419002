/* A union none of whose members has VMGEN_CASE. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

union Payload {
    uint32_t word VMGEN_SKIP;
    void *ptr VMGEN_SKIP;
};

struct VMGEN_STATE(1, 1) Dev {
    uint8_t kind;
    union Payload payload VMGEN_UNION(kind);
};
