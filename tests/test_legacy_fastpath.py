"""The specialized legacy stream codec (vmgen_fast_save_S_legacy / vmgen_fast_load_S_legacy)
agrees with the visitors (vmgen_visit_save_S_legacy / _load_S_legacy) on every input.

vmgen_save_S_legacy / vmgen_load_S_legacy try the specialized code first and fall back to
the visitors, so the specialized code may only accept streams the visitors accept, must
store the same object and write the same bytes, must not touch the destination when it
declines, and must not decline an object the visitors save.  A driver built with ASan and
UBSan (gcc for the fixtures, clang for the real-device mirrors and the random headers)
runs both paths on each input:

* streams the generated Python writes from Hypothesis values, at every version the state
  reads (each must take the specialized path), and every truncation and many byte edits
  of them;
* objects loaded from such streams with bytes of their memory overwritten (a count past
  its capacity, an enumerator that does not exist, a string without its NUL, a value out
  of its range, a discriminator that selects nothing...), saved both ways;
* random headers that use every kind of member (unions, VMState layouts with padding,
  counts declared apart from their arrays, EQUAL and POSITIVE_LE fields, subsections).
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import support
from vmgen.backends import clegacy
from vmgen.checks.names import python_module
from vmgen.driver.pipeline import build_module
from vmgen.frontend.source import Options
from vmgen.lowering import ir

# The states whose legacy stream has specialized code (written down, not computed: a change
# in coverage must show up as a change here).  Every fixture state has it.
DEVICES = "qemu72/devices"
SPECIALIZED: dict[str, set[str]] = {
    "rtc": {"RTCState"}, "uart": {"SerialState"}, "pit": {"PITCommonState"},
    "display": {"DisplayState", "CursorState"}, "scalars": {"ScalarState"},
    "hpet": {"HPETState"}, "nic": {"E1000State"}, "usb": {"USBDevice"}, "vnet": {"VirtIONet"},
    "counts": {"RingState"},
    DEVICES: {"TimersState", "RTCWire", "HPETWire", "PITWire", "PCIBusWire", "PIIX3Wire",
              "FWCfgWire", "FDCtrlISAWire", "ISAKBDWire"},
}


# ---- the driver ----------------------------------------------------------------------------


def _walk(module: ir.Module, t: ir.WireType, lvalue: str, depth: int,
          leaf: Callable[[ir.Field | None, ir.WireType, str], list[str]],
          f: ir.Field | None = None) -> list[str]:
    """C statements applying `leaf` to every value reachable from `lvalue` (through arrays,
    member structs and every member of a union)."""
    out = leaf(f, t, lvalue)
    if isinstance(t, ir.ArrayType):
        i = f"i{depth}"
        inner = _walk(module, t.element, f"{lvalue}[{i}]", depth + 1, leaf)
        if inner:
            out.append(f"for (size_t {i} = 0; {i} < {t.length}; {i}++) {{ "
                       + " ".join(inner) + " }")
    elif isinstance(t, ir.StructRef):
        for g in module.struct(t.name).fields:
            if g.type is not None:
                out += _walk(module, g.type, f"{lvalue}.{g.name}", depth, leaf, g)
    elif isinstance(t, ir.UnionRef):
        for m in module.union(t.name).members:
            out += _walk(module, m.type, f"{lvalue}.{m.name}", depth, leaf)
    return out


def _fix_bools(f: ir.Field | None, t: ir.WireType, lvalue: str) -> list[str]:
    """A bool whose byte was overwritten holds 0 or 1 again (any other is no bool)."""
    if isinstance(t, ir.BoolType) and (f is None or f.bit_width is None):
        return [f"fix_bool(&{lvalue});"]
    return []


def _prepare(f: ir.Field | None, t: ir.WireType, lvalue: str) -> list[str]:
    """What a device holds before a load besides the 0xa5 fill: const (EQUAL) fields 0,
    POSITIVE_LE fields their largest value (so that they take every value >= 0)."""
    if f is None or not isinstance(t, (ir.IntType, ir.EnumRef)):
        return []
    if f.const:
        return [f"memset((void *)&{lvalue}, 0, sizeof {lvalue});"]
    if f.positive_le:
        assert isinstance(t, ir.IntType)
        return [f"{lvalue} = {support.c_int_max(t)};"]
    return []


HELPERS = r"""
static inline void fix_bool(bool *b)
{
    unsigned char c;

    memcpy(&c, b, 1);
    c &= 1;
    memcpy(b, &c, 1);
}

static void put_hex(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        printf("%02x", buf[i]);
    }
}

/* Hex digits up to the first other character. */
static size_t read_hex(const char *text, uint8_t *buf)
{
    size_t n = 0;

    while (isxdigit((unsigned char)text[2 * n]) && isxdigit((unsigned char)text[2 * n + 1])) {
        unsigned b;

        sscanf(text + 2 * n, "%2x", &b);
        buf[n++] = (uint8_t)b;
    }
    return n;
}
"""

DRIVER = r"""
static void put_result(bool ok, uint8_t *buf, size_t len)
{
    if (ok) {
        put_hex(buf, len);
        free(buf);
    } else {
        printf("-");
    }
}

static char line[1 << 22];
static uint8_t in[1 << 21];

