/* VMGEN_STRING on a single char. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    char letter VMGEN_STRING;
};
