/*
 * vmgen-ber.c - DER output visitor, BER input visitor and the device-state
 * record helpers of the vmgen runtime.  C99, libc only.  Shipped by vmgen.
 *
 * DER writer design
 * -----------------
 * The length of a constructed value (SEQUENCE / SEQUENCE OF) is only known
 * once its contents are written, and DER wants it in front of them.  Instead
 * of reserving room and moving the contents back (O(size * depth)), the
 * writer keeps two things during its single forward pass:
 *
 *   data   every byte of the output except the identifier and length
 *          octets of constructed values: primitive TLVs are written
 *          completely, since their length is known up front;
 *   hdrs   one header slot per constructed value, appended when the value
 *          starts (so the slots are ordered by position, an outer value
 *          before an inner one starting at the same place).  A slot holds
 *          the offset in `data` where the header belongs and the header
 *          bytes: the tag at start, the length added at end.
 *
 * `hdr_bytes` is the total size of the headers of all values closed so far.
 * A frame remembers `data.len` and `hdr_bytes` at its start; at its end its
 * content length is (data.len - data0) + (hdr_bytes - hdr0), because exactly
 * the headers of its descendants were closed in between.  finish() then
 * interleaves data and headers into one buffer of data.len + hdr_bytes bytes
 * in a single merge.  Every byte is written a constant number of times, so
 * the work is O(output size) whatever the nesting depth.
 *
 * BER reader
 * ----------
 * A cursor over the caller's buffer and a fixed stack of frames, each with
 * the end offset of an open constructed value; every length is checked
 * against the bytes left in the innermost frame before it is used, so no
 * offset can pass the end of its enclosing value and no addition can wrap.
 */
#include "vmgen-ber.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define VMGEN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VMGEN_PRINTF(a, b)
#endif

enum { FRAME_TOP, FRAME_STRUCT, FRAME_LIST };

enum {
    TAG_BOOLEAN = 1,
    TAG_INTEGER = 2,
    TAG_OCTET_STRING = 4,
    TAG_ENUMERATED = 10,
    TAG_SEQUENCE = 16,
    TAG_VISIBLE_STRING = 26,
};

#define CLASS_UNIVERSAL 0x00u
#define CLASS_CONTEXT 0x80u
#define ID_CONSTRUCTED 0x20u

typedef struct Tag {
    unsigned cls;   /* the class bits: 0x00, 0x40, 0x80 or 0xc0 */
    bool constructed;
    uint32_t number;
} Tag;

/* Identifier octets: 1 + up to 5 base-128 digits of a 32-bit number. */
#define TAG_MAX_BYTES 6
/* Length octets: 1 + up to sizeof(size_t) bytes. */
#define LEN_MAX_BYTES (1 + sizeof(size_t))

/* ---- paths and messages ------------------------------------------------- */

static void path_append(VmgenPath *p, const char *s)
{
    while (*s && p->len < VMGEN_PATH_MAX - 1) {
        p->buf[p->len++] = *s++;
    }
    p->buf[p->len] = '\0';
}

/* Forgets the components after the first `n`. */
static void path_reset(VmgenPath *p, size_t n)
{
    if (n < p->n) {
        p->n = n;
    }
}

/* Adds the component of a value visited inside a frame of `kind`; returns
 * what to pass to path_reset afterwards.  Nothing is formatted here: the
 * text is rendered by path_render, when an error is reported. */
static inline size_t path_push(VmgenPath *p, int kind, const char *name,
                               size_t index)
{
    size_t old = p->n;

    if (kind == FRAME_LIST) {
        name = NULL;
    } else if (!name) {
        return old;
    }
    if (old < VMGEN_PATH_COMPS) {
        p->comp[old].name = name;
        p->comp[old].index = index;
    }
    p->n = old + 1;
    return old;
}

/* Renders the components into p->buf (truncated to VMGEN_PATH_MAX - 1). */
static void path_render(VmgenPath *p)
{
    size_t i, n = p->n < VMGEN_PATH_COMPS ? p->n : VMGEN_PATH_COMPS;
    char comp[32];

    p->len = 0;
    p->buf[0] = '\0';
    for (i = 0; i < n; i++) {
        if (!p->comp[i].name) {
            snprintf(comp, sizeof(comp), "[%zu]", p->comp[i].index);
            path_append(p, comp);
        } else {
            if (p->len) {
                path_append(p, ".");
            }
            path_append(p, p->comp[i].name);
        }
    }
}

static void path_init(VmgenPath *p)
{
    p->buf[0] = '\0';
    p->len = 0;
    p->n = 0;
}

static void report(Error **errp, const char *prefix, VmgenPath *path,
                   const char *fmt, va_list ap) VMGEN_PRINTF(4, 0);

static void report(Error **errp, const char *prefix, VmgenPath *path,
                   const char *fmt, va_list ap)
{
    char msg[320];

    path_render(path);
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0) {
        msg[0] = '\0';
    }
    vmgen_error_setg(errp, "%s%s%s%s%s", prefix ? prefix : "",
                     prefix ? ": " : "", path->buf, path->len ? ": " : "",
                     msg);
}

static void tag_describe(const Tag *t, char *out, size_t size)
{
    static const char *const names[] = {
        [TAG_BOOLEAN] = "BOOLEAN",
        [TAG_INTEGER] = "INTEGER",
        [TAG_OCTET_STRING] = "OCTET STRING",
        [TAG_ENUMERATED] = "ENUMERATED",
        [TAG_SEQUENCE] = "SEQUENCE",
        [TAG_VISIBLE_STRING] = "VisibleString",
    };

    switch (t->cls) {
    case CLASS_CONTEXT:
        snprintf(out, size, "[%" PRIu32 "]", t->number);
        break;
    case CLASS_UNIVERSAL:
        if (t->number < sizeof(names) / sizeof(names[0]) &&
            names[t->number]) {
            snprintf(out, size, "%s", names[t->number]);
        } else {
            snprintf(out, size, "[UNIVERSAL %" PRIu32 "]", t->number);
        }
        break;
    case 0x40u:
        snprintf(out, size, "[APPLICATION %" PRIu32 "]", t->number);
        break;
    default:
        snprintf(out, size, "[PRIVATE %" PRIu32 "]", t->number);
        break;
    }
}

/* ---- INTEGER contents ---------------------------------------------------- */

/* Number of significant bits of x (0 for 0). */
static inline unsigned bit_length(uint64_t x)
{
#if defined(__GNUC__)
    return x ? 64u - (unsigned)__builtin_clzll(x) : 0u;
#else
    unsigned n = 0;

    while (x) {
        n++;
        x >>= 1;
    }
    return n;
#endif
}

/* Minimal two's complement of a value given by its sign and low 64 bits
 * (negative: bits is the int64_t value's two's complement). */
static inline size_t int_encode(bool negative, uint64_t bits, uint8_t out[9])
{
    /* one sign bit plus the significant bits of the value (of its
     * complement when negative), rounded up to whole bytes */
    size_t n = bit_length(negative ? ~bits : bits) / 8 + 1, i;

    for (i = 0; i < n; i++) {
        unsigned shift = (unsigned)(8 * (n - 1 - i));

        out[i] = shift < 64 ? (uint8_t)(bits >> shift) : 0x00;
    }
    return n;
}

