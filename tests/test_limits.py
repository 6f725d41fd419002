"""Decoder limits: malformed BER against the generated loaders (ASan + UBSan drivers),
the generated Python modules where meaningful, and the loaders' memory behaviour
(LeakSanitizer, and no allocation at all on a successful load of fixed-size state).

Records are edited at the TLV level from valid ones, so every case is one fault."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import support
from tests.conftest import Built
from tests.fuzz import harness
from tests.fuzz.build import seed_records
from vmgen.lowering import ir

# ---- a tiny TLV toolkit --------------------------------------------------------------


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes, length: bytes | None = None) -> bytes:
    return bytes([tag]) + (_len(len(content)) if length is None else length) + content


def split(data: bytes) -> list[tuple[int, bytes]]:
    """The (tag, content) TLVs of DER `data` (single-byte tags)."""
    out, p = [], 0
    while p < len(data):
        tag, first = data[p], data[p + 1]
        p += 2
        if first < 0x80:
            n = first
        else:
            k = first & 0x7F
            n = int.from_bytes(data[p:p + k], "big")
            p += k
        out.append((tag, data[p:p + n]))
        p += n
    return out


def join(items: list[tuple[int, bytes]]) -> bytes:
    return b"".join(tlv(t, c) for t, c in items)


def _zero_rtc() -> dict[str, Any]:
    return {"cmos_data": bytes(range(128)), "cmos_index": 7, "base_year": 2000, "base_rtc": 5,
            "last_update": 6, "offset": -3, "it_shift": 1, "irq_coalesced": 2, "period": 9,
            "lost_tick_policy_slew": True, "next_periodic_time": 11, "next_alarm_time": 12}


@pytest.fixture(scope="module")
def rtc(built: Callable[[str], Built]) -> Built:
    return built("rtc")


@pytest.fixture(scope="module")
def good(rtc: Built) -> bytes:
    blob: bytes = rtc.py.save("RTCState", _zero_rtc())
    return blob


def _record(good: bytes, state_members: Callable[[list[tuple[int, bytes]]], None] | None = None,
            top: Callable[[list[tuple[int, bytes]]], None] | None = None) -> bytes:
    """`good` with its state's members (or the record's members) edited."""
    ((tag, body),) = split(good)
    members = split(body)
    if state_members is not None:
        inner = split(members[3][1])
        state_members(inner)
        members[3] = (members[3][0], join(inner))
    if top is not None:
        top(members)
    return tlv(tag, join(members))


def _raw_device(good: bytes, device_tlv: bytes) -> bytes:
    """`good` with its device member replaced by raw bytes."""
    ((tag, body),) = split(good)
    return tlv(tag, device_tlv + join(split(body)[1:]))


def test_lengths(rtc: Built, good: bytes) -> None:
    body = good[2:] if good[1] < 0x80 else good[2 + (good[1] & 0x7F):]
    n = len(body)
    cases = {
        "truncated value": tlv(0x30, body, _len(n + 1)),                     # past the input
        "truncated value ": tlv(0x30, body, b"\x84\xff\xff\xff\xff"),        # 2^32 - 1
        "truncated value  ": tlv(0x30, body, b"\x88" + b"\xff" * 8),         # SIZE_MAX
        "truncated value   ": tlv(0x30, body, b"\x88\x7f" + b"\xff" * 7),    # > SSIZE_MAX
        "length too large": tlv(0x30, body, b"\x89\x01" + bytes(7) + bytes([n])),  # 2^64 + n
        "length too large ": tlv(0x30, body, b"\x90" + b"\x01" + bytes(14) + bytes([n])),
        "length too large  ": tlv(0x30, body, b"\xfe" + b"\xff" * 126),  # 126 length octets
        "invalid length encoding": tlv(0x30, body, b"\xff"),
        "indefinite length not supported": tlv(0x30, body + b"\x00\x00", b"\x80"),
        "device: indefinite length not supported": _raw_device(good, b"\x80\x80RTCState\0\0"),
    }
    got = rtc.c_roundtrip([("RTCState", blob) for blob in cases.values()])
    assert got == [f"ERR RTCState: {m.rstrip()}" for m in cases]
    for name, blob in cases.items():
        if name.startswith("device:"):
            continue  # see test_python_indefinite_length_in_the_header
        with pytest.raises(rtc.py.Error):
            rtc.py.load("RTCState", blob)


def test_non_minimal_lengths_are_read_and_resaved_minimal(rtc: Built, good: bytes) -> None:
    """5- and 9-byte lengths of the right value: the C loader reads BER (documented), and a
    re-save is the DER form; Python accepts only DER for a version it knows."""
    body = good[2:] if good[1] < 0x80 else good[2 + (good[1] & 0x7F):]
    n = len(body)
    cases = [tlv(0x30, body, b"\x85" + n.to_bytes(5, "big")),
             tlv(0x30, body, b"\x88" + n.to_bytes(8, "big")),
             tlv(0x30, body, b"\x89" + n.to_bytes(9, "big"))]
    assert rtc.c_roundtrip([("RTCState", b) for b in cases]) == [f"OK {good.hex()}"] * 3
    for blob in cases:
        with pytest.raises(rtc.py.Error, match="not a DER encoding"):
            rtc.py.load("RTCState", blob)


def test_structure_faults(rtc: Built, good: bytes) -> None:
    def swap(m: list[tuple[int, bytes]]) -> None:
        m[1], m[2] = m[2], m[1]

    def dup(m: list[tuple[int, bytes]]) -> None:
        m.insert(2, m[1])

    def wrap(m: list[tuple[int, bytes]]) -> None:
        m[1] = (0xA1, tlv(0x02, m[1][1]))  # cmos_index as a constructed [1] { INTEGER }

    def deep(m: list[tuple[int, bytes]]) -> None:
        inner = tlv(0x02, b"\x07")
        for _ in range(1000):
            inner = tlv(0x30, inner)
        m[1] = (0xA1, inner)

    def long_int(n: int) -> Callable[[list[tuple[int, bytes]]], None]:
        return lambda m: m.__setitem__(1, (0x81, b"\x01" + bytes(n - 1)))

    def empty_int(m: list[tuple[int, bytes]]) -> None:
        m[1] = (0x81, b"")

    def non_minimal(m: list[tuple[int, bytes]]) -> None:
        m[1] = (0x81, b"\x00\x07")

    def high_tag(m: list[tuple[int, bytes]]) -> None:
        m[1] = (0x9F, b"\x81\x80\x80\x80\x80\x00")  # tag number > 2^32: its own TLV bytes

    cases = {
        "cmos_index: expected tag [1], found tag [2]": _record(good, swap),
        "base_year: expected tag [2], found tag [1]": _record(good, dup),
        "cmos_index: constructed encoding of tag [1] not allowed": _record(good, wrap),
        "cmos_index: constructed encoding of tag [1] not allowed ": _record(good, deep),
        "cmos_index: INTEGER of 9 bytes out of range 0..255": _record(good, long_int(9)),
        "cmos_index: INTEGER of 200 bytes out of range 0..255": _record(good, long_int(200)),
        "cmos_index: empty INTEGER": _record(good, empty_int),
        "cmos_index: non-minimal INTEGER encoding": _record(good, non_minimal),
        "trailing bytes after the record": good + b"\x00",
        "trailing bytes after the record ": good + good,
        "expected tag [3], found tag [4]":
            _record(good, top=lambda m: m.__setitem__(3, (0xA4, m[3][1]))),
        "unknown member with tag [4]":
            _record(good, top=lambda m: m.append((0x84, b"\x00"))),
        "version: non-minimal INTEGER encoding":
            _record(good, top=lambda m: m.__setitem__(1, (0x81, b"\x00\x03"))),
    }
    got = rtc.c_roundtrip([("RTCState", blob) for blob in cases.values()])
    assert got == [f"ERR RTCState: {m.rstrip()}" for m in cases]
    for blob in cases.values():
        with pytest.raises(rtc.py.Error):
            rtc.py.load("RTCState", blob)
    # A tag number wider than 32 bits in a member position
    assert rtc.c_roundtrip([("RTCState", _record(good, high_tag))])[0].startswith(
        "ERR RTCState: cmos_index: ")


def test_unknown_members_of_a_newer_writer_are_skipped_by_length(rtc: Built,
                                                                good: bytes) -> None:
    """Skipped members are never descended into: 10,000 levels of nesting in an unknown
    member of a newer record cost nothing, and their lengths are still checked."""
    deep = b"\x02\x01\x00"
    for _ in range(10000):
        deep = tlv(0x30, deep)

    def newer(extra: bytes) -> bytes:
        def edit(m: list[tuple[int, bytes]]) -> None:
            m[1] = (0x81, b"\x04")
            m.append((0xA4, extra))
        return _record(good, top=edit)

    ok, bad = newer(deep), newer(b"\x30\x05\x02\x01")
    bad = bad[:-4] + b"\x30\x05" + bad[-2:]  # inner length past its parent
    got = rtc.c_roundtrip([("RTCState", ok), ("RTCState", bad[:-1])])
    assert got[0] == f"OK {good.hex()}"
    assert got[1].startswith("ERR RTCState: ") and "[object changed]" not in got[1]


FIXED_STEMS = [s for s in support.FIXTURE_HEADERS if s != "nic"]


@pytest.mark.parametrize("stem", [*FIXED_STEMS, "nic"])
def test_truncation_at_every_byte(built: Callable[[str], Built], stem: str) -> None:
    """Every proper prefix of valid records (Hypothesis values at every version the writer
    knows) fails cleanly in C with the object untouched, and raises Error in Python.
    The 20 KiB E1000State records are cut at every 61st byte and in the last 300."""
    b = built(stem)
    for s in b.module.states:
        for good in seed_records(b.py, b.module, s.name, 2):
            cuts = range(len(good))
            if len(good) > 4000:
                cuts = sorted(set(range(0, len(good), 61)) | set(range(len(good) - 300,
                                                                       len(good))))
            results = b.c_roundtrip([(s.name, good[:n]) for n in cuts])
            bad = [(n, r) for n, r in zip(cuts, results, strict=True)
                   if not r.startswith(f"ERR {s.name}: ") or "[object changed]" in r]
            assert not bad, bad[:3]
            for n in list(cuts)[:: max(1, len(cuts) // 150)]:
                with pytest.raises(b.py.Error):
                    b.py.load(s.name, good[:n])


# ---- Python-only faults (generated module) ------------------------------------------------


def test_python_non_ascii_device_name(rtc: Built, good: bytes) -> None:
    blob = _record(good, top=lambda m: m.__setitem__(0, (0x80, b"\xffRTCState")))
    assert rtc.c_roundtrip([("RTCState", blob)]) == [
        "ERR RTCState: record is for device '?RTCState', expected 'RTCState'"]
    with pytest.raises(rtc.py.Error):
        rtc.py.load("RTCState", blob)


def test_python_indefinite_length_in_the_header(rtc: Built, good: bytes) -> None:
    blob = _raw_device(good, b"\x80\x80RTCState\0\0")
    assert rtc.c_roundtrip([("RTCState", blob)]) == [
        "ERR RTCState: device: indefinite length not supported"]
    with pytest.raises(rtc.py.Error):
        rtc.py.load("RTCState", blob)


def test_python_and_c_agree_on_newer_records(rtc: Built, good: bytes) -> None:
    """A newer writer's record with an empty or a non-minimal INTEGER in a known member
    (which asn1tools' BER decoder reads as 0, or as its value): both refuse."""
    def newer(member: int, contents: bytes) -> bytes:
        def edit(m: list[tuple[int, bytes]]) -> None:
            m[1] = (0x81, b"\x04")
            inner = split(m[3][1])
            inner[member] = (inner[member][0], contents)
            m[3] = (m[3][0], join(inner))
        return _record(good, top=edit)

    cases = {  # cmos_index is member 1, base_year (an int32_t) member 2
        "cmos_index: empty INTEGER": newer(1, b""),
        "cmos_index: non-minimal INTEGER encoding": newer(1, b"\x00\x07"),
        "base_year: non-minimal INTEGER encoding": newer(2, b"\xff\xf8"),
    }
    assert rtc.c_roundtrip([("RTCState", blob) for blob in cases.values()]) == [
        f"ERR RTCState: {m}" for m in cases]
    for message, blob in cases.items():
        assert rtc.py.CODEC._decode_asn1("RTCState-Record", blob)  # the BER decoder takes it
        with pytest.raises(rtc.py.Error, match="^RTCState-Record\\.state\\."
                           + message.rstrip().replace(".", r"\.") + "$"):
            rtc.py.load("RTCState", blob)

    # cmos_data (member 0, 128 octets) as a constructed string of two parts, with a
    # definite or an indefinite length: BER, which asn1tools takes and C refuses
    def split_string(indefinite: bool) -> bytes:
        def edit(m: list[tuple[int, bytes]]) -> None:
            m[1] = (0x81, b"\x04")
            inner = split(m[3][1])
            data = inner[0][1]
            parts = tlv(0x04, data[:64]) + tlv(0x04, data[64:])
            first = b"\xa0\x80" + parts + b"\x00\x00" if indefinite else tlv(0xA0, parts)
            m[3] = (m[3][0], first + join(inner[1:]))
        return _record(good, top=edit)

    refused = {
        "cmos_data: constructed encoding of a primitive value": split_string(False),
        "cmos_data: constructed encoding of a primitive value ": split_string(True),
    }
    got = rtc.c_roundtrip([("RTCState", blob) for blob in refused.values()])
    assert got == ["ERR RTCState: cmos_data: constructed encoding of tag [0] not allowed",
                   "ERR RTCState: cmos_data: indefinite length not supported"]
    for message, blob in refused.items():
        assert rtc.py.CODEC._decode_asn1("RTCState-Record", blob)["state"]["cmos-data"]
        with pytest.raises(rtc.py.Error, match="^RTCState-Record\\.state\\."
                           + message.rstrip().replace(".", r"\.") + "$"):
            rtc.py.load("RTCState", blob)


# ---- memory --------------------------------------------------------------------------

COUNTING_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
static unsigned long allocations;
void *__wrap_malloc(size_t n) { allocations++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { allocations++; return __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { allocations++; return __real_realloc(p, n); }

static char line[1 << 22];
static uint8_t in[1 << 21];

int main(void)
{
    while (fgets(line, sizeof line, stdin)) {
        size_t n = 0;
        unsigned b;
        char *hex = strchr(line, ' ');
        Error *err = NULL;
        bool ok = false;
        unsigned long before;

        if (!hex) {
            return 2;
        }
        *hex++ = 0;
        while (sscanf(hex + 2 * n, "%2x", &b) == 1) {
            in[n++] = (uint8_t)b;
        }
        before = allocations;
"""


def _counting_source(module: ir.Module, stem: str) -> str:
    out = [f'#include "{stem}-visit.h"', COUNTING_MAIN]
    for s in module.states:
        out.append(
            f'        if (strcmp(line, "{s.name}") == 0) {{\n'
            f"            static {s.c_type} obj;\n"
            "            memset(&obj, 0, sizeof obj);\n"
            f"            ok = vmgen_load_{s.name}(&obj, in, n, &err);\n"
            "        }")
    out.append('        printf("%s %lu\\n", ok ? "OK" : "ERR", allocations - before);\n'
               "        if (ok) {\n"
               "            uint8_t *buf = NULL;\n            size_t len = 0;\n"
               + "".join(f'            if (strcmp(line, "{s.name}") == 0) {{\n'
                         f"                static {s.c_type} o2;\n"
                         "                memset(&o2, 0, sizeof o2);\n"
                         f"                if (!vmgen_load_{s.name}(&o2, in, n, &err) ||\n"
                         f"                    !vmgen_save_{s.name}(&o2, &buf, &len, &err)) {{\n"
                         "                    return 3;\n                }\n"
                         "            }\n" for s in module.states)
               + "            free(buf);\n        }\n"
               "        error_free(err);\n    }\n    return 0;\n}\n")
    return "\n".join(out)


@pytest.mark.parametrize("stem", ["rtc", "pit", "hpet", "vnet", "usb"])
def test_loads_allocate_nothing_and_leak_nothing(built: Callable[[str], Built], stem: str,
                                                 tmp_path: Path) -> None:
    """A successful load of fixed-size state makes no allocation; a failed one allocates
    only its Error (at most 2 blocks).  Built with -fsanitize=address (LeakSanitizer runs
    at exit): success, failure and save paths must leak nothing."""
    b = built(stem)
    src = tmp_path / "count.c"
    src.write_text(_counting_source(b.module, stem))
    exe = support.compile_c(
        [src, b.out / f"{stem}-visit.c", *harness.runtime_sources(b.out)],
        tmp_path / "count", cc="gcc", include=[b.out, support.FIXTURES],
        extra=["-fsanitize=address", "-g",
               "-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc"])
    records: list[tuple[str, bytes]] = []
    for s in b.module.states:
        for good in seed_records(b.py, b.module, s.name, 3):
            records += [(s.name, good), (s.name, good[:-1]), (s.name, good + b"\x00"),
                        (s.name, good[: len(good) // 2])]
    stdin = "".join(f"{state} {data.hex()}\n" for state, data in records)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:exitcode=23")
    proc = subprocess.run([str(exe)], input=stdin, capture_output=True, text=True, env=env,
                          check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LeakSanitizer" not in proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(records)
    ok = [int(x.split()[1]) for x in lines if x.startswith("OK ")]
    err = [int(x.split()[1]) for x in lines if x.startswith("ERR ")]
    assert ok and err
    assert set(ok) == {0}, "a successful load allocated"
    assert max(err) <= 2, "a failed load allocated more than its Error"


def test_leak_sanitizer_is_active(tmp_path: Path) -> None:
    """The LeakSanitizer check above can fail: a deliberate leak is reported."""
    src = tmp_path / "leak.c"
    src.write_text("#include <stdlib.h>\nvoid *p;\nint main(void) { p = malloc(7); p = 0; "
                   "return 0; }\n")
    exe = support.compile_c([src], tmp_path / "leak", extra=["-fsanitize=address", "-O0"])
    proc = subprocess.run([str(exe)], capture_output=True, text=True, check=False,
                          env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1"))
    assert proc.returncode != 0 and "LeakSanitizer" in proc.stderr


def test_harness_simple_values_are_valid(rtc: Built) -> None:
    value = harness.simple(rtc.module, ir.StructRef("RTCState"))
    assert rtc.py.load("RTCState", rtc.py.save("RTCState", value)) == value
