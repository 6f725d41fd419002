#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_STATE(1, 1) S { uint32_t n; uint8_t x[4] VMGEN_SIZE_IS(x); } S;
