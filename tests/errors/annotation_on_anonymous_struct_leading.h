/* A leading annotation on an anonymous struct member. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    VMGEN_SINCE(2) struct {
        uint32_t a;
    };
};
