/* vmgen folds sizeof of scalar types only. */
#include <stdint.h>
#include "vmgen.h"

struct Pair {
    uint32_t a;
    uint32_t b;
};

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    uint8_t raw[sizeof(struct Pair)];
};