typedef enum { INT_SIGNED, INT_BIG, INT_HUGE } IntKind;

/* A decoded INTEGER: fits int64 (s), or only uint64 (u, >= 2^63), or
 * neither (huge; negative tells the sign). */
typedef struct BerInt {
    IntKind kind;
    int64_t s;
    uint64_t u;
    bool negative;
    size_t len;
} BerInt;

/* p[0..n) is a valid (non-empty, minimal) two's complement encoding. */
static void int_decode(const uint8_t *p, size_t n, BerInt *out)
{
    uint64_t acc;
    size_t i;

    out->len = n;
    out->negative = (p[0] & 0x80) != 0;
    out->s = 0;
    out->u = 0;
    if (n <= 8) {
        acc = out->negative ? UINT64_MAX : 0;
        for (i = 0; i < n; i++) {
            acc = (acc << 8) | p[i];
        }
        out->kind = INT_SIGNED;
        out->s = acc <= (uint64_t)INT64_MAX ? (int64_t)acc
                                            : -(int64_t)(~acc) - 1;
    } else if (n == 9 && p[0] == 0x00) {
        acc = 0;
        for (i = 1; i < 9; i++) {
            acc = (acc << 8) | p[i];
        }
        out->kind = INT_BIG;
        out->u = acc;
    } else {
        out->kind = INT_HUGE;
    }
}

static void int_describe(const BerInt *x, char *out, size_t size)
{
    switch (x->kind) {
    case INT_SIGNED:
        snprintf(out, size, "%" PRId64, x->s);
        break;
    case INT_BIG:
        snprintf(out, size, "%" PRIu64, x->u);
        break;
    default:
        snprintf(out, size, "of %zu bytes", x->len);
        break;
    }
}

/*
 * The identifier octets of the next value inside a frame of `kind` whose
 * next member is `index` (context tag [index]; elsewhere the universal tag
 * `utag`): their number, 1 or 2, or 0 for a tag number above 127.  The fast
 * paths below use it; anything unusual goes the general way, which reports
 * errors.
 */
static inline size_t next_id(int kind, size_t index, unsigned utag,
                             bool constructed, uint8_t id[2])
{
    unsigned c = constructed ? ID_CONSTRUCTED : 0u;

    if (kind != FRAME_STRUCT) {
        id[0] = (uint8_t)(CLASS_UNIVERSAL | c | utag);
        return 1;
    }
    if (index < 31) {
        id[0] = (uint8_t)(CLASS_CONTEXT | c | (unsigned)index);
        return 1;
    }
    if (index < 128) {
        id[0] = (uint8_t)(CLASS_CONTEXT | c | 0x1fu);
        id[1] = (uint8_t)index;
        return 2;
    }
    return 0;
}

/* ---- DER output visitor ---------------------------------------------------- */

/*
 * A slot: bytes that belong at offset `at` of data.  Either a header (bytes,
 * n), or (record saves only, see out_prim) the contents of a long primitive
 * value left in the caller's object (ext, ext_n) and copied straight into the
 * output by finish().  Both count in hdr_bytes once they are complete.
 */
typedef struct DerHeader {
    size_t at;                 /* offset in data where it belongs */
    const uint8_t *ext;        /* external contents, or NULL */
    size_t ext_n;
    unsigned char n;           /* bytes used */
    uint8_t bytes[TAG_MAX_BYTES + LEN_MAX_BYTES];
} DerHeader;

typedef struct DerFrame {
    size_t header;   /* slot in hdrs */
    size_t data0;    /* data length at start */
    size_t hdr0;     /* hdr_bytes at start */
    size_t index;    /* struct: next member tag; list: next element */
    size_t count;    /* list: announced element count */
    size_t path_len;
    int kind;
} DerFrame;

typedef struct DerOutputVisitor {
    Visitor v;
    const char *error_prefix;
    bool failed;
    uint8_t *data;
    size_t len, cap;
    DerHeader *hdrs;
    size_t nhdrs, hdrcap;
    size_t hdr_bytes;
    /* Byte strings of at least this many bytes are referenced, not copied,
     * until finish() (SIZE_MAX: never; only the record helpers set it, as
     * the object they save outlives the visitor). */
    size_t ext_min;
    DerFrame *frames;   /* frames[0] is the top level */
    size_t depth, framecap;
    VmgenPath path;
} DerOutputVisitor;

static DerOutputVisitor *to_der(Visitor *v)
{
    return (DerOutputVisitor *)v;
}

static bool out_fail(DerOutputVisitor *dv, Error **errp, const char *fmt, ...)
    VMGEN_PRINTF(3, 4);

static bool out_fail(DerOutputVisitor *dv, Error **errp, const char *fmt, ...)
{
    va_list ap;

    dv->failed = true;
    va_start(ap, fmt);
    report(errp, dv->error_prefix, &dv->path, fmt, ap);
    va_end(ap);
    return false;
}

/* Makes room for `need` elements of `size` bytes in *p (capacity *cap). */
static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
    size_t ncap = *cap ? *cap : (size == 1 ? 256 : 16);
    void *np;

    if (need <= *cap) {
        return true;
    }
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            ncap = need;
            break;
        }
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / size) {
        return false;
    }
    np = realloc(*p, ncap * size);
    if (!np) {
        return false;
    }
    *p = np;
    *cap = ncap;
    return true;
}

static size_t tag_encode(const Tag *t, uint8_t *out)
{
    uint8_t first = (uint8_t)(t->cls | (t->constructed ? ID_CONSTRUCTED : 0));
    size_t n = 1, i;
    uint32_t x;

    if (t->number < 31) {
        out[0] = (uint8_t)(first | t->number);
        return 1;
    }
    out[0] = (uint8_t)(first | 0x1f);
    for (x = t->number >> 7; x; x >>= 7) {
        n++;
    }
    for (i = 1; i <= n; i++) {
        out[i] = (uint8_t)((t->number >> (7 * (n - i))) & 0x7f);
        if (i < n) {
            out[i] |= 0x80;
        }
    }
    return n + 1;
}

static size_t len_encode(size_t len, uint8_t *out)
{
    size_t n = 0, i, x;

    if (len < 0x80) {
        out[0] = (uint8_t)len;
        return 1;
    }
    for (x = len; x; x >>= 8) {
        n++;
    }
    out[0] = (uint8_t)(0x80 | n);
    for (i = 0; i < n; i++) {
        out[n - i] = (uint8_t)(len >> (8 * i));
    }
    return n + 1;
}

/*
 * Starts one value inside the innermost frame: works out its tag, pushes its
 * path component (the caller restores *old_path) and checks for an earlier
 * failure.
 */
