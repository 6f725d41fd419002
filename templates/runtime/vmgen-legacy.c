/*
 * vmgen-legacy.c - the legacy (VMState) stream visitors, records and format
 * negotiation.  See vmgen-legacy.h for the format.  Shipped by vmgen.
 */
#include "vmgen-legacy.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEGACY_MAX_DEPTH 64

typedef struct LegacyFrame {
    size_t path_len;
    size_t index;
    bool list;
} LegacyFrame;

typedef struct LegacyVisitor {
    Visitor v;
    const char *prefix;
    uint8_t *data; /* output */
    size_t len, cap;
    const uint8_t *buf; /* input */
    size_t size, pos;
    bool failed;
    unsigned depth;
    LegacyFrame frames[LEGACY_MAX_DEPTH + 1];
    char path[256];
    size_t path_len;
} LegacyVisitor;

static LegacyVisitor *to_legacy(Visitor *v)
{
    return (LegacyVisitor *)v;
}

/* ---- paths and errors ---------------------------------------------------- */

static void path_add(LegacyVisitor *lv, const char *text)
{
    size_t n = strlen(text);

    if (lv->path_len + n >= sizeof(lv->path)) {
        n = sizeof(lv->path) - 1 - lv->path_len;
    }
    memcpy(lv->path + lv->path_len, text, n);
    lv->path_len += n;
    lv->path[lv->path_len] = '\0';
}

/* Appends the component of the next member; returns the length to restore. */
static size_t path_push(LegacyVisitor *lv, const char *name)
{
    LegacyFrame *f = &lv->frames[lv->depth];
    size_t old = lv->path_len;
    char index[32];

    if (f->list) {
        snprintf(index, sizeof(index), "[%zu]", f->index);
        path_add(lv, index);
    } else if (name) {
        if (lv->path_len) {
            path_add(lv, ".");
        }
        path_add(lv, name);
    }
    f->index++;
    return old;
}

static void path_pop(LegacyVisitor *lv, size_t old)
{
    lv->path_len = old;
    lv->path[old] = '\0';
}

static bool fail_at(LegacyVisitor *lv, Error **errp, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static bool fail_at(LegacyVisitor *lv, Error **errp, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0) {
        msg[0] = '\0';
    }
    va_end(ap);
    lv->failed = true;
    vmgen_error_setg(errp, "%s%s%s%s%s", lv->prefix ? lv->prefix : "",
                     lv->prefix ? ": " : "", lv->path, lv->path_len ? ": " : "", msg);
    return false;
}

/* ---- bytes ---------------------------------------------------------------- */

static bool put(LegacyVisitor *lv, const void *bytes, size_t n, Error **errp)
{
    if (n > lv->cap - lv->len) {
        size_t cap = lv->cap ? lv->cap : 256;
        uint8_t *data;

        while (cap - lv->len < n) {
            if (cap > SIZE_MAX / 2) {
                return fail_at(lv, errp, "out of memory");
            }
            cap *= 2;
        }
        data = realloc(lv->data, cap);
        if (!data) {
            return fail_at(lv, errp, "out of memory");
        }
        lv->data = data;
        lv->cap = cap;
    }
    if (n) {
        memcpy(lv->data + lv->len, bytes, n);
    }
    lv->len += n;
    return true;
}

static bool put_zeros(LegacyVisitor *lv, size_t n, Error **errp)
{
    static const uint8_t zeros[64];

    while (n) {
        size_t chunk = n < sizeof(zeros) ? n : sizeof(zeros);

        if (!put(lv, zeros, chunk, errp)) {
            return false;
        }
        n -= chunk;
    }
    return true;
}

static bool put_be(LegacyVisitor *lv, uint64_t value, unsigned bytes,
                   Error **errp)
{
    uint8_t out[8];
    unsigned i;

    for (i = 0; i < bytes; i++) {
        out[i] = (uint8_t)(value >> (8 * (bytes - 1 - i)));
    }
    return put(lv, out, bytes, errp);
}

static bool get(LegacyVisitor *lv, size_t n, const uint8_t **p, Error **errp)
{
    if (n > lv->size - lv->pos) {
        return fail_at(lv, errp, "truncated data: %zu bytes needed, %zu left", n,
                       lv->size - lv->pos);
    }
    *p = lv->buf + lv->pos;
    lv->pos += n;
    return true;
}

