/*
 * vmgen.h - annotations for device-state structs migrated by vmgen.
 *
 * Shipped by vmgen; written next to the runtime by `vmgen runtime -o DIR`.
 * Every macro expands to nothing for a normal C compile.  When vmgen parses a
 * header it defines VMGEN, and the macros become C23 [[vmgen::...]] attributes.
 *
 *   typedef struct VMGEN_STATE(3, 1) RTCState { ... } RTCState;
 *       the struct is a device state; its data is version 3 and readers
 *       need at least version 1 to read it.
 *   QEMUTimer *timer VMGEN_SKIP;          the field is not migrated.
 *   uint8_t fifo[16] VMGEN_SIZE_IS(count);
 *       only `count` elements travel; 16 is the capacity.  On a flexible
 *       array member or a pointer, the data must hold exactly as many
 *       elements as the destination (its `count` before the load).
 *   uint32_t flags VMGEN_SINCE(2);        the field exists from version 2 on.
 *   uint8_t index VMGEN_RANGE(0, 15);     loads reject values outside [0, 15].
 *   char name[32] VMGEN_STRING;           a NUL-terminated string.
 *   union { ... } u VMGEN_UNION(kind);    `kind` says which member is live;
 *   struct A a VMGEN_CASE(KIND_A);        ... and each member says for which
 *                                         values of `kind`.
 *   typedef struct QEMUTimer QEMUTimer VMGEN_EXTERNAL(int64);
 *       fields of this type (or pointers to it) travel as one int64 through
 *       the user's bool visit_type_QEMUTimer(Visitor *, const char *,
 *       QEMUTimer *, Error **).
 *   uint8_t *config VMGEN_VISITOR(pci_config, bytes(256));
 *       this member travels as 256 bytes (or one value of a VMGEN_EXTERNAL
 *       kind) through the user's bool visit_type_pci_config(Visitor *,
 *       const char *, uint8_t **, Error **), given the member's address.
 *
 * The legacy stream of a QEMU device (its VMStateDescription's field table):
 *   typedef struct VMGEN_STATE(3, 1) VMGEN_VMSD("mc146818rtc") RTCState {...}
 *       the legacy stream carries the fields in declaration order, as QEMU's
 *       table named "mc146818rtc" does: a VMGEN_SIZE_IS count where it is
 *       declared (before its array), a VMGEN_SINCE field in place.
 *   uint8_t unused0[28] VMGEN_UNUSED;     28 bytes of padding: zeros out,
 *                                         ignored in; not in the BER record.
 *   int32_t version_id VMGEN_POSITIVE_LE; a load takes 0..the value in place
 *                                         (VMSTATE_INT32_POSITIVE_LE).
 *   uint8_t num_floppies VMGEN_EQUAL;     a load must find the same value in
 *                                         place (VMSTATE_UINT8_EQUAL).
 *   Offset off VMGEN_SUBSECTION(1, 1, has_off);
 *       the member (a struct with its own VMGEN_VMSD, the subsection's name)
 *       travels as a VMState subsection of version 1 (readers take 1..1)
 *       after the fields, when the bool field `has_off` is true (a load sets
 *       it to whether the subsection came); or name a function
 *       bool needed(void *opaque), given the struct, as QEMU's .needed.
 *
 * A field annotation goes after the declarator (for a bit-field, before the
 * colon); a leading annotation covers every declarator of its line.
 */
#ifndef VMGEN_H
#define VMGEN_H

#ifdef VMGEN
#define VMGEN_STATE(version, minimum_version) [[vmgen::state(version, minimum_version)]]
#define VMGEN_SKIP [[vmgen::skip]]
#define VMGEN_SINCE(version) [[vmgen::since(version)]]
#define VMGEN_SIZE_IS(field) [[vmgen::size_is(field)]]
#define VMGEN_RANGE(lo, hi) [[vmgen::range(lo, hi)]]
#define VMGEN_STRING [[vmgen::string]]
#define VMGEN_UNION(field) [[vmgen::union(field)]]
#define VMGEN_CASE(...) [[vmgen::case(__VA_ARGS__)]]
#define VMGEN_EXTERNAL(kind) [[vmgen::external(kind)]]
#define VMGEN_VMSD(name) [[vmgen::vmsd(name)]]
#define VMGEN_POSITIVE_LE [[vmgen::positive_le]]
#define VMGEN_EQUAL [[vmgen::equal]]
#define VMGEN_UNUSED [[vmgen::unused]]
#define VMGEN_SUBSECTION(version, minimum_version, needed) \
    [[vmgen::subsection(version, minimum_version, needed)]]
#define VMGEN_VISITOR(name, kind) [[vmgen::visitor(name, kind)]]
#else
#define VMGEN_STATE(version, minimum_version)
#define VMGEN_SKIP
#define VMGEN_SINCE(version)
#define VMGEN_SIZE_IS(field)
#define VMGEN_RANGE(lo, hi)
#define VMGEN_STRING
#define VMGEN_UNION(field)
#define VMGEN_CASE(...)
#define VMGEN_EXTERNAL(kind)
#define VMGEN_VMSD(name)
#define VMGEN_POSITIVE_LE
#define VMGEN_EQUAL
#define VMGEN_UNUSED
#define VMGEN_SUBSECTION(version, minimum_version, needed)
#define VMGEN_VISITOR(name, kind)
#endif

#endif /* VMGEN_H */
