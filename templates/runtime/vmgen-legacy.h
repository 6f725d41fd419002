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

#endif /* VMGEN_LEGACY_H */
