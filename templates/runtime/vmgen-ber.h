/*
 * vmgen-ber.h - the ASN.1 visitors of the vmgen runtime: a DER output
 * visitor and a BER input visitor.  C99, libc only.  Shipped by vmgen.
 *
 * Wire mapping (ASN.1 with AUTOMATIC TAGS):
 *   struct            SEQUENCE; its i-th visited member (from 0) is tagged
 *                     [i] (context-specific; constructed for struct / list)
 *   array             SEQUENCE OF; elements keep their universal tags
 *   integers          INTEGER       bool     BOOLEAN
 *   enums             ENUMERATED    bytes    OCTET STRING
 *   float / double    OCTET STRING (SIZE(4)) / (SIZE(8)), IEEE bits, BE
 *   strings           VisibleString
 * A value visited outside any struct (the record itself) uses its universal
 * tag.
 *
 * Errors read "<prefix>: <path>: <message>", e.g.
 *   "RTCState: fifo[3]: INTEGER 70000 out of range 0..65535"
 * where the path is built from the names given to start_struct, start_list
 * and the type_* operations (a NULL name inside a list is the element index).
 * Paths longer than VMGEN_PATH_MAX - 1 characters are truncated.
 */
#ifndef VMGEN_BER_H
#define VMGEN_BER_H

#include "vmgen-visitor.h"

/* Constructed values (structs and lists, the record included) the input
 * visitor can have open at once; deeper data is rejected with an error. */
#define VMGEN_BER_MAX_DEPTH 64
#define VMGEN_PATH_MAX 256

/* Path components kept: with each component one character or more, more
 * than this many would be past the VMGEN_PATH_MAX - 1 characters shown. */
#define VMGEN_PATH_COMPS (VMGEN_PATH_MAX / 2)

/* One component of an error path: ".name", or "[index]" when name is NULL
 * (internal). */
typedef struct VmgenPathComp {
    const char *name;
    size_t index;
} VmgenPathComp;

/* The error path of a visitor (internal).  The components are recorded as
 * values are visited (two stores each); the text in buf is rendered from
 * them only when an error is reported. */
typedef struct VmgenPath {
    char buf[VMGEN_PATH_MAX];
    size_t len;
    size_t n; /* components, of which the first VMGEN_PATH_COMPS are kept */
    VmgenPathComp comp[VMGEN_PATH_COMPS];
} VmgenPath;

/* ---- DER output ------------------------------------------------------------ */

/*
 * A new DER output visitor, or NULL when out of memory.  Free it with
 * visit_free().  Output fails (with an error) on values the input side would
 * reject: integers outside [min, max], enum values not in the list, lists or
 * byte strings whose length is outside [min, max], strings that are too long
 * or hold characters outside 0x20..0x7e.
 */
Visitor *der_output_visitor_new(void);
/* Prefix for error messages (e.g. the device name); NULL for none.  The
 * string must outlive the visitor. */
void der_output_visitor_set_error_prefix(Visitor *v, const char *prefix);
/*
 * Hands over the encoding of everything visited: *buf is malloc'd (free()
 * it) and holds *len bytes.  Fails if a visit failed or a struct / list is
 * still open.  Call at most once; the visitor must still be freed.
 */
bool der_output_visitor_finish(Visitor *v, uint8_t **buf, size_t *len,
                               Error **errp);

/* ---- BER input ------------------------------------------------------------- */

/* One open struct or list (internal). */
typedef struct BerInputFrame {
    size_t end;      /* offset just past the value's contents */
    size_t index;    /* struct: next member's tag; list: next element */
    size_t count;    /* list: number of elements */
    size_t path_len; /* path length to restore at the end */
    int kind;
} BerInputFrame;

/*
 * The BER input visitor.  It lives wherever the caller puts it (usually on
 * the stack) and never allocates; only errors are allocated.  Accepts BER
 * with definite lengths (long or non-minimal length forms are fine) and
 * rejects indefinite lengths, constructed encodings of primitive types,
 * empty or non-minimal INTEGER / ENUMERATED contents, BOOLEANs that are not
 * one byte, values outside the requested ranges and unexpected tags.
 */
typedef struct BerInputVisitor {
    Visitor v;
    /* May be set after ber_input_visitor_init(): */
    const char *error_prefix; /* prefix for errors, NULL for none */
    bool skip_unknown;        /* check_struct skips members it does not
                                 know instead of failing (data from a
                                 newer writer) */
    /* Private: */
    const uint8_t *buf;
    size_t len;
    size_t pos;
    bool failed;
    unsigned depth;
    BerInputFrame frames[VMGEN_BER_MAX_DEPTH + 1]; /* [0] is the buffer */
    VmgenPath path;
} BerInputVisitor;

/*
 * Prepares *bv to read buf[0..len).  With store false, nothing is written
 * through the object pointers passed to the visitor (a checking pass).
 * visit_free() on &bv->v is allowed and does nothing.
 */
void ber_input_visitor_init(BerInputVisitor *bv, const uint8_t *buf,
                            size_t len, bool store);
/* Fails ("trailing bytes after the record") unless every byte was read. */
bool ber_input_visitor_check_end(BerInputVisitor *bv, Error **errp);

#endif /* VMGEN_BER_H */
