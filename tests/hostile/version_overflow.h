#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_STATE(0x100000000, 1) S { uint32_t a; } S;
