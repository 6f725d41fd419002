/*
 * vmgen-visitor.h - the visitor interface the generated visit_type_*()
 * functions drive (in the style of QEMU's QAPI visitors), errors, and the
 * device-state record helpers.  C99, libc only.  Shipped by vmgen.
 */
#ifndef VMGEN_VISITOR_H
#define VMGEN_VISITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Generated code checks this at compile time (#error "regenerate"). */
#define VMGEN_RUNTIME_VERSION 6

/* ---- errors ------------------------------------------------------------ */

typedef struct Error Error;

/* The message of an error ("RTCState: field 'fifo': ..."). */
const char *error_get_pretty(const Error *err);
void error_free(Error *err);
/*
 * Set *errp to a new error formatted like printf, unless errp is NULL (the
 * error is dropped) or *errp is already set (the first error wins).
 */
void vmgen_error_setg(Error **errp, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- the visitor ------------------------------------------------------- */

typedef struct Visitor Visitor;

typedef enum VisitorType {
    VISITOR_OUTPUT = 1, /* reads the C object, writes the wire */
    VISITOR_INPUT = 2,  /* reads the wire, writes the C object */
} VisitorType;

/*
 * The operations a concrete visitor implements.  `name` is the C name of the
 * member being visited (NULL for list elements and the record's state); it
 * is used in error messages.  Every operation returns false and sets *errp
 * on failure; after a failure the caller stops visiting and only calls the
 * matching end_* operations, then frees the visitor.
 *
 * Input visitors with `store == false` parse and check everything but never
 * write through the object pointers (used for the validation pass).
 */
struct Visitor {
    VisitorType type;
    bool store;
    /* The version of the data being written or read: the record helpers set
     * it from the record header; UINT32_MAX (every field) otherwise.  Members
     * added in a later version (VMGEN_SINCE) are visited only up to it. */
    uint32_t version;
    /* A positional format (the legacy VMState stream): no tags, no lengths.
     * Counts travel before their arrays, union members are chosen by their
     * discriminator on input too, and integers have their C width. */
    bool positional;
    /* A struct: ASN.1 SEQUENCE.  check_struct (input) fails on members the
     * reader does not know, unless the data comes from a newer writer. */
    bool (*start_struct)(Visitor *v, const char *name, Error **errp);
    bool (*check_struct)(Visitor *v, Error **errp);
    void (*end_struct)(Visitor *v);
    /* An array: ASN.1 SEQUENCE OF.  Output: writes *count elements.  Input:
     * sets *count to the number of elements present and fails, before any
     * element is visited, unless min <= *count <= max. */
    bool (*start_list)(Visitor *v, const char *name, size_t *count,
                       size_t min, size_t max, Error **errp);
    bool (*check_list)(Visitor *v, Error **errp);
    void (*end_list)(Visitor *v);
    /* INTEGER.  Input fails on a value outside [min, max]. */
    bool (*type_int64)(Visitor *v, const char *name, int64_t *obj,
                       int64_t min, int64_t max, Error **errp);
    bool (*type_uint64)(Visitor *v, const char *name, uint64_t *obj,
                        uint64_t max, Error **errp);
    /* ENUMERATED.  Both directions fail on a value not in values[0..n). */
    bool (*type_enum)(Visitor *v, const char *name, int64_t *obj,
                      const int64_t *values, size_t n, Error **errp);
    bool (*type_bool)(Visitor *v, const char *name, bool *obj, Error **errp);
    /* OCTET STRING.  Output writes *len bytes of buf; input sets *len and
     * fails unless min <= *len <= max (buf has room for max bytes). */
    bool (*type_bytes)(Visitor *v, const char *name, uint8_t *buf,
                       size_t *len, size_t min, size_t max, Error **errp);
    /* VisibleString of at most max characters, NUL-terminated in buf
     * (buf holds max + 1 bytes). */
    bool (*type_str)(Visitor *v, const char *name, char *buf, size_t max,
                     Error **errp);
    /* A union: ASN.1 CHOICE, a struct-like frame holding exactly one member,
     * alternative *alt of n (its member gets context tag [*alt]).  Output
     * writes alternative *alt; input sets *alt (in both passes) from the data
     * and fails unless it is < n.  Closed with check_struct/end_struct. */
    bool (*start_choice)(Visitor *v, const char *name, size_t *alt, size_t n,
                         Error **errp);
    /* Fails with `msg`, reported at member `name` of the current path. */
    bool (*fail)(Visitor *v, const char *name, const char *msg, Error **errp);
    /* Optional (positional formats): an integer of `bytes` bytes in C, whatever
     * its range.  When NULL, type_int64/type_uint64 serve. */
    bool (*type_sized_int)(Visitor *v, const char *name, int64_t *obj,
                           unsigned bytes, int64_t min, int64_t max,
                           Error **errp);
    bool (*type_sized_uint)(Visitor *v, const char *name, uint64_t *obj,
                            unsigned bytes, uint64_t max, Error **errp);
    /* Optional (positional formats): `n` bytes of padding (VMState's UNUSED):
     * output writes zeros, input skips them whatever they hold.  When NULL the
     * format carries nothing for them. */
    bool (*unused)(Visitor *v, const char *name, size_t n, Error **errp);
    /* Optional (positional formats): a VMState subsection, after its parent's
     * fields: 0x05, a one-byte name length, the name, a be32 version.  Output
     * writes the header when *present.  Input sets *present when the next bytes
     * are the header of subsection `name`, whose version must be in
     * minimum..version, and leaves them alone otherwise.  When present, either
     * way, v->version becomes the subsection's version (the caller restores
     * it).  end_subsections (input) fails when the next bytes are the header of
     * a subsection of `prefix` that was not visited (unknown, or out of
     * order). */
    bool (*start_subsection)(Visitor *v, const char *name, uint32_t minimum,
                             uint32_t version, bool *present, Error **errp);
    bool (*end_subsections)(Visitor *v, const char *prefix, Error **errp);
    void (*free)(Visitor *v);
};

static inline bool visit_is_input(const Visitor *v)
{
    return v->type == VISITOR_INPUT;
}

bool visit_start_struct(Visitor *v, const char *name, Error **errp);
bool visit_check_struct(Visitor *v, Error **errp);
void visit_end_struct(Visitor *v);
bool visit_start_list(Visitor *v, const char *name, size_t *count,
                      size_t min, size_t max, Error **errp);
bool visit_check_list(Visitor *v, Error **errp);
void visit_end_list(Visitor *v);
bool visit_start_choice(Visitor *v, const char *name, size_t *alt, size_t n,
                        Error **errp);
bool visit_check_choice(Visitor *v, Error **errp);
void visit_end_choice(Visitor *v);
/* Fails, with a printf-style message reported at member `name`. */
bool visit_error(Visitor *v, const char *name, Error **errp, const char *fmt,
                 ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void visit_free(Visitor *v);

/*
 * Scalars.  Each checks the wire value against the C type's range.
 *
 * On input the wrappers write *obj only once the value has been completely
 * read and checked, and only when v->store is true; with v->store false
 * nothing is written through obj / buf / len.  The one exception is
 * visit_start_list(), which sets *count in both passes (the caller needs the
 * element count to visit the elements), so pass a local variable there.
 */
bool visit_type_int8(Visitor *v, const char *name, int8_t *obj, Error **errp);
bool visit_type_int16(Visitor *v, const char *name, int16_t *obj, Error **errp);
bool visit_type_int32(Visitor *v, const char *name, int32_t *obj, Error **errp);
bool visit_type_int64(Visitor *v, const char *name, int64_t *obj, Error **errp);
bool visit_type_uint8(Visitor *v, const char *name, uint8_t *obj, Error **errp);
bool visit_type_uint16(Visitor *v, const char *name, uint16_t *obj, Error **errp);
bool visit_type_uint32(Visitor *v, const char *name, uint32_t *obj, Error **errp);
bool visit_type_uint64(Visitor *v, const char *name, uint64_t *obj, Error **errp);
/* The plain C integer types, with the target compiler's own limits. */
bool visit_type_char(Visitor *v, const char *name, char *obj, Error **errp);
bool visit_type_schar(Visitor *v, const char *name, signed char *obj, Error **errp);
bool visit_type_uchar(Visitor *v, const char *name, unsigned char *obj, Error **errp);
bool visit_type_short(Visitor *v, const char *name, short *obj, Error **errp);
bool visit_type_ushort(Visitor *v, const char *name, unsigned short *obj, Error **errp);
bool visit_type_int(Visitor *v, const char *name, int *obj, Error **errp);
bool visit_type_uint(Visitor *v, const char *name, unsigned int *obj, Error **errp);
bool visit_type_long(Visitor *v, const char *name, long *obj, Error **errp);
bool visit_type_ulong(Visitor *v, const char *name, unsigned long *obj, Error **errp);
bool visit_type_llong(Visitor *v, const char *name, long long *obj, Error **errp);
bool visit_type_ullong(Visitor *v, const char *name, unsigned long long *obj, Error **errp);
bool visit_type_bool(Visitor *v, const char *name, bool *obj, Error **errp);
/* Floats travel as OCTET STRING (SIZE(4)) / (SIZE(8)): the IEEE 754 bits,
 * big-endian, so -0.0, infinities and NaN payloads survive exactly. */
bool visit_type_float(Visitor *v, const char *name, float *obj, Error **errp);
bool visit_type_double(Visitor *v, const char *name, double *obj, Error **errp);
/* Generic forms used by generated code (enum visitors, ranged fields). */
bool visit_type_int_range(Visitor *v, const char *name, int64_t *obj,
                          int64_t min, int64_t max, Error **errp);
bool visit_type_uint_range(Visitor *v, const char *name, uint64_t *obj,
                           uint64_t min, uint64_t max, Error **errp);
/*
 * Values the generated code needs in both passes of a load (union
 * discriminators, const fields): like the _range forms, but on input *obj
 * is written whatever v->store says, so point obj at a local.
 */
bool visit_value_int(Visitor *v, const char *name, int64_t *obj,
                     unsigned bytes, int64_t min, int64_t max, Error **errp);
bool visit_value_uint(Visitor *v, const char *name, uint64_t *obj,
                      unsigned bytes, uint64_t min, uint64_t max,
                      Error **errp);
bool visit_value_enum(Visitor *v, const char *name, int64_t *obj,
                      const int64_t *values, size_t n, Error **errp);
/*
 * Integers whose C type is `bytes` wide but whose range is narrower (ranged
 * fields, bit-fields).  The _value_ forms read a whole C-width integer and
 * always write *obj (counts and the like, needed in both passes).
 */
bool visit_value_sized_int(Visitor *v, const char *name, int64_t *obj,
                           unsigned bytes, Error **errp);
bool visit_value_sized_uint(Visitor *v, const char *name, uint64_t *obj,
                            unsigned bytes, Error **errp);
bool visit_type_int_sized(Visitor *v, const char *name, int64_t *obj,
                          unsigned bytes, int64_t min, int64_t max,
                          Error **errp);
bool visit_type_uint_sized(Visitor *v, const char *name, uint64_t *obj,
                           unsigned bytes, uint64_t min, uint64_t max,
                           Error **errp);
/* `n` bytes of padding in a positional format (VMGEN_UNUSED); nothing in
 * others. */
bool visit_unused(Visitor *v, const char *name, size_t n, Error **errp);
/* A VMState subsection and the end of a struct's subsections (positional
 * formats only; see start_subsection). */
bool visit_start_subsection(Visitor *v, const char *name, uint32_t minimum,
                            uint32_t version, bool *present, Error **errp);
bool visit_end_subsections(Visitor *v, const char *prefix, Error **errp);
/*
 * The element count of an array sized by a sibling count field
 * (VMGEN_SIZE_IS), whose C type is `bytes` wide.  Output: checks the count
 * field's value, then sets *count.  Input: a self-describing format reads
 * the count at visit_start_list; a positional one reads the count field
 * here, before the array, and checks it is in 0..capacity.
 */
bool visit_count_int(Visitor *v, const char *array, const char *field,
                     int64_t value, unsigned bytes, size_t capacity,
                     size_t *count, Error **errp);
bool visit_count_uint(Visitor *v, const char *array, const char *field,
                      uint64_t value, unsigned bytes, size_t capacity,
                      size_t *count, Error **errp);
/*
 * The element count of a flexible array member or pointer sized by a count
 * field: in both directions *count is the count field's value (checked to be
 * in 0..max), i.e. what the destination holds; a load must find exactly that.
 */
bool visit_room_int(Visitor *v, const char *array, const char *field,
                    int64_t value, unsigned bytes, size_t max, size_t *count,
                    Error **errp);
bool visit_room_uint(Visitor *v, const char *array, const char *field,
                     uint64_t value, unsigned bytes, size_t max,
                     size_t *count, Error **errp);
/*
 * Unions (VMGEN_UNION / VMGEN_CASE): cases[i] selects alternative alts[i].
 * Output: visit_select_case sets *alt from the discriminator's value, or
 * fails when no case selects a member.  Input: visit_check_case fails unless
 * the discriminator's value (read earlier) selects the alternative found in
 * the data.  Each is a no-op in the other direction.
 */
bool visit_select_case(Visitor *v, const char *name, const char *selector,
                       int64_t value, const int64_t *cases,
                       const size_t *alts, size_t n, size_t *alt,
                       Error **errp);
bool visit_check_case(Visitor *v, const char *name, const char *selector,
                      int64_t value, const int64_t *cases, const size_t *alts,
                      size_t n, const char *const *members, size_t alt,
                      Error **errp);
bool visit_type_enum(Visitor *v, const char *name, int64_t *obj,
                     const int64_t *values, size_t n, Error **errp);
bool visit_type_bytes(Visitor *v, const char *name, uint8_t *buf, size_t *len,
                      size_t min, size_t max, Error **errp);
/* VisibleString (characters 0x20..0x7e) of at most max characters,
 * NUL-terminated in buf (buf holds max + 1 bytes). */
bool visit_type_str(Visitor *v, const char *name, char *buf, size_t max,
                    Error **errp);

/* ---- device-state records ---------------------------------------------- */

typedef bool VmgenVisitFn(Visitor *v, const char *name, void *obj,
                          Error **errp);

/* What the generated code knows about one device state. */
typedef struct VmgenStateInfo {
    const char *name;          /* the C type name, carried in the record */
    uint32_t version;          /* VMGEN_STATE(version, ...) */
    uint32_t minimum_version;  /* VMGEN_STATE(..., minimum_version) */
    VmgenVisitFn *visit;       /* visits the state's members */
} VmgenStateInfo;

/*
 * Record ::= SEQUENCE { device VisibleString, version INTEGER, minimum-version
 * INTEGER, state <the state>, ... }, DER.  *buf is malloc'd; free() it.
 */
bool vmgen_save_record(const VmgenStateInfo *info, const void *obj,
                       uint8_t **buf, size_t *len, Error **errp);
/*
 * Reads a record (BER, definite lengths).  Fails unless the device name
 * matches, the data's minimum version is <= info->version and the data's
 * version is >= info->minimum_version, every length and value is in range,
 * and every byte is consumed.  *obj is written only if the whole record is
 * valid (a checking pass runs first), so on failure it is unchanged.
 * Allocates nothing.
 */
bool vmgen_load_record(const VmgenStateInfo *info, void *obj,
                       const uint8_t *buf, size_t len, Error **errp);
/*
 * Like vmgen_save_record, but writes the data as `version` for a reader of an
 * older release: members added after `version` are left out.  Fails unless
 * info->minimum_version <= version <= info->version.
 */
bool vmgen_save_record_version(const VmgenStateInfo *info, const void *obj,
                               uint32_t version, uint8_t **buf, size_t *len,
                               Error **errp);

#endif /* VMGEN_VISITOR_H */
