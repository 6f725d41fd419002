/* Every problem of a header is reported, in source order. */
#include <stdint.h>
#include "vmgen.h"

struct Timer;

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    uint8_t *buffer;
    struct Timer timer;
    unsigned int enabled : 1;
    uint32_t ok;
    long double ratio;
};
