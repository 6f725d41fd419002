/* __int128 is refused. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    unsigned __int128 wide;
};
