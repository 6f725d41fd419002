/* An enumerator must fit in 64 bits. */
#include <stdint.h>
#include "vmgen.h"

enum Huge {
    HUGE_SMALL = 1,
    HUGE_BIG = 0x10000000000000000,
};

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    enum Huge huge;
};
