#include <stdint.h>
#include "vmgen.h"

typedef struct E { uint64_t a[1 << 20]; } E;
typedef struct VMGEN_STATE(1, 1) S { E x[1 << 20]; } S;
