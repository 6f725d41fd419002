#include <stdint.h>
#include "vmgen.h"

#define N (N + 1)
typedef struct VMGEN_STATE(1, 1) S { uint8_t x[N]; } S;
