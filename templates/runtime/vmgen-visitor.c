/*
 * vmgen-visitor.c - errors, the visit_*() dispatch wrappers and the scalar
 * visitors of the vmgen runtime.  C99, libc only.  Shipped by vmgen.
 *
 * Every scalar wrapper copies the C object into a 64-bit temporary, lets the
 * concrete visitor read or write that temporary (with the C type's limits as
 * the allowed range), and on input copies the temporary back into the object
 * only when the visitor succeeded and v->store is set.  So a failed or
 * checking-only (store == false) visit never modifies the object.
 */
#include "vmgen-visitor.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The wire format needs these; fail the build rather than the migration. */
typedef char vmgen_float_is_4_bytes[sizeof(float) == 4 ? 1 : -1];
typedef char vmgen_double_is_8_bytes[sizeof(double) == 8 ? 1 : -1];
#if LLONG_MAX > INT64_MAX || ULLONG_MAX > UINT64_MAX
#error "vmgen: long long wider than 64 bits is not supported"
#endif

/* ---- errors ------------------------------------------------------------ */

struct Error {
    char *msg;
};

/* Handed out when there is no memory for a real error; never freed. */
static char vmgen_oom_msg[] = "out of memory";
static Error vmgen_oom_error = { vmgen_oom_msg };

const char *error_get_pretty(const Error *err)
{
    return err ? err->msg : "";
}

void error_free(Error *err)
{
    if (err && err != &vmgen_oom_error) {
        free(err->msg);
        free(err);
    }
}

void vmgen_error_setg(Error **errp, const char *fmt, ...)
{
    va_list ap;
    int n;
    Error *err;

    if (!errp || *errp) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
    }
    err = malloc(sizeof(*err));
    if (!err) {
        *errp = &vmgen_oom_error;
        return;
    }
    err->msg = malloc((size_t)n + 1);
    if (!err->msg) {
        free(err);
        *errp = &vmgen_oom_error;
        return;
    }
    va_start(ap, fmt);
    if (vsnprintf(err->msg, (size_t)n + 1, fmt, ap) < 0) {
        err->msg[0] = '\0';
    }
    va_end(ap);
    *errp = err;
}

/* ---- dispatch ------------------------------------------------------------ */

bool visit_start_struct(Visitor *v, const char *name, Error **errp)
{
    return v->start_struct(v, name, errp);
}

bool visit_check_struct(Visitor *v, Error **errp)
{
    return v->check_struct(v, errp);
}

void visit_end_struct(Visitor *v)
{
    v->end_struct(v);
}

bool visit_start_list(Visitor *v, const char *name, size_t *count,
                      size_t min, size_t max, Error **errp)
{
    return v->start_list(v, name, count, min, max, errp);
}

bool visit_check_list(Visitor *v, Error **errp)
{
    return v->check_list(v, errp);
}

void visit_end_list(Visitor *v)
{
    v->end_list(v);
}

void visit_free(Visitor *v)
{
    if (v && v->free) {
        v->free(v);
    }
}

/* ---- scalars ------------------------------------------------------------- */

static bool vmgen_storing(const Visitor *v)
{
    return v->type == VISITOR_INPUT && v->store;
}

/*
 * Signed and unsigned wrappers.  `tmp` starts as the object's value on output
 * (the object is not read on input) and is copied back only on a successful
 * storing input visit, after the visitor has checked it against the range.
 */
#define VMGEN_SIGNED_VISITOR(fn, ctype, lo, hi)                               \
    bool fn(Visitor *v, const char *name, ctype *obj, Error **errp)           \
    {                                                                         \
        int64_t tmp = v->type == VISITOR_INPUT ? 0 : (int64_t)*obj;          \
        if (!v->type_int64(v, name, &tmp, (int64_t)(lo), (int64_t)(hi),       \
                           errp)) {                                           \
            return false;                                                     \
        }                                                                     \
        if (vmgen_storing(v)) {                                               \
            *obj = (ctype)tmp;                                                \
        }                                                                     \
        return true;                                                          \
    }

