"""Tests of the C runtime (templates/runtime/*.c) against asn1tools.

tests/runtime/runtime_test.c is built with every available compiler (gcc,
clang) for C99 and C11 with -Wall -Wextra -Werror -pedantic, plus one
AddressSanitizer/UBSan build per compiler.  Each build runs as one long-lived
process per test module that answers one command per line (see the comment
at the top of runtime_test.c), so the suite stays fast.

asn1tools is the independent oracle: DER bytes written by C must equal
asn1tools' DER encoding of the same value, asn1tools' BER decoder must read
them back, and records encoded by asn1tools must load in C.
"""

from __future__ import annotations

import math
import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asn1tools
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "templates" / "runtime"
PROGRAM = ROOT / "tests" / "runtime" / "runtime_test.c"

WARN = ["-Wall", "-Wextra", "-Werror", "-pedantic"]
SAN = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]

COMPILERS = [cc for cc in ("gcc", "clang") if shutil.which(cc)]
# (id, compiler, flags)
VARIANTS = [
    (
        f"{cc}-{std}{'-asan' if san else ''}",
        cc,
        [f"-std={std}", *WARN, *(["-O1", "-g", *SAN] if san else ["-O2"])],
    )
    for cc in COMPILERS
    for std, san in (("c99", False), ("c11", False), ("c99", True))
]
VARIANT_IDS = [v[0] for v in VARIANTS]


def test_compilers_present() -> None:
    assert "gcc" in COMPILERS, "gcc is required"
    if os.environ.get("CI"):
        assert "clang" in COMPILERS, "clang must be installed in CI"


# ---------------------------------------------------------------- the schema

COLOR = {"red": 0, "green": 5, "blue": -3, "big": 1000}
COLOR_BY_VALUE = {v: k for k, v in COLOR.items()}

U32 = ("int", 0, 2**32 - 1)


def INT(lo: int, hi: int) -> tuple[Any, ...]:
    return ("int", lo, hi)


