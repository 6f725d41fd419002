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

#include <stdlib.h>
#include <string.h>

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

/* ---- specialized codecs ------------------------------------------------------
 *
 * Inline helpers for the straight-line DER writer and BER reader vmgen
 * generates for each device state beside its visitors (vmgen_der_save_S and
 * vmgen_der_load_S).  Those handle the common case only: a save whose values
 * all fit their declarations, and a record of the reader's own version in DER
 * form.  Anything else makes them return false without a message, having
 * changed nothing, and the visitors (which write the messages) take over.
 *
 * Identifier octets are passed as `id` (up to 4 octets, big-endian) and
 * `idlen`; both are constants in generated code, so the loops unroll.
 * VMGEN_INLINE forces inlining where the compiler allows it: each call site
 * then folds its constants.
 */
#ifndef VMGEN_INLINE
#if defined(__GNUC__)
#define VMGEN_INLINE static inline __attribute__((always_inline))
#else
#define VMGEN_INLINE static inline
#endif
#endif

/* Device states up to this size (and small for their number of values: the
 * generated code decides) are loaded into a copy on the stack in one pass and
 * copied back on success; others in two passes over the record (check, then
 * store).  Define it smaller where stacks are small. */
#ifndef VMGEN_DER_COPY_MAX
#define VMGEN_DER_COPY_MAX 16384
#endif

/* Octets of the minimal DER length form of n. */
VMGEN_INLINE size_t vmgen_der_len_size(size_t n)
{
    size_t k = 1;

    if (n < 0x80) {
        return 1;
    }
    while (n > 0xff) {
        n >>= 8;
        k++;
    }
    return k + 1;
}

VMGEN_INLINE uint8_t *vmgen_der_put_id(uint8_t *p, uint32_t id, unsigned idlen)
{
    while (idlen--) {
        *p++ = (uint8_t)(id >> (8 * idlen));
    }
    return p;
}

VMGEN_INLINE uint8_t *vmgen_der_put_len(uint8_t *p, size_t n, size_t size)
{
    if (size == 1) {
        *p++ = (uint8_t)n;
        return p;
    }
    *p++ = (uint8_t)(0x80u | (size - 1));
    while (--size) {
        *p++ = (uint8_t)(n >> (8 * (size - 1)));
    }
    return p;
}

/* Content octets of the minimal INTEGER holding x (x >= 0 as uint64_t, or
 * the two's complement of a negative int64_t when `negative`). */
VMGEN_INLINE size_t vmgen_der_int_size(uint64_t x, bool negative)
{
    unsigned bits;

    if (negative) {
        x = ~x;
    }
#if defined(__GNUC__)
    bits = x ? 64u - (unsigned)__builtin_clzll(x) : 0u;
#else
    bits = 0;
    while (x >> bits && bits < 64) {
        bits++;
    }
#endif
    return bits / 8 + 1;
}

/* 8 octets, big-endian (one store where the compiler knows the byte order). */
VMGEN_INLINE void vmgen_store_be64(uint8_t *p, uint64_t x)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    x = __builtin_bswap64(x);
    memcpy(p, &x, 8);
#else
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (uint8_t)x;
        x >>= 8;
    }
#endif
}

VMGEN_INLINE uint64_t vmgen_load_be64(const uint8_t *p)
{
    uint64_t x;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&x, p, 8);
    x = __builtin_bswap64(x);
#else
    int i;

    x = 0;
    for (i = 0; i < 8; i++) {
        x = (x << 8) | p[i];
    }
#endif
    return x;
}

/* The big-endian value of p[0..n), 1 <= n <= 8, reading 8 octets at once
 * when [p, end) holds them. */
VMGEN_INLINE uint64_t vmgen_load_be(const uint8_t *p, size_t n, const uint8_t *end)
{
    uint64_t x;
    size_t i;

    if ((size_t)(end - p) >= 8) {
        return vmgen_load_be64(p) >> (8 * (8 - n));
    }
    x = 0;
    for (i = 0; i < n; i++) {
        x = (x << 8) | p[i];
    }
    return x;
}

/*
 * Writes an INTEGER's TLV.  The contents are stored as 8 octets at once: the
 * writer's buffer has VMGEN_DER_SLACK octets past its largest record, and
 * octets past the value are overwritten by what comes next.
 */
