/* Every migrated union member needs VMGEN_CASE. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

union Payload {
    uint32_t word VMGEN_CASE(0);
    uint16_t half;
};

struct VMGEN_STATE(1, 1) Dev {
    uint8_t kind;
    union Payload payload VMGEN_UNION(kind);
};
