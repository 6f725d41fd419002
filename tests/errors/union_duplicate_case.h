/* One discriminator value selects one member. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

union Payload {
    uint32_t word VMGEN_CASE(0, 1);
    uint16_t half VMGEN_CASE(2, 1);
};

struct VMGEN_STATE(1, 1) Dev {
    uint8_t kind;
    union Payload payload VMGEN_UNION(kind);
};
