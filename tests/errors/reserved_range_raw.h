/* vmgen::range is reserved (raw attribute spelling). */
#include <stdint.h>

struct [[vmgen::state(1, 1)]] Dev {
    uint32_t count;
    uint8_t index [[vmgen::range(0, 15)]];
};