#define VMGEN_DER_SLACK 8

VMGEN_INLINE uint8_t *vmgen_der_put_intval(uint8_t *p, uint32_t id, unsigned idlen,
                                            uint64_t x, bool negative)
{
    size_t n = vmgen_der_int_size(x, negative);

    p = vmgen_der_put_id(p, id, idlen);
    *p++ = (uint8_t)n;
    if (n <= 8) {
        vmgen_store_be64(p, x << (8 * (8 - n)));
    } else {
        p[0] = 0;
        vmgen_store_be64(p + 1, x);
    }
    return p + n;
}

#if defined(__GNUC__)
/*
 * The same TLV without a branch, for values of at most 8 content octets: r, the
 * index of the top bit of y (x, or its complement when negative; 0 for 0; at
 * most 62), gives the minimal length n = (r + 9) / 8 <= 8, and shifting x left
 * by 64 - 8n (taken modulo 64, so that n = 8 shifts by 0) puts its contents at
 * the top of the 8-octet store.  A value outside its declaration (the caller
 * clears *ok and drops the record) may come out wrong, but never longer than
 * its C type's largest encoding, which the record's size allows.  Taking the
 * length and the position from the value alone, not through a zero test and
 * the general path's cases, roughly halves the time per value on save.
 */
#define VMGEN_DER_SMALL_INTS 1
VMGEN_INLINE uint8_t *vmgen_der_put_small(uint8_t *p, uint32_t id, unsigned idlen,
                                           uint64_t x, uint64_t y)
{
    unsigned r = 63u ^ (unsigned)__builtin_clzll(y | 1u);
    size_t n = (r + 9u) >> 3;

    p = vmgen_der_put_id(p, id, idlen);
    p[0] = (uint8_t)n;
    vmgen_store_be64(p + 1, x << ((0u - 8u * (unsigned)n) & 63u));
    return p + 1 + n;
}
#endif

VMGEN_INLINE uint8_t *vmgen_der_put_uint(uint8_t *p, uint32_t id, unsigned idlen,
                                          uint64_t x, uint64_t lo, uint64_t hi, bool *ok)
{
    *ok &= x >= lo && x <= hi;
#ifdef VMGEN_DER_SMALL_INTS
    if (hi < (UINT64_C(1) << 63)) { /* else 9 octets: 0x00 and the top bit set */
        return vmgen_der_put_small(p, id, idlen, x, x);
    }
#endif
    return vmgen_der_put_intval(p, id, idlen, x, false);
}

VMGEN_INLINE uint8_t *vmgen_der_put_int(uint8_t *p, uint32_t id, unsigned idlen,
                                         int64_t x, int64_t lo, int64_t hi, bool *ok)
{
    *ok &= x >= lo && x <= hi;
#ifdef VMGEN_DER_SMALL_INTS
    return vmgen_der_put_small(p, id, idlen, (uint64_t)x, x < 0 ? ~(uint64_t)x : (uint64_t)x);
#else
    return vmgen_der_put_intval(p, id, idlen, (uint64_t)x, x < 0);
#endif
}

VMGEN_INLINE uint8_t *vmgen_der_put_bool(uint8_t *p, uint32_t id, unsigned idlen, bool x)
{
    p = vmgen_der_put_id(p, id, idlen);
    p[0] = 1;
    p[1] = x ? 0xff : 0x00;
    return p + 2;
}

VMGEN_INLINE uint8_t *vmgen_der_put_bytes(uint8_t *p, uint32_t id, unsigned idlen,
                                           const void *bytes, size_t n)
{
    p = vmgen_der_put_id(p, id, idlen);
    p = vmgen_der_put_len(p, n, vmgen_der_len_size(n));
    if (n) {
        memcpy(p, bytes, n);
    }
    return p + n;
}

VMGEN_INLINE uint8_t *vmgen_der_put_bits(uint8_t *p, uint32_t id, unsigned idlen,
                                          uint64_t bits, size_t n)
{
    size_t i;

    p = vmgen_der_put_id(p, id, idlen);
    *p++ = (uint8_t)n;
    for (i = n; i-- > 0;) {
        p[i] = (uint8_t)bits;
        bits >>= 8;
    }
    return p + n;
}

