/* VMGEN_RANGE on an enum field. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

enum Mode { MODE_A, MODE_B, MODE_C };

struct VMGEN_STATE(1, 1) Dev {
    enum Mode mode VMGEN_RANGE(0, 1);
};
