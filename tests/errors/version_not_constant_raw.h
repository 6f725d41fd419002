/* version that is not a constant (raw attribute spelling). */
#include <stdint.h>

extern int dev_version;

struct [[vmgen::state(dev_version, 1)]] Dev {
    uint32_t count;
};
