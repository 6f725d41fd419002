/* Subsections belong to a VMState layout: the parent needs VMGEN_VMSD too. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_VMSD("dev/offset") Offset {
    uint64_t offset;
} Offset;

typedef struct VMGEN_STATE(1, 1) Dev {
    uint32_t config;
    bool has_offset;
    Offset offset VMGEN_SUBSECTION(1, 1, has_offset);
} Dev;