def SINT(bits: int) -> tuple[Any, ...]:
    return ("int", -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def UINT(bits: int) -> tuple[Any, ...]:
    return ("int", 0, 2**bits - 1)


def BYTES(lo: int, hi: int) -> tuple[Any, ...]:
    return ("bytes", lo, hi)


def LIST(lo: int, hi: int, elem: tuple[Any, ...]) -> tuple[Any, ...]:
    return ("list", lo, hi, elem)


def STRUCT(name: str, *fields: tuple[str, tuple[Any, ...]]) -> tuple[Any, ...]:
    return ("struct", name, list(fields))


BOOL = ("bool",)
ENUM = ("enum",)
FLOAT = BYTES(4, 4)
DOUBLE = BYTES(8, 8)


def STR(mx: int) -> tuple[Any, ...]:
    return ("str", mx)


def make_types(limits: list[int]) -> dict[str, tuple[Any, ...]]:
    char_min, char_max, long_min, long_max, ulong_max, ll_min, ll_max, ull_max = limits[:8]
    schar_min, schar_max, uchar_max, shrt_min, ushrt_max, int_min, uint_max = limits[8:]
    scalars = STRUCT(
        "Scalars",
        ("i8", SINT(8)),
        ("i16", SINT(16)),
        ("i32", SINT(32)),
        ("i64", SINT(64)),
        ("u8", UINT(8)),
        ("u16", UINT(16)),
        ("u32", UINT(32)),
        ("u64", UINT(64)),
        ("c", INT(char_min, char_max)),
        ("sc", INT(schar_min, schar_max)),
        ("uc", INT(0, uchar_max)),
        ("s", INT(shrt_min, -shrt_min - 1)),
        ("us", INT(0, ushrt_max)),
        ("i", INT(int_min, -int_min - 1)),
        ("u", INT(0, uint_max)),
        ("l", INT(long_min, long_max)),
        ("ul", INT(0, ulong_max)),
        ("ll", INT(ll_min, ll_max)),
        ("ull", INT(0, ull_max)),
        ("b", BOOL),
        ("f", FLOAT),
        ("d", DOUBLE),
        ("color", ENUM),
        ("r", INT(-5, 5)),
        ("q", INT(0, 1000)),
    )
    wide = STRUCT(
        "Wide",
        *[(f"m{i}", UINT(16)) for i in range(128)],
        ("sub", STRUCT("Sub", ("x", SINT(32)), ("y", UINT(8)))),
        ("arr", LIST(0, 8, UINT(32))),
        ("tail", UINT(64)),
        ("flag", BOOL),
        ("e", ENUM),
    )
    timer = STRUCT("Timer", ("period", UINT(64)), ("phase", SINT(32)), ("on", BOOL))
    nested = STRUCT(
        "Nested",
        ("timers", LIST(0, 4, timer)),
        ("inner", STRUCT("Inner", ("a", SINT(16)), ("fifo", LIST(0, 16, UINT(8))))),
        ("grid", LIST(0, 3, LIST(0, 5, UINT(16)))),
        ("small", BYTES(0, 200)),
        ("big", BYTES(0, 70000)),
        ("name", STR(16)),
        ("d", DOUBLE),
        ("f", FLOAT),
        ("flags", LIST(0, 8, BOOL)),
        ("keys", LIST(0, 4, DOUBLE)),
        ("colors", LIST(0, 4, ENUM)),
        ("names", LIST(0, 2, STR(8))),
        ("fixed", BYTES(4, 4)),
    )
    return {"Scalars": scalars, "Wide": wide, "Nested": nested}


VERSIONS = {"Scalars": (1, 1), "Wide": (2, 1), "Nested": (3, 2), "Deep": (1, 1)}


def asn1_type(t: tuple[Any, ...], defs: dict[str, str], extra: dict[str, str]) -> str:
    kind = t[0]
    if kind == "int":
        return f"INTEGER ({t[1]}..{t[2]})"
    if kind == "bool":
        return "BOOLEAN"
    if kind == "enum":
        return "Color"
    if kind == "bytes":
        return (
            f"OCTET STRING (SIZE ({t[1]}))"
            if t[1] == t[2]
            else f"OCTET STRING (SIZE ({t[1]}..{t[2]}))"
        )
    if kind == "str":
        return f"VisibleString (SIZE (0..{t[1]}))"
    if kind == "list":
        return f"SEQUENCE (SIZE ({t[1]}..{t[2]})) OF {asn1_type(t[3], defs, extra)}"
    name, fields = t[1], t[2]
    if name not in defs:
        defs[name] = ""
        body = [f"    {fname} {asn1_type(ft, defs, extra)}" for fname, ft in fields]
        body += [f"    {line}" for line in extra.get(name, "").splitlines() if line]
        defs[name] = f"{name} ::= SEQUENCE {{\n" + ",\n".join([*body, "    ..."]) + "\n}"
    return name


def make_spec(types: dict[str, tuple[Any, ...]], extra: dict[str, str] | None = None) -> str:
    """The ASN.1 module; `extra` appends members to structs (a newer writer)."""
    extra = extra or {}
    defs: dict[str, str] = {}
    records = []
    for name, t in types.items():
        asn1_type(t, defs, extra)
        more = "".join(
            f"    {line},\n" for line in extra.get(f"{name}Record", "").splitlines() if line
        )
        records.append(
            f"{name}Record ::= SEQUENCE {{\n    device VisibleString,\n"
            "    version INTEGER (0..4294967295),\n"
            "    minimum-version INTEGER (0..4294967295),\n"
            f"    state {name},\n{more}    ...\n}}"
        )
    return (
        "Test DEFINITIONS AUTOMATIC TAGS ::= BEGIN\n"
        "Color ::= ENUMERATED { red(0), green(5), blue(-3), big(1000) }\n"
        + "\n".join(defs.values())
        + "\n"
        + "\n".join(records)
        + "\nEND\n"
    )


def tokens(t: tuple[Any, ...], v: Any, out: list[str]) -> list[str]:
    kind = t[0]
    if kind == "int":
        out.append(str(v))
    elif kind == "bool":
        out.append("1" if v else "0")
    elif kind == "enum":
        out.append(str(COLOR[v]))
    elif kind == "bytes":
        out.append(v.hex() or "-")
    elif kind == "str":
        out.append(v.encode("ascii").hex() or "-")
    elif kind == "list":
        out.append(str(len(v)))
        for e in v:
            tokens(t[3], e, out)
    else:
        for fname, ft in t[2]:
            tokens(ft, v[fname], out)
    return out


def strategy(t: tuple[Any, ...], cap: int = 300) -> st.SearchStrategy[Any]:
    kind = t[0]
    if kind == "int":
        lo, hi = t[1], t[2]
        edges = [x for x in (lo, hi, 0, -1, 1, 127, 128, -128, -129, 255, 256) if lo <= x <= hi]
        return st.one_of(st.sampled_from(edges), st.integers(lo, hi))
    if kind == "bool":
        return st.booleans()
    if kind == "enum":
        return st.sampled_from(sorted(COLOR))
    if kind == "bytes":
        return st.binary(min_size=t[1], max_size=min(t[2], cap))
    if kind == "str":
        return st.text(
            alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=t[1]
        )
    if kind == "list":
        return st.lists(strategy(t[3], cap), min_size=t[1], max_size=t[2])
    return st.fixed_dictionaries({fname: strategy(ft, cap) for fname, ft in t[2]})


def zero(t: tuple[Any, ...]) -> Any:
    kind = t[0]
    if kind == "int":
        return 0 if t[1] <= 0 <= t[2] else t[1]
    if kind == "bool":
        return False
    if kind == "enum":
        return "red"
    if kind == "bytes":
        return bytes(t[1])
    if kind == "str":
        return ""
    if kind == "list":
        return [zero(t[3]) for _ in range(t[1])]
    return {fname: zero(ft) for fname, ft in t[2]}


# ---------------------------------------------------------------- the program


class Prog:
    """One running runtime_test process."""

    def __init__(self, exe: Path, errfile: Path) -> None:
        self.errfile = errfile
        self.err = errfile.open("w")
        self.p = subprocess.Popen(
            [str(exe)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.err,
            text=True,
            env={**os.environ, "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0"},
        )

    def cmd(self, line: str) -> str:
        assert self.p.stdin and self.p.stdout
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        out = self.p.stdout.readline()
        if not out:
            self.p.wait(timeout=10)
            raise AssertionError(
                f"runtime_test died (rc={self.p.returncode}):\n{self.errfile.read_text()[-4000:]}"
            )
        return out.rstrip("\n")

    def close(self) -> None:
        assert self.p.stdin
        self.p.stdin.close()
        rc = self.p.wait(timeout=60)
        self.err.close()
        err = self.errfile.read_text()
        assert rc == 0 and not err, f"runtime_test exit {rc}:\n{err[-4000:]}"


@pytest.fixture(scope="session")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("runtime-build")
    sources = [RUNTIME / "vmgen-visitor.c", RUNTIME / "vmgen-ber.c", PROGRAM]

    def build(variant: tuple[str, str, list[str]]) -> tuple[str, Path]:
        vid, cc, flags = variant
        exe = out / vid
        r = subprocess.run(
            [cc, *flags, f"-I{RUNTIME}", *map(str, sources), "-o", str(exe)],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0 and not r.stderr, f"{vid} build failed:\n{r.stderr}"
        return vid, exe

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(pool.map(build, VARIANTS))


@pytest.fixture(scope="module", params=VARIANT_IDS)
def prog(request: pytest.FixtureRequest, builds: dict[str, Path]) -> Iterator[Prog]:
    errdir = Path(tempfile.mkdtemp(prefix="vmgen-rt-"))
    p = Prog(builds[request.param], errdir / "stderr")
    yield p
    p.close()
    shutil.rmtree(errdir, ignore_errors=True)


@pytest.fixture(scope="session")
def types(builds: dict[str, Path]) -> dict[str, tuple[Any, ...]]:
    r = subprocess.run(
        [str(builds[VARIANT_IDS[0]])], input="limits\n", capture_output=True, text=True, check=True
    )
    status, *nums = r.stdout.split()
    assert status == "OK"
    return make_types([int(x) for x in nums])


@pytest.fixture(scope="session")
def der(types: dict[str, tuple[Any, ...]]) -> Any:
    return asn1tools.compile_string(make_spec(types), "der")


@pytest.fixture(scope="session")
def ber(types: dict[str, tuple[Any, ...]]) -> Any:
    return asn1tools.compile_string(make_spec(types), "ber")


def record(
    tname: str,
    state: Any,
    version: int | None = None,
    minimum: int | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    v, m = VERSIONS[tname]
    return {
        "device": tname if device is None else device,
        "version": v if version is None else version,
        "minimum-version": m if minimum is None else minimum,
        "state": state,
    }


def c_set(prog: Prog, types: dict[str, Any], tname: str, value: Any) -> bytes:
    reply = prog.cmd(f"set {tname} " + " ".join(tokens(types[tname], value, [])))
    status, _, rest = reply.partition(" ")
    assert status == "OK", reply
    return bytes.fromhex(rest)


def c_load(prog: Prog, tname: str, data: bytes) -> tuple[bytes, list[str]]:
    reply = prog.cmd(f"load {tname} {data.hex() or '-'}")
    status, *rest = reply.split(" ")
    assert status == "OK", reply[:500]
    return bytes.fromhex(rest[0]), rest[1:]


def c_load_error(prog: Prog, tname: str, data: bytes) -> str:
    """Loads data that must be rejected; returns the message and checks that
    the object was left unchanged."""
    reply = prog.cmd(f"load {tname} {data.hex() or '-'}")
    status, state, msg = reply.split(" ", 2)
    assert status == "ERR", reply[:500]
    assert state == "unchanged", reply
    return msg


def roundtrip(
    prog: Prog, types: dict[str, Any], der: Any, ber: Any, tname: str, value: Any
) -> bytes:
    """The full oracle check for one value."""
    rec = record(tname, value)
    want = der.encode(f"{tname}Record", rec)
    got = c_set(prog, types, tname, value)
    assert got.hex() == want.hex()
    decoded, used = ber.decode_with_length(f"{tname}Record", got)
    assert used == len(got)
    assert decoded == rec
    resaved, toks = c_load(prog, tname, want)
    assert resaved == want
    assert toks == tokens(types[tname], value, [])
    return got


# ---------------------------------------------------------------- DER output


def edge_scalars(types: dict[str, Any]) -> list[dict[str, Any]]:
    t = types["Scalars"]
    ints = [(f, ft) for f, ft in t[2] if ft[0] == "int"]
    edges = [
        0,
        -1,
        1,
        127,
        128,
        -128,
        -129,
        255,
        256,
        32767,
        32768,
        -32768,
        -32769,
        2**31 - 1,
        2**31,
        -(2**31),
        2**32 - 1,
        2**32,
        2**63 - 1,
        2**63,
        -(2**63),
        2**64 - 1,
    ]
    values = []
    for e in edges:
        v = zero(t)
        for f, ft in ints:
            if ft[1] <= e <= ft[2]:
                v[f] = e
        values.append(v)
    for pick in (1, 2):  # every field at its minimum, then its maximum
        v = zero(t)
        for f, ft in ints:
            v[f] = ft[pick]
        v.update(b=pick == 2, color="blue" if pick == 1 else "big")
        values.append(v)
    return values


def test_scalars_edge_values(prog: Prog, types: Any, der: Any, ber: Any) -> None:
    for v in edge_scalars(types):
        roundtrip(prog, types, der, ber, "Scalars", v)


def test_integer_encodings_exact(prog: Prog, types: Any, der: Any, ber: Any) -> None:
    """Spot-check the INTEGER contents against hand-computed DER."""
    v = zero(types["Scalars"])
    v.update(i8=-128, i16=-129, i32=128, i64=-(2**63), u64=2**63, ull=2**64 - 1, u8=255)
    got = roundtrip(prog, types, der, ber, "Scalars", v)
    assert bytes.fromhex("800180") in got  # i8 = -128
    assert bytes.fromhex("8102ff7f") in got  # i16 = -129
    assert bytes.fromhex("82020080") in got  # i32 = 128
    assert bytes.fromhex("83088000000000000000") in got  # i64 = INT64_MIN
    assert bytes.fromhex("8402" + "00ff") in got  # u8 = 255
    assert bytes.fromhex("8709008000000000000000") in got  # u64 = 2^63
    assert bytes.fromhex("9209" + "00" + "ff" * 8) in got  # ull = 2^64 - 1


FLOAT_BITS = [
    0x00000000,
    0x80000000,
    0x7F800000,
    0xFF800000,
    0x7FC00000,
    0x7FC00001,
    0x7F800001,
    0xFFBFFFFF,
    0x00000001,
    0x3F800000,
]
DOUBLE_BITS = [
    0x0,
    0x8000000000000000,
    0x7FF0000000000000,
    0xFFF0000000000000,
    0x7FF8000000000000,
    0x7FF8000000000ABC,
    0x7FF0000000000001,
    0xFFF7FFFFFFFFFFFF,
    0x1,
    0x3FF0000000000000,
]


def test_floats_bit_exact(prog: Prog, types: Any, der: Any, ber: Any) -> None:
    assert struct.pack(">d", -0.0) == DOUBLE_BITS[1].to_bytes(8, "big")
    assert math.isnan(struct.unpack(">d", DOUBLE_BITS[5].to_bytes(8, "big"))[0])
    for fb, db in zip(FLOAT_BITS, DOUBLE_BITS, strict=True):
        v = zero(types["Scalars"])
        v.update(f=fb.to_bytes(4, "big"), d=db.to_bytes(8, "big"))
        roundtrip(prog, types, der, ber, "Scalars", v)
        n = zero(types["Nested"])
        n.update(f=fb.to_bytes(4, "big"), d=db.to_bytes(8, "big"), keys=[db.to_bytes(8, "big")] * 2)
        roundtrip(prog, types, der, ber, "Nested", n)


def test_wide_high_tags(prog: Prog, types: Any, der: Any, ber: Any) -> None:
    v = zero(types["Wide"])
    v.update({f"m{i}": 1000 + i for i in range(128)})
    v.update(sub={"x": -5, "y": 7}, arr=[1, 2**32 - 1], tail=2**64 - 1, flag=True, e="big")
    got = roundtrip(prog, types, der, ber, "Wide", v)
    assert bytes.fromhex("9e020406") in got  # [30] low form
    assert bytes.fromhex("9f1f020407") in got  # [31] first high-tag-number
    assert bytes.fromhex("9f7f020467") in got  # [127]
    assert bytes.fromhex("bf8100") in got  # [128] constructed, two base-128 bytes
    assert bytes.fromhex("bf8101") in got  # [129] list
    assert bytes.fromhex("9f8104") in got  # [132] enum


def test_nested_long_lengths(prog: Prog, types: Any, der: Any, ber: Any) -> None:
    v = zero(types["Nested"])
    v.update(
        timers=[
            {"period": 2**64 - 1, "phase": -1, "on": True},
            {"period": 0, "phase": 7, "on": False},
        ],
        inner={"a": -300, "fifo": list(range(16))},
        grid=[[1, 2, 3, 4, 65535], [], [9]],
        small=bytes(range(200)),
        big=bytes(i * 7 % 256 for i in range(70000)),
        name="x" * 16,
        flags=[True, False] * 4,
        colors=["blue", "big", "red", "green"],
        names=["", "ABCDEFGH"],
        fixed=b"\x01\x02\x03\x04",
    )
    got = roundtrip(prog, types, der, ber, "Nested", v)
    assert bytes.fromhex("8381c8") + bytes(range(200)) in got  # 200 bytes: 0x81 form
    assert bytes.fromhex("8483011170") in got  # 70000 bytes: 0x83 form
    assert got[:2] == bytes.fromhex("3083")  # the record itself needs 3 length bytes


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_values(prog: Prog, types: Any, der: Any, ber: Any, data: st.DataObject) -> None:
    for tname in ("Scalars", "Wide", "Nested"):
        roundtrip(prog, types, der, ber, tname, data.draw(strategy(types[tname]), label=tname))


def tlv(tag: bytes, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return tag + length + content


def deep_record(levels: int) -> bytes:
    content = b""
    for _ in range(levels):
        content = tlv(b"\x30", content)
    header = tlv(b"\x80", b"Deep") + tlv(b"\x81", b"\x01") + tlv(b"\x82", b"\x01")
    return tlv(b"\x30", header + tlv(b"\xa3", tlv(b"\xa0", content)))


def test_deep_nesting(prog: Prog) -> None:
    # Output has no depth limit and stays correct with long lengths.
    for levels in (0, 1, 40, 1000):
        reply = prog.cmd(f"set Deep {' '.join(['1'] * levels + ['0'])}")
        assert reply == "OK " + deep_record(levels).hex()
    _, toks = c_load(prog, "Deep", deep_record(61))
    assert toks == ["1"] * 61 + ["0"]
    # record, state and 62 lists fill the 64 frames; one more is an error.
    msg = c_load_error(prog, "Deep", deep_record(62))
    assert msg == "Deep: d" + "[0]" * 62 + ": nesting deeper than 64 levels"
    assert c_load_error(prog, "Deep", deep_record(1000)) == msg


# ---------------------------------------------------------------- BER input


def test_store_false_pass_writes_nothing(prog: Prog, types: Any, der: Any) -> None:
    for tname in ("Scalars", "Wide", "Nested"):
        v = zero(types[tname])
        data = der.encode(tname, v)
        assert prog.cmd(f"check {tname} {data.hex()}") == "OK unchanged"
    v = zero(types["Nested"])
    v.update(
        timers=[{"period": 1, "phase": 2, "on": True}],
        small=b"abc",
        big=b"x" * 300,
        name="hello",
        names=["a"],
        flags=[True],
    )
    assert prog.cmd(f"check Nested {der.encode('Nested', v).hex()}") == "OK unchanged"


def test_truncation_everywhere(prog: Prog, types: Any, der: Any) -> None:
    v = zero(types["Nested"])
    v.update(
        timers=[{"period": 2**40, "phase": -2, "on": True}],
        small=bytes(150),
        name="abc",
        grid=[[1], [2, 3]],
        names=["n"],
        keys=[bytes(8)],
    )
    for tname, value in (("Scalars", edge_scalars(types)[-1]), ("Nested", v)):
        data = der.encode(f"{tname}Record", record(tname, value))
        for k in range(len(data)):
            assert c_load_error(prog, tname, data[:k]) == f"{tname}: truncated value", k


def test_trailing_bytes(prog: Prog, types: Any, der: Any) -> None:
    data = der.encode("ScalarsRecord", record("Scalars", zero(types["Scalars"])))
    c_load(prog, "Scalars", data)
    for extra in (b"\x00", b"\x30\x00", b"\xff"):
        assert (
            c_load_error(prog, "Scalars", data + extra)
            == "Scalars: trailing bytes after the record"
        )


OUT_OF_RANGE = [
    ("u16", 70000, "u16: INTEGER 70000 out of range 0..65535"),
    ("i8", -129, "i8: INTEGER -129 out of range -128..127"),
    ("i8", 128, "i8: INTEGER 128 out of range -128..127"),
    ("u8", -1, "u8: INTEGER -1 out of range 0..255"),
    (
        "i64",
        2**63,
        "i64: INTEGER 9223372036854775808 out of range -9223372036854775808..9223372036854775807",
    ),
    (
        "i64",
        -(2**63) - 1,
        "i64: INTEGER of 9 bytes out of range -9223372036854775808..9223372036854775807",
    ),
    ("u64", 2**64, "u64: INTEGER of 9 bytes out of range 0..18446744073709551615"),
    ("u64", -(2**63), "u64: INTEGER -9223372036854775808 out of range 0..18446744073709551615"),
    ("u32", 2**32, "u32: INTEGER 4294967296 out of range 0..4294967295"),
    ("r", 6, "r: INTEGER 6 out of range -5..5"),
    ("q", 1001, "q: INTEGER 1001 out of range 0..1000"),
    ("q", 2**200, "q: INTEGER of 26 bytes out of range 0..1000"),
]


@pytest.mark.parametrize(
    ("field", "value", "msg"), OUT_OF_RANGE, ids=[f"{f}={v}" for f, v, _ in OUT_OF_RANGE]
)
def test_integer_out_of_range(
    prog: Prog, types: Any, der: Any, field: str, value: int, msg: str
) -> None:
    v = zero(types["Scalars"])
    v[field] = value
    assert (
        c_load_error(prog, "Scalars", der.encode("ScalarsRecord", record("Scalars", v)))
        == f"Scalars: {msg}"
    )


def test_error_paths(prog: Prog, types: Any, der: Any) -> None:
    v = zero(types["Nested"])
    v["inner"]["fifo"] = [0, 1, 2, 300]
    data = der.encode("NestedRecord", record("Nested", v))
    assert (
        c_load_error(prog, "Nested", data)
        == "Nested: inner.fifo[3]: INTEGER 300 out of range 0..255"
    )

    v = zero(types["Nested"])
    v["grid"] = [[], [1, 2, 70000]]
    data = der.encode("NestedRecord", record("Nested", v))
    assert (
        c_load_error(prog, "Nested", data)
        == "Nested: grid[1][2]: INTEGER 70000 out of range 0..65535"
    )

    # timers[1].period claims more bytes than its Timer holds.
    v = zero(types["Nested"])
    t1 = {"period": 0x5A5A5A, "phase": 1, "on": True}
    v["timers"] = [{"period": 1, "phase": 2, "on": False}, t1]
    data = der.encode("NestedRecord", record("Nested", v))
    t1_der = der.encode("Timer", t1)
    at = data.index(t1_der)
    assert data[at + 2 : at + 4] == b"\x80\x03"
    bad = data[: at + 3] + b"\x7f" + data[at + 4 :]
    assert c_load_error(prog, "Nested", bad) == "Nested: timers[1].period: truncated value"
    # ... or is missing its last member (Timer shortened by 3 bytes, and the
    # record, state and timers lengths adjusted: all short forms here).
    assert t1_der[-3:] == b"\x82\x01\xff"
    short = bytes([0x30, t1_der[1] - 3]) + t1_der[2:-3]
    out = bytearray(data[:at] + short + data[at + len(t1_der) :])
    out[1] -= 3
    hdr = 2
    for _ in range(3):  # device, version, minimum-version
        hdr += 2 + out[hdr + 1]
    assert out[hdr] == 0xA3 and out[hdr + 2] == 0xA0
    out[hdr + 1] -= 3
    out[hdr + 3] -= 3
    assert (
        c_load_error(prog, "Nested", bytes(out))
        == "Nested: timers[1].on: missing value, expected tag [2]"
    )


def patch_field(data: bytes, old: bytes, new: bytes) -> bytes:
    """Replace a unique TLV inside a Scalars record, fixing the two lengths
    in front of it (record, state); both use the short form here."""
    assert data.count(old) == 1, old.hex()
    out = bytearray(data.replace(old, new))
    delta = len(new) - len(old)
    assert out[0] == 0x30 and out[1] < 0x80
    out[1] += delta
    at = 2
    for _ in range(3):
        at += 2 + out[at + 1]
    assert out[at] == 0xA3 and out[at + 1] < 0x80
    out[at + 1] += delta
    return bytes(out)


def scalars_record(types: Any, der: Any, **fields: Any) -> bytes:
    v = zero(types["Scalars"])
    v.update(fields)
    return der.encode("ScalarsRecord", record("Scalars", v))


def test_malformed_tlvs(prog: Prog, types: Any, der: Any) -> None:
    data = scalars_record(types, der, i16=0x1234, u16=5, q=7)
    cases = [
        # wrong tag number, constructed primitive, wrong class
        (b"\x81\x02\x12\x34", b"\x85\x02\x12\x34", "i16: expected tag [1], found tag [5]"),
        (
            b"\x81\x02\x12\x34",
            b"\xa1\x02\x12\x34",
            "i16: constructed encoding of tag [1] not allowed",
        ),
        (b"\x81\x02\x12\x34", b"\x02\x02\x12\x34", "i16: expected tag [1], found tag INTEGER"),
        (
            b"\x81\x02\x12\x34",
            b"\x41\x02\x12\x34",
            "i16: expected tag [1], found tag [APPLICATION 1]",
        ),
        # INTEGER contents
        (b"\x81\x02\x12\x34", b"\x81\x03\x00\x12\x34", "i16: non-minimal INTEGER encoding"),
        (b"\x81\x02\x12\x34", b"\x81\x00", "i16: empty INTEGER"),
        (b"\x85\x01\x05", b"\x85\x02\x00\x05", "u16: non-minimal INTEGER encoding"),
        (b"\x85\x01\x05", b"\x85\x02\xff\x85", "u16: non-minimal INTEGER encoding"),
        # lengths
        (b"\x81\x02\x12\x34", b"\x81\x80\x12\x34\x00\x00", "i16: indefinite length not supported"),
        (b"\x81\x02\x12\x34", b"\x81\xff\x12\x34", "i16: invalid length encoding"),
        (b"\x81\x02\x12\x34", b"\x81\x88" + b"\xff" * 8, "i16: truncated value"),
        (b"\x81\x02\x12\x34", b"\x81\x89" + b"\xff" * 9, "i16: length too large"),
        (b"\x81\x02\x12\x34", b"\x81\x84\xff\xff\xff\xff", "i16: truncated value"),
        (b"\x98\x01\x07", b"\x98\x02\x07", "q: truncated value"),
        # tag numbers
        (b"\x81\x02\x12\x34", b"\x9f\x01\x02\x12\x34", "i16: invalid tag encoding"),
        (b"\x81\x02\x12\x34", b"\x9f\x80\x21\x02\x12\x34", "i16: invalid tag encoding"),
        (b"\x81\x02\x12\x34", b"\x9f\x90\x80\x80\x80\x00\x02\x12\x34", "i16: tag number too large"),
        (b"\x81\x02\x12\x34", b"\x9f\x21\x02\x12\x34", "i16: expected tag [1], found tag [33]"),
    ]
    for old, new, msg in cases:
        assert c_load_error(prog, "Scalars", patch_field(data, old, new)) == f"Scalars: {msg}", msg

    # BER leniency: long-form and non-minimal lengths are fine.
    ok = patch_field(data, b"\x81\x02\x12\x34", b"\x81\x82\x00\x02\x12\x34")
    resaved, _ = c_load(prog, "Scalars", ok)
    assert resaved == data
    # the whole record with a 9-byte length form (0x88 with leading zeros)
    long_form = b"\x30\x88" + len(data[2:]).to_bytes(8, "big") + data[2:]
    assert c_load(prog, "Scalars", long_form)[0] == data

    # indefinite length of the record itself / huge lengths at the top
    assert c_load_error(prog, "Scalars", b"\x30\x80" + data[2:] + b"\x00\x00") == (
        "Scalars: indefinite length not supported"
    )
    assert (
        c_load_error(prog, "Scalars", b"\x30\x88" + b"\xff" * 8 + data[2:])
        == "Scalars: truncated value"
    )
    assert c_load_error(prog, "Scalars", b"\x31" + data[1:]) == (
        "Scalars: expected tag SEQUENCE, found tag [UNIVERSAL 17]"
    )
    assert c_load_error(prog, "Scalars", b"\x10" + data[1:]) == (
        "Scalars: primitive encoding of tag SEQUENCE not allowed"
    )


def test_booleans_strings_enums(prog: Prog, types: Any, der: Any) -> None:
    data = scalars_record(types, der, b=True, color="green")
    assert b"\x93\x01\xff" in data
    for content, msg in ((b"", "found 0"), (b"\x01\x00", "found 2")):
        bad = patch_field(data, b"\x93\x01\xff", b"\x93" + bytes([len(content)]) + content)
        assert (
            c_load_error(prog, "Scalars", bad)
            == f"Scalars: b: BOOLEAN content must be 1 byte, {msg}"
        )
    # any nonzero BOOLEAN content is true; DER output uses 0xff
    resaved, _ = c_load(prog, "Scalars", patch_field(data, b"\x93\x01\xff", b"\x93\x01\x01"))
    assert resaved == data
    bad = patch_field(data, b"\x96\x01\x05", b"\x96\x01\x07")
    assert c_load_error(prog, "Scalars", bad) == "Scalars: color: ENUMERATED 7 is not a valid value"
    bad = patch_field(data, b"\x96\x01\x05", b"\x96\x02\x00\x05")
    assert c_load_error(prog, "Scalars", bad) == "Scalars: color: non-minimal ENUMERATED encoding"
    f = der.encode("ScalarsRecord", record("Scalars", zero(types["Scalars"])))
    bad = patch_field(f, b"\x94\x04\x00\x00\x00\x00", b"\x94\x05\x00\x00\x00\x00\x00")
    assert (
        c_load_error(prog, "Scalars", bad) == "Scalars: f: OCTET STRING length 5 out of range 4..4"
    )

    def nested(**fields: Any) -> bytes:
        v = zero(types["Nested"])
        v.update(fields)
        return der.encode("NestedRecord", record("Nested", v))

    assert c_load_error(prog, "Nested", nested(fixed=b"abc")) == (
        "Nested: fixed: OCTET STRING length 3 out of range 4..4"
    )
    assert c_load_error(prog, "Nested", nested(small=bytes(201))) == (
        "Nested: small: OCTET STRING length 201 out of range 0..200"
    )
    assert c_load_error(prog, "Nested", nested(name="x" * 17)) == (
        "Nested: name: VisibleString length 17 out of range 0..16"
    )
    assert c_load_error(prog, "Nested", nested(names=["a", "123456789"])) == (
        "Nested: names[1]: VisibleString length 9 out of range 0..8"
    )
    assert c_load_error(prog, "Nested", nested(name="a\x7fb")) == (
        "Nested: name: invalid character 0x7f in VisibleString"
    )
    good = nested(flags=[True, False])
    bad = good.replace(b"\x01\x01\xff\x01\x01\x00", b"\x01\x01\xff\x02\x01\x00")
    assert (
        c_load_error(prog, "Nested", bad)
        == "Nested: flags[1]: expected tag BOOLEAN, found tag INTEGER"
    )


def test_list_counts(prog: Prog, types: Any, der: Any) -> None:
    def nested(**fields: Any) -> bytes:
        v = zero(types["Nested"])
        v.update(fields)
        return der.encode("NestedRecord", record("Nested", v))

    timer = {"period": 1, "phase": 1, "on": True}
    assert c_load_error(prog, "Nested", nested(timers=[timer] * 5)) == (
        "Nested: timers: list length 5 out of range 0..4"
    )
    assert c_load_error(prog, "Nested", nested(inner={"a": 0, "fifo": [1] * 17})) == (
        "Nested: inner.fifo: list length 17 out of range 0..16"
    )
    assert c_load_error(prog, "Nested", nested(grid=[[], [], [1] * 6])) == (
        "Nested: grid[2]: list length 6 out of range 0..5"
    )
    # the pre-scan checks every element header before any element is read
    good = nested(flags=[True, False])
    at = good.index(b"\x01\x01\xff\x01\x01\x00")
    bad = good[: at + 4] + b"\x05" + good[at + 5 :]
    assert c_load_error(prog, "Nested", bad) == "Nested: flags[1]: truncated value"
    bad = good[: at + 4] + b"\x80" + good[at + 5 :]
    assert c_load_error(prog, "Nested", bad) == "Nested: flags[1]: indefinite length not supported"


def test_record_header_checks(prog: Prog, types: Any, der: Any) -> None:
    v = zero(types["Nested"])
    enc = der.encode

    def load_err(**kw: Any) -> str:
        return c_load_error(prog, "Nested", enc("NestedRecord", record("Nested", v, **kw)))

    assert load_err(device="Other") == "Nested: record is for device 'Other', expected 'Nested'"
    assert load_err(device="") == "Nested: record is for device '', expected 'Nested'"
    assert load_err(device="Nested2") == "Nested: record is for device 'Nested2', expected 'Nested'"
    assert load_err(version=5, minimum=4) == (
        "Nested: data needs a reader of version >= 4, this reader is version 3"
    )
    assert load_err(version=1, minimum=1) == (
        "Nested: data is version 1, this reader needs version >= 2"
    )
    assert load_err(version=0, minimum=0) == (
        "Nested: data is version 0, this reader needs version >= 2"
    )
    assert load_err(version=2**32, minimum=0) == (
        "Nested: version: INTEGER 4294967296 out of range 0..4294967295"
    )
    # versions inside the accepted window load
    for version, minimum in ((2, 1), (3, 3), (3, 0), (7, 3), (2**32 - 1, 2)):
        data = enc("NestedRecord", record("Nested", v, version=version, minimum=minimum))
        resaved, _ = c_load(prog, "Nested", data)
        assert resaved == enc("NestedRecord", record("Nested", v))
    assert c_load_error(
        prog, "Nested", enc("ScalarsRecord", record("Scalars", zero(types["Scalars"])))
    ) == ("Nested: record is for device 'Scalars', expected 'Nested'")


def test_newer_writer_extensions(prog: Prog, types: Any) -> None:
    newer = asn1tools.compile_string(
        make_spec(
            types,
            {
                "Nested": "extra1 INTEGER OPTIONAL\n"
                "extra2 SEQUENCE { a BOOLEAN, b OCTET STRING } OPTIONAL",
                "Timer": "jitter INTEGER OPTIONAL",
                "NestedRecord": "checksum OCTET STRING OPTIONAL",
            },
        ),
        "der",
    )
    v = zero(types["Nested"])
    v.update(timers=[{"period": 9, "phase": -9, "on": True}], name="new")
    timer_x = {**v["timers"][0], "jitter": 12345}
    state = {**v, "timers": [timer_x], "extra1": -7, "extra2": {"a": True, "b": b"\x00" * 300}}
    want_tokens = tokens(types["Nested"], v, [])
    ref = asn1tools.compile_string(make_spec(types), "der")
    canonical = ref.encode("NestedRecord", record("Nested", v))

    data = newer.encode("NestedRecord", {**record("Nested", state, version=4), "checksum": b"abc"})
    resaved, toks = c_load(prog, "Nested", data)
    assert toks == want_tokens and resaved == canonical

    # the same members from a writer of the reader's own version are errors
    data = newer.encode("NestedRecord", {**record("Nested", state, version=3), "checksum": b"abc"})
    assert c_load_error(prog, "Nested", data) == "Nested: timers[0]: unknown member with tag [3]"
    only_state = {**state, "timers": v["timers"]}
    data = newer.encode("NestedRecord", {**record("Nested", only_state), "checksum": b"abc"})
    assert c_load_error(prog, "Nested", data) == "Nested: unknown member with tag [13]"
    data = newer.encode("NestedRecord", {**record("Nested", v), "checksum": b"abc"})
    assert c_load_error(prog, "Nested", data) == "Nested: unknown member with tag [4]"
    # skipped members must still be well-formed TLVs
    data = newer.encode("NestedRecord", {**record("Nested", state, version=4), "checksum": b"abc"})
    assert data[-5:] == b"\x84\x03abc"
    bad = data[:-4] + b"\x05abc"  # the last extra member claims too many bytes
    assert c_load_error(prog, "Nested", bad) == "Nested: truncated value"


def test_missing_members(prog: Prog, types: Any) -> None:
    """Data from an older writer that lacks members is an error (the runtime
    does not invent values)."""
    t = types["Scalars"]
    older = ("struct", "Scalars", t[2][:-2])
    spec = asn1tools.compile_string(make_spec({"Scalars": older}), "der")
    v = zero(older)
    data = spec.encode("ScalarsRecord", record("Scalars", v))
    assert c_load_error(prog, "Scalars", data) == "Scalars: r: missing value, expected tag [23]"


def test_selftest(prog: Prog) -> None:
    """Runtime paths the test states cannot reach (see cmd_selftest)."""
    assert prog.cmd("selftest").split(" | ") == [
        "first 1",  # the first error wins
        "T: r: INTEGER 6 out of range -5..5",  # output checks ranges too
        "T: an earlier visit failed",  # ... and finish() then fails
        "T: " + "a" * 255 + ": INTEGER 6 out of range -5..5",  # VMGEN_PATH_MAX - 1
        "T: s.q: INTEGER 1001 out of range 0..1000",
        "T: e: ENUMERATED 7 is not a valid value",
        "T: l: list length 5 out of range 0..4",
        "T: l: list of 2 elements had 1 visited",
        "T: s: VisibleString longer than 3 characters",
        "T: s: invalid character 0x09 in VisibleString",
        "T: b: OCTET STRING length 5 out of range 0..4",
        "T: a struct or list is still open",
        "(no error)",
        # INTEGER -1, BOOLEAN true, -0.0, SEQUENCE OF { SEQUENCE {}, "hi" }
        "0201ff0101ff04088000000000000000300630001a026869",
        "-",  # nothing visited: empty output
        "T: l: 1 of 2 list elements not visited",
        "x: truncated value",
        "[2]: missing value, expected tag INTEGER",
        "an earlier visit failed",
    ]
