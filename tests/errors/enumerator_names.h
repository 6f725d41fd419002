/* Enumerators get ASN.1 names too: collisions and names without one. */
#include <stdint.h>
#include "vmgen.h"

enum Mode {
    MODE_A_B,
    MODE_A__B,
    _1,
};

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    enum Mode mode;
};
