/* Readers cannot need a newer version than the data has. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(2, 3) Dev {
    uint32_t count;
};
