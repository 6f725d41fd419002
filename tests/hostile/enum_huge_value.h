#include <stdint.h>
#include "vmgen.h"

typedef enum E { E_A = 0x7fffffffffffffff, E_B } E;
typedef struct VMGEN_STATE(1, 1) S { E e; } S;
