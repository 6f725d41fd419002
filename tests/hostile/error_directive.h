#include <stdint.h>
#include "vmgen.h"

#error "this header refuses to be parsed"
typedef struct VMGEN_STATE(1, 1) S { uint32_t a; } S;
