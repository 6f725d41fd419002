/* dev_regs and dev__regs are different C types but one ASN.1 type Dev-regs. */
#include <stdint.h>
#include "vmgen.h"

struct dev_regs {
    uint32_t a;
};

struct dev__regs {
    uint32_t b;
};

struct VMGEN_STATE(1, 1) Dev {
    struct dev_regs first;
    struct dev__regs second;
};