#define VMGEN_UNSIGNED_VISITOR(fn, ctype, hi)                                 \
    bool fn(Visitor *v, const char *name, ctype *obj, Error **errp)           \
    {                                                                         \
        uint64_t tmp = v->type == VISITOR_INPUT ? 0 : (uint64_t)*obj;       \
        if (!v->type_uint64(v, name, &tmp, (uint64_t)(hi), errp)) {           \
            return false;                                                     \
        }                                                                     \
        if (vmgen_storing(v)) {                                               \
            *obj = (ctype)tmp;                                                \
        }                                                                     \
        return true;                                                          \
    }

VMGEN_SIGNED_VISITOR(visit_type_int8, int8_t, INT8_MIN, INT8_MAX)
VMGEN_SIGNED_VISITOR(visit_type_int16, int16_t, INT16_MIN, INT16_MAX)
VMGEN_SIGNED_VISITOR(visit_type_int32, int32_t, INT32_MIN, INT32_MAX)
VMGEN_SIGNED_VISITOR(visit_type_int64, int64_t, INT64_MIN, INT64_MAX)
VMGEN_UNSIGNED_VISITOR(visit_type_uint8, uint8_t, UINT8_MAX)
VMGEN_UNSIGNED_VISITOR(visit_type_uint16, uint16_t, UINT16_MAX)
VMGEN_UNSIGNED_VISITOR(visit_type_uint32, uint32_t, UINT32_MAX)
VMGEN_UNSIGNED_VISITOR(visit_type_uint64, uint64_t, UINT64_MAX)
VMGEN_SIGNED_VISITOR(visit_type_char, char, CHAR_MIN, CHAR_MAX)
VMGEN_SIGNED_VISITOR(visit_type_schar, signed char, SCHAR_MIN, SCHAR_MAX)
VMGEN_UNSIGNED_VISITOR(visit_type_uchar, unsigned char, UCHAR_MAX)
VMGEN_SIGNED_VISITOR(visit_type_short, short, SHRT_MIN, SHRT_MAX)
VMGEN_UNSIGNED_VISITOR(visit_type_ushort, unsigned short, USHRT_MAX)
VMGEN_SIGNED_VISITOR(visit_type_int, int, INT_MIN, INT_MAX)
VMGEN_UNSIGNED_VISITOR(visit_type_uint, unsigned int, UINT_MAX)
VMGEN_SIGNED_VISITOR(visit_type_long, long, LONG_MIN, LONG_MAX)
VMGEN_UNSIGNED_VISITOR(visit_type_ulong, unsigned long, ULONG_MAX)
VMGEN_SIGNED_VISITOR(visit_type_llong, long long, LLONG_MIN, LLONG_MAX)
VMGEN_UNSIGNED_VISITOR(visit_type_ullong, unsigned long long, ULLONG_MAX)

bool visit_type_int_range(Visitor *v, const char *name, int64_t *obj,
                          int64_t min, int64_t max, Error **errp)
{
    int64_t tmp = v->type == VISITOR_INPUT ? 0 : *obj;

    if (!v->type_int64(v, name, &tmp, min, max, errp)) {
        return false;
    }
    if (vmgen_storing(v)) {
        *obj = tmp;
    }
    return true;
}

bool visit_type_uint_range(Visitor *v, const char *name, uint64_t *obj,
                           uint64_t min, uint64_t max, Error **errp)
{
    uint64_t tmp = v->type == VISITOR_INPUT ? 0 : *obj;

    if (!visit_value_uint(v, name, &tmp, 8, min, max, errp)) {
        return false;
    }
    if (vmgen_storing(v)) {
        *obj = tmp;
    }
    return true;
}

bool visit_value_int(Visitor *v, const char *name, int64_t *obj,
                     unsigned bytes, int64_t min, int64_t max, Error **errp)
{
    if (v->type_sized_int) {
        return v->type_sized_int(v, name, obj, bytes, min, max, errp);
    }
    return v->type_int64(v, name, obj, min, max, errp);
}

