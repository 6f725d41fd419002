/* VMGEN_RANGE whose low end is above its high end. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint8_t index VMGEN_RANGE(10, 2);
};
