/* A bit-field of float (the C compiler refuses it too). */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    float gain : 4;
};
