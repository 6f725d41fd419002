/*
 * runtime_test.c - drives the vmgen C runtime for tests/test_runtime.py.
 *
 * Hand-written visit functions (in the style of the generated ones) for a
 * few test device states, a token-stream input visitor and a token dump
 * output visitor.  Reads one command per line from stdin, answers one line
 * per command on stdout:
 *
 *   limits                       -> "OK <CHAR_MIN> <CHAR_MAX> ..." (see below)
 *   set <Type> <tokens...>       -> "OK <hex of the DER record>" | "ERR <msg>"
 *       fills a zeroed object from the tokens, then vmgen_save_record()
 *   load <Type> <hex>            -> "OK <hex of the re-saved record> <tokens>"
 *                                 | "ERR <unchanged|CHANGED> <msg>"
 *       vmgen_load_record() into an object filled with a byte pattern
 *   check <Type> <hex>           -> "OK <unchanged|CHANGED>" | "ERR <...> <msg>"
 *       one BER input pass with store == false over a bare state value
 *       (no record header): must leave the object untouched
 *
 * Tokens list the values in visit order: integers and enums in decimal,
 * bools 0/1, byte strings and strings in hex ("-" when empty), a list as its
 * element count followed by its elements; structs add no token.
 */
#include "vmgen-ber.h"
#include "vmgen-visitor.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHK(x)                                                                \
    do {                                                                      \
        if (!(x)) {                                                           \
            goto out;                                                         \
        }                                                                     \
    } while (0)

static bool storing(const Visitor *v)
{
    return visit_is_input(v) && v->store;
}

/* ---- test states ------------------------------------------------------------ */

typedef enum Color { RED = 0, GREEN = 5, BLUE = -3, BIG = 1000 } Color;
static const int64_t color_values[] = { RED, GREEN, BLUE, BIG };

static bool visit_Color(Visitor *v, const char *name, Color *obj, Error **errp)
{
    int64_t tmp = visit_is_input(v) ? 0 : (int64_t)*obj;

    if (!visit_type_enum(v, name, &tmp, color_values, 4, errp)) {
        return false;
    }
    if (storing(v)) {
        *obj = (Color)tmp;
    }
    return true;
}

typedef struct Scalars {
    int8_t i8;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    char c;
    signed char sc;
    unsigned char uc;
    short s;
    unsigned short us;
    int i;
    unsigned int u;
    long l;
    unsigned long ul;
    long long ll;
    unsigned long long ull;
    bool b;
    float f;
    double d;
    Color color;
    int8_t r;     /* range -5..5 */
    uint16_t q;   /* range 0..1000 */
} Scalars;

static bool visit_Scalars(Visitor *v, const char *name, void *opaque,
                          Error **errp)
{
    Scalars *obj = opaque;
    int64_t r = visit_is_input(v) ? 0 : obj->r;
    uint64_t q = visit_is_input(v) ? 0 : obj->q;
    bool ok = false;

    if (!visit_start_struct(v, name, errp)) {
        return false;
    }
    CHK(visit_type_int8(v, "i8", &obj->i8, errp));
    CHK(visit_type_int16(v, "i16", &obj->i16, errp));
    CHK(visit_type_int32(v, "i32", &obj->i32, errp));
    CHK(visit_type_int64(v, "i64", &obj->i64, errp));
    CHK(visit_type_uint8(v, "u8", &obj->u8, errp));
    CHK(visit_type_uint16(v, "u16", &obj->u16, errp));
    CHK(visit_type_uint32(v, "u32", &obj->u32, errp));
    CHK(visit_type_uint64(v, "u64", &obj->u64, errp));
    CHK(visit_type_char(v, "c", &obj->c, errp));
    CHK(visit_type_schar(v, "sc", &obj->sc, errp));
    CHK(visit_type_uchar(v, "uc", &obj->uc, errp));
    CHK(visit_type_short(v, "s", &obj->s, errp));
    CHK(visit_type_ushort(v, "us", &obj->us, errp));
    CHK(visit_type_int(v, "i", &obj->i, errp));
    CHK(visit_type_uint(v, "u", &obj->u, errp));
    CHK(visit_type_long(v, "l", &obj->l, errp));
    CHK(visit_type_ulong(v, "ul", &obj->ul, errp));
    CHK(visit_type_llong(v, "ll", &obj->ll, errp));
    CHK(visit_type_ullong(v, "ull", &obj->ull, errp));
    CHK(visit_type_bool(v, "b", &obj->b, errp));
    CHK(visit_type_float(v, "f", &obj->f, errp));
    CHK(visit_type_double(v, "d", &obj->d, errp));
    CHK(visit_Color(v, "color", &obj->color, errp));
    CHK(visit_type_int_range(v, "r", &r, -5, 5, errp));
    if (storing(v)) {
        obj->r = (int8_t)r;
    }
    CHK(visit_type_uint_range(v, "q", &q, 0, 1000, errp));
    if (storing(v)) {
        obj->q = (uint16_t)q;
    }
    ok = visit_check_struct(v, errp);
out:
    visit_end_struct(v);
    return ok;
}

