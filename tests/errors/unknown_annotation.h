/* A misspelt annotation in the vmgen namespace. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    uint32_t scratch [[vmgen::skipped]];
};
