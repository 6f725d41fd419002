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
import random
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
    if f is None or not isinstance(t, ir.IntType):
        return []
    if f.const:
        return [f"memset((void *)&{lvalue}, 0, sizeof {lvalue});"]
    if f.positive_le:
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
            if (op == 'L') {
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
                fs = vmgen_fast_save_@S@_legacy(&b, version, &fb, &fl);
                vs = vmgen_visit_save_@S@_legacy(&b, version, &vbuf, &vl, &err);
                error_free(err);
                printf("- - - - ");
            }
            put_result(fs, fb, fl);
            printf(" ");
            put_result(vs, vbuf, vl);
            printf("\n");
        }"""


def driver_source(module: ir.Module, stem: str) -> str:
    """Each stdin line `L STATE VERSION HEX` (load both ways, then save the visitors'
    object both ways) or `M STATE VERSION HEX OFF:BYTE...` (load, overwrite, save both
    ways) prints `DA VB SAME UNCHANGED FASTSAVE VISITSAVE` (`-`: refused or not run)."""
    out = [f'#include "{stem}-visit.h"', "#include <ctype.h>", "#include <stdbool.h>",
           "#include <stdio.h>", "#include <stdlib.h>", "#include <string.h>", HELPERS]
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
            elif text.startswith("L "):
                assert o.unchanged, f"a declining specialized loader changed the object: {where}"
            if state in self.specialized:
                # same bytes, or both refuse: the specialized writer declines only what the
                # visitors refuse
                assert o.fast_saved == o.visit_saved, where
            else:
                assert o.fast_saved is None, where


def build_paths(header: Path, out: Path, cc: str, specialized: set[str],
                include: tuple[Path, ...] = (support.FIXTURES,)) -> Paths:
    out.mkdir(parents=True, exist_ok=True)
    for args in (["runtime", "-o", str(out)],
                 ["generate", *(a for d in include for a in ("-I", str(d))), "-o", str(out),
                  str(header)]):
        proc = support.run_vmgen(*args)
        assert proc.returncode == 0, proc.stderr
    stem = header.stem
    module = build_module(str(header), Options(include_dirs=tuple(str(d) for d in include)))
    src = out / "paths.c"
    src.write_text(driver_source(module, stem))
    exe = support.compile_c([src, out / f"{stem}-visit.c", *support.runtime_sources(out)],
                            out / "paths", cc=cc, include=[out, *include],
                            extra=support.SANITIZE)
    py = support.import_module(out / f"{python_module(stem)}_asn1.py")
    return Paths(stem, module, py, exe, specialized)


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
    value: 0 up to it load)."""
    if isinstance(t, ir.ArrayType) and isinstance(value, list):
        return [_fit(module, t.element, v) for v in value]
    if not isinstance(t, ir.StructRef) or not isinstance(value, dict):
        return value
    out = dict(value)
    for f in module.struct(t.name).migrated:
        if f.name in out and f.type is not None:
            v = _fit(module, f.type, out[f.name])
            out[f.name] = (v if v >= 0 else -(v + 1)) if f.positive_le else v
    return out


def _stream(p: Paths, state: str, value: dict[str, Any], version: int) -> bytes:
    s = p.module.struct(state)
    value = _fit(p.module, ir.StructRef(state), value)
    for f, n in _late_counts(s):
        if f.since is not None and f.since > version:  # the destination's count: n
            assert f.count_of is not None
            value = {**value, f.name: n, f.count_of: value[f.count_of][:n]}
    present = {k: v for k, v in value.items()
               if k not in s._by_name or (s.field(k).since or 0) <= version}
    blob: bytes = p.py.save_legacy(state, present, version)
    return blob


def _draw_streams(p: Paths, data: st.DataObject) -> list[tuple[str, int, bytes]]:
    out = []
    for s in p.module.states:
        for version in _versions(p.module, s.name):
            value = data.draw(support.struct_strategy(p.module, s.name, const_zero=True))
            out.append((s.name, version, _stream(p, s.name, value, version)))
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
    """Layout entries of shapes the IR may grow (a field named by a C path, padding with
    no member behind it, a subsection over the parent's own members, an attribute this
    planner does not know) make the specialized codec decline the state, and every state
    that contains it; the rest keep theirs."""
    module = _devices()
    assert _declined(module) == {}
    loc = module.struct("PITWire").location
    u32 = module.struct("PITWire").field("channels0_irq_disabled").type
    cases: dict[str, tuple[str, Callable[[ir.Struct], tuple[ir.Field, ...]]]] = {
        "a C path": ("PITWire", lambda s: tuple(
            replace(f, name="channels[0].irq_disabled") if f.name == "channels0_irq_disabled"
            else f for f in s.layout or ())),
        "padding without a member": ("TimersState", lambda s: (
            *(s.layout or ()), ir.Field("pad_tail", "uint8_t [4]", None, loc, unused=4))),
        "a subsection group": ("FWCfgWire", lambda s: (
            *(s.layout or ()), ir.Field("cur_entry", "", None, loc,
                                        subsection=ir.Subsection(1, 1, "has_dma")))),
        "an unknown attribute": ("PCIDeviceWire", lambda s: tuple(
            _LaterField(**{**_attrs(f), "path": "dev.version_id"}) if f.name == "version_id"
            else f for f in s.layout or ())),
        "an entry of another type": ("PCIBusWire", lambda s: tuple(
            replace(f, type=u32) if f.name == "nirq" else f for f in s.layout or ())),
    }
    for what, (name, edit) in cases.items():
        declined = _declined(_with_layout(module, name, edit))
        expected = {name} if module.struct(name).state else set()
        if name == "PCIDeviceWire":
            expected = {"PIIX3Wire"}  # the state that contains it
        assert set(declined) == expected, what
        for state in expected:
            assert "layout entry" in declined[state] or "has path set" in declined[state], what
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

    module = _with_layout(_devices(), "TimersState", lambda s: (
        *(s.layout or ()), ir.Field("pad_tail", "uint8_t [4]", None, s.location, unused=4)))
    text = c.generate(module)["devices-visit.c"]
    assert ("/* TimersState's legacy stream has no specialized codec (TimersState's layout "
            "entry 'pad_tail' names no member): the visitors read and write it. */") in text
