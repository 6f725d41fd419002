"""Interoperability: the records vmgen's C writes are standard DER that third-party
ASN.1 tools read and write.

* asn1c compiles every generated ASN.1 module. A C program built from asn1c's output
  (tests/interop/asn1c_driver.c) BER-decodes every record vmgen's C saves (using every
  byte, constraints checked) and DER-encodes it to the same bytes; it also writes
  records itself, by setting the fields of a decoded record to new values through
  asn1c's C structures (every field it can: not yet CHOICEs, strings, counted arrays,
  extension additions), and those are byte for byte what vmgen's C saves for the same
  values, and vmgen's C loader accepts them.
* dumpasn1 and `openssl asn1parse` parse every record vmgen's C saves.

Values are drawn by Hypothesis and set in C by plain assignments (tests/support.py).

asn1c 0.9.28 (Debian's) cannot take some of vmgen's ASN.1 as written, all valid
X.680; the module given to asn1c is adapted as `ASN1C_LIMITS` describes (same
encodings), and `test_asn1c_compiles_module_as_generated` reports (xfail) the
limitation hit, and fails on any other asn1c error.

The tools come from the Debian packages asn1c, dumpasn1 and openssl. Without CI set,
a missing tool skips its tests; with CI set, it fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import support
from tests.conftest import Built
from vmgen.checks import names
from vmgen.lowering import ir

INTEROP = Path(__file__).resolve().parent / "interop"

STATES = [
    (stem, s.name)
    for stem in support.FIXTURE_HEADERS
    for s in support.fixture_module(stem).states
]


def require(tool: str) -> str:
    """The path of `tool`: a missing tool fails the test in CI, skips it elsewhere."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} not found (Debian packages: asn1c dumpasn1 openssl)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300,
                          **kwargs)


# ---- asn1c 0.9.28's limits, and the module it is given ---------------------------------

U64_RANGE = "(0..18446744073709551615)"
SIZED_LIST = re.compile(r"SEQUENCE \(SIZE \(([^()]+)\)\) OF (.*)")
MEMBER = re.compile(r"(\s+\S+\s+)(SEQUENCE \(SIZE .*?)(,?\s*(?:--.*)?)")


def _hoist_list_elements(text: str) -> str:
    """Give the element of every SEQUENCE OF that is not a type reference (a
    constrained INTEGER, OCTET STRING, SEQUENCE OF...) a type of its own."""
    defs: list[str] = []

    def hoist(t: str) -> str:
        m = SIZED_LIST.fullmatch(t)
        if not m:
            return t
        element = hoist(m.group(2))
        if not re.fullmatch(r"[A-Z][A-Za-z0-9-]*", element):
            defs.append(f"Interop-element{len(defs) + 1} ::= {element}")
            element = f"Interop-element{len(defs)}"
        return f"SEQUENCE (SIZE ({m.group(1)})) OF {element}"

    out = []
    for line in text.splitlines():
        m = MEMBER.fullmatch(line)
        if m:
            line = m.group(1) + hoist(m.group(2)) + m.group(3)
        if line == "END":
            out += [*defs, ""]
        out.append(line)
    return "\n".join(out) + "\n"


def _unsigned_list_element(text: str) -> bool:
    return any(int(hi) > 2**31 - 1 for hi in re.findall(r"\) OF INTEGER \(0\.\.(\d+)\)", text))


@dataclass(frozen=True)
class Limit:
    why: str
    trigger: Callable[[str], bool]  # does the generated text hit it?
    message: re.Pattern[str]  # what asn1c says when it does
    adapt: Callable[[str], str]  # the same encodings in a form asn1c takes


