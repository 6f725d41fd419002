/* A field that cannot be lowered does not hide a name collision in the same header. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    uint8_t *buffer;
    uint32_t a_b;
    uint32_t a__b;
};
