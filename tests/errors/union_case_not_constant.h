/* A VMGEN_CASE value must be a constant. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

extern int word_kind;

union Payload {
    uint32_t word VMGEN_CASE(word_kind);
};

struct VMGEN_STATE(1, 1) Dev {
    uint8_t kind;
    union Payload payload VMGEN_UNION(kind);
};
