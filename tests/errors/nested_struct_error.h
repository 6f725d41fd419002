/* An error inside a struct reached from a state names the inner struct. */
#include <stdint.h>
#include "vmgen.h"

typedef struct Fifo {
    uint8_t data[16];
    uint8_t *head;
} Fifo;

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    Fifo fifo;
    int *irq;
};
