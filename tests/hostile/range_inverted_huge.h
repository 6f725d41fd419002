#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_STATE(1, 1) S { int64_t a VMGEN_RANGE(0x7fffffffffffffff, -0x7fffffffffffffff - 1); } S;
