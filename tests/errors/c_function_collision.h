/* A typedef name and a struct tag that are both Foo: one ASN.1 type, one C visitor. */
#include <stdint.h>
#include "vmgen.h"

typedef struct A {
    uint32_t a;
} Foo;

struct Foo {
    uint32_t b;
};

struct VMGEN_STATE(1, 1) Dev {
    Foo first;
    struct Foo second;
};