static bool out_begin(DerOutputVisitor *dv, const char *name, uint32_t utag,
                      bool constructed, Tag *tag, size_t *old_path,
                      Error **errp)
{
    DerFrame *f = &dv->frames[dv->depth];

    *old_path = path_push(&dv->path, f->kind, name, f->index);
    tag->constructed = constructed;
    if (f->kind == FRAME_STRUCT) {
        tag->cls = CLASS_CONTEXT;
        if (f->index > UINT32_MAX) {
            return out_fail(dv, errp, "too many struct members");
        }
        tag->number = (uint32_t)f->index;
    } else {
        tag->cls = CLASS_UNIVERSAL;
        tag->number = utag;
    }
    f->index++;
    if (dv->failed) {
        return out_fail(dv, errp, "an earlier visit failed");
    }
    return true;
}

/* Appends a complete primitive TLV. */
static bool out_prim(DerOutputVisitor *dv, const Tag *tag, const void *content,
                     size_t n, Error **errp)
{
    size_t max = TAG_MAX_BYTES + LEN_MAX_BYTES;
    uint8_t *p;

    if (n >= dv->ext_min) {
        /* A long value: its header here, its contents from the object at
         * finish(), so they are copied once. */
        DerHeader *h;

        if (!grow((void **)&dv->data, &dv->cap, dv->len + max, 1) ||
            !grow((void **)&dv->hdrs, &dv->hdrcap, dv->nhdrs + 1,
                  sizeof(*dv->hdrs))) {
            return out_fail(dv, errp, "out of memory");
        }
        dv->len += tag_encode(tag, dv->data + dv->len);
        dv->len += len_encode(n, dv->data + dv->len);
        h = &dv->hdrs[dv->nhdrs++];
        h->at = dv->len;
        h->ext = content;
        h->ext_n = n;
        h->n = 0;
        dv->hdr_bytes += n;
        return true;
    }
    if (n > SIZE_MAX - max - dv->len ||
        (dv->len + max + n > dv->cap &&
         !grow((void **)&dv->data, &dv->cap, dv->len + max + n, 1))) {
        return out_fail(dv, errp, "out of memory");
    }
    p = dv->data + dv->len;
    if (tag->number < 31 && n < 0x80) {
        /* the usual case: one identifier octet, one length octet */
        p[0] = (uint8_t)(tag->cls | (tag->constructed ? ID_CONSTRUCTED : 0) |
                         tag->number);
        p[1] = (uint8_t)n;
        p += 2;
    } else {
        p += tag_encode(tag, p);
        p += len_encode(n, p);
    }
    if (n) {
        memcpy(p, content, n);
        p += n;
    }
    dv->len = (size_t)(p - dv->data);
    return true;
}

static bool out_start(DerOutputVisitor *dv, const char *name, int kind,
                      size_t count, Error **errp)
{
    Tag tag = { 0, false, 0 };
    size_t old;
    DerHeader *h;
    DerFrame *f;

    if (!out_begin(dv, name, TAG_SEQUENCE, true, &tag, &old, errp)) {
        path_reset(&dv->path, old);
        return false;
    }
    if (!grow((void **)&dv->hdrs, &dv->hdrcap, dv->nhdrs + 1,
              sizeof(*dv->hdrs)) ||
        !grow((void **)&dv->frames, &dv->framecap, dv->depth + 2,
              sizeof(*dv->frames))) {
        out_fail(dv, errp, "out of memory");
        path_reset(&dv->path, old);
        return false;
    }
    h = &dv->hdrs[dv->nhdrs];
    h->at = dv->len;
    h->ext = NULL;
    h->n = (unsigned char)tag_encode(&tag, h->bytes);
    f = &dv->frames[++dv->depth];
    f->header = dv->nhdrs++;
    f->data0 = dv->len;
    f->hdr0 = dv->hdr_bytes;
    f->index = 0;
    f->count = count;
    f->path_len = old;
    f->kind = kind;
    return true;
}

static void out_end(DerOutputVisitor *dv)
{
    DerFrame *f;
    DerHeader *h;
    size_t content;

    if (dv->depth == 0) {
        return;
    }
    f = &dv->frames[dv->depth];
    h = &dv->hdrs[f->header];
    content = (dv->len - f->data0) + (dv->hdr_bytes - f->hdr0);
    h->n = (unsigned char)(h->n + len_encode(content, h->bytes + h->n));
    dv->hdr_bytes += h->n;
    path_reset(&dv->path, f->path_len);
    dv->depth--;
}

static bool der_start_struct(Visitor *v, const char *name, Error **errp)
{
    return out_start(to_der(v), name, FRAME_STRUCT, 0, errp);
}

static bool der_check_struct(Visitor *v, Error **errp)
{
    DerOutputVisitor *dv = to_der(v);

    if (dv->failed) {
        return out_fail(dv, errp, "an earlier visit failed");
    }
    return true;
}

static void der_end_struct(Visitor *v)
{
    out_end(to_der(v));
}

static bool der_start_choice(Visitor *v, const char *name, size_t *alt,
                             size_t n, Error **errp)
{
    DerOutputVisitor *dv = to_der(v);

    if (*alt >= n) {
        DerFrame *f = &dv->frames[dv->depth];
        size_t old = path_push(&dv->path, f->kind, name, f->index);

        out_fail(dv, errp, "alternative %zu of a CHOICE of %zu", *alt, n);
        path_reset(&dv->path, old);
        return false;
    }
    if (!out_start(dv, name, FRAME_STRUCT, 0, errp)) {
        return false;
    }
    dv->frames[dv->depth].index = *alt;
    return true;
}

static bool der_fail(Visitor *v, const char *name, const char *msg,
                     Error **errp)
{
    DerOutputVisitor *dv = to_der(v);
    DerFrame *f = &dv->frames[dv->depth];
    size_t old = path_push(&dv->path, f->kind, name, f->index);

    out_fail(dv, errp, "%s", msg);
    path_reset(&dv->path, old);
    return false;
}

static bool der_start_list(Visitor *v, const char *name, size_t *count,
                           size_t min, size_t max, Error **errp)
{
    DerOutputVisitor *dv = to_der(v);
    DerFrame *f = &dv->frames[dv->depth];
    size_t old;

    if (*count < min || *count > max) {
        old = path_push(&dv->path, f->kind, name, f->index);
        out_fail(dv, errp, "list length %zu out of range %zu..%zu", *count,
                 min, max);
        path_reset(&dv->path, old);
        return false;
    }
    return out_start(dv, name, FRAME_LIST, *count, errp);
}

static bool der_check_list(Visitor *v, Error **errp)
{
    DerOutputVisitor *dv = to_der(v);
    DerFrame *f = &dv->frames[dv->depth];

    if (dv->failed) {
        return out_fail(dv, errp, "an earlier visit failed");
    }
    if (f->kind != FRAME_LIST || f->index != f->count) {
        return out_fail(dv, errp, "list of %zu elements had %zu visited",
                        f->count, f->index);
    }
    return true;
}

static void der_end_list(Visitor *v)
{
    out_end(to_der(v));
}

/*
 * Fast path of an INTEGER / ENUMERATED / BOOLEAN value with a one-octet
 * identifier: writes the whole TLV (contents c[0..n)) and returns true, or
 * returns false having changed nothing (the general path then runs).
 */
