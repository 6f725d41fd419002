/* VMGEN_UNION on a field that is not a union. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint8_t kind;
    uint32_t word VMGEN_UNION(kind);
};
