#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_STATE(1, 1) S { void *p VMGEN_SKIP; } S;