static inline bool out_small(DerOutputVisitor *dv, unsigned utag,
                             const uint8_t *c, size_t n)
{
    DerFrame *f = &dv->frames[dv->depth];
    uint8_t id[2] = { 0, 0 };
    size_t k = next_id(f->kind, f->index, utag, false, id), i;
    uint8_t *p;

    if (k == 0 || dv->failed ||
        (dv->len + 3 + n > dv->cap &&
         !grow((void **)&dv->data, &dv->cap, dv->len + 3 + n, 1))) {
        return false;
    }
    p = dv->data + dv->len;
    p[0] = id[0];
    p[1] = id[1];
    p[k] = (uint8_t)n;
    for (i = 0; i < n; i++) {
        p[k + 1 + i] = c[i];
    }
    dv->len += k + 1 + n;
    f->index++;
    return true;
}

static bool der_type_int64(Visitor *v, const char *name, int64_t *obj,
                           int64_t min, int64_t max, Error **errp)
{
    DerOutputVisitor *dv = to_der(v);
    uint8_t c[9];
    Tag tag;
    size_t old;
    bool ok = false;

    if (*obj >= min && *obj <= max &&
        out_small(dv, TAG_INTEGER, c,
                  int_encode(*obj < 0, (uint64_t)*obj, c))) {
        return true;
    }

    if (out_begin(dv, name, TAG_INTEGER, false, &tag, &old, errp)) {
        if (*obj < min || *obj > max) {
            out_fail(dv, errp,
                     "INTEGER %" PRId64 " out of range %" PRId64 "..%" PRId64,
                     *obj, min, max);
        } else {
            ok = out_prim(dv, &tag, c, int_encode(*obj < 0, (uint64_t)*obj, c),
                          errp);
        }
    }
    path_reset(&dv->path, old);
    return ok;
}

static bool der_type_uint64(Visitor *v, const char *name, uint64_t *obj,
                            uint64_t max, Error **errp)
{
    DerOutputVisitor *dv = to_der(v);
    uint8_t c[9];
    Tag tag;
    size_t old;
    bool ok = false;

    if (*obj <= max &&
        out_small(dv, TAG_INTEGER, c, int_encode(false, *obj, c))) {
        return true;
    }

    if (out_begin(dv, name, TAG_INTEGER, false, &tag, &old, errp)) {
        if (*obj > max) {
            out_fail(dv, errp, "INTEGER %" PRIu64 " out of range 0..%" PRIu64,
                     *obj, max);
        } else {
            ok = out_prim(dv, &tag, c, int_encode(false, *obj, c), errp);
        }
    }
    path_reset(&dv->path, old);
    return ok;
}

static bool enum_valid(int64_t x, const int64_t *values, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (values[i] == x) {
            return true;
        }
    }
    return false;
}

static bool der_type_enum(Visitor *v, const char *name, int64_t *obj,
                          const int64_t *values, size_t n, Error **errp)
{
    DerOutputVisitor *dv = to_der(v);
    uint8_t c[9];
    Tag tag;
    size_t old;
    bool ok = false;

    if (out_begin(dv, name, TAG_ENUMERATED, false, &tag, &old, errp)) {
        if (!enum_valid(*obj, values, n)) {
            out_fail(dv, errp, "ENUMERATED %" PRId64 " is not a valid value",
                     *obj);
        } else {
            ok = out_prim(dv, &tag, c, int_encode(*obj < 0, (uint64_t)*obj, c),
                          errp);
        }
    }
    path_reset(&dv->path, old);
    return ok;
}

static bool der_type_bool(Visitor *v, const char *name, bool *obj,
                          Error **errp)
{
    DerOutputVisitor *dv = to_der(v);
    uint8_t c = *obj ? 0xff : 0x00;
    Tag tag;
    size_t old;
    bool ok = false;

    if (out_small(dv, TAG_BOOLEAN, &c, 1)) {
        return true;
    }

    if (out_begin(dv, name, TAG_BOOLEAN, false, &tag, &old, errp)) {
        ok = out_prim(dv, &tag, &c, 1, errp);
    }
    path_reset(&dv->path, old);
    return ok;
}

static bool der_type_bytes(Visitor *v, const char *name, uint8_t *buf,
                           size_t *len, size_t min, size_t max, Error **errp)
{
    DerOutputVisitor *dv = to_der(v);
    Tag tag;
    size_t old;
    bool ok = false;

    if (out_begin(dv, name, TAG_OCTET_STRING, false, &tag, &old, errp)) {
        if (*len < min || *len > max) {
            out_fail(dv, errp, "OCTET STRING length %zu out of range %zu..%zu",
                     *len, min, max);
        } else {
            ok = out_prim(dv, &tag, buf, *len, errp);
        }
    }
    path_reset(&dv->path, old);
    return ok;
}

/* Index of the first byte outside VisibleString's 0x20..0x7e, or n. */
static size_t visible_check(const uint8_t *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e) {
            break;
        }
    }
    return i;
}

static bool out_str(DerOutputVisitor *dv, const char *name, const char *buf,
                    size_t max, Error **errp)
{
    Tag tag;
    size_t old, n, bad;
    const char *nul;
    bool ok = false;

    if (out_begin(dv, name, TAG_VISIBLE_STRING, false, &tag, &old, errp)) {
        nul = memchr(buf, '\0', max < SIZE_MAX ? max + 1 : max);
        if (!nul) {
            out_fail(dv, errp, "VisibleString longer than %zu characters",
                     max);
        } else {
            n = (size_t)(nul - buf);
            bad = visible_check((const uint8_t *)buf, n);
            if (bad < n) {
                out_fail(dv, errp, "invalid character 0x%02x in VisibleString",
                         (unsigned)(unsigned char)buf[bad]);
            } else {
                ok = out_prim(dv, &tag, buf, n, errp);
            }
        }
    }
    path_reset(&dv->path, old);
    return ok;
}

static bool der_type_str(Visitor *v, const char *name, char *buf, size_t max,
                         Error **errp)
{
    return out_str(to_der(v), name, buf, max, errp);
}

static void der_free(Visitor *v)
{
    DerOutputVisitor *dv = to_der(v);

    free(dv->data);
    free(dv->hdrs);
    free(dv->frames);
    free(dv);
}

Visitor *der_output_visitor_new(void)
{
    DerOutputVisitor *dv = calloc(1, sizeof(*dv));

    if (!dv) {
        return NULL;
    }
    dv->ext_min = SIZE_MAX;
    dv->framecap = 8;
    dv->frames = calloc(dv->framecap, sizeof(*dv->frames));
    if (!dv->frames) {
        free(dv);
        return NULL;
    }
    dv->frames[0].kind = FRAME_TOP;
    dv->v.type = VISITOR_OUTPUT;
    dv->v.store = false;
    dv->v.start_struct = der_start_struct;
    dv->v.check_struct = der_check_struct;
    dv->v.end_struct = der_end_struct;
    dv->v.start_list = der_start_list;
    dv->v.check_list = der_check_list;
    dv->v.end_list = der_end_list;
    dv->v.type_int64 = der_type_int64;
    dv->v.type_uint64 = der_type_uint64;
    dv->v.type_enum = der_type_enum;
    dv->v.type_bool = der_type_bool;
    dv->v.type_bytes = der_type_bytes;
    dv->v.type_str = der_type_str;
    dv->v.start_choice = der_start_choice;
    dv->v.fail = der_fail;
    dv->v.version = UINT32_MAX;
    dv->v.free = der_free;
    return &dv->v;
}

