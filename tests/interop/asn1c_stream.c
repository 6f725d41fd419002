/* Reads a whole-stream BER file (`vmgen stream to-ber`) with asn1c's decoder for the
 * module QEVM-Stream, prints one line per record, and DER-encodes the decoded value
 * again: the last line says whether asn1c's encoding is the input, byte for byte.
 *
 *   configuration LEN
 *   section KIND ID [IDSTR INSTANCE VERSION] BODYLEN [no-footer]
 *   section KIND ID IDSTR INSTANCE VERSION device VMSD [SUBSECTION...] [no-footer]
 *   eof
 *   description LEN
 *   der identical | der differs
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "Stream.h"

static int collect(const void *buffer, size_t size, void *key)
{
    struct { char *data; size_t len, cap; } *out = key;
    if (out->len + size > out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 65536;
        while (cap < out->len + size) {
            cap *= 2;
        }
        char *grown = realloc(out->data, cap);
        if (!grown) {
            return -1;
        }
        out->data = grown;
        out->cap = cap;
    }
    memcpy(out->data + out->len, buffer, size);
    out->len += size;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.ber\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc(size > 0 ? (size_t)size : 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    fclose(f);

    Stream_t *stream = NULL;
    asn_dec_rval_t rv = ber_decode(NULL, &asn_DEF_Stream, (void **)&stream, data, (size_t)size);
    if (rv.code != RC_OK || rv.consumed != (size_t)size) {
        fprintf(stderr, "ber_decode: code %d, consumed %zu of %ld\n", (int)rv.code,
                rv.consumed, size);
        return 1;
    }
    printf("file-version %lu\n", stream->file_version);
    for (int i = 0; i < stream->records.list.count; i++) {
        Record_t *r = stream->records.list.array[i];
        switch (r->present) {
        case Record_PR_configuration:
            printf("configuration %d\n", r->choice.configuration.size);
            break;
        case Record_PR_eof:
            printf("eof\n");
            break;
        case Record_PR_description:
            printf("description %d\n", r->choice.description.size);
            break;
        case Record_PR_section: {
            Section_t *s = &r->choice.section;
            long kind = 0;
            if (asn_INTEGER2long((INTEGER_t *)&s->kind, &kind) != 0) {
                fprintf(stderr, "kind out of range\n");
                return 1;
            }
            printf("section %ld %lu", kind, s->section_id);
            if (s->header) {
                printf(" %.*s %lu %lu", s->header->idstr.size, (char *)s->header->idstr.buf,
                       s->header->instance_id, s->header->version_id);
            }
            if (s->body.present == Body_PR_opaque) {
                printf(" %d", s->body.choice.opaque.size);
            } else if (s->body.present == Body_PR_device) {
                Device_record_t *d = &s->body.choice.device;
                printf(" device %.*s", d->vmsd.size, (char *)d->vmsd.buf);
                if (d->subsections) {
                    for (int k = 0; k < d->subsections->list.count; k++) {
                        IA5String_t *sub = d->subsections->list.array[k];
                        printf(" %.*s", sub->size, (char *)sub->buf);
                    }
                }
            } else {
                fprintf(stderr, "unexpected body alternative\n");
                return 1;
            }
            printf("%s\n", s->footer && !*s->footer ? " no-footer" : "");
            break;
        }
        default:
            fprintf(stderr, "record %d: unknown alternative\n", i);
            return 1;
        }
    }
    struct { char *data; size_t len, cap; } out = { NULL, 0, 0 };
    asn_enc_rval_t er = der_encode(&asn_DEF_Stream, stream, collect, &out);
    if (er.encoded < 0) {
        fprintf(stderr, "der_encode failed\n");
        return 1;
    }
    printf("der %s\n", out.len == (size_t)size && memcmp(out.data, data, out.len) == 0
           ? "identical" : "differs");
    ASN_STRUCT_FREE(asn_DEF_Stream, stream);
    free(out.data);
    free(data);
    return 0;
}
