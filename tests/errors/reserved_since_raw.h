/* vmgen::since is reserved (raw attribute spelling). */
#include <stdint.h>

struct [[vmgen::state(2, 1)]] Dev {
    uint32_t count;
    uint32_t flags [[vmgen::since(2)]];
};