bool visit_value_uint(Visitor *v, const char *name, uint64_t *obj,
                      unsigned bytes, uint64_t min, uint64_t max,
                      Error **errp)
{
    bool ok;

    if (v->type == VISITOR_OUTPUT && *obj < min) {
        return visit_error(v, name, errp,
                           "INTEGER %" PRIu64 " out of range %" PRIu64
                           "..%" PRIu64, *obj, min, max);
    }
    ok = v->type_sized_uint ? v->type_sized_uint(v, name, obj, bytes, max, errp)
                            : v->type_uint64(v, name, obj, max, errp);
    if (ok && *obj < min) {
        return visit_error(v, name, errp,
                           "INTEGER %" PRIu64 " out of range %" PRIu64
                           "..%" PRIu64, *obj, min, max);
    }
    return ok;
}

bool visit_value_enum(Visitor *v, const char *name, int64_t *obj,
                      const int64_t *values, size_t n, Error **errp)
{
    return v->type_enum(v, name, obj, values, n, errp);
}

bool visit_room_int(Visitor *v, const char *array, const char *field,
                    int64_t value, unsigned bytes, size_t max, size_t *count,
                    Error **errp)
{
    int64_t data = value;

    if (value < 0 || (uint64_t)value > max) {
        return visit_error(v, array, errp,
                           "count '%s' is %" PRId64 ", outside 0..%zu", field,
                           value, max);
    }
    /* A positional format carries the count; it must be what the
     * destination holds. */
    if (v->positional && !visit_value_sized_int(v, field, &data, bytes, errp)) {
        return false;
    }
    if (data != value) {
        return visit_error(v, array, errp,
                           "the data has %" PRId64 " elements, the destination "
                           "holds %" PRId64, data, value);
    }
    *count = (size_t)value;
    return true;
}

bool visit_room_uint(Visitor *v, const char *array, const char *field,
                     uint64_t value, unsigned bytes, size_t max,
                     size_t *count, Error **errp)
{
    uint64_t data = value;

    if (value > max) {
        return visit_error(v, array, errp,
                           "count '%s' is %" PRIu64 ", outside 0..%zu", field,
                           value, max);
    }
    if (v->positional &&
        !visit_value_sized_uint(v, field, &data, bytes, errp)) {
        return false;
    }
    if (data != value) {
        return visit_error(v, array, errp,
                           "the data has %" PRIu64 " elements, the destination "
                           "holds %" PRIu64, data, value);
    }
    *count = (size_t)value;
    return true;
}

bool visit_value_sized_int(Visitor *v, const char *name, int64_t *obj,
                           unsigned bytes, Error **errp)
{
    int64_t min = bytes >= 8 ? INT64_MIN : -((int64_t)1 << (8 * bytes - 1));
    int64_t max = bytes >= 8 ? INT64_MAX : ((int64_t)1 << (8 * bytes - 1)) - 1;

    if (v->type_sized_int) {
        return v->type_sized_int(v, name, obj, bytes, min, max, errp);
    }
    return v->type_int64(v, name, obj, min, max, errp);
}

bool visit_value_sized_uint(Visitor *v, const char *name, uint64_t *obj,
                            unsigned bytes, Error **errp)
{
    uint64_t max = bytes >= 8 ? UINT64_MAX : ((uint64_t)1 << (8 * bytes)) - 1;

    if (v->type_sized_uint) {
        return v->type_sized_uint(v, name, obj, bytes, max, errp);
    }
    return v->type_uint64(v, name, obj, max, errp);
}

bool visit_type_int_sized(Visitor *v, const char *name, int64_t *obj,
                          unsigned bytes, int64_t min, int64_t max,
                          Error **errp)
{
    int64_t tmp = v->type == VISITOR_INPUT ? 0 : *obj;
    bool ok = v->type_sized_int
        ? v->type_sized_int(v, name, &tmp, bytes, min, max, errp)
        : v->type_int64(v, name, &tmp, min, max, errp);

    if (ok && vmgen_storing(v)) {
        *obj = tmp;
    }
    return ok;
}

