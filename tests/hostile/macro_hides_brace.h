#include <stdint.h>
#include "vmgen.h"

#define OPEN {
typedef struct VMGEN_STATE(1, 1) S OPEN uint32_t a; } S;
#undef OPEN
typedef struct VMGEN_STATE(1, 1) T { uint32_t *p; } T;
