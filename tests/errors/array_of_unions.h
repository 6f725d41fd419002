/* An array of unions: each element would need its own discriminator. */
#include <stdint.h>
#include "vmgen.h"
union U { uint8_t a VMGEN_CASE(0); };
struct VMGEN_STATE(1,1) D { uint8_t k; union U u[2] VMGEN_UNION(k); union U w[2]; };