static bool get_be(LegacyVisitor *lv, unsigned bytes, uint64_t *value,
                   Error **errp)
{
    const uint8_t *p = NULL;
    unsigned i;

    if (!get(lv, bytes, &p, errp)) {
        return false;
    }
    *value = 0;
    for (i = 0; i < bytes; i++) {
        *value = (*value << 8) | p[i];
    }
    return true;
}

static unsigned width_signed(int64_t min, int64_t max)
{
    if (min >= INT8_MIN && max <= INT8_MAX) {
        return 1;
    }
    if (min >= INT16_MIN && max <= INT16_MAX) {
        return 2;
    }
    if (min >= INT32_MIN && max <= INT32_MAX) {
        return 4;
    }
    return 8;
}

static unsigned width_unsigned(uint64_t max)
{
    return max <= UINT8_MAX ? 1 : max <= UINT16_MAX ? 2 : max <= UINT32_MAX ? 4 : 8;
}

/* ---- the visitor operations ---------------------------------------------- */

static bool lv_begin(LegacyVisitor *lv, const char *name, size_t *old,
                     Error **errp)
{
    *old = path_push(lv, name);
    if (lv->failed) {
        return fail_at(lv, errp, "an earlier visit failed");
    }
    return true;
}

static bool lv_int(LegacyVisitor *lv, const char *name, int64_t *obj,
                   unsigned bytes, int64_t min, int64_t max, Error **errp)
{
    size_t old;
    bool ok = false;

    if (!lv_begin(lv, name, &old, errp)) {
        path_pop(lv, old);
        return false;
    }
    if (lv->v.type == VISITOR_OUTPUT) {
        if (*obj < min || *obj > max) {
            fail_at(lv, errp, "INTEGER %" PRId64 " out of range %" PRId64 "..%" PRId64,
                    *obj, min, max);
        } else {
            ok = put_be(lv, (uint64_t)*obj, bytes, errp);
        }
    } else {
        uint64_t raw;

        if (get_be(lv, bytes, &raw, errp)) {
            int64_t value;

            /* A range with negative values is a signed C type's: sign-extend.
             * (An unsigned type's value with its top bit set is positive.) */
            if (min < 0 && bytes < 8 && (raw >> (8 * bytes - 1)) & 1) {
                raw |= ~(uint64_t)0 << (8 * bytes);
            }
            memcpy(&value, &raw, sizeof(value));
            if (value < min || value > max) {
                fail_at(lv, errp, "INTEGER %" PRId64 " out of range %" PRId64 "..%" PRId64,
                        value, min, max);
            } else {
                *obj = value;
                ok = true;
            }
        }
    }
    path_pop(lv, old);
    return ok;
}

static bool lv_uint(LegacyVisitor *lv, const char *name, uint64_t *obj,
                    unsigned bytes, uint64_t max, Error **errp)
{
    size_t old;
    bool ok = false;

    if (!lv_begin(lv, name, &old, errp)) {
        path_pop(lv, old);
        return false;
    }
    if (lv->v.type == VISITOR_OUTPUT) {
        if (*obj > max) {
            fail_at(lv, errp, "INTEGER %" PRIu64 " out of range 0..%" PRIu64, *obj, max);
        } else {
            ok = put_be(lv, *obj, bytes, errp);
        }
    } else {
        uint64_t value;

        if (get_be(lv, bytes, &value, errp)) {
            if (value > max) {
                fail_at(lv, errp, "INTEGER %" PRIu64 " out of range 0..%" PRIu64, value, max);
            } else {
                *obj = value;
                ok = true;
            }
        }
    }
    path_pop(lv, old);
    return ok;
}

static bool legacy_int64(Visitor *v, const char *name, int64_t *obj,
                         int64_t min, int64_t max, Error **errp)
{
    return lv_int(to_legacy(v), name, obj, width_signed(min, max), min, max, errp);
}

static bool legacy_uint64(Visitor *v, const char *name, uint64_t *obj,
                          uint64_t max, Error **errp)
{
    return lv_uint(to_legacy(v), name, obj, width_unsigned(max), max, errp);
}

static bool legacy_sized_int(Visitor *v, const char *name, int64_t *obj,
                             unsigned bytes, int64_t min, int64_t max,
                             Error **errp)
{
    return lv_int(to_legacy(v), name, obj, bytes, min, max, errp);
}

static bool legacy_sized_uint(Visitor *v, const char *name, uint64_t *obj,
                              unsigned bytes, uint64_t max, Error **errp)
{
    return lv_uint(to_legacy(v), name, obj, bytes, max, errp);
}

