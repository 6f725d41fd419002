/* VMGEN_EXTERNAL belongs on a typedef, not on a field. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

typedef struct QEMUTimer QEMUTimer;

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    QEMUTimer *timer VMGEN_EXTERNAL(int64);
};
