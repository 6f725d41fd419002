/* A union and its discriminator must appear in the same version. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

union Payload {
    uint32_t word VMGEN_CASE(0);
    uint8_t bytes[4] VMGEN_CASE(1);
};

struct VMGEN_STATE(2, 1) Dev {
    uint8_t kind;
    union Payload payload VMGEN_UNION(kind) VMGEN_SINCE(2);
};
