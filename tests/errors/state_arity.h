/* vmgen::state takes a version and a minimum version. */
#include <stdint.h>
#include "vmgen.h"

struct [[vmgen::state(3)]] Dev {
    uint32_t count;
};