int main(void)
{
    (void)fix_bool;
    while (fgets(line, sizeof line, stdin)) {
        char op, name[128];
        unsigned version;
        int at = 0;
        size_t n;
        char *rest;

        if (sscanf(line, "%c %127s %u %n", &op, name, &version, &at) < 3) {
            return 2;
        }
        rest = line + at;
        n = read_hex(rest, in);
        rest = strchr(rest, ' ');
@CASES@
        fflush(stdout);
    }
    return 0;
}
"""

CASE = r"""
        if (strcmp(name, "@S@") == 0) {
            static @T@ a, b, before;
            Error *err = NULL;
            uint8_t *fb = NULL, *vbuf = NULL;
            size_t fl = 0, vl = 0;
            bool da, vb, fs = false, vs = false;

            memset(&a, 0xa5, sizeof a);
            @PREPARE@
            memcpy(&b, &a, sizeof a);
            memcpy(&before, &a, sizeof a);
            if (op == 'B') {
                /* the same with BER records: the specialized DER/BER codec and the
                 * visitors */
                da = vmgen_der_load_@S@(&a, in, n);
                vb = vmgen_visit_load_@S@(&b, in, n, &err);
                error_free(err);
                err = NULL;
                if (vb) {
                    fs = vmgen_der_save_@S@(&b, &fb, &fl);
                    vs = vmgen_visit_save_@S@(&b, &vbuf, &vl, &err);
                    error_free(err);
                }
                printf("%d %d %d %d ", da, vb, memcmp(&a, &b, sizeof a) == 0,
                       memcmp(&a, &before, sizeof a) == 0);
            } else if (op == 'L') {
                /* both loads from the same destination; then both saves of what the
                 * visitors loaded */
                da = vmgen_fast_load_@S@_legacy(&a, version, in, n);
                vb = vmgen_visit_load_@S@_legacy(&b, version, in, n, &err);
                error_free(err);
                err = NULL;
                if (vb) {
                    fs = vmgen_fast_save_@S@_legacy(&b, version, &fb, &fl);
                    vs = vmgen_visit_save_@S@_legacy(&b, version, &vbuf, &vl, &err);
                    error_free(err);
                }
                printf("%d %d %d %d ", da, vb, memcmp(&a, &b, sizeof a) == 0,
                       memcmp(&a, &before, sizeof a) == 0);
            } else {
                /* a loaded object with bytes of its memory overwritten, saved both ways */
                unsigned off, byte;
                int used = 0;

                if (!vmgen_visit_load_@S@_legacy(&b, version, in, n, &err)) {
                    printf("cannot load: %s\n", error_get_pretty(err));
                    fflush(stdout);
                    return 3;
                }
                while (rest && sscanf(rest, " %u:%u%n", &off, &byte, &used) == 2) {
                    ((unsigned char *)&b)[off % sizeof b] = (unsigned char)byte;
                    rest += used;
                }
                sanitize_@S@(&b);
                if (op == 'D') {  /* saved as BER records */
                    fs = vmgen_der_save_@S@(&b, &fb, &fl);
                    vs = vmgen_visit_save_@S@(&b, &vbuf, &vl, &err);
                } else {
                    fs = vmgen_fast_save_@S@_legacy(&b, version, &fb, &fl);
                    vs = vmgen_visit_save_@S@_legacy(&b, version, &vbuf, &vl, &err);
                }
                error_free(err);
                printf("- - - - ");
            }
            put_result(fs, fb, fl);
            printf(" ");
            put_result(vs, vbuf, vl);
            printf("\n");
        }"""


def driver_source(module: ir.Module, stem: str, prelude: str = "") -> str:
    """Each stdin line `L STATE VERSION HEX` (load both ways, then save the visitors'
    object both ways) or `M STATE VERSION HEX OFF:BYTE...` (load, overwrite, save both
    ways) prints `DA VB SAME UNCHANGED FASTSAVE VISITSAVE` (`-`: refused or not run);
    `B` and `D` do the same as L and M with BER records and the DER/BER codec's two
    paths (the object of D is loaded from a legacy stream)."""
    out = [f'#include "{stem}-visit.h"', "#include <ctype.h>", "#include <stdbool.h>",
           "#include <stdio.h>", "#include <stdlib.h>", "#include <string.h>", HELPERS,
           prelude]
    cases = []
    for s in module.states:
        body = _walk(module, ir.StructRef(s.name), "(*obj)", 0, _fix_bools)
        out.append(f"static void sanitize_{s.name}({s.c_type} *obj)\n{{\n    (void)obj;\n    "
                   + "\n    ".join(body) + "\n}\n")
        prepare = " ".join([*_walk(module, ir.StructRef(s.name), "a", 0, _prepare),
                            *(f"a.{f.name} = {n};" for f, n in _late_counts(s))])
        cases.append(CASE.replace("@S@", s.name).replace("@T@", s.c_type)
                     .replace("@PREPARE@", prepare))
    out.append(DRIVER.replace("@CASES@", "".join(cases)))
    return "\n".join(out)


@dataclass
class Outcome:
    fast_loaded: bool
    visit_loaded: bool
    same_object: bool
    unchanged: bool
    fast_saved: bytes | None
    visit_saved: bytes | None


@dataclass
class Paths:
    stem: str
    module: ir.Module
    py: ModuleType
    exe: Path
    specialized: set[str]
    ber_specialized: set[str] = dataclasses.field(default_factory=set)

    def run(self, lines: list[str]) -> list[Outcome]:
        proc = subprocess.run([str(self.exe)], input="".join(x + "\n" for x in lines),
                              capture_output=True, text=True, check=False, timeout=600)
        assert proc.returncode == 0 and not proc.stderr, proc.stdout[-2000:] + proc.stderr
        outcomes = []
        for text in proc.stdout.splitlines():
            da, vb, same, unchanged, fast, visit = text.split()
            outcomes.append(Outcome(da == "1", vb == "1", same == "1", unchanged == "1",
                                    None if fast == "-" else bytes.fromhex(fast),
                                    None if visit == "-" else bytes.fromhex(visit)))
        assert len(outcomes) == len(lines)
        return outcomes

    def check(self, lines: list[str], outcomes: list[Outcome]) -> None:
        for text, o in zip(lines, outcomes, strict=True):
            where = text[:400]
            state = text.split()[1]
            if o.fast_loaded:
                assert o.visit_loaded, ("the specialized loader took what the visitors "
                                        f"refused: {where}")
                assert o.same_object, f"the two loaders stored different objects: {where}"
            elif text[0] in "LB":
                assert o.unchanged, f"a declining specialized loader changed the object: {where}"
            specialized = self.ber_specialized if text[0] in "BD" else self.specialized
            if state in specialized:
                # same bytes, or both refuse: the specialized writer declines only what the
                # visitors refuse
                assert o.fast_saved == o.visit_saved, where
            else:
                assert o.fast_saved is None, where


def build_paths(header: Path, out: Path, cc: str, specialized: set[str],
                include: tuple[Path, ...] = (support.FIXTURES,),
                runtime: list[Path] | None = None, annotations: Path | None = None,
                prelude: str = "") -> Paths:
    """`runtime`: the runtime's objects, compiled once for many headers (default: its
    sources, compiled with the driver); `annotations`: the header's annotations file;
    `prelude`: C the driver defines (the functions a header declares)."""
    out.mkdir(parents=True, exist_ok=True)
    more = ["--annotations", str(annotations)] if annotations else []
    for args in (["runtime", "-o", str(out)],
                 ["generate", *(a for d in include for a in ("-I", str(d))), *more,
                  "-o", str(out), str(header)]):
        proc = support.run_vmgen(*args)
        assert proc.returncode == 0, proc.stderr
    stem = header.stem
    module = build_module(str(header), Options(include_dirs=tuple(str(d) for d in include),
                                               annotations=str(annotations or "")))
    src = out / "paths.c"
    src.write_text(driver_source(module, stem, prelude))
    exe = support.compile_c([src, out / f"{stem}-visit.c",
                             *(runtime or support.runtime_sources(out))],
                            out / "paths", cc=cc, include=[out, *include],
                            extra=support.SANITIZE)
    py = support.import_module(out / f"{python_module(stem)}_asn1.py")
    return Paths(stem, module, py, exe, specialized,
                 {s.name for s in module.states if support.has_specialized_codec(module, s.name)})


_paths: dict[str, Paths] = {}


def _paths_of(stem: str, tmp: pytest.TempPathFactory) -> Paths:
    if stem not in _paths:
        cc = "clang" if stem == DEVICES and "clang" in support.compilers() else "gcc"
        _paths[stem] = build_paths(support.FIXTURES / f"{stem}.h",
                                   tmp.mktemp(stem.replace("/", "_")), cc, SPECIALIZED[stem])
    return _paths[stem]


# ---- values and streams ------------------------------------------------------------------


def _versions(module: ir.Module, state: str) -> list[int]:
    info = module.struct(state).state
    assert info is not None
    return list(range(info.minimum_version, info.version + 1))


def _late_counts(s: ir.Struct) -> list[tuple[ir.Field, int]]:
    """The counts of a VMState layout that came later than their arrays, and their
    fewest elements: older streams use the count in place (the driver's destination
    holds that many)."""
    out = []
    for f in s.layout or ():
        if f.count_of is not None and f.since is not None:
            array = s.field(f.count_of).type
            assert isinstance(array, (ir.ArrayType, ir.BytesType)) and array.count is not None
            out.append((f, array.count.min))
    return out


def _fit(module: ir.Module, t: ir.WireType, value: Any) -> Any:
    """`value` with its POSITIVE_LE fields made >= 0 (the destination holds the largest
    value: 0 up to it load) and its const enums at 0, as the destination."""
    if isinstance(t, ir.ArrayType) and isinstance(value, list):
        return [_fit(module, t.element, v) for v in value]
    if not isinstance(t, ir.StructRef) or not isinstance(value, dict):
        return value
    out = dict(value)
    for f in module.struct(t.name).migrated:
        if f.name in out and f.type is not None:
            v = _fit(module, f.type, out[f.name])
            if f.positive_le:
                v = v if v >= 0 else -(v + 1)
            elif f.const and isinstance(f.type, ir.EnumRef):
                v = next((e.name for e in module.enum(f.type.name).enumerators
                          if e.value == 0), v)
            out[f.name] = v
    for f in module.struct(t.name).migrated:
        if f.name in out and not f.name.isidentifier():
            # a member's path: the same C object as the member it names, one value
            target: Any = out
            for part in re.findall(r"\w+|\[\d+\]", f.name):
                if isinstance(target, dict) and part not in target:
                    break  # a member the nested value does not carry (skipped there)
                target = target[int(part[1:-1])] if part.startswith("[") else target[part]
            else:
                out[f.name] = target
    return out


def _stream(p: Paths, state: str, value: dict[str, Any], version: int,
            needed: Callable[[dict[str, Any]], dict[str, bool]] | None = None) -> bytes:
    """`needed`: for the subsections a C function decides, what it decides for a value."""
    s = p.module.struct(state)
    value = _fit(p.module, ir.StructRef(state), value)
    for f, n in _late_counts(s):
        if f.since is not None and f.since > version:  # the destination's count: n
            assert f.count_of is not None
            value = {**value, f.name: n, f.count_of: value[f.count_of][:n]}
    present = {k: v for k, v in value.items()
               if k not in s._by_name or (s.field(k).since or 0) <= version}
    if needed is not None:
        blob: bytes = p.py.save_legacy(state, present, version, needed=needed(value))
    else:
        blob = p.py.save_legacy(state, present, version)
    return blob


def _draw_streams(p: Paths, data: st.DataObject,
                  needed: Callable[[dict[str, Any]], dict[str, bool]] | None = None
                  ) -> list[tuple[str, int, bytes]]:
    out = []
    for s in p.module.states:
        for version in _versions(p.module, s.name):
            value = data.draw(support.struct_strategy(p.module, s.name, const_zero=True))
            out.append((s.name, version, _stream(p, s.name, value, version, needed)))
    return out


def _line(op: str, state: str, version: int, blob: bytes, extra: str = "") -> str:
    return f"{op} {state} {version} {blob.hex()}{extra}"


# Byte positions edited per stream: all of them up to this size; beyond it the first and
# last 48 and a random sample, fewer for long streams (a 20 KB E1000 stream would otherwise
# give 160,000 lines of 40 KB each).
_POSITIONS = 384


def _damaged(good: bytes, rng: random.Random) -> list[bytes]:
    positions = list(range(len(good)))
    wanted = min(_POSITIONS, max(112, 500_000 // max(1, len(good))))
    if len(good) > wanted:
        middle = rng.sample(positions[48:-48], wanted - 96)
        positions = sorted({*positions[:48], *positions[-48:], *middle})
    out = [good[:n] for n in positions]
    for i in positions:
        old = good[i]
        for new in sorted({old ^ 0x80, old ^ 0x01, 0x00, 0xFF, 0x05, (old + 1) & 0xFF,
                           rng.randrange(256)} - {old}):
            out.append(good[:i] + bytes([new]) + good[i + 1:])
    return [*out, good + b"\x00", good + b"\x05"]


_SETTINGS = settings(max_examples=12, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.large_base_example])
STEMS = [*support.FIXTURE_HEADERS, DEVICES]


def test_specialized_states_are_the_expected_ones() -> None:
    for stem, expected in SPECIALIZED.items():
        module = build_module(str(support.FIXTURES / f"{stem}.h"),
                              Options(include_dirs=(str(support.FIXTURES),)))
        got = {s.name for s in clegacy.plan(module).states}
        assert got == expected, stem
        assert {s.name for s in module.states} == expected, stem


@pytest.mark.parametrize("stem", STEMS)
def test_paths_agree_on_valid_streams(tmp_path_factory: pytest.TempPathFactory,
                                      stem: str) -> None:
    p = _paths_of(stem, tmp_path_factory)

    @_SETTINGS
    @given(st.data())
    def run(data: st.DataObject) -> None:
        streams = _draw_streams(p, data)
        lines = [_line("L", state, version, blob) for state, version, blob in streams]
        outcomes = p.run(lines)
        p.check(lines, outcomes)
        for (state, version, blob), o in zip(streams, outcomes, strict=True):
            # a valid stream of any version the state reads is the specialized code's case
            assert o.visit_loaded, (state, version, blob.hex())
            assert o.fast_loaded == (state in p.specialized), (state, version)
            assert o.visit_saved == blob, (state, version)

    run()


@pytest.mark.parametrize("stem", STEMS)
def test_paths_agree_on_damaged_streams(tmp_path_factory: pytest.TempPathFactory,
                                        stem: str) -> None:
    p = _paths_of(stem, tmp_path_factory)

    @settings(_SETTINGS, max_examples=2)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        rng = random.Random(data.draw(st.integers(0, 2**32)))
        lines = [_line("L", state, version, bad) for state, version, blob
                 in _draw_streams(p, data) for bad in _damaged(blob, rng)]
        outcomes = p.run(lines)
        p.check(lines, outcomes)
        assert any(o.fast_loaded for o in outcomes)
        assert not all(o.fast_loaded for o in outcomes)

    run()


def _edits(rng: random.Random) -> str:
    """1 to 3 bytes of an object's memory (offsets taken modulo its size) overwritten,
    often with 0, 1, 2, 0x7f, 0x80 or 0xff."""
    out = []
    for _ in range(rng.randint(1, 3)):
        byte = rng.choice([0, 1, 2, 0x7F, 0x80, 0xFF, rng.randrange(256)])
        out.append(f" {rng.randrange(1 << 20)}:{byte}")
    return "".join(out)


@pytest.mark.parametrize("stem", STEMS)
def test_paths_agree_on_edited_objects(tmp_path_factory: pytest.TempPathFactory,
                                       stem: str) -> None:
    p = _paths_of(stem, tmp_path_factory)

    @_SETTINGS
    @given(st.data())
    def run(data: st.DataObject) -> None:
        rng = random.Random(data.draw(st.integers(0, 2**32)))
        lines = [_line("M", state, version, blob, _edits(rng))
                 for state, version, blob in _draw_streams(p, data) for _ in range(60)]
        outcomes = p.run(lines)
        p.check(lines, outcomes)
        # the edits exercise both outcomes of the writers
        assert any(o.visit_saved is not None for o in outcomes)

    run()


def test_writers_refuse_together(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Among edited objects are ones both writers refuse (a count past its capacity, an
    unknown enumerator, a string without its NUL), not only ones both save."""
    p = _paths_of("usb", tmp_path_factory)
    rng = random.Random(5)

    @settings(_SETTINGS, max_examples=1)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        lines = [_line("M", state, version, blob, f" {rng.randrange(1 << 16)}:{rng.randrange(256)}")
                 for state, version, blob in _draw_streams(p, data) for _ in range(300)]
        outcomes = p.run(lines)
        p.check(lines, outcomes)
        assert any(o.visit_saved is None for o in outcomes)
        assert any(o.visit_saved is not None for o in outcomes)

    run()


