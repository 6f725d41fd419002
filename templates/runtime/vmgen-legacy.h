/*
 * vmgen-legacy.h - the legacy migration format (QEMU's VMState stream),
 * driven by the same generated visit_type_*() functions as BER, and format
 * negotiation between peers.  C99, libc only.  Shipped by vmgen.
 *
 * The legacy stream is what VMState writes for the equivalent field list
 * (`vmgen explain` prints it): no names, no tags, no lengths.  Integers are
 * big-endian at their C width, bool is one byte (0 or 1), enums are int32,
 * float/double their IEEE bits (as VMSTATE_FLOAT64 does), byte arrays raw,
 * arrays element by element, nested structs inline, a char string as its
 * whole array (the string, then zero bytes).  A sized array's count travels
 * as its count field, at its C width, right before the array (VMState's
 * VARRAY with the count first); a union travels as its selected member.
 * Fields with VMGEN_SINCE(v) are present when the stream's version >= v.
 * Nothing in the stream says its version: the section header of the
 * migration (or the negotiation below) carries it.
 */
#ifndef VMGEN_LEGACY_H
#define VMGEN_LEGACY_H

#include "vmgen-visitor.h"

/*
 * Save `obj` as legacy stream data of `version` (minimum_version ..
 * version); *buf is malloc'd.
 */
bool vmgen_save_record_legacy(const VmgenStateInfo *info, const void *obj,
                              uint32_t version, uint8_t **buf, size_t *len,
                              Error **errp);
/*
 * Load legacy stream data of `version`.  VMState's version rules: refused
 * above the reader's version or below its minimum version.  Every count and
 * value is checked before use; *obj is written only when all the data is
 * valid (a checking pass runs first), and every byte must be consumed.
 */
bool vmgen_load_record_legacy(const VmgenStateInfo *info, void *obj,
                              uint32_t version, const uint8_t *buf,
                              size_t len, Error **errp);

/* ---- negotiation -------------------------------------------------------- */

typedef enum VmgenFormat {
    VMGEN_FORMAT_LEGACY = 1, /* the VMState stream */
    VMGEN_FORMAT_BER = 2,    /* vmgen's DER/BER records */
} VmgenFormat;

/* What one side of a migration supports, for one device state. */
typedef struct VmgenOffer {
    uint32_t formats;         /* a set of VmgenFormat bits */
    uint32_t minimum_version; /* the oldest data version it reads and writes */
    uint32_t version;         /* the newest */
} VmgenOffer;

#define VMGEN_OFFER_SIZE 16

/* An offer as VMGEN_OFFER_SIZE bytes: "VMGo", formats, minimum, version (BE). */
void vmgen_offer_encode(const VmgenOffer *offer, uint8_t out[VMGEN_OFFER_SIZE]);
bool vmgen_offer_decode(VmgenOffer *offer, const uint8_t *buf, size_t len,
                        Error **errp);
/* The offer of this build for a device state, with the formats it enables. */
VmgenOffer vmgen_offer(const VmgenStateInfo *info, uint32_t formats);
/*
 * Both sides call this with the two offers and agree: BER when both speak it,
 * else legacy; the newest version both know.  Fails when there is no common
 * format or no common version.
 */
bool vmgen_negotiate(const VmgenOffer *mine, const VmgenOffer *theirs,
                     VmgenFormat *format, uint32_t *version, Error **errp);

/* Save/load in a negotiated format and version. */
bool vmgen_save_record_as(const VmgenStateInfo *info, const void *obj,
                          VmgenFormat format, uint32_t version,
                          uint8_t **buf, size_t *len, Error **errp);
bool vmgen_load_record_as(const VmgenStateInfo *info, void *obj,
                          VmgenFormat format, uint32_t version,
                          const uint8_t *buf, size_t len, Error **errp);