void der_output_visitor_set_error_prefix(Visitor *v, const char *prefix)
{
    to_der(v)->error_prefix = prefix;
}

bool der_output_visitor_finish(Visitor *v, uint8_t **buf, size_t *len,
                               Error **errp)
{
    DerOutputVisitor *dv = to_der(v);
    size_t total, src = 0, dst = 0, i;
    uint8_t *out;

    if (dv->failed) {
        return out_fail(dv, errp, "an earlier visit failed");
    }
    if (dv->depth != 0) {
        return out_fail(dv, errp, "a struct or list is still open");
    }
    total = dv->len + dv->hdr_bytes;
    out = malloc(total ? total : 1);
    if (!out) {
        return out_fail(dv, errp, "out of memory");
    }
    for (i = 0; i < dv->nhdrs; i++) {
        const DerHeader *h = &dv->hdrs[i];

        memcpy(out + dst, dv->data + src, h->at - src);
        dst += h->at - src;
        src = h->at;
        if (h->ext) {
            memcpy(out + dst, h->ext, h->ext_n);
            dst += h->ext_n;
        } else {
            memcpy(out + dst, h->bytes, h->n);
            dst += h->n;
        }
    }
    if (dv->len > src) {
        memcpy(out + dst, dv->data + src, dv->len - src);
    }
    *buf = out;
    *len = total;
    return true;
}

/* ---- BER input visitor ----------------------------------------------------- */

static BerInputVisitor *to_ber(Visitor *v)
{
    return (BerInputVisitor *)v;
}

static bool in_fail(BerInputVisitor *bv, Error **errp, const char *fmt, ...)
    VMGEN_PRINTF(3, 4);

static bool in_fail(BerInputVisitor *bv, Error **errp, const char *fmt, ...)
{
    va_list ap;

    bv->failed = true;
    va_start(ap, fmt);
    report(errp, bv->error_prefix, &bv->path, fmt, ap);
    va_end(ap);
    return false;
}

/*
 * Reads the identifier and length octets of the TLV at *pos, which must lie
 * inside [*pos, end).  On success *pos is the start of the contents and the
 * contents fit before end.
 */
static bool in_header(BerInputVisitor *bv, size_t *pos, size_t end, Tag *tag,
                      size_t *len, Error **errp)
{
    const uint8_t *b = bv->buf;
    size_t p = *pos, n, k;
    uint8_t c;

    if (p >= end) {
        return in_fail(bv, errp, "truncated value");
    }
    c = b[p++];
    tag->cls = c & 0xc0u;
    tag->constructed = (c & ID_CONSTRUCTED) != 0;
    tag->number = c & 0x1fu;
    if (tag->number == 0x1f) {
        uint32_t num = 0;
        bool first = true;

        for (;;) {
            if (p >= end) {
                return in_fail(bv, errp, "truncated value");
            }
            c = b[p++];
            if (first && c == 0x80) {
                return in_fail(bv, errp, "invalid tag encoding");
            }
            if (num > (UINT32_MAX >> 7)) {
                return in_fail(bv, errp, "tag number too large");
            }
            num = (num << 7) | (c & 0x7fu);
            first = false;
            if (!(c & 0x80)) {
                break;
            }
        }
        if (num < 31) {
            return in_fail(bv, errp, "invalid tag encoding");
        }
        tag->number = num;
    }
    if (p >= end) {
        return in_fail(bv, errp, "truncated value");
    }
    c = b[p++];
    if (c < 0x80) {
        n = c;
    } else if (c == 0x80) {
        return in_fail(bv, errp, "indefinite length not supported");
    } else if (c == 0xff) {
        return in_fail(bv, errp, "invalid length encoding");
    } else {
        k = c & 0x7fu;
        if (k > end - p) {
            return in_fail(bv, errp, "truncated value");
        }
        n = 0;
        while (k--) {
            if (n > (SIZE_MAX >> 8)) {
                return in_fail(bv, errp, "length too large");
            }
            n = (n << 8) | b[p++];
        }
    }
    if (n > end - p) {
        return in_fail(bv, errp, "truncated value");
    }
    *pos = p;
    *len = n;
    return true;
}

/*
 * Starts reading one value inside the innermost frame: pushes its path
 * component (the caller restores *old_path), reads its header and checks the
 * tag.  On success the contents are buf[bv->pos .. bv->pos + *len).
 */
static bool in_begin(BerInputVisitor *bv, const char *name, uint32_t utag,
                     bool constructed, size_t *len, size_t *old_path,
                     Error **errp)
{
    BerInputFrame *f = &bv->frames[bv->depth];
    Tag want, got;
    char ws[40], gs[40];

    *old_path = path_push(&bv->path, f->kind, name, f->index);
    want.constructed = constructed;
    if (f->kind == FRAME_STRUCT) {
        want.cls = CLASS_CONTEXT;
        if (f->index > UINT32_MAX) {
            return in_fail(bv, errp, "too many struct members");
        }
        want.number = (uint32_t)f->index;
    } else {
        want.cls = CLASS_UNIVERSAL;
        want.number = utag;
    }
    f->index++;
    if (bv->failed) {
        return in_fail(bv, errp, "an earlier visit failed");
    }
    if (bv->pos >= f->end) {
        if (f->kind == FRAME_TOP) {
            return in_fail(bv, errp, "truncated value");
        }
        tag_describe(&want, ws, sizeof(ws));
        return in_fail(bv, errp, "missing value, expected tag %s", ws);
    }
    if (!in_header(bv, &bv->pos, f->end, &got, len, errp)) {
        return false;
    }
    if (got.cls != want.cls || got.number != want.number) {
        tag_describe(&want, ws, sizeof(ws));
        tag_describe(&got, gs, sizeof(gs));
        return in_fail(bv, errp, "expected tag %s, found tag %s", ws, gs);
    }
    if (got.constructed != want.constructed) {
        tag_describe(&want, ws, sizeof(ws));
        return in_fail(bv, errp, "%s encoding of tag %s not allowed",
                       got.constructed ? "constructed" : "primitive", ws);
    }
    return true;
}

/*
 * Fast path of in_begin: when the next value inside the innermost frame has
 * the identifier octet `id` (>= 0) and a definite length (short form, or long
 * form of up to 4 octets) that fits the frame, sets *hlen to the header's
 * size and *len to the contents' and returns true; changes nothing.  False
 * means "take the general path" (which reports any error).
 */