# ---- IR shapes the planner does not know -------------------------------------------------


def _devices() -> ir.Module:
    return build_module(str(support.FIXTURES / f"{DEVICES}.h"),
                        Options(include_dirs=(str(support.FIXTURES),)))


def _with_layout(module: ir.Module, name: str,
                 edit: Callable[[ir.Struct], tuple[ir.Field, ...]]) -> ir.Module:
    """`module` with struct `name`'s layout replaced by what `edit` makes of the struct."""
    structs = tuple(replace(s, layout=edit(s)) if s.name == name else s
                    for s in module.structs)
    return replace(module, structs=structs)


@dataclass(frozen=True)
class _LaterField(ir.Field):
    """A field as a later IR might have it: with an attribute this planner never saw."""

    path: str = ""


@dataclass(frozen=True)
class _LaterStruct(ir.Struct):
    groups: tuple[str, ...] = ()


def _attrs(node: object) -> dict[str, Any]:
    return {f.name: getattr(node, f.name) for f in dataclasses.fields(node)}  # type: ignore[arg-type]


def _declined(module: ir.Module) -> dict[str, str]:
    return {st.name: st.reason for st in clegacy.plan(module).visited}


def test_unknown_layout_entries_leave_the_state_to_the_visitors() -> None:
    """Layout entries of shapes this planner does not know (a path naming no member, a
    typeless subsection entry that is no group, a group within a group, an attribute it
    does not know, an entry that differs from its member) make the specialized codec
    decline the state, and every state that contains it; the rest keep theirs.  Padding
    with no member behind it is a shape it knows."""
    module = _devices()
    assert _declined(module) == {}
    loc = module.struct("PITWire").location
    u32 = module.struct("PITWire").field("channels0_irq_disabled").type
    group = ir.Subsection(1, 1, "has_dma", vmsd="fw_cfg/x",
                          fields=(module.struct("FWCfgWire").field("cur_entry"),))
    inner = ir.Field("fw_cfg/x", "", None, loc, subsection=group)
    nested = ir.Field("fw_cfg/y", "", None, loc,
                      subsection=replace(group, vmsd="fw_cfg/y", fields=(inner,)))
    cases: dict[str, tuple[str, Callable[[ir.Struct], tuple[ir.Field, ...]], str]] = {
        "a path to no member": ("PITWire", lambda s: tuple(
            replace(f, name="channels[0].irq_disabled") if f.name == "channels0_irq_disabled"
            else f for f in s.layout or ()), "names no member"),
        "a typeless subsection entry": ("FWCfgWire", lambda s: (
            *(s.layout or ()), ir.Field("cur_entry", "", None, loc,
                                        subsection=ir.Subsection(1, 1, "has_dma"))),
            "has no wire type"),
        "a group in a group": ("FWCfgWire", lambda s: (*(s.layout or ()), nested),
                               "subsection group of an unknown shape"),
        "an unknown attribute": ("PCIDeviceWire", lambda s: tuple(
            _LaterField(**{**_attrs(f), "path": "dev.version_id"}) if f.name == "version_id"
            else f for f in s.layout or ()), "has path set"),
        "an entry of another type": ("PCIBusWire", lambda s: tuple(
            replace(f, type=u32) if f.name == "nirq" else f for f in s.layout or ()),
            "differs from the member"),
    }
    for what, (name, edit, why) in cases.items():
        declined = _declined(_with_layout(module, name, edit))
        expected = {name} if module.struct(name).state else set()
        if name == "PCIDeviceWire":
            expected = {"PIIX3Wire"}  # the state that contains it
        assert set(declined) == expected, what
        for state in expected:
            assert why in declined[state], (what, declined[state])
    # shapes it knows: padding with no member, a group of the struct's own members
    known = _with_layout(module, "TimersState", lambda s: (
        *(s.layout or ()), ir.Field("pad_tail", "uint8_t [4]", None, loc, unused=4)))
    assert _declined(known) == {}
    known = _with_layout(module, "FWCfgWire", lambda s: (
        *(s.layout or ()), ir.Field("fw_cfg/x", "", None, loc, subsection=group)))
    assert _declined(known) == {}
    # an attribute at its default is no new shape (entries and members alike)
    same = replace(module, structs=tuple(
        replace(s, fields=tuple(_LaterField(**_attrs(f)) for f in s.fields),
                layout=tuple(_LaterField(**_attrs(f)) for f in s.layout or ()))
        if s.name == "PCIDeviceWire" else s for s in module.structs))
    assert _declined(same) == {}
    later = replace(module, structs=tuple(
        _LaterStruct(**{**_attrs(s), "groups": ("x",)}) if s.name == "TimersState" else s
        for s in module.structs))
    assert set(_declined(later)) == {"TimersState"}


