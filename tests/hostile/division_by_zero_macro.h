#include <stdint.h>
#include "vmgen.h"

#define ZERO (1 - 1)
typedef struct VMGEN_STATE(1, 1) S { uint8_t x[10 / ZERO]; } S;