VMGEN_INLINE uint8_t *vmgen_der_put_float(uint8_t *p, uint32_t id, unsigned idlen,
                                           const float *x)
{
    uint32_t bits;

    memcpy(&bits, x, sizeof(bits));
    return vmgen_der_put_bits(p, id, idlen, bits, 4);
}

VMGEN_INLINE uint8_t *vmgen_der_put_double(uint8_t *p, uint32_t id, unsigned idlen,
                                            const double *x)
{
    uint64_t bits;

    memcpy(&bits, x, sizeof(bits));
    return vmgen_der_put_bits(p, id, idlen, bits, 8);
}

/* A VisibleString from a NUL-terminated buffer of max + 1 chars; clears *ok
 * when there is no NUL or a character is not visible (nothing is written
 * then beyond the buffer's first max chars). */
VMGEN_INLINE uint8_t *vmgen_der_put_str(uint8_t *p, uint32_t id, unsigned idlen,
                                         const char *buf, size_t max, bool *ok)
{
    const char *nul = (const char *)memchr(buf, '\0', max + 1);
    size_t n = nul ? (size_t)(nul - buf) : 0, i;

    *ok &= nul != NULL;
    for (i = 0; i < n; i++) {
        *ok &= (unsigned char)buf[i] >= 0x20 && (unsigned char)buf[i] <= 0x7e;
    }
    return vmgen_der_put_bytes(p, id, idlen, buf, n);
}

/* The element count of a VMGEN_SIZE_IS array: its count field's value when
 * it lies in [lo, hi], else 0 with *ok cleared. */
VMGEN_INLINE size_t vmgen_der_count_uint(uint64_t x, uint64_t lo, uint64_t hi, bool *ok)
{
    if (x < lo || x > hi) {
        *ok = false;
        return 0;
    }
    return (size_t)x;
}

VMGEN_INLINE size_t vmgen_der_count_int(int64_t x, int64_t lo, int64_t hi, bool *ok)
{
    if (x < lo || x > hi) {
        *ok = false;
        return 0;
    }
    return (size_t)x;
}

/*
 * Starts a constructed value: writes its identifier and reserves `size`
 * length octets (enough for the largest contents it can have); returns where
 * the contents start.  vmgen_der_close() writes the length once the contents
 * are known, moving them down when the minimal form is shorter.
 */
VMGEN_INLINE uint8_t *vmgen_der_open(uint8_t **pp, uint32_t id, unsigned idlen, size_t size)
{
    *pp = vmgen_der_put_id(*pp, id, idlen) + size;
    return *pp;
}

/* Moves contents[0..n) down by `gap` octets (out of line: rarely needed). */
uint8_t *vmgen_der_shift(uint8_t *contents, size_t n, size_t gap);

VMGEN_INLINE uint8_t *vmgen_der_close(uint8_t *contents, uint8_t *p, size_t size)
{
    size_t n = (size_t)(p - contents), need = vmgen_der_len_size(n);

    /* need <= size: `size` covers the largest contents the value can have */
    if (need < size) {
        p = vmgen_der_shift(contents, n, size - need);
        contents -= size - need;
    }
    vmgen_der_put_len(contents - need, n, need);
    return p;
}

/*
 * Reads the header of the next value, which must have identifier `id` and a
 * definite length whose contents fit before end: sets *n and moves *pp to the
 * contents.  False (nothing moved) otherwise.
 */
VMGEN_INLINE bool vmgen_ber_head(const uint8_t **pp, const uint8_t *end, uint32_t id,
                                  unsigned idlen, size_t *n)
{
    const uint8_t *p = *pp;
    size_t room = (size_t)(end - p), len, k;
    unsigned i;

    if (room < idlen + 1u) {
        return false;
    }
    for (i = 0; i < idlen; i++) {
        if (p[i] != (uint8_t)(id >> (8 * (idlen - 1 - i)))) {
            return false;
        }
    }
    p += idlen;
    room -= idlen + 1u;
    len = *p++;
    if (len >= 0x80) {
        k = len & 0x7fu;
        if (k == 0 || k > sizeof(size_t) || k > room) {
            return false;
        }
        room -= k;
        len = 0;
        while (k--) {
            len = (len << 8) | *p++;
        }
    }
    if (len > room) {
        return false;
    }
    *pp = p;
    *n = len;
    return true;
}

