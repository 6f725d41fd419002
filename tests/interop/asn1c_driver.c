/*
 * The asn1c side of tests/test_interop.py: vmgen's records read and written by
 * code that asn1c generated from vmgen's ASN.1 module.
 *
 * Built with the asn1c output of one module (on the -isystem path) and a header
 * the test writes, "interop-records.h", that defines
 *   interop_records[]: { "StateName", &asn_DEF_StateName_Record }, ...
 *   interop_edits[]:   functions that set every field of a decoded record through
 *                      asn1c's C structures (with the SET_* macros below).
 *
 * Each stdin line is `STATE HEX EDIT`, EDIT being `-` or an index into
 * interop_edits. The record is BER-decoded by asn1c (every byte must be used),
 * its constraints checked, the edit applied (constraints checked again), and
 * the record DER-encoded by asn1c. Prints `OK HEX` or `ERR message`.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <INTEGER.h>
#include <OCTET_STRING.h>
#include <asn_application.h>

_Static_assert(sizeof(long) == 8, "the asn1c interop test needs a 64-bit long");

typedef struct {
    const char *name;
    asn_TYPE_descriptor_t *type;
} interop_record_t;

typedef bool (*interop_edit_t)(void *record);

static bool edit_ok;

static inline void set_long(long *p, long long v) { *p = (long)v; }
static inline void set_ulong(unsigned long *p, long long v) { *p = (unsigned long)v; }
static inline void set_integer(INTEGER_t *p, long long v)
{
    edit_ok = edit_ok && asn_long2INTEGER(p, (long)v) == 0;
}
static inline void uset_long(long *p, unsigned long long v) { *p = (long)v; }
static inline void uset_ulong(unsigned long *p, unsigned long long v) { *p = (unsigned long)v; }
static inline void uset_integer(INTEGER_t *p, unsigned long long v)
{
    edit_ok = edit_ok && asn_ulong2INTEGER(p, (unsigned long)v) == 0;
}
static inline void set_bytes(OCTET_STRING_t *p, const unsigned char *bytes, int len)
{
    edit_ok = edit_ok && OCTET_STRING_fromBuf(p, (const char *)bytes, len) == 0;
}

/* asn1c picks long, unsigned long or INTEGER_t (ENUMERATED_t) per range. */
#define SET_SINT(lv, v) \
    _Generic((lv), long: set_long, unsigned long: set_ulong, INTEGER_t: set_integer)(&(lv), v)
#define SET_UINT(lv, v) \
    _Generic((lv), long: uset_long, unsigned long: uset_ulong, INTEGER_t: uset_integer)(&(lv), v)
#define SET_BOOL(lv, v) ((lv) = (v))
#define SET_BYTES(lv, n, ...) set_bytes(&(lv), (const unsigned char[]){__VA_ARGS__}, n)
/* the element I of an asn1c SEQUENCE OF */
#define ELEM(lv, i) (*(lv).list.array[i])

#include "interop-records.h"

static char line[1 << 22];
static uint8_t in[1 << 21];
static uint8_t out[1 << 21];

static size_t get_hex(const char *text, uint8_t *buf)
{
    size_t n = 0;
    unsigned b;
    while (sscanf(text + 2 * n, "%2x", &b) == 1) {
        buf[n++] = (uint8_t)b;
    }
    return n;
}

static const char *process(char *state, char *hex, const char *edit, size_t *outlen)
{
    static char why[256];
    asn_TYPE_descriptor_t *type = NULL;
    void *record = NULL;
    asn_dec_rval_t dec;
    asn_enc_rval_t enc;
    size_t whylen = sizeof why, n = get_hex(hex, in);

    for (size_t i = 0; i < sizeof interop_records / sizeof interop_records[0]; i++) {
        if (strcmp(interop_records[i].name, state) == 0) {
            type = interop_records[i].type;
        }
    }
    if (!type) {
        return "unknown state";
    }
    dec = ber_decode(NULL, type, &record, in, n);
    if (dec.code != RC_OK) {
        snprintf(why, sizeof why, "ber_decode failed (code %d) after %zu of %zu bytes",
                 (int)dec.code, dec.consumed, n);
    } else if (dec.consumed != n) {
        snprintf(why, sizeof why, "ber_decode used %zu of %zu bytes", dec.consumed, n);
    } else if (asn_check_constraints(type, record, why, &whylen) != 0) {
        /* `why` holds asn1c's message */
    } else {
        why[0] = 0;
        if (strcmp(edit, "-") != 0) {
            size_t k = strtoul(edit, NULL, 10);
            edit_ok = true;
            if (k >= sizeof interop_edits / sizeof interop_edits[0] || !interop_edits[k]
                || !interop_edits[k](record) || !edit_ok) {
                snprintf(why, sizeof why, "edit %zu failed", k);
            } else if (whylen = sizeof why,
                       asn_check_constraints(type, record, why, &whylen) != 0) {
                /* `why` holds asn1c's message */
            }
        }
        if (!why[0]) {
            enc = der_encode_to_buffer(type, record, out, sizeof out);
            if (enc.encoded < 0) {
                snprintf(why, sizeof why, "der_encode failed at %s",
                         enc.failed_type ? enc.failed_type->name : "?");
            } else {
                *outlen = (size_t)enc.encoded;
            }
        }
    }
    ASN_STRUCT_FREE(*type, record);
    return why[0] ? why : NULL;
}

int main(void)
{
    while (fgets(line, sizeof line, stdin)) {
        char *state = strtok(line, " \n");
        char *hex = strtok(NULL, " \n");
        char *edit = strtok(NULL, " \n");
        size_t outlen = 0;
        const char *err;

        if (!state || !hex || !edit) {
            return 2;
        }
        err = process(state, hex, edit, &outlen);
        if (err) {
            printf("ERR %s\n", err);
        } else {
            printf("OK ");
            for (size_t i = 0; i < outlen; i++) {
                printf("%02x", out[i]);
            }
            printf("\n");
        }
        fflush(stdout);
    }
    return 0;
}
