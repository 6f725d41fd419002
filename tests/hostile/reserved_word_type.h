#include <stdint.h>
#include "vmgen.h"

typedef struct INTEGER { uint8_t a; } INTEGER;
typedef struct VMGEN_STATE(1, 1) S { INTEGER x; } S;
