/* A struct that contains itself by value (the C compiler would refuse it too). */
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Node {
    uint32_t count;
    struct Node next;
};