static bool legacy_enum(Visitor *v, const char *name, int64_t *obj,
                        const int64_t *values, size_t n, Error **errp)
{
    LegacyVisitor *lv = to_legacy(v);
    int64_t value = v->type == VISITOR_OUTPUT ? *obj : 0;
    size_t i, old;

    /* VMState keeps enums in an int32 (VMSTATE_INT32). */
    for (i = 0; v->type == VISITOR_OUTPUT && i < n && values[i] != value; i++) {
    }
    if (v->type == VISITOR_OUTPUT && i == n) {
        old = path_push(lv, name);
        fail_at(lv, errp, "ENUMERATED %" PRId64 " is not a valid value", value);
        path_pop(lv, old);
        return false;
    }
    if (!lv_int(lv, name, &value, 4, INT32_MIN, INT32_MAX, errp)) {
        return false;
    }
    for (i = 0; i < n && values[i] != value; i++) {
    }
    if (i == n) {
        lv->frames[lv->depth].index--; /* report at the member just read */
        old = path_push(lv, name);
        fail_at(lv, errp, "ENUMERATED %" PRId64 " is not a valid value", value);
        path_pop(lv, old);
        return false;
    }
    *obj = value;
    return true;
}

static bool legacy_bool(Visitor *v, const char *name, bool *obj, Error **errp)
{
    LegacyVisitor *lv = to_legacy(v);
    uint64_t value = v->type == VISITOR_OUTPUT ? (uint64_t)*obj : 0;

    if (!lv_uint(lv, name, &value, 1, 1, errp)) {
        return false;
    }
    *obj = value != 0;
    return true;
}

static bool legacy_bytes(Visitor *v, const char *name, uint8_t *buf,
                         size_t *len, size_t min, size_t max, Error **errp)
{
    LegacyVisitor *lv = to_legacy(v);
    const uint8_t *p = NULL;
    size_t old;
    bool ok = false;

    if (!lv_begin(lv, name, &old, errp)) {
        path_pop(lv, old);
        return false;
    }
    /* The length is known: the array's size, or its count (read before). */
    if (*len < min || *len > max) {
        fail_at(lv, errp, "OCTET STRING length %zu out of range %zu..%zu", *len, min, max);
    } else if (v->type == VISITOR_OUTPUT) {
        ok = put(lv, buf, *len, errp);
    } else if (get(lv, *len, &p, errp)) {
        if (v->store && *len) {
            memcpy(buf, p, *len);
        }
        ok = true;
    }
    path_pop(lv, old);
    return ok;
}

static bool legacy_str(Visitor *v, const char *name, char *buf, size_t max,
                       Error **errp)
{
    LegacyVisitor *lv = to_legacy(v);
    const uint8_t *p = NULL;
    size_t old, n, i;
    bool ok = false;

    if (!lv_begin(lv, name, &old, errp)) {
        path_pop(lv, old);
        return false;
    }
    /* The whole char array: the string, a NUL, zero bytes up to max + 1. */
    if (v->type == VISITOR_OUTPUT) {
        for (n = 0; n <= max && buf[n]; n++) {
        }
        if (n > max) {
            fail_at(lv, errp, "string of more than %zu characters (no NUL)", max);
        } else {
            ok = put(lv, buf, n, errp);
            for (i = n; ok && i <= max; i++) {
                ok = put(lv, "", 1, errp);
            }
        }
    } else if (get(lv, max + 1, &p, errp)) {
        for (n = 0; n <= max && p[n]; n++) {
        }
        for (i = 0; i < n && p[i] >= 0x20 && p[i] <= 0x7e; i++) {
        }
        if (n > max) {
            fail_at(lv, errp, "string of more than %zu characters (no NUL)", max);
        } else if (i < n) {
            fail_at(lv, errp, "invalid character 0x%02x in string", (unsigned)p[i]);
        } else {
            if (v->store) {
                memcpy(buf, p, n);
                memset(buf + n, 0, max + 1 - n);
            }
            ok = true;
        }
    }
    path_pop(lv, old);
    return ok;
}

static bool legacy_unused(Visitor *v, const char *name, size_t n,
                          Error **errp)
{
    LegacyVisitor *lv = to_legacy(v);
    const uint8_t *p = NULL;
    size_t old;
    bool ok;

    if (!lv_begin(lv, name, &old, errp)) {
        path_pop(lv, old);
        return false;
    }
    if (v->type == VISITOR_OUTPUT) {
        ok = put_zeros(lv, n, errp);
    } else {
        ok = get(lv, n, &p, errp); /* what the padding holds is ignored */
    }
    path_pop(lv, old);
    return ok;
}