ASN1C_LIMITS = (
    Limit(
        "asn1c 0.9.28 parses INTEGER bounds into intmax_t: the uint64 bound 2^64-1 is "
        "'too large for this compiler'; given as (0..MAX), compiled with -fwide-types "
        "(else asn1c maps it to a C long and refuses values >= 2^63)",
        lambda text: U64_RANGE in text,
        re.compile(r'Value "18446744073709551615" at line \d+ is too large'),
        lambda text: text.replace(U64_RANGE, "(0..MAX)"),
    ),
    Limit(
        "asn1c 0.9.28 aborts (asn1p_y.y:1223 assertion) on a SEQUENCE (SIZE (n)) OF whose "
        "element is itself a SEQUENCE (SIZE (m)) OF (a C array of 2+ dimensions); each "
        "inner SEQUENCE OF given as a type of its own",
        lambda text: re.search(r"\) OF SEQUENCE \(SIZE", text) is not None,
        re.compile(r"asn1p_y\.y:\d+: asn1p_parse: Assertion .*constraints' failed"),
        _hoist_list_elements,
    ),
    Limit(
        "asn1c 0.9.28 emits C that does not compile ('asn_DEF_Member_N' undeclared) for a "
        "SEQUENCE OF INTEGER (0..n), n > 2^31-1 (an array of uint32_t); each such element "
        "given as a type of its own",
        _unsigned_list_element,
        re.compile(r"asn_DEF_Member_\d+. undeclared"),
        _hoist_list_elements,
    ),
)

ASN1C_FLAGS = ["-fwide-types", "-fcompound-names"]


def asn1c_text(text: str) -> str:
    for limit in ASN1C_LIMITS:
        text = limit.adapt(text)
    return text


def c_name(asn1_name: str) -> str:
    """asn1c's C spelling of an ASN.1 name."""
    return asn1_name.replace("-", "_")


def record_type(state: str) -> str:
    asn1 = names.type_name(state)
    assert asn1 is not None
    return names.record_name(asn1)


# ---- asn1c edits: fields of a decoded record set through asn1c's structures -------------


def _c_bytes(data: bytes) -> str:
    """`data` as C initializers (not a string literal: those stop at 4095 bytes)."""
    return ", ".join(f"0x{b:02x}" for b in data)


def asn1c_sets(module: ir.Module, t: ir.WireType, lvalue: str, value: Any) -> list[str] | None:
    """C statements that store `value` (C view) into asn1c's `lvalue` of type `t`, or
    None for a type this test does not set through asn1c (it then keeps its value)."""
    if isinstance(t, ir.IntType):
        if t.signed:
            lit = "(-9223372036854775807LL - 1)" if value == -(2**63) else f"{value}LL"
            return [f"SET_SINT({lvalue}, {lit});"]
        return [f"SET_UINT({lvalue}, {value}ULL);"]
    if isinstance(t, ir.BoolType):
        return [f"SET_BOOL({lvalue}, {int(value)});"]
    if isinstance(t, ir.FloatType):
        bits = (struct.pack(">I", support.f32_bits(value)) if t.bits == 32
                else struct.pack(">Q", support.f64_bits(value)))
        return [f"SET_BYTES({lvalue}, {len(bits)}, {_c_bytes(bits)});"]
    if isinstance(t, ir.BytesType) and t.count is None:
        return [f"SET_BYTES({lvalue}, {t.length}, {_c_bytes(value)});"]
    if isinstance(t, ir.EnumRef):
        number = {e.name: e.value for e in module.enum(t.name).enumerators}[value]
        return [f"SET_SINT({lvalue}, {number}LL);"]
    if isinstance(t, ir.ArrayType) and t.count is None:
        out: list[str] = []
        for i, v in enumerate(value):
            sets = asn1c_sets(module, t.element, f"ELEM({lvalue}, {i})", v)
            if sets is None:
                return None
            out += sets
        return out
    if isinstance(t, ir.StructRef):
        out = []
        for _, sets in _field_sets(module, t.name, lvalue, value):
            if sets is None:
                return None
            out += sets
        return out
    return None  # CHOICE, strings, counted arrays, external types


def _plain(s: ir.Struct, f: ir.Field) -> bool:
    """A field that is a plain member in asn1c's struct, tied to no other field."""
    tied = {g.count_of for g in s.fields} | {g.selector for g in s.fields}
    return (f.since is None and f.count_of is None and f.selector is None and not f.const
            and f.name not in tied)


