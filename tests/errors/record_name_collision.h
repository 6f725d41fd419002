/* Dev_Record maps to Dev-Record, the ASN.1 type of device state Dev's record. */
#include <stdint.h>
#include "vmgen.h"

struct Dev_Record {
    uint32_t x;
};

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    struct Dev_Record rec;
};