#define LEGACY_SUBSECTION 0x05

/* The name of the subsection header at the read position, or 0 if there is none. */
static size_t subsection_at(const LegacyVisitor *lv, const uint8_t **name)
{
    size_t left = lv->size - lv->pos;
    const uint8_t *p = lv->buf + lv->pos;

    if (left < 2 || p[0] != LEGACY_SUBSECTION || left - 2 < (size_t)p[1] + 4) {
        return 0;
    }
    *name = p + 2;
    return p[1];
}

static bool legacy_start_subsection(Visitor *v, const char *name,
                                    uint32_t minimum, uint32_t version,
                                    bool *present, Error **errp)
{
    LegacyVisitor *lv = to_legacy(v);
    size_t n = strlen(name), old;
    bool ok = true;

    if (!lv_begin(lv, name, &old, errp)) {
        path_pop(lv, old);
        return false;
    }
    if (n == 0 || n > 255) {
        ok = fail_at(lv, errp, "a subsection name has 1 to 255 bytes");
    } else if (v->type == VISITOR_OUTPUT) {
        uint8_t head[2] = { LEGACY_SUBSECTION, (uint8_t)n };

        if (*present) {
            ok = put(lv, head, 2, errp) && put(lv, name, n, errp) &&
                 put_be(lv, version, 4, errp);
            v->version = version;
        }
    } else {
        const uint8_t *at = NULL;
        uint64_t data = 0;

        *present = subsection_at(lv, &at) == n && memcmp(at, name, n) == 0;
        if (*present) {
            lv->pos += 2 + n;
            ok = get_be(lv, 4, &data, errp);
            if (ok && (data < minimum || data > version)) {
                ok = fail_at(lv, errp, "subsection version %" PRIu64 ", this reader takes %"
                             PRIu32 "..%" PRIu32, data, minimum, version);
            }
            v->version = (uint32_t)data;
        }
    }
    path_pop(lv, old);
    return ok;
}

static bool legacy_end_subsections(Visitor *v, const char *prefix, Error **errp)
{
    LegacyVisitor *lv = to_legacy(v);
    const uint8_t *at = NULL;
    size_t n, k = strlen(prefix);

    if (v->type == VISITOR_OUTPUT) {
        return true;
    }
    n = subsection_at(lv, &at);
    /* VMState's rule: a subsection whose name starts with the struct's own
     * belongs to it; any other is its parent's. */
    if (n >= k && memcmp(at, prefix, k) == 0) {
        return fail_at(lv, errp, "subsection '%.*s' at offset %zu is not one of '%s' "
                       "(unknown, or out of order)", (int)n, (const char *)at, lv->pos, prefix);
    }
    return true;
}

static bool legacy_push(LegacyVisitor *lv, const char *name, bool list,
                        Error **errp)
{
    size_t old = path_push(lv, name);
    LegacyFrame *f;

    if (lv->failed) {
        path_pop(lv, old);
        return fail_at(lv, errp, "an earlier visit failed");
    }
    if (lv->depth >= LEGACY_MAX_DEPTH) {
        fail_at(lv, errp, "nesting deeper than %d levels", LEGACY_MAX_DEPTH);
        path_pop(lv, old);
        return false;
    }
    f = &lv->frames[++lv->depth];
    f->path_len = old;
    f->index = 0;
    f->list = list;
    return true;
}

static void legacy_pop(Visitor *v)
{
    LegacyVisitor *lv = to_legacy(v);

    if (lv->depth) {
        path_pop(lv, lv->frames[lv->depth].path_len);
        lv->depth--;
    }
}

static bool legacy_start_struct(Visitor *v, const char *name, Error **errp)
{
    return legacy_push(to_legacy(v), name, false, errp);
}

static bool legacy_check(Visitor *v, Error **errp)
{
    LegacyVisitor *lv = to_legacy(v);

    return lv->failed ? fail_at(lv, errp, "an earlier visit failed") : true;
}

static bool legacy_start_list(Visitor *v, const char *name, size_t *count,
                              size_t min, size_t max, Error **errp)
{
    LegacyVisitor *lv = to_legacy(v);

    /* No count on the wire here: a fixed array has its size, a sized one had
     * its count field read (and checked) just before. */
    if (*count < min || *count > max) {
        size_t old = path_push(lv, name);

        fail_at(lv, errp, "list length %zu out of range %zu..%zu", *count, min, max);
        path_pop(lv, old);
        return false;
    }
    return legacy_push(lv, name, true, errp);
}

