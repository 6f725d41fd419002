"""vmgen_ber_get_uint (templates/runtime/vmgen-ber.h), the specialized loader's INTEGER
reader, against an oracle written here: it accepts exactly the DER INTEGERs (definite
short length, minimal, non-negative) whose value lies in [lo, hi], and reads no octet past
`end`. Each record is read twice, once ending right after the value (the reader's tested
path near the end of the input) and once followed by 16 octets (its one-test path), from
malloc'd copies of exactly that size under ASan and UBSan, so an over-read fails too.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

from tests.support import CFLAGS, SANITIZE, compilers, run_vmgen

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vmgen-ber.h"

/* Reads `len` octets at `rec` followed by `pad` more (0xa5) from one malloc'd block. */
static void one(unsigned idlen, uint32_t id, uint64_t lo, uint64_t hi, const uint8_t *rec,
                size_t len, size_t pad)
{
    uint8_t *buf = malloc(len + pad + 1);
    const uint8_t *p;
    uint64_t x = 0;
    bool ok;

    if (!buf) {
        exit(2);
    }
    memcpy(buf, rec, len);
    memset(buf + len, 0xa5, pad);
    p = buf;
    switch (idlen) {
    case 1:
        ok = vmgen_ber_get_uint(&p, buf + len + pad, 0x80u, 1, lo, hi, &x);
        break;
    default:
        ok = vmgen_ber_get_uint(&p, buf + len + pad, 0x9f1fu, 2, lo, hi, &x);
        break;
    }
    (void)id;
    if (ok) {
        printf(" %llu:%td", (unsigned long long)x, p - buf);
    } else {
        printf(" no:%td", p - buf);
    }
    free(buf);
}

int main(void)
{
    char line[4096];
    unsigned idlen;
    unsigned long long lo, hi;
    char hex[4000];

    while (fgets(line, sizeof(line), stdin)) {
        uint8_t rec[2000];
        size_t len = 0;

        if (sscanf(line, "%u %llu %llu %3999s", &idlen, &lo, &hi, hex) != 4) {
            return 3;
        }
        for (const char *h = hex; h[0] && h[1] && strcmp(h, "-") != 0; h += 2) {
            unsigned v;
            sscanf(h, "%2x", &v);
            rec[len++] = (uint8_t)v;
        }
        one(idlen, 0, lo, hi, rec, len, 0);
        one(idlen, 0, lo, hi, rec, len, 16);
        putchar('\n');
    }
    return 0;
}
"""

RANGES = [(0, 0xFF), (0, 0xFFFF_FFFF), (0, 2**64 - 1), (5, 1000), (2**63, 2**64 - 1),
          (0, 2**56 - 1), (0, 2**63 - 1)]
IDS = {1: b"\x80", 2: b"\x9f\x1f"}
PAD = b"\xa5" * 16  # what the driver's second reading finds after the record


def expected(idlen: int, lo: int, hi: int, rec: bytes) -> str:
    """`value:consumed`, or `no:0`: the oracle."""
    head = IDS[idlen]
    if len(rec) < idlen + 1 or rec[:idlen] != head:
        return "no:0"
    n = rec[idlen]
    contents = rec[idlen + 1:idlen + 1 + n]
    if n == 0 or n > 9 or len(contents) < n:
        return "no:0"
    x = int.from_bytes(contents, "big", signed=True)
    minimal = x.to_bytes(max(1, (x.bit_length() + 8) // 8), "big", signed=True)
    if x < 0 or contents != minimal or not lo <= x <= hi:
        return "no:0"
    return f"{x}:{idlen + 1 + n}"


def cases(rng: random.Random) -> list[tuple[int, int, int, bytes]]:
    out = []
    firsts = [0x00, 0x01, 0x7F, 0x80, 0xFF]
    for idlen in (1, 2):
        for lo, hi in RANGES:
            for n in range(0, 11):
                for first in firsts:
                    for second in (0x00, 0x7F, 0x80, 0xFF):
                        body = bytes([first, second]) + rng.randbytes(max(0, n - 2))
                        out.append((idlen, lo, hi, IDS[idlen] + bytes([n]) + body[:n]))
                        if n:  # contents cut short
                            out.append((idlen, lo, hi, IDS[idlen] + bytes([n]) + body[:n - 1]))
                # values drawn around the range's ends and in between
                for x in (lo, hi, lo + 1, hi - 1, rng.randrange(lo, hi + 1),
                          rng.randrange(0, 2**64)):
                    c = x.to_bytes(max(1, (x.bit_length() + 8) // 8), "big")
                    out.append((idlen, lo, hi, IDS[idlen] + bytes([len(c)]) + c))
            out.append((idlen, lo, hi, b"\x81\x01\x05"))  # another tag
            out.append((idlen, lo, hi, IDS[idlen]))       # no length octet
            out.append((idlen, lo, hi, IDS[idlen] + b"\x81\x01"))  # long form
    return out


def test_uint_reader_matches_the_oracle(tmp_path: Path) -> None:
    proc = run_vmgen("runtime", "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "driver.c").write_text(DRIVER)
    todo = cases(random.Random(17))
    stdin = "".join(f"{i} {lo} {hi} {rec.hex() or '-'}\n" for i, lo, hi, rec in todo)
    for cc in compilers():
        exe = tmp_path / f"driver-{cc}"
        build = subprocess.run([cc, *CFLAGS, *SANITIZE, "-O2", "-I", str(tmp_path),
                                str(tmp_path / "driver.c"), "-o", str(exe)],
                               capture_output=True, text=True, check=False)
        assert build.returncode == 0, build.stderr
        run = subprocess.run([str(exe)], input=stdin, capture_output=True, text=True,
                             check=False, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        lines = run.stdout.splitlines()
        assert len(lines) == len(todo)
        for (idlen, lo, hi, rec), line in zip(todo, lines, strict=True):
            want = [expected(idlen, lo, hi, rec), expected(idlen, lo, hi, rec + PAD)]
            assert line.split() == want, (cc, idlen, lo, hi, rec.hex(), line)
