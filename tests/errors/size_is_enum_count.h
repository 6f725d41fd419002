/* The count of a sized array must be an integer, not an enum. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

enum Level { LOW, HIGH };

struct VMGEN_STATE(1, 1) Dev {
    enum Level count;
    uint32_t regs[2] VMGEN_SIZE_IS(count);
};
