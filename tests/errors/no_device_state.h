/* Nothing is marked VMGEN_STATE. */
#include <stdint.h>
#include "vmgen.h"

struct Dev {
    uint32_t count;
};
