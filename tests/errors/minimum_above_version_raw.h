/* minimum version above version (raw attribute spelling). */
#include <stdint.h>

struct [[vmgen::state(2, 3)]] Dev {
    uint32_t count;
};
