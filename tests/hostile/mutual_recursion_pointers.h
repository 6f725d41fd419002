#include <stdint.h>
#include "vmgen.h"

struct B;
typedef struct A { struct B *b; uint8_t x; } A;
typedef struct B { struct A *a; uint8_t y; } B;
typedef struct VMGEN_STATE(1, 1) S { A a; B b; } S;
