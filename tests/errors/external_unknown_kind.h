/* VMGEN_EXTERNAL with a kind vmgen does not know. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

typedef struct QEMUTimer QEMUTimer VMGEN_EXTERNAL(int48);

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    QEMUTimer *timer;
};