/* More than 127 members: one- and two-byte high tag numbers. */
#define WIDE_N 128
static char wide_names[WIDE_N][16];

typedef struct Sub {
    int32_t x;
    uint8_t y;
} Sub;

typedef struct Wide {
    uint16_t m[WIDE_N];
    Sub sub;
    uint32_t narr;
    uint32_t arr[8];
    uint64_t tail;
    bool flag;
    Color e;
} Wide;

static bool visit_Sub(Visitor *v, const char *name, Sub *obj, Error **errp)
{
    bool ok = false;

    if (!visit_start_struct(v, name, errp)) {
        return false;
    }
    CHK(visit_type_int32(v, "x", &obj->x, errp));
    CHK(visit_type_uint8(v, "y", &obj->y, errp));
    ok = visit_check_struct(v, errp);
out:
    visit_end_struct(v);
    return ok;
}

static bool visit_Wide(Visitor *v, const char *name, void *opaque,
                       Error **errp)
{
    Wide *obj = opaque;
    size_t i, n = visit_is_input(v) ? 0 : obj->narr;
    bool ok = false, lok;

    if (!visit_start_struct(v, name, errp)) {
        return false;
    }
    for (i = 0; i < WIDE_N; i++) {
        CHK(visit_type_uint16(v, wide_names[i], &obj->m[i], errp));
    }
    CHK(visit_Sub(v, "sub", &obj->sub, errp));
    CHK(visit_start_list(v, "arr", &n, 0, 8, errp));
    lok = true;
    for (i = 0; i < n && lok; i++) {
        lok = visit_type_uint32(v, NULL, &obj->arr[i], errp);
    }
    lok = lok && visit_check_list(v, errp);
    visit_end_list(v);
    CHK(lok);
    if (storing(v)) {
        obj->narr = (uint32_t)n;
    }
    CHK(visit_type_uint64(v, "tail", &obj->tail, errp));
    CHK(visit_type_bool(v, "flag", &obj->flag, errp));
    CHK(visit_Color(v, "e", &obj->e, errp));
    ok = visit_check_struct(v, errp);
out:
    visit_end_struct(v);
    return ok;
}

typedef struct Timer {
    uint64_t period;
    int32_t phase;
    bool on;
} Timer;

typedef struct Inner {
    int16_t a;
    uint32_t nfifo;
    uint8_t fifo[16];
} Inner;

typedef struct Nested {
    uint32_t ntimers;
    Timer timers[4];
    Inner inner;
    uint32_t rows;
    uint32_t cols[3];
    uint16_t grid[3][5];
    size_t small_len;
    uint8_t small[200];
    size_t big_len;
    uint8_t big[70000];
    char name[17];
    double d;
    float f;
    uint32_t nflags;
    bool flags[8];
    uint32_t nkeys;
    double keys[4];
    uint32_t ncolors;
    Color colors[4];
    uint32_t nnames;
    char names[2][9];
    uint8_t fixed[4];
} Nested;

static bool visit_Timer(Visitor *v, const char *name, Timer *obj, Error **errp)
{
    bool ok = false;

    if (!visit_start_struct(v, name, errp)) {
        return false;
    }
    CHK(visit_type_uint64(v, "period", &obj->period, errp));
    CHK(visit_type_int32(v, "phase", &obj->phase, errp));
    CHK(visit_type_bool(v, "on", &obj->on, errp));
    ok = visit_check_struct(v, errp);
out:
    visit_end_struct(v);
    return ok;
}