/* ---- specialized codecs ------------------------------------------------------
 *
 * Inline helpers for the straight-line legacy stream writer and reader vmgen
 * generates for each device state beside its visitors
 * (vmgen_fast_save_S_legacy and vmgen_fast_load_S_legacy).  They read and
 * write what the visitors do, and return false without a message, having
 * changed nothing, on anything the visitors would refuse; then the visitors
 * (which write the messages) take over.  Widths, offsets and bounds are
 * constants in generated code, so each call folds to a load or a store.
 */
#include <string.h>

#ifndef VMGEN_INLINE
#if defined(__GNUC__)
#define VMGEN_INLINE static inline __attribute__((always_inline))
#else
#define VMGEN_INLINE static inline
#endif
#endif

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define VMGEN_LEGACY_SWAP 1
#else
#define VMGEN_LEGACY_SWAP 0
#endif

/* The low `bytes` bytes of x, big-endian, at p. */
VMGEN_INLINE void vmgen_legacy_put1(uint8_t *p, uint64_t x)
{
    p[0] = (uint8_t)x;
}

VMGEN_INLINE void vmgen_legacy_put2(uint8_t *p, uint64_t x)
{
#if VMGEN_LEGACY_SWAP
    uint16_t v = __builtin_bswap16((uint16_t)x);

    memcpy(p, &v, 2);
#else
    p[0] = (uint8_t)(x >> 8);
    p[1] = (uint8_t)x;
#endif
}

VMGEN_INLINE void vmgen_legacy_put4(uint8_t *p, uint64_t x)
{
#if VMGEN_LEGACY_SWAP
    uint32_t v = __builtin_bswap32((uint32_t)x);

    memcpy(p, &v, 4);
#else
    int i;

    for (i = 3; i >= 0; i--) {
        p[i] = (uint8_t)x;
        x >>= 8;
    }
#endif
}