def test_declined_states_still_generate_and_say_why() -> None:
    from vmgen.backends import c

    module = _with_layout(_devices(), "PCIBusWire", lambda s: tuple(
        replace(f, name="irq_count[9]") if f.name == "irq_count" else f
        for f in s.layout or ()))
    text = c.generate(module)["devices-visit.c"]
    assert ("/* PCIBusWire's legacy stream has no specialized codec (PCIBusWire's layout "
            "entry 'irq_count[9]' names no member): the visitors read and write it. */") in text


# ---- random headers ------------------------------------------------------------------------

# Members of structs with and without a VMState layout (`{n}`: the member's name; `{p}`: a
# struct declared before this one).  Several lines make one member with its helpers.
PLAIN_MEMBERS = (
    "uint8_t {n};", "uint16_t {n};", "int32_t {n};", "uint64_t {n};", "int64_t {n};",
    "bool {n};", "float {n};", "double {n};", "char {n};", "unsigned long {n};",
    "uint8_t {n}[4];", "uint16_t {n}[3];", "int8_t {n}[2][3];", "bool {n}[2];",
    "Mode {n};", "Mode {n}[2];", "const uint32_t {n};", "const Mode {n};",
    "uint32_t {n} : 3;", "int {n} : 5;", "bool {n} : 1;", "Mode {n} : 4;",
    "uint8_t {n} VMGEN_RANGE(1, 200);", "int16_t {n} VMGEN_RANGE(-5, 5);",
    "uint64_t {n} VMGEN_RANGE(0, 18446744073709551615ULL);", "char {n}[8] VMGEN_STRING;",
    "uint32_t {n} VMGEN_SINCE(2);", "uint8_t {n}[4] VMGEN_SINCE(3);",
    "struct {{ uint16_t a; uint8_t b[2]; }} {n};",
    "struct {{ uint8_t c; Mode m; bool d[2]; }} {n}[2];",
    "struct {{ uint8_t k VMGEN_RANGE(0, 3); uint16_t v[3] VMGEN_SIZE_IS(k); }} {n};",
    "uint8_t {n}_len VMGEN_RANGE(0, 200);\n    uint8_t {n}[200] VMGEN_SIZE_IS({n}_len);",
    "uint32_t {n}_n VMGEN_RANGE(1, 4);\n    uint16_t {n}[4] VMGEN_SIZE_IS({n}_n);",
    "int {n}_n VMGEN_RANGE(0, 2);\n    Inner {n}[2] VMGEN_SIZE_IS({n}_n);",
    "Inner {n};", "Inner {n}[2];", "{p} {n};", "{p} {n}[2] VMGEN_SINCE(2);",
    "void *{n} VMGEN_SKIP;",
)
# A union after its discriminator (a layout needs that order; plain structs take either).
UNION = ("Mode {n}_k;\n    Pick {n} VMGEN_UNION({n}_k);",
         "uint8_t {n}_k VMGEN_RANGE(0, 9);\n    Pick8 {n} VMGEN_UNION({n}_k);")
