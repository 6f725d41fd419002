/* Two fields of a flattened anonymous struct map to one ASN.1 name. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
    uint32_t rx_count;
    struct {
        uint32_t rx__count;
        uint32_t tx_count;
    };
};
