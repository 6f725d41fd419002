/* VMGEN_STRING on a sized char array. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint8_t len;
    char name[16] VMGEN_STRING VMGEN_SIZE_IS(len);
};
