/* A flexible array member of structs without VMGEN_SIZE_IS. */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

typedef struct Entry {
    uint32_t addr;
    uint32_t data;
} Entry;

struct VMGEN_STATE(1, 1) Dev {
    uint32_t count;
    Entry entries[];
};