static inline bool in_peek(const BerInputVisitor *bv, unsigned utag,
                           bool constructed, size_t *hlen, size_t *len)
{
    const BerInputFrame *f = &bv->frames[bv->depth];
    const uint8_t *p = bv->buf + bv->pos;
    uint8_t id[2] = { 0, 0 };
    size_t t = next_id(f->kind, f->index, utag, constructed, id);
    size_t room = f->end - bv->pos, n, k, i;

    if (t == 0 || bv->failed || bv->pos >= f->end || room < t + 1 ||
        p[0] != id[0] || (t == 2 && p[1] != id[1])) {
        return false;
    }
    n = p[t];
    k = 0;
    if (n >= 0x80) {
        k = n & 0x7fu;
        if (k == 0 || k > 4 || room - t - 1 < k) {
            return false;
        }
        n = 0;
        for (i = 0; i < k; i++) {
            n = (n << 8) | p[t + 1 + i];
        }
    }
    if (n > room - t - 1 - k) {
        return false;
    }
    *hlen = t + 1 + k;
    *len = n;
    return true;
}

/* Reads INTEGER / ENUMERATED contents of n bytes at bv->pos. */
static bool in_int(BerInputVisitor *bv, size_t n, const char *what,
                   BerInt *out, Error **errp)
{
    const uint8_t *p = bv->buf + bv->pos;

    if (n == 0) {
        return in_fail(bv, errp, "empty %s", what);
    }
    if (n > 1 && ((p[0] == 0x00 && !(p[1] & 0x80)) ||
                  (p[0] == 0xff && (p[1] & 0x80)))) {
        return in_fail(bv, errp, "non-minimal %s encoding", what);
    }
    int_decode(p, n, out);
    bv->pos += n;
    return true;
}

/*
 * Fast path of an INTEGER (ENUMERATED) of 1..8 content octets, minimal:
 * sets *val and *n (its contents' size) and returns true without consuming
 * anything, or returns false (the general path decides).
 */
static inline bool in_peek_int(const BerInputVisitor *bv, unsigned utag,
                               int64_t *val, size_t *hlen, size_t *n)
{
    return in_peek(bv, utag, false, hlen, n) && *n != 0 && *n <= 8 &&
           vmgen_ber_int_value(bv->buf + bv->pos + *hlen, *n,
                               bv->buf + bv->frames[bv->depth].end, val);
}

/* Consumes a value read by a fast path: hlen + n bytes, one member. */
static inline void in_took(BerInputVisitor *bv, size_t hlen, size_t n)
{
    bv->frames[bv->depth].index++;
    bv->pos += hlen + n;
}

static bool ber_type_int64(Visitor *v, const char *name, int64_t *obj,
                           int64_t min, int64_t max, Error **errp)
{
    BerInputVisitor *bv = to_ber(v);
    size_t len, old, hlen;
    BerInt x;
    char xs[48];
    bool ok = false;
    int64_t val;

    if (in_peek_int(bv, TAG_INTEGER, &val, &hlen, &len) && val >= min &&
        val <= max) {
        *obj = val;
        in_took(bv, hlen, len);
        return true;
    }

    if (in_begin(bv, name, TAG_INTEGER, false, &len, &old, errp) &&
        in_int(bv, len, "INTEGER", &x, errp)) {
        if (x.kind == INT_SIGNED && x.s >= min && x.s <= max) {
            *obj = x.s;
            ok = true;
        } else {
            int_describe(&x, xs, sizeof(xs));
            in_fail(bv, errp,
                    "INTEGER %s out of range %" PRId64 "..%" PRId64, xs, min,
                    max);
        }
    }
    path_reset(&bv->path, old);
    return ok;
}

static bool ber_type_uint64(Visitor *v, const char *name, uint64_t *obj,
                            uint64_t max, Error **errp)
{
    BerInputVisitor *bv = to_ber(v);
    size_t len, old, hlen;
    BerInt x;
    char xs[48];
    bool ok = false;
    int64_t val;

    if (in_peek_int(bv, TAG_INTEGER, &val, &hlen, &len) && val >= 0 &&
        (uint64_t)val <= max) {
        *obj = (uint64_t)val;
        in_took(bv, hlen, len);
        return true;
    }

    if (in_begin(bv, name, TAG_INTEGER, false, &len, &old, errp) &&
        in_int(bv, len, "INTEGER", &x, errp)) {
        if (x.kind == INT_SIGNED && x.s >= 0 && (uint64_t)x.s <= max) {
            *obj = (uint64_t)x.s;
            ok = true;
        } else if (x.kind == INT_BIG && x.u <= max) {
            *obj = x.u;
            ok = true;
        } else {
            int_describe(&x, xs, sizeof(xs));
            in_fail(bv, errp, "INTEGER %s out of range 0..%" PRIu64, xs, max);
        }
    }
    path_reset(&bv->path, old);
    return ok;
}

static bool ber_type_enum(Visitor *v, const char *name, int64_t *obj,
                          const int64_t *values, size_t n, Error **errp)
{
    BerInputVisitor *bv = to_ber(v);
    size_t len, old, hlen;
    BerInt x;
    char xs[48];
    bool ok = false;
    int64_t val;

    if (in_peek_int(bv, TAG_ENUMERATED, &val, &hlen, &len) &&
        enum_valid(val, values, n)) {
        *obj = val;
        in_took(bv, hlen, len);
        return true;
    }

    if (in_begin(bv, name, TAG_ENUMERATED, false, &len, &old, errp) &&
        in_int(bv, len, "ENUMERATED", &x, errp)) {
        if (x.kind == INT_SIGNED && enum_valid(x.s, values, n)) {
            *obj = x.s;
            ok = true;
        } else {
            int_describe(&x, xs, sizeof(xs));
            in_fail(bv, errp, "ENUMERATED %s is not a valid value", xs);
        }
    }
    path_reset(&bv->path, old);
    return ok;
}

static bool ber_type_bool(Visitor *v, const char *name, bool *obj,
                          Error **errp)
{
    BerInputVisitor *bv = to_ber(v);
    size_t len, old, hlen;
    bool ok = false;

    if (in_peek(bv, TAG_BOOLEAN, false, &hlen, &len) && len == 1) {
        *obj = bv->buf[bv->pos + hlen] != 0;
        in_took(bv, hlen, len);
        return true;
    }

    if (in_begin(bv, name, TAG_BOOLEAN, false, &len, &old, errp)) {
        if (len != 1) {
            in_fail(bv, errp, "BOOLEAN content must be 1 byte, found %zu",
                    len);
        } else {
            *obj = bv->buf[bv->pos] != 0;
            bv->pos++;
            ok = true;
        }
    }
    path_reset(&bv->path, old);
    return ok;
}

static bool ber_type_bytes(Visitor *v, const char *name, uint8_t *buf,
                           size_t *len, size_t min, size_t max, Error **errp)
{
    BerInputVisitor *bv = to_ber(v);
    size_t n, old, hlen;
    bool ok = false;

    if (in_peek(bv, TAG_OCTET_STRING, false, &hlen, &n) && n >= min &&
        n <= max) {
        if (bv->v.store) {
            if (n) {
                memcpy(buf, bv->buf + bv->pos + hlen, n);
            }
            *len = n;
        }
        in_took(bv, hlen, n);
        return true;
    }
    if (in_begin(bv, name, TAG_OCTET_STRING, false, &n, &old, errp)) {
        if (n < min || n > max) {
            in_fail(bv, errp, "OCTET STRING length %zu out of range %zu..%zu",
                    n, min, max);
        } else {
            if (bv->v.store) {
                if (n) {
                    memcpy(buf, bv->buf + bv->pos, n);
                }
                *len = n;
            }
            bv->pos += n;
            ok = true;
        }
    }
    path_reset(&bv->path, old);
    return ok;
}

