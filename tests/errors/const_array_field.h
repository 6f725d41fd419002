/* const on an array field. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    const uint8_t rom[16];
};
