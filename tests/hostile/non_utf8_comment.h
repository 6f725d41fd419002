#include <stdint.h>
#include "vmgen.h"
/* café ÿþ */
typedef struct VMGEN_STATE(1, 1) S { uint32_t *p; } S;
