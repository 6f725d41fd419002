#include <stdint.h>
#include "vmgen.h"

typedef struct my_dev { uint8_t a; } my_dev;
typedef struct my__dev { uint8_t b; } my__dev;
typedef struct VMGEN_STATE(1, 1) S { my_dev x; my__dev y; } S;