static bool ber_type_str(Visitor *v, const char *name, char *buf, size_t max,
                         Error **errp)
{
    BerInputVisitor *bv = to_ber(v);
    size_t n, old, bad;
    bool ok = false;

    if (in_begin(bv, name, TAG_VISIBLE_STRING, false, &n, &old, errp)) {
        bad = visible_check(bv->buf + bv->pos, n);
        if (n > max) {
            in_fail(bv, errp, "VisibleString length %zu out of range 0..%zu",
                    n, max);
        } else if (bad < n) {
            in_fail(bv, errp, "invalid character 0x%02x in VisibleString",
                    (unsigned)bv->buf[bv->pos + bad]);
        } else {
            if (bv->v.store) {
                if (n) {
                    memcpy(buf, bv->buf + bv->pos, n);
                }
                buf[n] = '\0';
            }
            bv->pos += n;
            ok = true;
        }
    }
    path_reset(&bv->path, old);
    return ok;
}

/* Opens a frame for a constructed value whose header was just read. */
static bool in_push(BerInputVisitor *bv, int kind, size_t len, size_t count,
                    size_t old_path, Error **errp)
{
    BerInputFrame *f;

    if (bv->depth >= VMGEN_BER_MAX_DEPTH) {
        return in_fail(bv, errp, "nesting deeper than %d levels",
                       VMGEN_BER_MAX_DEPTH);
    }
    f = &bv->frames[++bv->depth];
    f->end = bv->pos + len;
    f->index = 0;
    f->count = count;
    f->path_len = old_path;
    f->kind = kind;
    return true;
}

static bool ber_start_struct(Visitor *v, const char *name, Error **errp)
{
    BerInputVisitor *bv = to_ber(v);
    BerInputFrame *f = &bv->frames[bv->depth];
    size_t len, old, hlen;

    if (bv->depth < VMGEN_BER_MAX_DEPTH &&
        in_peek(bv, TAG_SEQUENCE, true, &hlen, &len)) {
        old = path_push(&bv->path, f->kind, name, f->index);
        in_took(bv, hlen, 0);
        return in_push(bv, FRAME_STRUCT, len, 0, old, errp);
    }

    if (in_begin(bv, name, TAG_SEQUENCE, true, &len, &old, errp) &&
        in_push(bv, FRAME_STRUCT, len, 0, old, errp)) {
        return true;
    }
    path_reset(&bv->path, old);
    return false;
}

static bool ber_check_struct(Visitor *v, Error **errp)
{
    BerInputVisitor *bv = to_ber(v);
    BerInputFrame *f = &bv->frames[bv->depth];
    Tag tag;
    size_t len = 0;
    char ts[40];

    if (bv->failed) {
        return in_fail(bv, errp, "an earlier visit failed");
    }
    while (bv->pos < f->end) {
        if (!in_header(bv, &bv->pos, f->end, &tag, &len, errp)) {
            return false;
        }
        if (!bv->skip_unknown) {
            tag_describe(&tag, ts, sizeof(ts));
            return in_fail(bv, errp, "unknown member with tag %s", ts);
        }
        bv->pos += len;
    }
    return true;
}

static void in_end(BerInputVisitor *bv)
{
    BerInputFrame *f;

    if (bv->depth == 0) {
        return;
    }
    f = &bv->frames[bv->depth];
    bv->pos = f->end;
    path_reset(&bv->path, f->path_len);
    bv->depth--;
}

static void ber_end_struct(Visitor *v)
{
    in_end(to_ber(v));
}

static bool ber_start_choice(Visitor *v, const char *name, size_t *alt,
                             size_t n, Error **errp)
{
    BerInputVisitor *bv = to_ber(v);
    BerInputFrame *f;
    size_t len, old, p;
    Tag tag;
    char ts[40];

    if (!in_begin(bv, name, TAG_SEQUENCE, true, &len, &old, errp) ||
        !in_push(bv, FRAME_STRUCT, len, 0, old, errp)) {
        path_reset(&bv->path, old);
        return false;
    }
    f = &bv->frames[bv->depth];
    if (bv->pos >= f->end) {
        return in_fail(bv, errp, "missing CHOICE alternative");
    }
    p = bv->pos;
    if (!in_header(bv, &p, f->end, &tag, &len, errp)) {
        return false;
    }
    if (tag.cls != CLASS_CONTEXT || tag.number >= n) {
        tag_describe(&tag, ts, sizeof(ts));
        return in_fail(bv, errp, "unknown CHOICE alternative with tag %s", ts);
    }
    *alt = tag.number;
    f->index = tag.number;
    return true;
}

static bool ber_fail(Visitor *v, const char *name, const char *msg,
                     Error **errp)
{
    BerInputVisitor *bv = to_ber(v);
    BerInputFrame *f = &bv->frames[bv->depth];
    size_t old = path_push(&bv->path, f->kind, name, f->index);

    in_fail(bv, errp, "%s", msg);
    path_reset(&bv->path, old);
    return false;
}

static bool ber_start_list(Visitor *v, const char *name, size_t *count,
                           size_t min, size_t max, Error **errp)
{
    BerInputVisitor *bv = to_ber(v);
    size_t len, old, p, end, n = 0, elen = 0, o;
    Tag tag;
    bool ok;

    if (!in_begin(bv, name, TAG_SEQUENCE, true, &len, &old, errp)) {
        path_reset(&bv->path, old);
        return false;
    }
    /* Count the elements, checking each one's header, before visiting any. */
    p = bv->pos;
    end = bv->pos + len;
    while (p < end) {
        o = path_push(&bv->path, FRAME_LIST, NULL, n);
        ok = in_header(bv, &p, end, &tag, &elen, errp);
        path_reset(&bv->path, o);
        if (!ok) {
            path_reset(&bv->path, old);
            return false;
        }
        p += elen;
        n++;
    }
    if (n < min || n > max) {
        in_fail(bv, errp, "list length %zu out of range %zu..%zu", n, min,
                max);
        path_reset(&bv->path, old);
        return false;
    }
    if (!in_push(bv, FRAME_LIST, len, n, old, errp)) {
        path_reset(&bv->path, old);
        return false;
    }
    *count = n;
    return true;
}

static bool ber_check_list(Visitor *v, Error **errp)
{
    BerInputVisitor *bv = to_ber(v);
    BerInputFrame *f = &bv->frames[bv->depth];

    if (bv->failed) {
        return in_fail(bv, errp, "an earlier visit failed");
    }
    if (bv->pos < f->end) {
        return in_fail(bv, errp, "%zu of %zu list elements not visited",
                       f->count > f->index ? f->count - f->index : 1,
                       f->count);
    }
    return true;
}

static void ber_end_list(Visitor *v)
{
    in_end(to_ber(v));
}