LAYOUT_MEMBERS = (
    *PLAIN_MEMBERS, *UNION,
    "uint8_t {n}[3] VMGEN_UNUSED;", "int32_t {n} VMGEN_POSITIVE_LE;", "uint16_t {n} VMGEN_EQUAL;",
    "uint8_t {n}_n VMGEN_RANGE(1, 4);\n    uint8_t {n}_pad[2] VMGEN_UNUSED;\n"
    "    uint16_t {n}[4] VMGEN_SIZE_IS({n}_n);",
    "uint8_t {n}_n VMGEN_SINCE(2) VMGEN_RANGE(0, 3);\n    Lay {n}[3] VMGEN_SIZE_IS({n}_n);",
    "bool {n}_has;\n    Sub {n} VMGEN_SUBSECTION(1, 1, {n}_has);",
    "Lay {n};", "Lay {n}[2];",
    "uint8_t {n}_n VMGEN_RANGE(0, 2);\n    Lay {n}[2] VMGEN_SIZE_IS({n}_n);",
)

PRELUDE = """\
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"
typedef enum Mode { M_OFF, M_ON = 3, M_AUTO, M_FAR = 12 } Mode;  /* fits Mode : 4 */
typedef struct Inner { uint16_t x; Mode y; } Inner;
typedef union Pick { uint8_t a VMGEN_CASE(M_OFF); Inner b VMGEN_CASE(M_ON, M_AUTO);
                     uint32_t c[2] VMGEN_CASE(M_FAR); } Pick;
typedef union Pick8 { bool t VMGEN_CASE(0, 1); char s[4] VMGEN_STRING VMGEN_CASE(7);
                      int16_t r VMGEN_RANGE(-3, 3) VMGEN_CASE(9); } Pick8;
typedef struct VMGEN_VMSD("lay") Lay { uint16_t a; uint8_t pad[1] VMGEN_UNUSED; Mode m; } Lay;
typedef struct VMGEN_VMSD("sub") Sub { uint32_t x; bool y; } Sub;
"""


