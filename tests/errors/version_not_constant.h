/* A version must be an integer constant. */
#include <stdint.h>
#include "vmgen.h"

extern int dev_version;

struct VMGEN_STATE(dev_version, 1) Dev {
    uint32_t count;
};
