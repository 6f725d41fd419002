/* negative minimum version (raw attribute spelling). */
#include <stdint.h>

struct [[vmgen::state(1, -1)]] Dev {
    uint32_t count;
};