VMGEN_INLINE void vmgen_legacy_put8(uint8_t *p, uint64_t x)
{
#if VMGEN_LEGACY_SWAP
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

/* `bytes` big-endian bytes at p, as an unsigned value. */
VMGEN_INLINE uint64_t vmgen_legacy_get1(const uint8_t *p)
{
    return p[0];
}

VMGEN_INLINE uint64_t vmgen_legacy_get2(const uint8_t *p)
{
#if VMGEN_LEGACY_SWAP
    uint16_t v;

    memcpy(&v, p, 2);
    return __builtin_bswap16(v);
#else
    return ((uint64_t)p[0] << 8) | p[1];
#endif
}

VMGEN_INLINE uint64_t vmgen_legacy_get4(const uint8_t *p)
{
#if VMGEN_LEGACY_SWAP
    uint32_t v;

    memcpy(&v, p, 4);
    return __builtin_bswap32(v);
#else
    return ((uint64_t)p[0] << 24) | ((uint64_t)p[1] << 16) | ((uint64_t)p[2] << 8) | p[3];
#endif
}

VMGEN_INLINE uint64_t vmgen_legacy_get8(const uint8_t *p)
{
    uint64_t v;
#if VMGEN_LEGACY_SWAP
    memcpy(&v, p, 8);
    v = __builtin_bswap64(v);
#else
    int i;

    v = 0;
    for (i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
#endif
    return v;
}

/* The same, sign-extended (a signed C type's bytes); 8 bytes keep their bits. */
VMGEN_INLINE int64_t vmgen_legacy_sget1(const uint8_t *p)
{
    int64_t x = (int64_t)vmgen_legacy_get1(p);

    return x - ((x & 0x80) << 1);
}

VMGEN_INLINE int64_t vmgen_legacy_sget2(const uint8_t *p)
{
    int64_t x = (int64_t)vmgen_legacy_get2(p);

    return x - ((x & 0x8000) << 1);
}

VMGEN_INLINE int64_t vmgen_legacy_sget4(const uint8_t *p)
{
    int64_t x = (int64_t)vmgen_legacy_get4(p);

    return x - ((x & INT64_C(0x80000000)) << 1);
}

VMGEN_INLINE int64_t vmgen_legacy_sget8(const uint8_t *p)
{
    uint64_t raw = vmgen_legacy_get8(p);
    int64_t x;

    memcpy(&x, &raw, 8);
    return x;
}

/* Range tests (functions, so that a bound the type already implies draws no
 * warning). */
VMGEN_INLINE bool vmgen_legacy_urange(uint64_t x, uint64_t lo, uint64_t hi)
{
    return x >= lo && x <= hi;
}

VMGEN_INLINE bool vmgen_legacy_srange(int64_t x, int64_t lo, int64_t hi)
{
    return x >= lo && x <= hi;
}

/* Floats: their IEEE bits, big-endian. */
VMGEN_INLINE void vmgen_legacy_put_float(uint8_t *p, const float *x)
{
    uint32_t bits;

    memcpy(&bits, x, 4);
    vmgen_legacy_put4(p, bits);
}

VMGEN_INLINE void vmgen_legacy_put_double(uint8_t *p, const double *x)
{
    uint64_t bits;

    memcpy(&bits, x, 8);
    vmgen_legacy_put8(p, bits);
}

VMGEN_INLINE void vmgen_legacy_get_float(float *x, const uint8_t *p)
{
    uint32_t bits = (uint32_t)vmgen_legacy_get4(p);

    memcpy(x, &bits, 4);
}

VMGEN_INLINE void vmgen_legacy_get_double(double *x, const uint8_t *p)
{
    uint64_t bits = vmgen_legacy_get8(p);

    memcpy(x, &bits, 8);
}

/* A string in a char array of `size` bytes travels as the whole array: the
 * string, then zeros.  The writer fails when there is no NUL in the array
 * (and then writes zeros); the reader wants a NUL, and characters 0x20..0x7e
 * before it. */
VMGEN_INLINE bool vmgen_legacy_put_str(uint8_t *p, const char *s, size_t size)
{
    const char *nul = (const char *)memchr(s, '\0', size);
    size_t n = nul ? (size_t)(nul - s) : 0;

    memcpy(p, s, n);
    memset(p + n, 0, size - n);
    return nul != NULL;
}

VMGEN_INLINE bool vmgen_legacy_str_ok(const uint8_t *p, size_t size)
{
    const uint8_t *nul = (const uint8_t *)memchr(p, 0, size);
    size_t i, n;

    if (!nul) {
        return false;
    }
    n = (size_t)(nul - p);
    for (i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

VMGEN_INLINE void vmgen_legacy_get_str(char *s, const uint8_t *p, size_t size)
{
    const uint8_t *nul = (const uint8_t *)memchr(p, 0, size);
    size_t n = nul ? (size_t)(nul - p) : size;

    memcpy(s, p, n);
    memset(s + n, 0, size - n);
}

/* Whether [p, end) starts with the header of VMState subsection `name` (n
 * bytes): 0x05, the name's length and the name, and room for its be32
 * version. */
VMGEN_INLINE bool vmgen_legacy_subsection(const uint8_t *p, const uint8_t *end,
                                          const char *name, size_t n)
{
    size_t left = (size_t)(end - p);

    return left >= 2 && p[0] == 0x05 && p[1] == n && left - 2 >= n + 4 &&
           memcmp(p + 2, name, n) == 0;
}

/* Whether [p, end) starts with the header of a subsection whose name starts
 * with `prefix` (k bytes): one of a struct's own that was not read. */
VMGEN_INLINE bool vmgen_legacy_foreign(const uint8_t *p, const uint8_t *end,
                                       const char *prefix, size_t k)
{
    size_t left = (size_t)(end - p);

    return left >= 2 && p[0] == 0x05 && left - 2 >= (size_t)p[1] + 4 && p[1] >= k &&
           memcmp(p + 2, prefix, k) == 0;
}

#endif /* VMGEN_LEGACY_H */
