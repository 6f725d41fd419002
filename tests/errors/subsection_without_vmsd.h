/* A subsection is named by its struct's VMGEN_VMSD. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

typedef struct Offset {
    uint64_t offset;
} Offset;

typedef struct VMGEN_STATE(1, 1) VMGEN_VMSD("dev") Dev {
    uint32_t config;
    bool has_offset;
    Offset offset VMGEN_SUBSECTION(1, 1, has_offset);
} Dev;