static bool legacy_start_choice(Visitor *v, const char *name, size_t *alt,
                                size_t n, Error **errp)
{
    LegacyVisitor *lv = to_legacy(v);

    /* The member was chosen from the discriminator (visit_select_case). */
    if (*alt >= n) {
        size_t old = path_push(lv, name);

        fail_at(lv, errp, "alternative %zu of a union of %zu", *alt, n);
        path_pop(lv, old);
        return false;
    }
    if (!legacy_push(lv, name, false, errp)) {
        return false;
    }
    lv->frames[lv->depth].index = *alt;
    return true;
}

static bool legacy_fail(Visitor *v, const char *name, const char *msg,
                        Error **errp)
{
    LegacyVisitor *lv = to_legacy(v);
    size_t old;

    if (lv->frames[lv->depth].index) {
        lv->frames[lv->depth].index--; /* the member just visited */
    }
    old = path_push(lv, name);
    fail_at(lv, errp, "%s", msg);
    path_pop(lv, old);
    return false;
}

static void legacy_free(Visitor *v)
{
    LegacyVisitor *lv = to_legacy(v);

    free(lv->data);
    if (v->type == VISITOR_OUTPUT) {
        free(lv);
    }
}

static void legacy_init(LegacyVisitor *lv, VisitorType type, bool store,
                        uint32_t version, const char *prefix)
{
    memset(lv, 0, sizeof(*lv));
    lv->v.type = type;
    lv->v.store = store;
    lv->v.version = version;
    lv->v.positional = true;
    lv->v.start_struct = legacy_start_struct;
    lv->v.check_struct = legacy_check;
    lv->v.end_struct = legacy_pop;
    lv->v.start_list = legacy_start_list;
    lv->v.check_list = legacy_check;
    lv->v.end_list = legacy_pop;
    lv->v.type_int64 = legacy_int64;
    lv->v.type_uint64 = legacy_uint64;
    lv->v.type_sized_int = legacy_sized_int;
    lv->v.type_sized_uint = legacy_sized_uint;
    lv->v.type_enum = legacy_enum;
    lv->v.type_bool = legacy_bool;
    lv->v.type_bytes = legacy_bytes;
    lv->v.type_str = legacy_str;
    lv->v.start_choice = legacy_start_choice;
    lv->v.fail = legacy_fail;
    lv->v.unused = legacy_unused;
    lv->v.start_subsection = legacy_start_subsection;
    lv->v.end_subsections = legacy_end_subsections;
    lv->v.free = legacy_free;
    lv->prefix = prefix;
}

/* ---- records ----------------------------------------------------------------- */

static bool check_version(const VmgenStateInfo *info, uint32_t version,
                          Error **errp)
{
    if (version > info->version) {
        vmgen_error_setg(errp,
                         "%s: data is version %" PRIu32
                         ", this reader is version %" PRIu32,
                         info->name, version, info->version);
        return false;
    }
    if (version < info->minimum_version) {
        vmgen_error_setg(errp,
                         "%s: data is version %" PRIu32
                         ", this reader needs version >= %" PRIu32,
                         info->name, version, info->minimum_version);
        return false;
    }
    return true;
}

bool vmgen_save_record_legacy(const VmgenStateInfo *info, const void *obj,
                              uint32_t version, uint8_t **buf, size_t *len,
                              Error **errp)
{
    LegacyVisitor *lv;
    bool ok;

    if (version > info->version || version < info->minimum_version) {
        vmgen_error_setg(errp,
                         "%s: cannot write version %" PRIu32
                         ": this writer knows versions %" PRIu32 "..%" PRIu32,
                         info->name, version, info->minimum_version, info->version);
        return false;
    }
    lv = malloc(sizeof(*lv));
    if (!lv) {
        vmgen_error_setg(errp, "%s: out of memory", info->name);
        return false;
    }
    legacy_init(lv, VISITOR_OUTPUT, false, version, info->name);
    ok = info->visit(&lv->v, NULL, (void *)obj, errp);
    if (ok) {
        *buf = lv->data ? lv->data : malloc(1);
        *len = lv->len;
        lv->data = NULL;
        ok = *buf != NULL;
        if (!ok) {
            vmgen_error_setg(errp, "%s: out of memory", info->name);
        }
    }
    legacy_free(&lv->v);
    return ok;
}