static bool visit_Inner(Visitor *v, const char *name, Inner *obj, Error **errp)
{
    size_t i, n = visit_is_input(v) ? 0 : obj->nfifo;
    bool ok = false, lok;

    if (!visit_start_struct(v, name, errp)) {
        return false;
    }
    CHK(visit_type_int16(v, "a", &obj->a, errp));
    CHK(visit_start_list(v, "fifo", &n, 0, 16, errp));
    lok = true;
    for (i = 0; i < n && lok; i++) {
        lok = visit_type_uint8(v, NULL, &obj->fifo[i], errp);
    }
    lok = lok && visit_check_list(v, errp);
    visit_end_list(v);
    CHK(lok);
    if (storing(v)) {
        obj->nfifo = (uint32_t)n;
    }
    ok = visit_check_struct(v, errp);
out:
    visit_end_struct(v);
    return ok;
}

/* A list visited with a per-element callback. */
typedef bool ElemFn(Visitor *v, void *base, size_t i, Error **errp);

static bool visit_list(Visitor *v, const char *name, uint32_t *count,
                       size_t max, ElemFn *fn, void *base, Error **errp)
{
    size_t i, n = visit_is_input(v) ? 0 : *count;
    bool ok = true;

    if (!visit_start_list(v, name, &n, 0, max, errp)) {
        return false;
    }
    for (i = 0; i < n && ok; i++) {
        ok = fn(v, base, i, errp);
    }
    ok = ok && visit_check_list(v, errp);
    visit_end_list(v);
    if (ok && storing(v)) {
        *count = (uint32_t)n;
    }
    return ok;
}

static bool elem_timer(Visitor *v, void *base, size_t i, Error **errp)
{
    return visit_Timer(v, NULL, &((Nested *)base)->timers[i], errp);
}

static bool elem_row(Visitor *v, void *base, size_t i, Error **errp)
{
    Nested *obj = base;
    size_t j, n = visit_is_input(v) ? 0 : obj->cols[i];
    bool ok = true;

    if (!visit_start_list(v, NULL, &n, 0, 5, errp)) {
        return false;
    }
    for (j = 0; j < n && ok; j++) {
        ok = visit_type_uint16(v, NULL, &obj->grid[i][j], errp);
    }
    ok = ok && visit_check_list(v, errp);
    visit_end_list(v);
    if (ok && storing(v)) {
        obj->cols[i] = (uint32_t)n;
    }
    return ok;
}

static bool elem_flag(Visitor *v, void *base, size_t i, Error **errp)
{
    return visit_type_bool(v, NULL, &((Nested *)base)->flags[i], errp);
}

static bool elem_key(Visitor *v, void *base, size_t i, Error **errp)
{
    return visit_type_double(v, NULL, &((Nested *)base)->keys[i], errp);
}

static bool elem_color(Visitor *v, void *base, size_t i, Error **errp)
{
    return visit_Color(v, NULL, &((Nested *)base)->colors[i], errp);
}

static bool elem_name(Visitor *v, void *base, size_t i, Error **errp)
{
    return visit_type_str(v, NULL, ((Nested *)base)->names[i], 8, errp);
}

static bool visit_Nested(Visitor *v, const char *name, void *opaque,
                         Error **errp)
{
    Nested *obj = opaque;
    size_t small_len = visit_is_input(v) ? 0 : obj->small_len;
    size_t big_len = visit_is_input(v) ? 0 : obj->big_len;
    size_t fixed_len = 4;
    bool ok = false;

    if (!visit_start_struct(v, name, errp)) {
        return false;
    }
    CHK(visit_list(v, "timers", &obj->ntimers, 4, elem_timer, obj, errp));
    CHK(visit_Inner(v, "inner", &obj->inner, errp));
    CHK(visit_list(v, "grid", &obj->rows, 3, elem_row, obj, errp));
    CHK(visit_type_bytes(v, "small", obj->small, &small_len, 0, 200, errp));
    if (storing(v)) {
        obj->small_len = small_len;
    }
    CHK(visit_type_bytes(v, "big", obj->big, &big_len, 0, 70000, errp));
    if (storing(v)) {
        obj->big_len = big_len;
    }
    CHK(visit_type_str(v, "name", obj->name, 16, errp));
    CHK(visit_type_double(v, "d", &obj->d, errp));
    CHK(visit_type_float(v, "f", &obj->f, errp));
    CHK(visit_list(v, "flags", &obj->nflags, 8, elem_flag, obj, errp));
    CHK(visit_list(v, "keys", &obj->nkeys, 4, elem_key, obj, errp));
    CHK(visit_list(v, "colors", &obj->ncolors, 4, elem_color, obj, errp));
    CHK(visit_list(v, "names", &obj->nnames, 2, elem_name, obj, errp));
    CHK(visit_type_bytes(v, "fixed", obj->fixed, &fixed_len, 4, 4, errp));
    ok = visit_check_struct(v, errp);
out:
    visit_end_struct(v);
    return ok;
}

