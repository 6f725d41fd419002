#include <stdint.h>
#include "vmgen.h"

#undef VMGEN_SKIP
#define VMGEN_SKIP [[vmgen::skip(1, 2, 3)]]
typedef struct VMGEN_STATE(1, 1) S { uint32_t a; uint32_t b VMGEN_SKIP; } S;
