/* An #error directive stops the preprocessor. */
#include <stdint.h>
#include "vmgen.h"

#ifndef DEV_CONFIGURED
#error "define DEV_CONFIGURED before including this header"
#endif

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
};
