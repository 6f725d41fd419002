/* Plain __int128 is a GCC type that vmgen does not support. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    __int128 wide;
};
