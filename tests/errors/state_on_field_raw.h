/* vmgen::state marks a struct, not a field (raw attribute spelling). */
#include <stdint.h>

struct [[vmgen::state(1, 1)]] Dev {
    uint32_t count [[vmgen::state(1, 1)]];
};