/* Opens a constructed value: *pp moves to its contents, *inner to their end. */
VMGEN_INLINE bool vmgen_ber_open(const uint8_t **pp, const uint8_t *end, uint32_t id,
                                  unsigned idlen, const uint8_t **inner)
{
    size_t n;

    if (!vmgen_ber_head(pp, end, id, idlen, &n)) {
        return false;
    }
    *inner = *pp + n;
    return true;
}

/*
 * The identifier `id` and a short-form length of 1..max octets (what DER
 * writes for INTEGER, ENUMERATED and BOOLEAN): *n and *pp move to the
 * contents.  False (nothing moved) otherwise.
 */
VMGEN_INLINE bool vmgen_ber_small(const uint8_t **pp, const uint8_t *end, uint32_t id,
                                   unsigned idlen, size_t max, size_t *n)
{
    const uint8_t *p = *pp;
    size_t room = (size_t)(end - p);
    unsigned i;

    if (room < idlen + 1u) {
        return false;
    }
    for (i = 0; i < idlen; i++) {
        if (p[i] != (uint8_t)(id >> (8 * (idlen - 1 - i)))) {
            return false;
        }
    }
    *n = p[idlen];
    if (*n == 0 || *n > max || *n > room - idlen - 1u) {
        return false;
    }
    *pp = p + idlen + 1;
    return true;
}

/*
 * An INTEGER of 1..9 minimal content octets in [lo, hi] (as uint64_t).
 *
 * Away from the end of the input (the identifier, the length octet and 8 octets
 * of contents, 9 where hi needs 9, fit before it), one room test covers the whole
 * value: the length is tested against hi's size (a longer value is out of range
 * or not minimal), the contents are read with one 8-octet load, and up to 8 they
 * are non-negative and minimal exactly when the value's minimal form has as many
 * octets.  Near the end, each step is tested on its own.  Both accept the same
 * values.
 */
VMGEN_INLINE bool vmgen_ber_get_uint(const uint8_t **pp, const uint8_t *end, uint32_t id,
                                      unsigned idlen, uint64_t lo, uint64_t hi, uint64_t *out)
{
    const uint8_t *p = *pp;
    size_t n, max = vmgen_der_int_size(hi, false);
    uint64_t x;
    unsigned i;

    if ((size_t)(end - p) >= idlen + 1u + (max > 8 ? 9u : 8u)) {
        for (i = 0; i < idlen; i++) {
            if (p[i] != (uint8_t)(id >> (8 * (idlen - 1 - i)))) {
                return false;
            }
        }
        n = p[idlen];
        if (n - 1 >= max) {
            return false; /* empty, or longer than any value in range */
        }
        p += idlen + 1;
        if (max > 8 && n == 9) {
            if (p[0] != 0 || !(p[1] & 0x80)) {
                return false; /* not minimal */
            }
            x = vmgen_load_be64(p + 1);
        } else {
            x = vmgen_load_be64(p) >> (8 * (8 - n));
            if (vmgen_der_int_size(x, false) != n) {
                return false; /* negative or not minimal */
            }
        }
        if (x < lo || x > hi) {
            return false;
        }
        *out = x;
        *pp = p + n;
        return true;
    }
    if (!vmgen_ber_small(&p, end, id, idlen, 9, &n) || (p[0] & 0x80) ||
        (n > 1 && p[0] == 0 && !(p[1] & 0x80)) || (n == 9 && p[0] != 0)) {
        return false; /* negative, not minimal, or too long */
    }
    x = n == 9 ? vmgen_load_be(p + 1, 8, end) : vmgen_load_be(p, n, end);
    if (x < lo || x > hi) {
        return false;
    }
    *out = x;
    *pp = p + n;
    return true;
}

/*
 * The value of the two's complement INTEGER contents p[0..n), 1 <= n <= 8;
 * false if they are not minimal.  [p, end) bounds the reading (vmgen_load_be).
 */
VMGEN_INLINE bool vmgen_ber_int_value(const uint8_t *p, size_t n, const uint8_t *end,
                                       int64_t *out)
{
    uint64_t x;

    if (n > 1 && ((p[0] == 0x00 && !(p[1] & 0x80)) || (p[0] == 0xff && (p[1] & 0x80)))) {
        return false; /* not minimal */
    }
    x = vmgen_load_be(p, n, end);
    if (p[0] & 0x80) {
        x |= n == 8 ? 0 : UINT64_MAX << (8 * n); /* sign extension */
    }
    *out = x <= (uint64_t)INT64_MAX ? (int64_t)x : -(int64_t)(~x) - 1;
    return true;
}

