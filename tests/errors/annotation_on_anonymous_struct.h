/* An annotation on an anonymous struct member. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    struct {
        uint32_t a;
    } VMGEN_SINCE(2);
};
