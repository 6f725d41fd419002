/* vmgen::skip marks a field, not a struct (raw attribute spelling). */
#include <stdint.h>

struct [[vmgen::skip]] Helper {
    uint32_t x;
};

struct [[vmgen::state(1, 1)]] Dev {
    uint32_t count;
};