def _field_sets(module: ir.Module, struct_name: str, lvalue: str,
                value: dict[str, Any]) -> list[tuple[ir.Field, list[str] | None]]:
    s = module.struct(struct_name)
    out: list[tuple[ir.Field, list[str] | None]] = []
    for f in s.migrated:
        assert f.type is not None
        member = names.identifier(f.name)
        assert member is not None
        sets = (asn1c_sets(module, f.type, f"{lvalue}.{c_name(member)}", value[f.name])
                if _plain(s, f) and f.name in value else None)
        out.append((f, sets))
    return out


def state_edit(module: ir.Module, state: str, old: dict[str, Any],
               new: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The asn1c statements that set the fields of `state` it can to their values in
    `new`, and the value the record then holds (the other fields keep `old`'s)."""
    body: list[str] = []
    value = dict(old)
    for f, sets in _field_sets(module, state, "r->state", new):
        if sets is not None:
            body += sets
            value[f.name] = new[f.name]
    return body, value


def records_header(module: ir.Module, edits: list[tuple[str, list[str]]]) -> str:
    lines = [f'#include "{record_type(s.name)}.h"' for s in module.states]
    for i, (state, body) in enumerate(edits):
        lines.append(f"static bool edit_{i}(void *record)\n{{\n"
                     f"    {c_name(record_type(state))}_t *r = record;\n    "
                     + "\n    ".join(body) + "\n    return true;\n}")
    lines.append("static const interop_record_t interop_records[] = {")
    lines += [f'    {{ "{s.name}", &asn_DEF_{c_name(record_type(s.name))} }},'
              for s in module.states]
    lines.append("};\nstatic const interop_edit_t interop_edits[] = {")
    lines += [f"    edit_{i}," for i in range(len(edits))] or ["    NULL,"]
    lines.append("};\n")
    return "\n".join(lines)


# ---- asn1c builds, once per fixture -------------------------------------------------------


@dataclass
class Asn1c:
    b: Built
    dir: Path
    objects: list[Path]
    builds: int = 0

    def program(self, edits: list[tuple[str, list[str]]]) -> Path:
        """The driver, with `edits` as interop_edits[0..]."""
        self.builds += 1
        work = self.dir.parent / f"driver{self.builds}"
        work.mkdir()
        (work / "interop-records.h").write_text(records_header(self.b.module, edits))
        exe = work / "asn1c-driver"
        proc = run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O1",
                    "-I", str(work), "-isystem", str(self.dir),
                    str(INTEROP / "asn1c_driver.c"), *map(str, self.objects), "-o", str(exe)])
        assert proc.returncode == 0, proc.stderr
        return exe

    def feed(self, exe: Path, lines: list[tuple[str, bytes, int | None]]) -> list[str]:
        stdin = "".join(f"{state} {data.hex()} {'-' if edit is None else edit}\n"
                        for state, data, edit in lines)
        proc = run([str(exe)], input=stdin)
        assert proc.returncode == 0 and not proc.stderr, (proc.returncode, proc.stderr)
        out = proc.stdout.splitlines()
        assert len(out) == len(lines)
        return out


@pytest.fixture(scope="session")
def asn1c(built: Callable[[str], Built]) -> Callable[[str], Asn1c]:
    """`asn1c(stem)`: asn1c's C for fixtures/STEM.h's module (adapted to asn1c's
    limits), compiled to objects once."""
    done: dict[str, Asn1c] = {}

    def get(stem: str) -> Asn1c:
        tool = require("asn1c")
        require("gcc")
        if stem not in done:
            b = built(stem)
            d = b.out / "asn1c" / "gen"
            d.mkdir(parents=True)
            (d / f"{stem}.asn").write_text(asn1c_text((b.out / f"{stem}.asn").read_text()))
            proc = run([tool, *ASN1C_FLAGS, f"{stem}.asn"], cwd=d)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            sources = [c for c in sorted(d.glob("*.c"))
                       if c.name not in ("converter-sample.c", "pdu_collection.c")]

            def compile_one(c: Path) -> Path:
                # asn1c's own code: its warnings are asn1c's business.
                o = c.with_suffix(".o")
                p = run(["gcc", "-O1", "-w", "-I", str(d), "-c", str(c), "-o", str(o)])
                assert p.returncode == 0, p.stderr
                return o

            with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
                objects = list(pool.map(compile_one, sources))
            done[stem] = Asn1c(b, d, objects)
        return done[stem]

    return get


