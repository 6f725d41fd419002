#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_STATE(1, 1) S { uint8_t x[(int)0x80000000]; } S;
