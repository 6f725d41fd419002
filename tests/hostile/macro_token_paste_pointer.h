#include <stdint.h>
#include "vmgen.h"

#define PTR(t) t *
typedef struct VMGEN_STATE(1, 1) S { PTR(uint32_t) a; } S;
