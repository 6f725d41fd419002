/* An enumerator whose value vmgen cannot fold, in an enum a state uses. */
#include <stdint.h>
#include "vmgen.h"

struct Pair {
    uint32_t a;
    uint32_t b;
};

enum Size {
    SIZE_SMALL = 1,
    SIZE_PAIR = sizeof(struct Pair),
};

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    enum Size size;
};
