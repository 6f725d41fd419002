/* A field whose type is an anonymous enum has no type name for ASN.1. */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    enum { MODE_OFF, MODE_ON } mode;
};
