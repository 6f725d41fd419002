/* version above 4294967295 (raw attribute spelling). */
#include <stdint.h>

struct [[vmgen::state(0x100000000, 1)]] Dev {
    uint32_t count;
};