/* Lists nested `levels` deep: d = [[[...]]]. */
typedef struct Deep {
    uint32_t levels;
} Deep;

static bool visit_deep_level(Visitor *v, const char *name, uint32_t level,
                             uint32_t *levels, Error **errp)
{
    size_t n = visit_is_input(v) ? 0 : (level < *levels ? 1 : 0);
    bool ok = true;

    if (!visit_start_list(v, name, &n, 0, 1, errp)) {
        return false;
    }
    if (n) {
        ok = visit_deep_level(v, NULL, level + 1, levels, errp);
    } else if (visit_is_input(v)) {
        *levels = level;
    }
    ok = ok && visit_check_list(v, errp);
    visit_end_list(v);
    return ok;
}

static bool visit_Deep(Visitor *v, const char *name, void *opaque,
                       Error **errp)
{
    Deep *obj = opaque;
    uint32_t levels = visit_is_input(v) ? 0 : obj->levels;
    bool ok = false;

    if (!visit_start_struct(v, name, errp)) {
        return false;
    }
    CHK(visit_deep_level(v, "d", 0, &levels, errp));
    if (storing(v)) {
        obj->levels = levels;
    }
    ok = visit_check_struct(v, errp);
out:
    visit_end_struct(v);
    return ok;
}

typedef struct TestType {
    VmgenStateInfo info;
    size_t size;
} TestType;

static const TestType types[] = {
    { { "Scalars", 1, 1, visit_Scalars }, sizeof(Scalars) },
    { { "Wide", 2, 1, visit_Wide }, sizeof(Wide) },
    { { "Nested", 3, 2, visit_Nested }, sizeof(Nested) },
    { { "Deep", 1, 1, visit_Deep }, sizeof(Deep) },
};

static const TestType *find_type(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (name && strcmp(types[i].info.name, name) == 0) {
            return &types[i];
        }
    }
    return NULL;
}

/* ---- token input visitor ------------------------------------------------- */

typedef struct TokVisitor {
    Visitor v;
    char **tok;
    size_t ntok, next;
} TokVisitor;

