/* vmgen::size_is is reserved (raw attribute spelling). */
#include <stdint.h>

struct [[vmgen::state(1, 1)]] Dev {
    uint32_t count;
    uint8_t fifo[16] [[vmgen::size_is(count)]];
};
