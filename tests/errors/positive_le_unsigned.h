/* VMGEN_POSITIVE_LE (QEMU's VMSTATE_INT32_POSITIVE_LE) is for signed integers. */
#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_STATE(1, 1) Dev {
    uint32_t version_id VMGEN_POSITIVE_LE;
} Dev;
