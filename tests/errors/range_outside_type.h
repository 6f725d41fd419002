/* VMGEN_RANGE wider than the field's type (tab-indented: a tab is one column). */
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

struct VMGEN_STATE(1, 1) Dev {
	uint8_t	index VMGEN_RANGE(0, 300);
};
