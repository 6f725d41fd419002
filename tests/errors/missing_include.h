/* An include that the preprocessor cannot find. */
#include <stdint.h>
#include "vmgen.h"
#include "no_such_header.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
};
