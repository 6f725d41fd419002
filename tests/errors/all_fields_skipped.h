/* A struct reached from a state must migrate at least one field. */
#include <stdint.h>
#include "vmgen.h"

struct Timers {
    void *timer VMGEN_SKIP;
    void *opaque VMGEN_SKIP;
};

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    struct Timers timers;
};