bool visit_type_uint_sized(Visitor *v, const char *name, uint64_t *obj,
                           unsigned bytes, uint64_t min, uint64_t max,
                           Error **errp)
{
    uint64_t tmp = v->type == VISITOR_INPUT ? 0 : *obj;
    bool ok;

    if (v->type == VISITOR_OUTPUT && tmp < min) {
        return visit_error(v, name, errp,
                           "INTEGER %" PRIu64 " out of range %" PRIu64
                           "..%" PRIu64, tmp, min, max);
    }
    ok = v->type_sized_uint
        ? v->type_sized_uint(v, name, &tmp, bytes, max, errp)
        : v->type_uint64(v, name, &tmp, max, errp);
    if (ok && tmp < min) {
        return visit_error(v, name, errp,
                           "INTEGER %" PRIu64 " out of range %" PRIu64
                           "..%" PRIu64, tmp, min, max);
    }
    if (ok && vmgen_storing(v)) {
        *obj = tmp;
    }
    return ok;
}

bool visit_unused(Visitor *v, const char *name, size_t n, Error **errp)
{
    return v->unused ? v->unused(v, name, n, errp) : true;
}

bool visit_start_subsection(Visitor *v, const char *name, uint32_t minimum,
                            uint32_t version, bool *present, Error **errp)
{
    if (!v->start_subsection) {
        return visit_error(v, name, errp, "subsections exist only in the legacy stream");
    }
    return v->start_subsection(v, name, minimum, version, present, errp);
}

bool visit_end_subsections(Visitor *v, const char *prefix, Error **errp)
{
    return v->end_subsections ? v->end_subsections(v, prefix, errp) : true;
}

bool visit_select_case(Visitor *v, const char *name, const char *selector,
                       int64_t value, const int64_t *cases,
                       const size_t *alts, size_t n, size_t *alt,
                       Error **errp)
{
    size_t i;

    if (v->type == VISITOR_INPUT && !v->positional) {
        return true; /* the data says which member: visit_check_case checks */
    }
    for (i = 0; i < n; i++) {
        if (cases[i] == value) {
            *alt = alts[i];
            return true;
        }
    }
    return visit_error(v, name, errp,
                       "'%s' is %" PRId64 ", which selects no member", selector,
                       value);
}

bool visit_check_case(Visitor *v, const char *name, const char *selector,
                      int64_t value, const int64_t *cases, const size_t *alts,
                      size_t n, const char *const *members, size_t alt,
                      Error **errp)
{
    size_t i;

    if (v->type != VISITOR_INPUT || v->positional) {
        return true;
    }
    for (i = 0; i < n; i++) {
        if (cases[i] == value) {
            if (alts[i] == alt) {
                return true;
            }
            return visit_error(v, name, errp,
                               "the data holds member '%s', but '%s' = %" PRId64
                               " selects '%s'", members[alt], selector, value,
                               members[alts[i]]);
        }
    }
    return visit_error(v, name, errp,
                       "the data holds member '%s', but '%s' = %" PRId64
                       " selects no member", members[alt], selector, value);
}

bool visit_count_int(Visitor *v, const char *array, const char *field,
                     int64_t value, unsigned bytes, size_t capacity,
                     size_t *count, Error **errp)
{
    if (v->type == VISITOR_INPUT) {
        if (!v->positional) {
            return true; /* visit_start_list reads the count from the data */
        }
        /* The count field travels before its array: read it, check it. */
        value = 0;
        if (!visit_value_sized_int(v, field, &value, bytes, errp)) {
            return false;
        }
    }
    if (value < 0 || (uint64_t)value > capacity) {
        return visit_error(v, array, errp,
                           "count '%s' is %" PRId64 ", outside 0..%zu",
                           field, value, capacity);
    }
    if (v->type == VISITOR_OUTPUT && v->positional &&
        !visit_value_sized_int(v, field, &value, bytes, errp)) {
        return false;
    }
    *count = (size_t)value;
    return true;
}

bool visit_count_uint(Visitor *v, const char *array, const char *field,
                      uint64_t value, unsigned bytes, size_t capacity,
                      size_t *count, Error **errp)
{
    if (v->type == VISITOR_INPUT) {
        if (!v->positional) {
            return true; /* visit_start_list reads the count from the data */
        }
        value = 0;
        if (!visit_value_sized_uint(v, field, &value, bytes, errp)) {
            return false;
        }
    }
    if (value > capacity) {
        return visit_error(v, array, errp,
                           "count '%s' is %" PRIu64 ", outside 0..%zu",
                           field, value, capacity);
    }
    if (v->type == VISITOR_OUTPUT && v->positional &&
        !visit_value_sized_uint(v, field, &value, bytes, errp)) {
        return false;
    }
    *count = (size_t)value;
    return true;
}

