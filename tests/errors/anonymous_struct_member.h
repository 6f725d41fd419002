/* An anonymous struct member (C11) has no name to migrate under. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    struct {
        uint8_t lo;
        uint8_t hi;
    };
};
