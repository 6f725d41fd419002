#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_STATE(1, 1) S { uint8_t a; } S;
typedef struct S_Record { uint8_t b; } S_Record;
typedef struct VMGEN_STATE(1, 1) T { S_Record r; } T;