bool visit_start_choice(Visitor *v, const char *name, size_t *alt, size_t n,
                        Error **errp)
{
    return v->start_choice(v, name, alt, n, errp);
}

bool visit_check_choice(Visitor *v, Error **errp)
{
    return v->check_struct(v, errp);
}

void visit_end_choice(Visitor *v)
{
    v->end_struct(v);
}

bool visit_error(Visitor *v, const char *name, Error **errp, const char *fmt,
                 ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0) {
        msg[0] = '\0';
    }
    va_end(ap);
    return v->fail(v, name, msg, errp);
}

bool visit_type_enum(Visitor *v, const char *name, int64_t *obj,
                     const int64_t *values, size_t n, Error **errp)
{
    int64_t tmp = v->type == VISITOR_INPUT ? 0 : *obj;

    if (!v->type_enum(v, name, &tmp, values, n, errp)) {
        return false;
    }
    if (vmgen_storing(v)) {
        *obj = tmp;
    }
    return true;
}

bool visit_type_bool(Visitor *v, const char *name, bool *obj, Error **errp)
{
    bool tmp = v->type == VISITOR_INPUT ? false : *obj;

    if (!v->type_bool(v, name, &tmp, errp)) {
        return false;
    }
    if (vmgen_storing(v)) {
        *obj = tmp;
    }
    return true;
}

/* The visitor itself honours v->store for buf and *len. */
bool visit_type_bytes(Visitor *v, const char *name, uint8_t *buf, size_t *len,
                      size_t min, size_t max, Error **errp)
{
    return v->type_bytes(v, name, buf, len, min, max, errp);
}

bool visit_type_str(Visitor *v, const char *name, char *buf, size_t max,
                    Error **errp)
{
    return v->type_str(v, name, buf, max, errp);
}

/*
 * Floats: the IEEE 754 bits, big-endian, in an OCTET STRING of exactly 4 or 8
 * bytes.  The bits are moved with memcpy (no pointer type punning).  On input
 * the visitor fills the local buffer only when storing; the object is written
 * after the whole value was read.
 */
bool visit_type_float(Visitor *v, const char *name, float *obj, Error **errp)
{
    uint8_t b[4] = { 0, 0, 0, 0 };
    size_t len = sizeof(b);
    uint32_t bits = 0;
    int i;

    if (v->type != VISITOR_INPUT) {
        memcpy(&bits, obj, sizeof(bits));
        for (i = 3; i >= 0; i--) {
            b[i] = (uint8_t)(bits & 0xffu);
            bits >>= 8;
        }
    }
    if (!v->type_bytes(v, name, b, &len, sizeof(b), sizeof(b), errp)) {
        return false;
    }
    if (vmgen_storing(v)) {
        bits = 0;
        for (i = 0; i < 4; i++) {
            bits = (bits << 8) | b[i];
        }
        memcpy(obj, &bits, sizeof(bits));
    }
    return true;
}

bool visit_type_double(Visitor *v, const char *name, double *obj, Error **errp)
{
    uint8_t b[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    size_t len = sizeof(b);
    uint64_t bits = 0;
    int i;

    if (v->type != VISITOR_INPUT) {
        memcpy(&bits, obj, sizeof(bits));
        for (i = 7; i >= 0; i--) {
            b[i] = (uint8_t)(bits & 0xffu);
            bits >>= 8;
        }
    }
    if (!v->type_bytes(v, name, b, &len, sizeof(b), sizeof(b), errp)) {
        return false;
    }
    if (vmgen_storing(v)) {
        bits = 0;
        for (i = 0; i < 8; i++) {
            bits = (bits << 8) | b[i];
        }
        memcpy(obj, &bits, sizeof(bits));
    }
    return true;
}
