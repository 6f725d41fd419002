#include <stdint.h>
#include "vmgen.h"

typedef struct Node { struct Node *next; uint32_t v; } Node;
typedef struct VMGEN_STATE(1, 1) S { Node head; } S;
