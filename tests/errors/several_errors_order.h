/* Errors of different kinds come out in source order. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    uint8_t *buffer;
};

struct [[vmgen::skip]] Helper {
    uint32_t y;
};
