/* VMGEN_SIZE_IS on a pointer to pointers. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    uint8_t **rows VMGEN_SIZE_IS(count);
};
