/* A non-constant version on a typedef'd state (the argument's column must not depend on the typedef). */
#include <stdint.h>
#include "vmgen.h"

extern int dev_version;

typedef struct VMGEN_STATE(dev_version, 1) Dev {
    uint32_t count;
} Dev;
