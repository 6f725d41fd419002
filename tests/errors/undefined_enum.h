/* A forward-declared (GNU) enum that is never defined. */
#include <stdint.h>
#include "vmgen.h"

enum Color;

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    enum Color color;
};
