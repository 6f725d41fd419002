/* The field that says whether a subsection came is a bool. */
#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_VMSD("dev/offset") Offset {
    uint64_t offset;
} Offset;

typedef struct VMGEN_STATE(1, 1) VMGEN_VMSD("dev") Dev {
    uint32_t config;
    uint32_t has_offset;
    Offset offset VMGEN_SUBSECTION(1, 1, has_offset);
} Dev;
