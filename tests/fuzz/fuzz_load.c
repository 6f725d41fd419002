/*
 * fuzz_load.c - libFuzzer target: arbitrary bytes into vmgen_load_S.
 *
 * Built once per device state with `-include CONFIG.h`, where CONFIG.h
 * includes the generated STEM-visit.h and defines
 *   FUZZ_STATE         the C type of the state
 *   FUZZ_LOAD          vmgen_load_S
 *   FUZZ_SAVE          vmgen_save_S
 *   FUZZ_NAME          "S" (every error message starts with "S: ")
 *   FUZZ_DER_LOAD/SAVE vmgen_der_load_S / vmgen_der_save_S (the specialized codec)
 *   FUZZ_VISIT_LOAD/SAVE vmgen_visit_load_S / vmgen_visit_save_S (the visitors)
 *   FUZZ_HAS_DER       1 if S has a specialized codec
 *   FUZZ_LOAD_LEGACY   vmgen_load_S_legacy
 *   FUZZ_FAST_LOAD_LEGACY/SAVE_LEGACY   vmgen_fast_load_S_legacy / _save_S_legacy
 *   FUZZ_VISIT_LOAD_LEGACY/SAVE_LEGACY  vmgen_visit_load_S_legacy / _save_S_legacy
 *   FUZZ_HAS_LEGACY    1 if S's legacy stream has a specialized codec
 *   FUZZ_MIN_VERSION, FUZZ_VERSION  the versions S reads
 *   FUZZ_PREPARE(obj)  what a real destination holds before a load besides
 *                      the 0xa5 fill (const fields: their configured value)
 *
 * Oracles (abort() on violation, so libFuzzer records a crash):
 *   - a failed load sets an error whose message starts with "S: ", and
 *     leaves the destination byte-identical;
 *   - after a successful load, saving succeeds, loading the saved bytes into
 *     a fresh destination succeeds, gives the same object, and saving that
 *     gives the same bytes (the DER form is a fixed point);
 *   - the specialized codec agrees with the visitors: what it loads, the
 *     visitors load into the same object (when it declines, the destination
 *     is unchanged); what it saves is byte for byte what they save, and it
 *     declines no value the loader accepted.
 *
 * The same bytes are also a legacy VMState stream of each version S reads:
 *   - a failed vmgen_load_S_legacy sets an error starting with "S: " and
 *     leaves the destination byte-identical;
 *   - the specialized legacy codec agrees with the visitors: what it loads,
 *     they load into the same object (when it declines, the destination is
 *     unchanged); the object the visitors loaded is saved by both, byte for
 *     byte alike (the specialized writer declines nothing they save), and
 *     loading those bytes gives that object again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_fail(const char *what, Error *err)
{
    fprintf(stderr, "fuzz oracle: %s%s%s\n", what, err ? ": " : "",
            err ? error_get_pretty(err) : "");
    abort();
}

static void legacy_oracle(const uint8_t *data, size_t size, uint32_t version)
{
    static FUZZ_STATE viafast, viavisit, before, again;
    uint8_t *fast = NULL, *vis = NULL;
    size_t fastlen = 0, vislen = 0;
    Error *err = NULL;
    bool fast_loaded;

    memset(&before, 0xa5, sizeof(before));
    FUZZ_PREPARE(&before);
    memcpy(&viafast, &before, sizeof(before));
    memcpy(&viavisit, &before, sizeof(before));
    fast_loaded = FUZZ_FAST_LOAD_LEGACY(&viafast, version, data, size);
    if (!fast_loaded && memcmp(&viafast, &before, sizeof(before)) != 0) {
        fuzz_fail("the specialized legacy loader declined but changed the destination", NULL);
    }
    if (!FUZZ_VISIT_LOAD_LEGACY(&viavisit, version, data, size, &err)) {
        if (fast_loaded) {
            fuzz_fail("the specialized legacy loader accepted what the visitors refuse", err);
        }
        if (!err || strncmp(error_get_pretty(err), FUZZ_NAME ": ", strlen(FUZZ_NAME) + 2) != 0) {
            fuzz_fail("legacy load failed without the device's error", err);
        }
        error_free(err);
        err = NULL;
        memcpy(&again, &before, sizeof(before));
        if (FUZZ_LOAD_LEGACY(&again, version, data, size, &err) ||
            memcmp(&again, &before, sizeof(before)) != 0) {
            fuzz_fail("vmgen_load_S_legacy accepted what the visitors refuse, or wrote", err);
        }
        error_free(err);
        return;
    }
    if (fast_loaded && memcmp(&viafast, &viavisit, sizeof(before)) != 0) {
        fuzz_fail("the specialized legacy loader stored another object", NULL);
    }
    if (!FUZZ_VISIT_SAVE_LEGACY(&viavisit, version, &vis, &vislen, &err)) {
        fuzz_fail("legacy save of a loaded object failed", err);
    }
    if (FUZZ_FAST_SAVE_LEGACY(&viavisit, version, &fast, &fastlen)) {
        if (fastlen != vislen || memcmp(fast, vis, vislen) != 0) {
            fuzz_fail("the specialized legacy writer wrote other bytes", NULL);
        }
    } else if (FUZZ_HAS_LEGACY) {
        fuzz_fail("the specialized legacy writer declined a loaded object", NULL);
    }
    memcpy(&again, &before, sizeof(before));
    if (!FUZZ_LOAD_LEGACY(&again, version, vis, vislen, &err)) {
        fuzz_fail("reload of the saved legacy stream failed", err);
    }
    if (memcmp(&again, &viavisit, sizeof(before)) != 0) {
        fuzz_fail("reload of the saved legacy stream gave another object", NULL);
    }
    free(fast);
    free(vis);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FUZZ_STATE obj, before, again, viader, viavisit;
    uint8_t *out = NULL, *out2 = NULL;
    size_t outlen = 0, outlen2 = 0;
    Error *err = NULL;
    const char *msg;

    for (uint32_t version = FUZZ_MIN_VERSION; version <= FUZZ_VERSION; version++) {
        legacy_oracle(data, size, version);
    }
    memset(&obj, 0xa5, sizeof(obj));
    FUZZ_PREPARE(&obj);
    memcpy(&before, &obj, sizeof(obj));
    memcpy(&viader, &obj, sizeof(obj));
    memcpy(&viavisit, &obj, sizeof(obj));
    if (FUZZ_DER_LOAD(&viader, data, size)) {
        if (!FUZZ_VISIT_LOAD(&viavisit, data, size, &err)) {
            fuzz_fail("the specialized loader accepted what the visitors refuse", err);
        }
        if (memcmp(&viader, &viavisit, sizeof(obj)) != 0) {
            fuzz_fail("the specialized loader stored another object", NULL);
        }
    } else if (memcmp(&viader, &before, sizeof(obj)) != 0) {
        fuzz_fail("the specialized loader declined but changed the destination", NULL);
    }
    error_free(err);
    err = NULL;
    if (!FUZZ_LOAD(&obj, data, size, &err)) {
        if (!err) {
            fuzz_fail("load failed without an error", NULL);
        }
        msg = error_get_pretty(err);
        if (strncmp(msg, FUZZ_NAME ": ", strlen(FUZZ_NAME) + 2) != 0) {
            fuzz_fail("error without the device prefix", err);
        }
        if (memcmp(&before, &obj, sizeof(obj)) != 0) {
            fuzz_fail("failed load changed the destination", err);
        }
        error_free(err);
        return 0;
    }
    if (err) {
        fuzz_fail("successful load set an error", err);
    }
    if (!FUZZ_SAVE(&obj, &out, &outlen, &err)) {
        fuzz_fail("save after a successful load failed", err);
    }
    {
        uint8_t *der = NULL, *vis = NULL;
        size_t derlen = 0, vislen = 0;

        if (FUZZ_DER_SAVE(&obj, &der, &derlen)) {
            if (!FUZZ_VISIT_SAVE(&obj, &vis, &vislen, &err)) {
                fuzz_fail("the visitors refuse what the specialized writer saves", err);
            }
            if (derlen != vislen || memcmp(der, vis, derlen) != 0) {
                fuzz_fail("the specialized writer wrote other bytes", NULL);
            }
        } else if (FUZZ_HAS_DER) {
            fuzz_fail("the specialized writer declined a loaded object", NULL);
        }
        free(der);
        free(vis);
    }
    memcpy(&again, &before, sizeof(again));
    if (!FUZZ_LOAD(&again, out, outlen, &err)) {
        fuzz_fail("reload of the saved record failed", err);
    }
    if (memcmp(&again, &obj, sizeof(obj)) != 0) {
        fuzz_fail("reload gave another object", NULL);
    }
    if (!FUZZ_SAVE(&again, &out2, &outlen2, &err)) {
        fuzz_fail("second save failed", err);
    }
    if (outlen != outlen2 || memcmp(out, out2, outlen) != 0) {
        fuzz_fail("save -> load -> save changed the bytes", NULL);
    }
    free(out);
    free(out2);
    return 0;
}
