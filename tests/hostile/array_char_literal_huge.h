#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_STATE(1, 1) S { uint8_t x['\\xff' * 0x7fffffff * 0x7fffffff * 4]; } S;