static bool legacy_pass(const VmgenStateInfo *info, void *obj, uint32_t version,
                        const uint8_t *buf, size_t len, bool store,
                        Error **errp)
{
    LegacyVisitor lv;
    bool ok;

    legacy_init(&lv, VISITOR_INPUT, store, version, info->name);
    lv.buf = buf;
    lv.size = len;
    ok = info->visit(&lv.v, NULL, obj, errp);
    if (ok && lv.pos != lv.size) {
        ok = fail_at(&lv, errp, "%zu trailing bytes after the data", lv.size - lv.pos);
    }
    return ok;
}

bool vmgen_load_record_legacy(const VmgenStateInfo *info, void *obj,
                              uint32_t version, const uint8_t *buf,
                              size_t len, Error **errp)
{
    return check_version(info, version, errp) &&
           legacy_pass(info, obj, version, buf, len, false, errp) &&
           legacy_pass(info, obj, version, buf, len, true, errp);
}

/* ---- negotiation ------------------------------------------------------------- */

static void be32(uint8_t *out, uint32_t x)
{
    out[0] = (uint8_t)(x >> 24);
    out[1] = (uint8_t)(x >> 16);
    out[2] = (uint8_t)(x >> 8);
    out[3] = (uint8_t)x;
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

void vmgen_offer_encode(const VmgenOffer *offer, uint8_t out[VMGEN_OFFER_SIZE])
{
    memcpy(out, "VMGo", 4);
    be32(out + 4, offer->formats);
    be32(out + 8, offer->minimum_version);
    be32(out + 12, offer->version);
}

bool vmgen_offer_decode(VmgenOffer *offer, const uint8_t *buf, size_t len,
                        Error **errp)
{
    if (len != VMGEN_OFFER_SIZE || memcmp(buf, "VMGo", 4) != 0) {
        vmgen_error_setg(errp, "not a vmgen offer");
        return false;
    }
    offer->formats = get32(buf + 4);
    offer->minimum_version = get32(buf + 8);
    offer->version = get32(buf + 12);
    if (offer->minimum_version > offer->version) {
        vmgen_error_setg(errp, "invalid offer: versions %" PRIu32 "..%" PRIu32,
                         offer->minimum_version, offer->version);
        return false;
    }
    return true;
}

VmgenOffer vmgen_offer(const VmgenStateInfo *info, uint32_t formats)
{
    VmgenOffer offer;

    offer.formats = formats;
    offer.minimum_version = info->minimum_version;
    offer.version = info->version;
    return offer;
}

bool vmgen_negotiate(const VmgenOffer *mine, const VmgenOffer *theirs,
                     VmgenFormat *format, uint32_t *version, Error **errp)
{
    uint32_t common = mine->formats & theirs->formats;
    uint32_t low = mine->minimum_version > theirs->minimum_version
                       ? mine->minimum_version : theirs->minimum_version;
    uint32_t high = mine->version < theirs->version ? mine->version : theirs->version;

    if (common & VMGEN_FORMAT_BER) {
        *format = VMGEN_FORMAT_BER;
    } else if (common & VMGEN_FORMAT_LEGACY) {
        *format = VMGEN_FORMAT_LEGACY;
    } else {
        vmgen_error_setg(errp, "no common migration format (formats %" PRIu32 " and %" PRIu32
                         ")", mine->formats, theirs->formats);
        return false;
    }
    if (low > high) {
        vmgen_error_setg(errp, "no common version: %" PRIu32 "..%" PRIu32 " and %" PRIu32
                         "..%" PRIu32, mine->minimum_version, mine->version,
                         theirs->minimum_version, theirs->version);
        return false;
    }
    *version = high;
    return true;
}

bool vmgen_save_record_as(const VmgenStateInfo *info, const void *obj,
                          VmgenFormat format, uint32_t version,
                          uint8_t **buf, size_t *len, Error **errp)
{
    if (format == VMGEN_FORMAT_LEGACY) {
        return vmgen_save_record_legacy(info, obj, version, buf, len, errp);
    }
    return vmgen_save_record_version(info, obj, version, buf, len, errp);
}

bool vmgen_load_record_as(const VmgenStateInfo *info, void *obj,
                          VmgenFormat format, uint32_t version,
                          const uint8_t *buf, size_t len, Error **errp)
{
    if (format == VMGEN_FORMAT_LEGACY) {
        return vmgen_load_record_legacy(info, obj, version, buf, len, errp);
    }
    /* A BER record says its own version; the negotiated one is a maximum. */
    (void)version;
    return vmgen_load_record(info, obj, buf, len, errp);
}
