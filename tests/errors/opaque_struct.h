/* A struct that is declared but never defined cannot be migrated by value. */
#include <stdint.h>
#include "vmgen.h"

struct Timer;

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    struct Timer timer;
};
