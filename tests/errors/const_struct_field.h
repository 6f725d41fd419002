/* const on a struct field. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

typedef struct Regs {
    uint32_t a;
    uint32_t b;
} Regs;

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    const Regs regs;
};