def _sample(rng: random.Random, items: list[bytes], n: int) -> list[bytes]:
    return rng.sample(items, min(n, len(items)))


def _random_header(structs: list[tuple[bool, list[int]]]) -> str:
    """Structs S0, S1, ... (each a device state, with a VMState layout when its flag says
    so) with the members picked (a subsection at most once per struct).  A struct without
    a layout holds none with one: there, C's visitors write the member in its wire order
    and the Python runtime in its layout, and they disagree."""
    out = [PRELUDE]
    for i, (layout, picks) in enumerate(structs):
        members = LAYOUT_MEMBERS if layout else (*PLAIN_MEMBERS, *UNION)
        vmsd = f' VMGEN_VMSD("s{i}")' if layout else ""
        out.append(f"typedef struct VMGEN_STATE({3 + i % 2}, 1){vmsd} S{i} {{")
        seen_sub = False
        for j, k in enumerate(picks):
            member = members[k % len(members)]
            if "VMGEN_SUBSECTION" in member:
                if seen_sub:
                    continue
                seen_sub = True
            previous = f"S{i - 1}" if i and (layout or not structs[i - 1][0]) else "Inner"
            out.append("    " + member.format(n=f"m{j}", p=previous))
        out.append("    uint8_t tail;")
        out.append(f"}} S{i};")
    return "\n".join(out) + "\n"