static const char *tok_next(TokVisitor *tv, Error **errp)
{
    if (tv->next >= tv->ntok) {
        vmgen_error_setg(errp, "token stream: out of tokens");
        return NULL;
    }
    return tv->tok[tv->next++];
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes hex ("-" = empty) into out (room for max); returns false on junk. */
static bool unhex(const char *s, uint8_t *out, size_t max, size_t *n)
{
    size_t len = strlen(s), i;

    if (strcmp(s, "-") == 0) {
        *n = 0;
        return true;
    }
    if (len % 2 || len / 2 > max) {
        return false;
    }
    for (i = 0; i < len / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    *n = len / 2;
    return true;
}

static bool tok_noop(Visitor *v, const char *name, Error **errp)
{
    (void)v;
    (void)name;
    (void)errp;
    return true;
}

static bool tok_check(Visitor *v, Error **errp)
{
    (void)v;
    (void)errp;
    return true;
}

static void tok_end(Visitor *v)
{
    (void)v;
}

static bool tok_int64(Visitor *v, const char *name, int64_t *obj,
                      int64_t min, int64_t max, Error **errp)
{
    const char *t = tok_next((TokVisitor *)v, errp);
    long long x;
    char *end;

    if (!t) {
        return false;
    }
    x = strtoll(t, &end, 10);
    if (*end || x < min || x > max) {
        vmgen_error_setg(errp, "token stream: bad value '%s' for %s", t,
                         name ? name : "element");
        return false;
    }
    *obj = x;
    return true;
}

static bool tok_uint64(Visitor *v, const char *name, uint64_t *obj,
                       uint64_t max, Error **errp)
{
    const char *t = tok_next((TokVisitor *)v, errp);
    unsigned long long x;
    char *end;

    if (!t) {
        return false;
    }
    x = strtoull(t, &end, 10);
    if (*end || t[0] == '-' || x > max) {
        vmgen_error_setg(errp, "token stream: bad value '%s' for %s", t,
                         name ? name : "element");
        return false;
    }
    *obj = x;
    return true;
}

static bool tok_start_list(Visitor *v, const char *name, size_t *count,
                           size_t min, size_t max, Error **errp)
{
    uint64_t n;

    if (!tok_uint64(v, name, &n, max, errp)) {
        return false;
    }
    if (n < min) {
        vmgen_error_setg(errp, "token stream: list too short");
        return false;
    }
    *count = (size_t)n;
    return true;
}

static bool tok_enum(Visitor *v, const char *name, int64_t *obj,
                     const int64_t *values, size_t n, Error **errp)
{
    (void)values;
    (void)n;
    return tok_int64(v, name, obj, INT64_MIN, INT64_MAX, errp);
}

static bool tok_bool(Visitor *v, const char *name, bool *obj, Error **errp)
{
    uint64_t x;

    if (!tok_uint64(v, name, &x, 1, errp)) {
        return false;
    }
    *obj = x != 0;
    return true;
}

static bool tok_bytes(Visitor *v, const char *name, uint8_t *buf, size_t *len,
                      size_t min, size_t max, Error **errp)
{
    const char *t = tok_next((TokVisitor *)v, errp);

    (void)min;
    if (!t) {
        return false;
    }
    if (!unhex(t, buf, max, len)) {
        vmgen_error_setg(errp, "token stream: bad bytes for %s",
                         name ? name : "element");
        return false;
    }
    return true;
}

static bool tok_str(Visitor *v, const char *name, char *buf, size_t max,
                    Error **errp)
{
    const char *t = tok_next((TokVisitor *)v, errp);
    size_t n;

    if (!t) {
        return false;
    }
    if (!unhex(t, (uint8_t *)buf, max, &n)) {
        vmgen_error_setg(errp, "token stream: bad string for %s",
                         name ? name : "element");
        return false;
    }
    buf[n] = '\0';
    return true;
}

static void tok_init(TokVisitor *tv, char **tok, size_t ntok)
{
    memset(tv, 0, sizeof(*tv));
    tv->v.type = VISITOR_INPUT;
    tv->v.store = true;
    tv->v.start_struct = tok_noop;
    tv->v.check_struct = tok_check;
    tv->v.end_struct = tok_end;
    tv->v.start_list = tok_start_list;
    tv->v.check_list = tok_check;
    tv->v.end_list = tok_end;
    tv->v.type_int64 = tok_int64;
    tv->v.type_uint64 = tok_uint64;
    tv->v.type_enum = tok_enum;
    tv->v.type_bool = tok_bool;
    tv->v.type_bytes = tok_bytes;
    tv->v.type_str = tok_str;
    tv->tok = tok;
    tv->ntok = ntok;
}

/* ---- token dump output visitor --------------------------------------------- */

typedef struct Buf {
    char *s;
    size_t len, cap;
} Buf;

static void buf_put(Buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;

        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        b->s = realloc(b->s, cap);
        if (!b->s) {
            fputs("out of memory\n", stderr);
            exit(2);
        }
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void buf_puts(Buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

static void buf_hex(Buf *b, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char pair[2];
    size_t i;

    if (n == 0) {
        buf_puts(b, "-");
        return;
    }
    for (i = 0; i < n; i++) {
        pair[0] = digits[p[i] >> 4];
        pair[1] = digits[p[i] & 15];
        buf_put(b, pair, 2);
    }
}

typedef struct DumpVisitor {
    Visitor v;
    Buf out;
} DumpVisitor;

static void dump_sep(DumpVisitor *dv)
{
    buf_puts(&dv->out, " ");
}

static bool dump_start_list(Visitor *v, const char *name, size_t *count,
                            size_t min, size_t max, Error **errp)
{
    char t[32];

    (void)name;
    (void)min;
    (void)max;
    (void)errp;
    snprintf(t, sizeof(t), "%zu", *count);
    dump_sep((DumpVisitor *)v);
    buf_puts(&((DumpVisitor *)v)->out, t);
    return true;
}

static bool dump_int64(Visitor *v, const char *name, int64_t *obj,
                       int64_t min, int64_t max, Error **errp)
{
    char t[32];

    (void)name;
    (void)min;
    (void)max;
    (void)errp;
    snprintf(t, sizeof(t), "%" PRId64, *obj);
    dump_sep((DumpVisitor *)v);
    buf_puts(&((DumpVisitor *)v)->out, t);
    return true;
}

static bool dump_uint64(Visitor *v, const char *name, uint64_t *obj,
                        uint64_t max, Error **errp)
{
    char t[32];

    (void)name;
    (void)max;
    (void)errp;
    snprintf(t, sizeof(t), "%" PRIu64, *obj);
    dump_sep((DumpVisitor *)v);
    buf_puts(&((DumpVisitor *)v)->out, t);
    return true;
}

static bool dump_enum(Visitor *v, const char *name, int64_t *obj,
                      const int64_t *values, size_t n, Error **errp)
{
    (void)values;
    (void)n;
    return dump_int64(v, name, obj, INT64_MIN, INT64_MAX, errp);
}

static bool dump_bool(Visitor *v, const char *name, bool *obj, Error **errp)
{
    (void)name;
    (void)errp;
    dump_sep((DumpVisitor *)v);
    buf_puts(&((DumpVisitor *)v)->out, *obj ? "1" : "0");
    return true;
}

static bool dump_bytes(Visitor *v, const char *name, uint8_t *buf,
                       size_t *len, size_t min, size_t max, Error **errp)
{
    (void)name;
    (void)min;
    (void)max;
    (void)errp;
    dump_sep((DumpVisitor *)v);
    buf_hex(&((DumpVisitor *)v)->out, buf, *len);
    return true;
}

static bool dump_str(Visitor *v, const char *name, char *buf, size_t max,
                     Error **errp)
{
    (void)name;
    (void)max;
    (void)errp;
    dump_sep((DumpVisitor *)v);
    buf_hex(&((DumpVisitor *)v)->out, (const uint8_t *)buf, strlen(buf));
    return true;
}

static void dump_init(DumpVisitor *dv)
{
    memset(dv, 0, sizeof(*dv));
    dv->v.type = VISITOR_OUTPUT;
    dv->v.start_struct = tok_noop;
    dv->v.check_struct = tok_check;
    dv->v.end_struct = tok_end;
    dv->v.start_list = dump_start_list;
    dv->v.check_list = tok_check;
    dv->v.end_list = tok_end;
    dv->v.type_int64 = dump_int64;
    dv->v.type_uint64 = dump_uint64;
    dv->v.type_enum = dump_enum;
    dv->v.type_bool = dump_bool;
    dv->v.type_bytes = dump_bytes;
    dv->v.type_str = dump_str;
}

/* ---- commands ------------------------------------------------------------- */

static void reply_error(const char *state, Error *err)
{
    printf("ERR %s%s%s\n", state, state[0] ? " " : "", error_get_pretty(err));
    error_free(err);
}

static void reply_record(const uint8_t *p, size_t n, const char *extra)
{
    Buf b = { NULL, 0, 0 };

    buf_puts(&b, "OK ");
    buf_hex(&b, p, n);
    if (extra) {
        buf_puts(&b, extra);
    }
    puts(b.s);
    free(b.s);
}

static void cmd_limits(void)
{
    printf("OK %d %d %ld %ld %lu %lld %lld %llu %d %d %d %d %d %d %u\n",
           CHAR_MIN, CHAR_MAX, LONG_MIN, LONG_MAX, ULONG_MAX, LLONG_MIN,
           LLONG_MAX, ULLONG_MAX, SCHAR_MIN, SCHAR_MAX, UCHAR_MAX, SHRT_MIN,
           USHRT_MAX, INT_MIN, UINT_MAX);
}

static void cmd_set(const TestType *t, char **tok, size_t ntok)
{
    void *obj = calloc(1, t->size);
    TokVisitor tv;
    Error *err = NULL;
    uint8_t *out = NULL;
    size_t len = 0;

    if (!obj) {
        exit(2);
    }
    tok_init(&tv, tok, ntok);
    if (!t->info.visit(&tv.v, NULL, obj, &err)) {
        reply_error("", err);
    } else if (tv.next != ntok) {
        printf("ERR token stream: %zu tokens left\n", ntok - tv.next);
    } else if (!vmgen_save_record(&t->info, obj, &out, &len, &err)) {
        reply_error("", err);
    } else {
        reply_record(out, len, NULL);
    }
    free(out);
    free(obj);
}

static void cmd_load(const TestType *t, const char *hex, bool record)
{
    size_t hexlen = strlen(hex), n = 0, len = 0;
    uint8_t *in = malloc(hexlen / 2 + 1), *out = NULL;
    void *obj = malloc(t->size), *before = malloc(t->size);
    Error *err = NULL;
    bool ok;

    if (!in || !obj || !before) {
        exit(2);
    }
    if (!unhex(hex, in, hexlen / 2 + 1, &n)) {
        printf("ERR bad hex\n");
        goto done;
    }
    memset(obj, 0x5a, t->size);
    memcpy(before, obj, t->size);
    if (record) {
        ok = vmgen_load_record(&t->info, obj, in, n, &err);
    } else {
        BerInputVisitor bv;

        ber_input_visitor_init(&bv, in, n, false);
        ok = t->info.visit(&bv.v, NULL, obj, &err) &&
             ber_input_visitor_check_end(&bv, &err);
        visit_free(&bv.v);
    }
    if (!ok) {
        reply_error(memcmp(obj, before, t->size) ? "CHANGED" : "unchanged",
                    err);
    } else if (!record) {
        printf("OK %s\n",
               memcmp(obj, before, t->size) ? "CHANGED" : "unchanged");
    } else if (!vmgen_save_record(&t->info, obj, &out, &len, &err)) {
        reply_error("resave", err);
    } else {
        DumpVisitor dv;

        dump_init(&dv);
        if (!t->info.visit(&dv.v, NULL, obj, &err)) {
            reply_error("dump", err);
        } else {
            reply_record(out, len, dv.out.s ? dv.out.s : "");
        }
        free(dv.out.s);
    }
done:
    free(out);
    free(in);
    free(obj);
    free(before);
}

/* ---- selftest: paths the test states cannot reach ----------------------- */

static void note(Buf *b, Error **err)
{
    if (b->len) {
        buf_puts(b, " | ");
    }
    buf_puts(b, *err ? error_get_pretty(*err) : "(no error)");
    error_free(*err);
    *err = NULL;
}

static void note_hex(Buf *b, Visitor *v)
{
    Error *err = NULL;
    uint8_t *out = NULL;
    size_t len = 0;

    if (der_output_visitor_finish(v, &out, &len, &err)) {
        if (b->len) {
            buf_puts(b, " | ");
        }
        buf_hex(b, out, len);
        free(out);
    } else {
        note(b, &err);
    }
    visit_free(v);
}

static Visitor *new_out(void)
{
    Visitor *v = der_output_visitor_new();

    if (!v) {
        exit(2);
    }
    der_output_visitor_set_error_prefix(v, "T");
    return v;
}

static void cmd_selftest(void)
{
    static const uint8_t list2[] = { 0x30, 0x06, 0x02, 0x01, 0x01,
                                     0x02, 0x01, 0x02 };
    Buf b = { NULL, 0, 0 };
    Error *err = NULL;
    Visitor *v;
    BerInputVisitor bv;
    int64_t i64;
    uint64_t u64;
    size_t n;
    uint8_t bytes[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    char str[8];
    bool flag = true;
    double dbl = -0.0;
    char longname[301];

    /* errors: first one wins, NULL errp drops */
    vmgen_error_setg(&err, "first %d", 1);
    vmgen_error_setg(&err, "second");
    vmgen_error_setg(NULL, "dropped");
    note(&b, &err);
    visit_free(NULL);

    /* output rejects what input would reject */
    v = new_out();
    visit_start_struct(v, NULL, &err);
    i64 = 6;
    visit_type_int_range(v, "r", &i64, -5, 5, &err);
    note(&b, &err);
    visit_end_struct(v);
    note_hex(&b, v); /* the earlier failure sticks */

    /* paths longer than the fixed buffer are cut, not overflowed */
    v = new_out();
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    visit_start_struct(v, longname, &err);
    i64 = 6;
    visit_type_int_range(v, "r", &i64, -5, 5, &err);
    note(&b, &err);
    visit_end_struct(v);
    visit_free(v);

    v = new_out();
    visit_start_struct(v, "s", &err);
    u64 = 1001;
    visit_type_uint_range(v, "q", &u64, 0, 1000, &err);
    note(&b, &err);
    visit_end_struct(v);
    visit_free(v);

    v = new_out();
    visit_start_struct(v, NULL, &err);
    i64 = 7;
    visit_type_enum(v, "e", &i64, color_values, 4, &err);
    note(&b, &err);
    visit_end_struct(v);
    visit_free(v);

    v = new_out();
    n = 5;
    visit_start_list(v, "l", &n, 0, 4, &err);
    note(&b, &err);
    visit_free(v);

    v = new_out();
    n = 2;
    visit_start_list(v, "l", &n, 0, 4, &err);
    i64 = 1;
    visit_type_int64(v, NULL, &i64, &err);
    visit_check_list(v, &err);
    note(&b, &err);
    visit_end_list(v);
    visit_free(v);

    v = new_out();
    strcpy(str, "abcdef");
    visit_type_str(v, "s", str, 3, &err);
    note(&b, &err);
    visit_free(v);

    v = new_out();
    strcpy(str, "a\tb");
    visit_type_str(v, "s", str, 7, &err);
    note(&b, &err);
    visit_free(v);

    v = new_out();
    n = 5;
    visit_type_bytes(v, "b", bytes, &n, 0, 4, &err);
    note(&b, &err);
    visit_free(v);

    v = new_out();
    visit_start_struct(v, NULL, &err);
    note_hex(&b, v); /* still open */

    /* top-level values keep their universal tags */
    v = new_out();
    i64 = -1;
    visit_type_int64(v, NULL, &i64, &err);
    visit_type_bool(v, NULL, &flag, &err);
    visit_type_double(v, NULL, &dbl, &err);
    n = 2;
    visit_start_list(v, NULL, &n, 0, 2, &err);
    visit_start_struct(v, NULL, &err);
    visit_check_struct(v, &err);
    visit_end_struct(v);
    strcpy(str, "hi");
    visit_type_str(v, NULL, str, 7, &err);
    visit_check_list(v, &err);
    visit_end_list(v);
    note(&b, &err);
    note_hex(&b, v);

    v = new_out();
    note_hex(&b, v); /* nothing visited: empty output */

    /* input: elements left unvisited, and reading past the end */
    ber_input_visitor_init(&bv, list2, sizeof(list2), true);
    bv.error_prefix = "T";
    visit_start_list(&bv.v, "l", &n, 0, 4, &err);
    visit_type_int64(&bv.v, NULL, &i64, &err);
    visit_check_list(&bv.v, &err);
    note(&b, &err);
    visit_end_list(&bv.v);
    visit_free(&bv.v);

    ber_input_visitor_init(&bv, list2, 0, true);
    visit_type_int64(&bv.v, "x", &i64, &err);
    note(&b, &err);

    ber_input_visitor_init(&bv, list2, sizeof(list2), true);
    visit_start_list(&bv.v, NULL, &n, 0, 4, &err);
    visit_type_int64(&bv.v, NULL, &i64, &err);
    visit_type_int64(&bv.v, NULL, &i64, &err);
    visit_type_int64(&bv.v, NULL, &i64, &err);
    note(&b, &err);
    visit_end_list(&bv.v);
    ber_input_visitor_check_end(&bv, &err);
    note(&b, &err);

    puts(b.s);
    free(b.s);
}

/* Reads one line of any length; NULL at end of input. */
static char *read_line(void)
{
    Buf b = { NULL, 0, 0 };
    char chunk[4096];

    while (fgets(chunk, sizeof(chunk), stdin)) {
        size_t n = strlen(chunk);

        if (n && chunk[n - 1] == '\n') {
            buf_put(&b, chunk, n - 1);
            return b.s ? b.s : calloc(1, 1);
        }
        buf_put(&b, chunk, n);
    }
    return b.s;
}

int main(void)
{
    char *line;
    int i;

    for (i = 0; i < WIDE_N; i++) {
        snprintf(wide_names[i], sizeof(wide_names[i]), "m%d", i);
    }
    while ((line = read_line()) != NULL) {
        char **tok = NULL;
        size_t ntok = 0, cap = 0;
        char *p = line;
        const TestType *t;

        for (;;) {
            while (*p == ' ') {
                p++;
            }
            if (!*p) {
                break;
            }
            if (ntok == cap) {
                cap = cap ? 2 * cap : 64;
                tok = realloc(tok, cap * sizeof(*tok));
                if (!tok) {
                    exit(2);
                }
            }
            tok[ntok++] = p;
            while (*p && *p != ' ') {
                p++;
            }
            if (*p) {
                *p++ = '\0';
            }
        }
        t = ntok > 1 ? find_type(tok[1]) : NULL;
        if (ntok >= 1 && strcmp(tok[0], "limits") == 0) {
            cmd_limits();
        } else if (ntok >= 1 && strcmp(tok[0], "selftest") == 0) {
            cmd_selftest();
        } else if (!t) {
            printf("ERR bad command\n");
        } else if (strcmp(tok[0], "set") == 0) {
            cmd_set(t, tok + 2, ntok - 2);
        } else if (strcmp(tok[0], "load") == 0 && ntok == 3) {
            cmd_load(t, tok[2], true);
        } else if (strcmp(tok[0], "check") == 0 && ntok == 3) {
            cmd_load(t, tok[2], false);
        } else {
            printf("ERR bad command\n");
        }
        fflush(stdout);
        free(tok);
        free(line);
    }
    return 0;
}