def draw(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """`n` Hypothesis examples of `strategy` (edge values included)."""
    drawn: list[Any] = []

    @settings(max_examples=n, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    return drawn


# ---- tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", support.FIXTURE_HEADERS)
def test_asn1c_compiles_module_as_generated(built: Any, stem: str, tmp_path: Path) -> None:
    """asn1c takes the module as vmgen writes it and its C for it compiles, or it
    stops at one of ASN1C_LIMITS."""
    tool = require("asn1c")
    text = (built(stem).out / f"{stem}.asn").read_text()
    (tmp_path / f"{stem}.asn").write_text(text)
    proc = run([tool, *ASN1C_FLAGS, f"{stem}.asn"], cwd=tmp_path)
    said = proc.stdout + proc.stderr
    if proc.returncode == 0:
        skeletons = {line.split()[1].rsplit("/", 1)[-1] for line in said.splitlines()
                     if line.startswith("Copied ")}
        for c in sorted(tmp_path.glob("*.c")):
            if c.name not in skeletons | {"converter-sample.c", "pdu_collection.c"}:
                cc = run(["gcc", "-fsyntax-only", "-w", "-I", str(tmp_path), str(c)])
                said += cc.stderr
        if said == proc.stdout + proc.stderr:
            return
    hit = [lim for lim in ASN1C_LIMITS if lim.trigger(text) and lim.message.search(said)]
    assert hit, f"asn1c refuses {stem}.asn or its C (exit {proc.returncode}):\n{said}"
    pytest.xfail(hit[0].why)


@pytest.mark.parametrize(("stem", "state"), STATES)
def test_asn1c_reads_and_writes_vmgen_records(asn1c: Any, stem: str, state: str) -> None:
    a: Asn1c = asn1c(stem)
    b = a.b
    # const fields 0: what vmgen's C loader finds in place (tests/conftest.py)
    strategy = support.struct_strategy(b.module, state, const_zero=True)
    values = draw(strategy, 24)
    edits = [state_edit(b.module, state, old, new)
             for old, new in zip(values, draw(strategy, len(values)), strict=True)]
    edited = [value for _, value in edits]
    saved = b.c_save([(state, v) for v in values + edited])
    records, expected = saved[:len(values)], saved[len(values):]
    exe = a.program([(state, body) for body, _ in edits])
    out = a.feed(exe, [(state, r, None) for r in records]
                 + [(state, r, i) for i, r in enumerate(records)])
    # (a) asn1c reads every record vmgen's C wrote and writes it back byte for byte.
    for value, record, line in zip(values, records, out[:len(records)], strict=True):
        assert line == f"OK {record.hex()}", (value, line)
    # (b) asn1c writes records (fields set through its structures): they are what
    # vmgen's C saves for the same values, and vmgen's C loads them.
    written = []
    for value, record, line in zip(edited, expected, out[len(records):], strict=True):
        assert line == f"OK {record.hex()}", (value, line)
        written.append(bytes.fromhex(line[3:]))
    for value, record, line in zip(edited, written, b.c_roundtrip(
            [(state, r) for r in written]), strict=True):
        assert line == f"OK {record.hex()}", (value, line)
        assert b.py.same(b.py.load(state, record), value)


DUMPASN1_SUMMARY = re.compile(r"(\d+) warnings?, (\d+) errors?\.")
DUMPASN1_ITEM = re.compile(r"\s*(\d+)\s+\d+: (.*)")
DUMPASN1_NEGATIVE = "Error: Integer is encoded as a negative value."
DUMPASN1_GUESSED_TEXT = "Error: IA5String contains illegal character(s)."
OPENSSL_ITEM = re.compile(r"\s*(\d+):d=(\d+)\s+hl=\s*(\d+)\s+l=\s*(\d+) (prim|cons): (.*)")
PROBLEM = re.compile(r"Error|error|Warning|warning")


@pytest.mark.parametrize(("stem", "state"), STATES)
def test_dumpasn1_and_openssl_parse_vmgen_records(built: Any, stem: str, state: str,
                                                   tmp_path: Path) -> None:
    dumpasn1, openssl = require("dumpasn1"), require("openssl")
    b: Built = built(stem)
    values = draw(support.struct_strategy(b.module, state), 12)
    for i, (value, record) in enumerate(zip(values, b.c_save([(state, v) for v in values]),
                                            strict=True)):
        path = tmp_path / f"{i}.der"
        path.write_bytes(record)
        where = f"{stem} {state} {record.hex()} {value!r}"

        # openssl: exit 0, nothing on stderr, no "Error in encoding" (which goes to
        # stdout); the outer SEQUENCE spans the whole record. (Lines that are not items
        # are the rest of an OCTET STRING that openssl shows as text.)
        ossl = run([openssl, "asn1parse", "-inform", "DER", "-in", str(path)])
        assert ossl.returncode == 0 and not ossl.stderr, (where, ossl.stdout, ossl.stderr)
        assert not re.search(r"^Error", ossl.stdout, re.M), (where, ossl.stdout)
        items = {int(m[1]): m for m in map(OPENSSL_ITEM.fullmatch, ossl.stdout.split("\n"))
                 if m}
        top = items[0]
        assert top.group(2, 5, 6) == ("0", "cons", "SEQUENCE          "), where
        assert int(top[3]) + int(top[4]) == len(record), where

        # dumpasn1 -e -o -z: our OCTET STRINGs hold raw bytes (float bits, char arrays,
        # byte arrays), so no guessing at ASN.1 (-e) or text (-o) inside them (it reports
        # "errors" in the payload when its bytes happen to look like either), and empty
        # values (a counted array with no element, an empty string) are valid DER (-z).
        dump = run([dumpasn1, "-e", "-o", "-z", str(path)])
        # its verdict, "N warnings, M errors.", goes to stderr, and nothing else
        summary = DUMPASN1_SUMMARY.fullmatch(dump.stderr.strip())
        assert summary is not None, (where, dump.stderr)
        head = re.match(r"\s*0\s+(\d+): SEQUENCE \{\n", dump.stdout)
        assert head is not None and int(head[1]) == int(top[4]), (where, dump.stdout)
        assert f"[0] '{state}'" in dump.stdout, (where, dump.stdout)
        # Two "errors" of dumpasn1 (made for X.509) are not: it calls every negative
        # INTEGER or ENUMERATED one (valid DER, X.690 8.3: two's complement), allowed
        # where openssl reads a negative value; and it shows an implicitly tagged
        # primitive ([n]: its type is in the schema, not on the wire) whose bytes are
        # mostly printable as a string, then calls its other bytes illegal characters,
        # allowed where openssl sees an implicitly tagged primitive.
        allowed, item = 0, ""
        offset = -1
        for line in dump.stdout.splitlines():
            m = DUMPASN1_ITEM.match(line)
            if m:
                offset, item = int(m[1]), m[2].strip()
                continue
            text = line.strip(" :")
            seen = items.get(offset)
            if text == DUMPASN1_NEGATIVE:
                assert seen and re.fullmatch(r"(INTEGER|ENUMERATED)\s+:-[0-9A-F]+", seen[6]), (
                    where, offset, dump.stdout, ossl.stdout)
                allowed += 1
            elif text == DUMPASN1_GUESSED_TEXT:
                assert re.fullmatch(r"\[\d+\] '.*'", item), (where, offset, dump.stdout)
                assert seen and seen[5] == "prim" and seen[6].startswith("cont ["), (
                    where, offset, dump.stdout, ossl.stdout)
                allowed += 1
            elif PROBLEM.search(line):
                pytest.fail(f"dumpasn1 complains: {line}\n{where}\n{dump.stdout}")
        negatives = sum(1 for m in items.values()
                        if re.fullmatch(r"(INTEGER|ENUMERATED)\s+:-[0-9A-F]+", m[6]))
        assert dump.stdout.count(DUMPASN1_NEGATIVE) == negatives, (where, dump.stdout)
        assert (summary[1], summary[2]) == ("0", str(allowed)), (where, dump.stderr)
        assert dump.returncode == allowed % 256, (where, dump.returncode)
