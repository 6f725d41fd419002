#include <stdint.h>
#include "vmgen.h"

struct B;
typedef struct A { struct B b; } A;
typedef struct B { struct A a; } B;
typedef struct VMGEN_STATE(1, 1) S { A a; } S;
