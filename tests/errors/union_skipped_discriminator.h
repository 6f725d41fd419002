/* The discriminator of a union must be migrated. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

union Payload {
    uint32_t word VMGEN_CASE(0);
    uint8_t bytes[4] VMGEN_CASE(1);
};

struct VMGEN_STATE(1, 1) Dev {
    uint8_t kind VMGEN_SKIP;
    union Payload payload VMGEN_UNION(kind);
};
