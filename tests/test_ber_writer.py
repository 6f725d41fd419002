"""vmgen_der_put_uint / vmgen_der_put_int (templates/runtime/vmgen-ber.h), the specialized
writer's INTEGER TLVs, against an oracle written here (Python's minimal two's complement):
for every C integer width and declared range, a value inside the range gives exactly the DER
INTEGER and *ok stays true; a value outside it clears *ok and never moves the writer past
its C type's largest encoding (the record's size is computed from it).  The writer may
store 8 octets past the value (VMGEN_DER_SLACK): each TLV is written into a malloc'd block
of exactly the largest encoding plus that slack, under ASan and UBSan, so a longer write
fails.  The values sit on every octet boundary; unsigned ranges reaching 2^63 take the
general form, the others the branch-free one.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

from tests.support import CFLAGS, SANITIZE, compilers, run_vmgen

DRIVER = r"""
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vmgen-ber.h"

/* One TLV, as the generated writer calls it: the value as its C type holds it. */
static void one(char sign, unsigned bits, unsigned idlen, const char *lo_s, const char *hi_s,
                const char *x_s)
{
    size_t most = idlen + 1 + bits / 8 + (sign == 'u');
    uint8_t *buf = malloc(most + VMGEN_DER_SLACK), *end;
    bool ok = true;
    uint32_t id = idlen == 1 ? 0x85u : 0x9f2au;
    size_t i;

    if (!buf) {
        exit(2);
    }
    if (sign == 'u') {
        uint64_t lo = strtoull(lo_s, NULL, 10), hi = strtoull(hi_s, NULL, 10);
        uint64_t x = strtoull(x_s, NULL, 10);

        x = bits == 8 ? (uint8_t)x : bits == 16 ? (uint16_t)x : bits == 32 ? (uint32_t)x : x;
        end = vmgen_der_put_uint(buf, id, idlen, x, lo, hi, &ok);
    } else {
        int64_t lo = strtoll(lo_s, NULL, 10), hi = strtoll(hi_s, NULL, 10);
        int64_t x = strtoll(x_s, NULL, 10);

        x = bits == 8 ? (int8_t)x : bits == 16 ? (int16_t)x : bits == 32 ? (int32_t)x : x;
        end = vmgen_der_put_int(buf, id, idlen, x, lo, hi, &ok);
    }
    if ((size_t)(end - buf) > most) {
        printf("past %zu\n", (size_t)(end - buf));
    } else if (!ok) {
        printf("refused\n");
    } else {
        for (i = 0; i < (size_t)(end - buf); i++) {
            printf("%02x", buf[i]);
        }
        putchar('\n');
    }
    free(buf);
}

int main(void)
{
    char line[256], sign, lo[32], hi[32], x[32];
    unsigned bits, idlen;

    while (fgets(line, sizeof(line), stdin)) {
        if (sscanf(line, "%c %u %u %31s %31s %31s", &sign, &bits, &idlen, lo, hi, x) != 6) {
            return 3;
        }
        one(sign, bits, idlen, lo, hi, x);
    }
    return 0;
}
"""

IDS = {1: b"\x85", 2: b"\x9f\x2a"}


def der_integer(idlen: int, x: int) -> bytes:
    """The oracle: identifier, short length, minimal two's complement contents."""
    magnitude = x if x >= 0 else ~x  # -128 takes one octet, 128 two
    contents = x.to_bytes((magnitude.bit_length() + 8) // 8, "big", signed=True)
    return IDS[idlen] + bytes([len(contents)]) + contents


def ranges(sign: str, bits: int) -> list[tuple[int, int]]:
    """The C type's whole range and declared ranges inside it, on both sides of 2^63 (the
    unsigned values the branch-free writer takes)."""
    if sign == "u":
        full = (0, 2**bits - 1)
        out = [full, (0, 0), (5, 1000), (0, 0x7F), (0x80, 0xFFFF)]
        if bits == 64:
            out += [(0, 2**56 - 1), (0, 2**56), (2**55, 2**56 - 1), (0, 2**63 - 1), (0, 2**63),
                    (2**63 - 1, 2**64 - 1), (2**63, 2**64 - 1)]
    else:
        full = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        out = [full, (-1, 1), (-128, 127), (-129, 128), (0, 100)]
        if bits == 64:
            out += [(-(2**55), 2**55 - 1), (-(2**55) - 1, 2**55 - 1), (-(2**55), 2**55),
                    (-1000, 2**62)]
    return [(lo, hi) for lo, hi in out if full[0] <= lo <= hi <= full[1]]


def values(sign: str, bits: int, lo: int, hi: int, rng: random.Random) -> list[int]:
    """Values of the C type: every octet boundary, the range's ends and random ones."""
    low, high = (0, 2**bits - 1) if sign == "u" else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    out = {lo, hi, lo - 1, hi + 1, 0, 1, -1, low, high}
    for k in range(1, 9):
        for edge in (2 ** (8 * k - 1), 2 ** (8 * k)):
            out |= {edge - 1, edge, edge + 1, -edge - 1, -edge, -edge + 1}
    out |= {rng.randint(low, high) for _ in range(8)}
    out |= {rng.randint(lo, hi) for _ in range(8)}
    return sorted(v for v in out if low <= v <= high)


def cases() -> list[tuple[str, int, int, int, int, int]]:
    rng = random.Random(23)
    return [(sign, bits, idlen, lo, hi, x)
            for sign in "ui" for bits in (8, 16, 32, 64) for idlen in (1, 2)
            for lo, hi in ranges(sign, bits) for x in values(sign, bits, lo, hi, rng)]


def test_integer_writer_matches_the_oracle(tmp_path: Path) -> None:
    proc = run_vmgen("runtime", "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "driver.c").write_text(DRIVER)
    todo = cases()
    assert len(todo) > 3000
    stdin = "".join(f"{s} {b} {i} {lo} {hi} {x}\n" for s, b, i, lo, hi, x in todo)
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
        for (sign, bits, idlen, lo, hi, x), line in zip(todo, lines, strict=True):
            want = der_integer(idlen, x).hex() if lo <= x <= hi else "refused"
            assert line == want, (cc, sign, bits, idlen, lo, hi, x)
