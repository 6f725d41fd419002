#include <stdint.h>
#include "vmgen.h"

#include "no/such/header.h"
typedef struct VMGEN_STATE(1, 1) S { uint32_t a; } S;
