/* VMGEN_SINCE needs a constant. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

extern int flags_version;

struct VMGEN_STATE(3, 1) Dev {
    uint32_t count;
    uint32_t interrupt_flags VMGEN_SINCE(flags_version);
};
