/* unparsable annotation arguments (raw attribute spelling). */
#include <stdint.h>

struct [[vmgen::state(2 +, 1)]] Dev {
    uint32_t count;
};