@settings(max_examples=int(os.environ.get("VMGEN_RANDOM_HEADERS", "8")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(st.lists(st.tuples(st.booleans(), st.lists(st.integers(0, 1000), max_size=10)),
                min_size=1, max_size=3), st.data())
def test_random_headers(structs: list[tuple[bool, list[int]]], data: st.DataObject) -> None:
    """Every member kind, in structs with and without a VMState layout: every state gets
    the specialized legacy codec, and both paths of each codec (legacy stream, DER/BER
    records) agree on valid, damaged and edited inputs (clang, ASan and UBSan).
    VMGEN_RANDOM_HEADERS=N runs N headers (default 8)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        header = out / "random.h"
        header.write_text(_random_header(structs))
        cc = "clang" if "clang" in support.compilers() else "gcc"
        states = {f"S{i}" for i in range(len(structs))}
        p = build_paths(header, out, cc, states, include=(out,))
        assert {st.name for st in clegacy.plan(p.module).states} == states
        rng = random.Random(data.draw(st.integers(0, 2**32)))
        streams = _draw_streams(p, data)
        lines = [_line("L", state, version, blob) for state, version, blob in streams]
        lines += [_line("L", state, version, bad) for state, version, blob in streams
                  for bad in _sample(rng, _damaged(blob, rng), 200)]
        lines += [_line("M", state, version, blob, _edits(rng))
                  for state, version, blob in streams for _ in range(40)]
        # BER: records of the newest version (the DER/BER codec's case) and edited objects
        records = [(s.name, p.py.save(s.name, _fit(p.module, ir.StructRef(s.name), data.draw(
            support.struct_strategy(p.module, s.name, const_zero=True))))) for s in p.module.states]
        first_record = len(lines)
        lines += [_line("B", state, 0, record) for state, record in records]
        lines += [_line("B", state, 0, bad) for state, record in records
                  for bad in _sample(rng, _damaged(record, rng), 200)]
        lines += [_line("D", state, version, blob, _edits(rng))
                  for state, version, blob in streams for _ in range(20)]
        outcomes = p.run(lines)
        p.check(lines, outcomes)
        for (state, version, blob), o in zip(streams, outcomes[:len(streams)], strict=True):
            assert o.fast_loaded and o.visit_saved == blob, (state, version, blob.hex())
        at = first_record
        for (state, record), o in zip(records, outcomes[at:at + len(records)], strict=True):
            assert o.visit_saved == record, state
            assert o.fast_loaded == (state in p.ber_specialized), state


def test_arrays_in_anonymous_structs_in_arrays(tmp_path: Path) -> None:
    """Each loop has its own index: the visitors once visited `m[i0].d[i0]`, leaving half
    of the inner array alone (two of four bools here)."""
    header = tmp_path / "nested.h"
    header.write_text(PRELUDE + "typedef struct VMGEN_STATE(1, 1) N {\n"
                      "    struct { uint8_t c; bool d[2]; uint16_t e[2][2]; } m[2];\n} N;\n")
    p = build_paths(header, tmp_path, "gcc", {"N"}, include=(tmp_path,))
    value = {"m": [{"c": 1, "d": [True, False], "e": [[1, 2], [3, 4]]},
                   {"c": 2, "d": [False, True], "e": [[5, 6], [7, 8]]}]}
    blob = p.py.save_legacy("N", value, 1)
    assert blob.hex() == ("01" "0100" "0001000200030004" "02" "0001" "0005000600070008")
    (o,) = p.run([_line("L", "N", 1, blob)])
    assert o.visit_loaded and o.fast_loaded and o.same_object
    assert o.visit_saved == o.fast_saved == blob


# ---- real device sections -----------------------------------------------------------------

REAL_STREAMS = ("pc", "pc-devices", "q35", "q35-devices")


def test_real_sections(qemu_stream: Callable[[str], Path],
                       tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every device section of real QEMU 7.2 streams (47 VMStates), through the headers
    `vmgen import` writes for them: each is read and written back by the specialized
    codec, byte for byte as the visitors do; and both paths agree on its truncations and
    edits and on edited objects."""
    import hashlib
    from concurrent.futures import ThreadPoolExecutor

    from vmgen.runtime import qevm

    root = tmp_path_factory.mktemp("real")
    sections: list[tuple[Path, str, qevm.Section, bytes]] = []  # header, state, section, body
    headers: dict[str, Path] = {}  # by text: one build per distinct header
    for name in REAL_STREAMS:
        path = qemu_stream(name)
        out = root / name
        proc = support.run_vmgen("import", "--from", str(path), "-o", str(out))
        assert proc.returncode == 0, proc.stderr
        by_vmsd = {}
        for line in proc.stdout.splitlines():
            m = re.fullmatch(r"(.+\.h): (\w+) serves VMState '(.+)' \(version \d+\)", line)
            assert m is not None, line
            header = Path(m.group(1))
            # the same header in two streams differs in the stream it names only
            text = re.sub(r"from \S+\.mig", "", header.read_text())
            header = headers.setdefault(text, header)
            by_vmsd[m.group(3)] = (header, m.group(2))
        stream = qevm.parse(path.read_bytes())
        for r in stream.records:
            if (isinstance(r, qevm.Section) and r.kind == qevm.Kind.FULL
                    and r.device is not None and r.device.layout.vmsd_name is not None):
                header, state = by_vmsd[r.device.layout.vmsd_name]
                sections.append((header, state, r, bytes(stream.body(r))))

    rt = root / "runtime"
    rt.mkdir()
    assert support.run_vmgen("runtime", "-o", str(rt)).returncode == 0
    objects = []
    for src in support.runtime_sources(rt):
        obj = src.with_suffix(".o")
        subprocess.run(["gcc", *support.CFLAGS, "-O1", *support.SANITIZE, "-c", str(src),
                        "-o", str(obj)], check=True)
        objects.append(obj)

    def build(header: Path) -> Paths:
        digest = hashlib.sha256(header.read_bytes()).hexdigest()[:12]
        module = build_module(str(header), Options(include_dirs=(str(header.parent),)))
        return build_paths(header, root / f"{header.stem}-{digest}", "gcc",
                           {s.name for s in module.states}, include=(header.parent,),
                           runtime=objects)

    with ThreadPoolExecutor(2) as pool:
        built = dict(zip(headers.values(), pool.map(build, headers.values()), strict=True))
    assert len({s for _, s, _, _ in sections}) >= 40
    rng = random.Random(17)
    for header, state, section, body in sections:
        p = built[header]
        v = section.version_id
        lines = [_line("L", state, v, body),
                 *(_line("L", state, v, bad) for bad in _sample(rng, _damaged(body, rng), 150)),
                 *(_line("M", state, v, body, _edits(rng)) for _ in range(30))]
        outcomes = p.run(lines)
        p.check(lines, outcomes)
        first = outcomes[0]
        assert first.fast_loaded and first.fast_saved == first.visit_saved == body, section.name


# ---- own-struct layouts (an annotations file's `layout` and `[[S.subsections]]`) -----------

OWN_H = """\
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"
typedef struct Chan { uint32_t count; uint8_t mode; uint32_t disabled; int64_t next; } Chan;
typedef struct Own {
    uint16_t a;
    Chan ch[3];
    uint8_t n;
    uint16_t list[4];
    bool has_tail;
    uint64_t tail;
    int32_t later;
    Mode8 m;
    void *host;
} Own;
bool own_later_needed(void *opaque);
"""
OWN_TOML = """\
[Chan]
vmsd = "chan"
layout = ["count", "mode", "next"]

[Chan.fields]
disabled = "skip"

[Own]
state = [3, 1]
vmsd = "own"
layout = ["ch[0].disabled", "a", { unused = 3 }, "ch", { unused = 2, since = 2 }, "ch[2].next",
          "n", "list", "has_tail"]

[Own.fields]
"ch[0].disabled" = { since = 3 }
n = { range = [0, 4] }
list = { size_is = "n" }
host = "skip"

[[Own.subsections]]
vmsd = "own/tail"
version = 2
minimum = 1
needed = "has_tail"
layout = ["tail", "m"]

[[Own.subsections]]
vmsd = "own/later"
version = 1
minimum = 1
needed = "own_later_needed"
layout = ["later"]
"""


def test_own_struct_layouts(tmp_path: Path) -> None:
    """A device's own struct in an annotations file's layout: members of array elements
    placed outside their array (by their path), padding with no member behind it,
    subsections over the struct's own members (decided by a bool member or by a C
    function): the specialized codec takes them, and both paths agree."""
    header = tmp_path / "own.h"
    header.write_text(OWN_H.replace("Mode8 m;", "uint8_t m VMGEN_RANGE(0, 9);"))
    toml = tmp_path / "own.toml"
    toml.write_text(OWN_TOML)
    p = build_paths(header, tmp_path, "clang" if "clang" in support.compilers() else "gcc",
                    {"Own"}, include=(tmp_path,), annotations=toml,
                    prelude="bool own_later_needed(void *opaque)\n"
                            "{\n    return ((const Own *)opaque)->has_tail;\n}\n")
    layout = p.module.struct("Own").layout
    assert layout is not None
    assert {"ch[0].disabled", "ch[2].next"} <= {f.name for f in layout}
    assert any(f.subsection is not None and f.subsection.fields for f in layout)
    assert {st.name for st in clegacy.plan(p.module).states} == {"Own"}

    def needed(value: dict[str, Any]) -> dict[str, bool]:
        # what the C function decides (from a member the stream carries, so that a load
        # that leaves `later` alone saves what it read)
        return {"own/later": bool(value["has_tail"])}

    @settings(_SETTINGS, max_examples=6)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        rng = random.Random(data.draw(st.integers(0, 2**32)))
        streams = _draw_streams(p, data, needed)
        lines = [_line("L", state, version, blob) for state, version, blob in streams]
        lines += [_line("L", state, version, bad) for state, version, blob in streams
                  for bad in _damaged(blob, rng)]
        lines += [_line(op, state, version, blob, _edits(rng)) for state, version, blob
                  in streams for op in "MD" for _ in range(40)]
        outcomes = p.run(lines)
        p.check(lines, outcomes)
        for (state, version, blob), o in zip(streams, outcomes[:len(streams)], strict=True):
            assert o.fast_loaded and o.visit_saved == blob, (state, version, blob.hex())

    run()