static void ber_free(Visitor *v)
{
    (void)v;
}

void ber_input_visitor_init(BerInputVisitor *bv, const uint8_t *buf,
                            size_t len, bool store)
{
    /* Field by field: the frames and the path are large and need no
     * zeroing (a frame is set when it is opened). */
    memset(&bv->v, 0, sizeof(bv->v));
    bv->error_prefix = NULL;
    bv->skip_unknown = false;
    bv->pos = 0;
    bv->failed = false;
    bv->depth = 0;
    memset(&bv->frames[0], 0, sizeof(bv->frames[0]));
    path_init(&bv->path);
    bv->v.type = VISITOR_INPUT;
    bv->v.store = store;
    bv->v.start_struct = ber_start_struct;
    bv->v.check_struct = ber_check_struct;
    bv->v.end_struct = ber_end_struct;
    bv->v.start_list = ber_start_list;
    bv->v.check_list = ber_check_list;
    bv->v.end_list = ber_end_list;
    bv->v.type_int64 = ber_type_int64;
    bv->v.type_uint64 = ber_type_uint64;
    bv->v.type_enum = ber_type_enum;
    bv->v.type_bool = ber_type_bool;
    bv->v.type_bytes = ber_type_bytes;
    bv->v.type_str = ber_type_str;
    bv->v.start_choice = ber_start_choice;
    bv->v.fail = ber_fail;
    bv->v.version = UINT32_MAX;
    bv->v.free = ber_free;
    bv->buf = buf;
    bv->len = len;
    bv->frames[0].end = len;
    bv->frames[0].kind = FRAME_TOP;
}

bool ber_input_visitor_check_end(BerInputVisitor *bv, Error **errp)
{
    if (bv->failed) {
        return in_fail(bv, errp, "an earlier visit failed");
    }
    if (bv->depth != 0) {
        return in_fail(bv, errp, "a struct or list is still open");
    }
    if (bv->pos != bv->len) {
        return in_fail(bv, errp, "trailing bytes after the record");
    }
    return true;
}

/* ---- specialized codecs (see vmgen-ber.h) --------------------------------- */

uint8_t *vmgen_der_shift(uint8_t *contents, size_t n, size_t gap)
{
    memmove(contents - gap, contents, n);
    return contents - gap + n;
}

/* ---- records --------------------------------------------------------------- */

bool vmgen_save_record(const VmgenStateInfo *info, const void *obj,
                       uint8_t **buf, size_t *len, Error **errp)
{
    return vmgen_save_record_version(info, obj, info->version, buf, len, errp);
}

bool vmgen_save_record_version(const VmgenStateInfo *info, const void *obj,
                               uint32_t data_version, uint8_t **buf,
                               size_t *len, Error **errp)
{
    Visitor *v;
    DerOutputVisitor *dv;
    uint64_t version = data_version, minimum = info->minimum_version;
    bool ok;

    if (data_version > info->version ||
        data_version < info->minimum_version) {
        vmgen_error_setg(errp,
                         "%s: cannot write version %" PRIu32
                         ": this writer knows versions %" PRIu32 "..%" PRIu32,
                         info->name, data_version, info->minimum_version,
                         info->version);
        return false;
    }
    v = der_output_visitor_new();
    if (!v) {
        vmgen_error_setg(errp, "%s: out of memory", info->name);
        return false;
    }
    v->version = data_version;
    dv = to_der(v);
    dv->error_prefix = info->name;
    /* *obj outlives the visitor: long byte strings are copied from it once,
     * by finish(). */
    dv->ext_min = 256;
    if (!v->start_struct(v, NULL, errp)) {
        visit_free(v);
        return false;
    }
    ok = out_str(dv, "device", info->name, strlen(info->name), errp) &&
         v->type_uint64(v, "version", &version, UINT32_MAX, errp) &&
         v->type_uint64(v, "minimum_version", &minimum, UINT32_MAX, errp) &&
         info->visit(v, NULL, (void *)obj, errp) &&
         v->check_struct(v, errp);
    v->end_struct(v);
    ok = ok && der_output_visitor_finish(v, buf, len, errp);
    visit_free(v);
    return ok;
}

/* Reads the device name and checks it is the reader's. */
static bool load_device(BerInputVisitor *bv, const char *expected,
                        Error **errp)
{
    size_t n, old, i, shown;
    char found[72];
    const uint8_t *p;

    if (!in_begin(bv, "device", TAG_VISIBLE_STRING, false, &n, &old, errp)) {
        path_reset(&bv->path, old);
        return false;
    }
    path_reset(&bv->path, old);
    p = bv->buf + bv->pos;
    bv->pos += n;
    if (n == strlen(expected) && (n == 0 || memcmp(p, expected, n) == 0)) {
        return true;
    }
    shown = n < 64 ? n : 64;
    for (i = 0; i < shown; i++) {
        found[i] = (p[i] >= 0x20 && p[i] <= 0x7e) ? (char)p[i] : '?';
    }
    found[shown] = '\0';
    return in_fail(bv, errp, "record is for device '%s%s', expected '%s'",
                   found, n > shown ? "..." : "", expected);
}

static bool load_pass(const VmgenStateInfo *info, void *obj,
                      const uint8_t *buf, size_t len, bool store,
                      Error **errp)
{
    BerInputVisitor bv;
    Visitor *v = &bv.v;
    uint64_t version = 0, minimum = 0;
    bool ok;

    ber_input_visitor_init(&bv, buf, len, store);
    bv.error_prefix = info->name;
    if (!v->start_struct(v, NULL, errp)) {
        return false;
    }
    ok = load_device(&bv, info->name, errp) &&
         v->type_uint64(v, "version", &version, UINT32_MAX, errp) &&
         v->type_uint64(v, "minimum_version", &minimum, UINT32_MAX, errp);
    if (ok && minimum > info->version) {
        ok = in_fail(&bv, errp,
                     "data needs a reader of version >= %" PRIu64
                     ", this reader is version %" PRIu32,
                     minimum, info->version);
    }
    if (ok && version < info->minimum_version) {
        ok = in_fail(&bv, errp,
                     "data is version %" PRIu64
                     ", this reader needs version >= %" PRIu32,
                     version, info->minimum_version);
    }
    /* Members a newer writer added are skipped, others are errors.  Members
     * added after the data's version are absent: the generated code visits
     * only members up to v->version and leaves the others as they were. */
    bv.skip_unknown = version > info->version;
    v->version = version > info->version ? info->version : (uint32_t)version;
    ok = ok && info->visit(v, NULL, obj, errp) && v->check_struct(v, errp);
    v->end_struct(v);
    return ok && ber_input_visitor_check_end(&bv, errp);
}

bool vmgen_load_record(const VmgenStateInfo *info, void *obj,
                       const uint8_t *buf, size_t len, Error **errp)
{
    /*
     * The checking pass writes nothing; the storing pass sees the same bytes
     * and makes the same decisions, so it cannot fail half way.
     */
    return load_pass(info, obj, buf, len, false, errp) &&
           load_pass(info, obj, buf, len, true, errp);
}