/* An INTEGER (or ENUMERATED) of 1..8 minimal content octets in [lo, hi]. */
VMGEN_INLINE bool vmgen_ber_get_int(const uint8_t **pp, const uint8_t *end, uint32_t id,
                                     unsigned idlen, int64_t lo, int64_t hi, int64_t *out)
{
    const uint8_t *p = *pp;
    size_t n;
    int64_t v;

    if (!vmgen_ber_small(&p, end, id, idlen, 8, &n) || !vmgen_ber_int_value(p, n, end, &v) ||
        v < lo || v > hi) {
        return false;
    }
    *out = v;
    *pp = p + n;
    return true;
}

/* A BOOLEAN in DER form (0x00 or 0xff). */
VMGEN_INLINE bool vmgen_ber_get_bool(const uint8_t **pp, const uint8_t *end, uint32_t id,
                                      unsigned idlen, bool *out)
{
    const uint8_t *p = *pp;
    size_t n;

    if (!vmgen_ber_small(&p, end, id, idlen, 1, &n) || (p[0] != 0 && p[0] != 0xff)) {
        return false;
    }
    *out = p[0] != 0;
    *pp = p + 1;
    return true;
}

/* A primitive OCTET STRING of exactly n octets: *out points at them. */
VMGEN_INLINE bool vmgen_ber_get_bytes(const uint8_t **pp, const uint8_t *end, uint32_t id,
                                       unsigned idlen, size_t n, const uint8_t **out)
{
    const uint8_t *p = *pp;
    size_t got;

    if (!vmgen_ber_head(&p, end, id, idlen, &got) || got != n) {
        return false;
    }
    *out = p;
    *pp = p + n;
    return true;
}

/* A primitive OCTET STRING of min..max octets: *out points at them, *n. */
VMGEN_INLINE bool vmgen_ber_get_sized(const uint8_t **pp, const uint8_t *end, uint32_t id,
                                       unsigned idlen, size_t min, size_t max,
                                       const uint8_t **out, size_t *n)
{
    const uint8_t *p = *pp;

    if (!vmgen_ber_head(&p, end, id, idlen, n) || *n < min || *n > max) {
        return false;
    }
    *out = p;
    *pp = p + *n;
    return true;
}

VMGEN_INLINE bool vmgen_ber_at_least(size_t n, size_t min)
{
    return n >= min;
}

/* A VisibleString of at most max characters into buf (NUL-terminated). */
VMGEN_INLINE bool vmgen_ber_get_str(const uint8_t **pp, const uint8_t *end, uint32_t id,
                                     unsigned idlen, char *buf, size_t max, bool store)
{
    const uint8_t *p = *pp;
    size_t n, i;

    if (!vmgen_ber_head(&p, end, id, idlen, &n) || n > max) {
        return false;
    }
    for (i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e) {
            return false;
        }
    }
    if (store) {
        if (n) {
            memcpy(buf, p, n);
        }
        buf[n] = '\0';
    }
    *pp = p + n;
    return true;
}

VMGEN_INLINE bool vmgen_ber_get_float(const uint8_t **pp, const uint8_t *end, uint32_t id,
                                       unsigned idlen, float *obj, bool store)
{
    const uint8_t *b;
    uint32_t bits;

    if (!vmgen_ber_get_bytes(pp, end, id, idlen, 4, &b)) {
        return false;
    }
    if (store) {
        bits = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        memcpy(obj, &bits, sizeof(bits));
    }
    return true;
}

VMGEN_INLINE bool vmgen_ber_get_double(const uint8_t **pp, const uint8_t *end, uint32_t id,
                                        unsigned idlen, double *obj, bool store)
{
    const uint8_t *b;
    uint64_t bits = 0;
    int i;

    if (!vmgen_ber_get_bytes(pp, end, id, idlen, 8, &b)) {
        return false;
    }
    if (store) {
        for (i = 0; i < 8; i++) {
            bits = (bits << 8) | b[i];
        }
        memcpy(obj, &bits, sizeof(bits));
    }
    return true;
}

#endif /* VMGEN_BER_H */
