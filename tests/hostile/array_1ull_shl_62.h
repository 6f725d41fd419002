#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_STATE(1, 1) S { uint8_t x[1ULL << 62]; } S;
