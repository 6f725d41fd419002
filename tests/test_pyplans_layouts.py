"""The compiled legacy stream codec (`vmgen.runtime.legacy.Plans`) on structs with a
VMState layout, against the reference reader and writer (the functions at the top of
`vmgen/runtime/legacy.py`, reached through `Codec._load_legacy_reference` and
`Codec._save_legacy_reference`, which never try the compiled path).

The contract: the compiled path gives the reference's answer (the same value, its keys
in the same order, the same bytes, the same subsections found) or leaves the input to
the reference, which then words the error.  Checked on every layout the fixtures hold
(fixtures/qemu72/devices.h, the four adopted devices of fixtures/adopt/ through their
golden annotations files, the own-struct layouts of test_legacy_fastpath, a header of
the remaining shapes here, random headers), with Hypothesis values and edited streams,
and on every device section of real QEMU 7.2 streams; and that the compiled path is the
one taken for them (a test that would pass with everything falling back would prove
nothing).
"""

from __future__ import annotations

import os
import random
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import support
from tests.test_legacy_fastpath import OWN_H, OWN_TOML, _damaged, _random_header
from vmgen.checks.names import python_module
from vmgen.driver.pipeline import build_module
from vmgen.frontend.source import Options
from vmgen.lowering import ir
from vmgen.runtime import Codec, legacy

ADOPT = support.FIXTURES / "adopt"
GOLDEN = Path(__file__).parent / "golden" / "adopt"
# adopted device -> (its file in fixtures/adopt, the real stream holding its section)
ADOPTED = {"hpet": ("hpet.c", "pc"), "mc146818rtc": ("mc146818rtc.h", "pc"),
           "i8254": ("i8254.h", "pc"), "i6300esb_wdt": ("i6300esb.c", "q35-devices")}

# The shapes no fixture holds: every scalar kind in a layout's runs, padding between
# them and at the end of the fields, counts apart from their arrays (bytes, integers,
# layout structs; one added in version 2, so version 1 data cannot be read), member
# structs with a layout inline, subsections by a presence member and by a C function,
# a subsection's struct with a field added after the oldest version its readers take, a
# subsection's struct whose zero value (what a load without it gives) the load's check
# refuses (its union's first member is not the one a zero discriminator selects).  And a
# union in a layout, which the compiled codec leaves to the reference.
SHAPES_H = """\
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"
typedef enum Mode { M_OFF, M_ON = 3, M_AUTO } Mode;
typedef union Pick { uint8_t a VMGEN_CASE(M_OFF); uint32_t c VMGEN_CASE(M_ON, M_AUTO); } Pick;
typedef union Pick2 { uint8_t a VMGEN_CASE(M_ON); uint32_t c VMGEN_CASE(M_OFF, M_AUTO); } Pick2;
typedef struct Sel { Mode k; Pick2 p VMGEN_UNION(k); } Sel;
typedef struct VMGEN_VMSD("shapes/sel") SelSub { Sel s; } SelSub;
typedef struct VMGEN_VMSD("shapes/late") Late { uint32_t a; uint16_t b VMGEN_SINCE(2); } Late;
typedef struct VMGEN_VMSD("shapes/extra") Extra {
    uint8_t e[3];
    int16_t s VMGEN_RANGE(-4, 4);
} Extra;
typedef struct VMGEN_VMSD("shapes/elem") Elem {
    uint16_t x;
    uint8_t gap[1] VMGEN_UNUSED;
    Mode m;
} Elem;
typedef struct VMGEN_STATE(3, 1) VMGEN_VMSD("shapes") Shapes {
    Mode mode;
    bool flag;
    double d;
    float f;
    char name[6] VMGEN_STRING;
    uint8_t pad[2] VMGEN_UNUSED;
    uint16_t n VMGEN_RANGE(0, 5);
    uint8_t pad2[1] VMGEN_UNUSED;
    uint8_t raw[5] VMGEN_SIZE_IS(n);
    uint8_t k VMGEN_SINCE(2) VMGEN_RANGE(1, 3);
    int32_t vals[3] VMGEN_SIZE_IS(k);
    uint8_t ne VMGEN_RANGE(0, 2);
    Elem elems[2] VMGEN_SIZE_IS(ne);
    uint8_t nb;
    uint16_t bl[4] VMGEN_SIZE_IS(nb);
    Elem one;
    int32_t le VMGEN_POSITIVE_LE;
    uint16_t eq VMGEN_EQUAL;
    uint32_t later VMGEN_SINCE(3);
    uint8_t tail_pad[4] VMGEN_UNUSED;
    bool has_late;
    Late late VMGEN_SUBSECTION(2, 1, has_late);
    Extra extra VMGEN_SUBSECTION(1, 1, shapes_extra_needed);
    bool has_sel;
    SelSub sel VMGEN_SUBSECTION(1, 1, has_sel);
} Shapes;
bool shapes_extra_needed(void *opaque);
typedef struct VMGEN_STATE(1, 1) VMGEN_VMSD("unioned") Unioned {
    uint8_t a;
    Mode k;
    Pick p VMGEN_UNION(k);
} Unioned;
"""
# (module, state) the compiled codec declines: the reference alone reads and writes them.
DECLINED = {("shapes", "Unioned")}

Module = tuple[ModuleType, ir.Module]


def _generate(header: Path, out: Path, include: Path, annotations: Path | None = None
              ) -> Module:
    more = ["--annotations", str(annotations)] if annotations else []
    proc = support.run_vmgen("generate", "-I", str(include), *more, "-o", str(out),
                             str(header))
    assert proc.returncode == 0, proc.stderr
    return (support.import_module(out / f"{python_module(header.stem)}_asn1.py"),
            build_module(str(header), Options(include_dirs=(str(include),),
                                              annotations=str(annotations or ""))))


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Module]:
    root = tmp_path_factory.mktemp("layouts")
    found = {"qemu72": _generate(support.FIXTURES / "qemu72" / "devices.h", root / "qemu72",
                                 support.FIXTURES)}
    for name, (file, _) in ADOPTED.items():
        found[name] = _generate(ADOPT / file, root / name, ADOPT / "include",
                                GOLDEN / f"{name}.toml")
    own = root / "own"
    own.mkdir()
    (own / "own.h").write_text(OWN_H.replace("Mode8 m;", "uint8_t m VMGEN_RANGE(0, 9);"))
    (own / "own.toml").write_text(OWN_TOML)
    found["own"] = _generate(own / "own.h", own, own, own / "own.toml")
    shapes = root / "shapes"
    shapes.mkdir()
    (shapes / "shapes.h").write_text(SHAPES_H)
    found["shapes"] = _generate(shapes / "shapes.h", shapes, shapes)
    return found


MODULE_STATES = {
    "qemu72": ["TimersState", "RTCWire", "HPETWire", "PITWire", "PCIBusWire", "PIIX3Wire",
               "FWCfgWire", "FDCtrlISAWire", "ISAKBDWire"],
    "hpet": ["HPETState"], "mc146818rtc": ["RTCState"], "i8254": ["PITCommonState"],
    "i6300esb_wdt": ["I6300State"], "own": ["Own"], "shapes": ["Shapes", "Unioned"],
}
STATES = [(m, s) for m, states in MODULE_STATES.items() for s in states]


def _decided(py: ModuleType) -> list[str]:
    """The subsections (and groups) of a module a C function decides on."""
    return sorted({item[2] for _, items in py.LAYOUTS.values() for item in items
                   if item[0] in ("subsection", "group") and item[5] is None})


def _versions(py: ModuleType, state: str) -> list[int]:
    """The versions a state's data can take that differ: its oldest and newest, and each
    side of every version that added a field (i6300esb_wdt is version 10000)."""
    _, _, newest, minimum = py.STATES[state]
    sinces = {m[3] for members in py.STRUCTS.values() for m in members if m[3] is not None}
    sinces |= {item[3] for _, items in py.LAYOUTS.values() for item in items
               if item[0] == "unused" and item[3] is not None}
    edges = {minimum, newest} | {v + d for v in sinces for d in (-1, 0)}
    return sorted(v for v in edges if minimum <= v <= newest)


def _outcome(fn: Callable[..., Any], *args: Any, needed: Mapping[str, bool] | None = None
             ) -> tuple[Any, ...]:
    """What fn(*args) gives (a value with its keys in order, or the error), with the
    subsections a load found; `needed` as save_legacy takes it."""
    present: set[str] = set()
    try:
        with legacy.subsections(needed=needed, present=present):
            v = fn(*args)
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc))
    if isinstance(v, dict):
        return ("ok", repr(v), _keys(v), sorted(present))
    return ("ok", repr(v), sorted(present))


def _keys(value: Any) -> Any:
    """The keys of every dict in a value, in their order."""
    if isinstance(value, dict):
        return [(k, _keys(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_keys(v) for v in value]
    return None


def _subsection_edits(py: ModuleType, stream: bytes) -> list[bytes]:
    """Edits of the subsection headers in a stream: each cut off with what follows, and
    its version set to others (older ones its readers take included)."""
    out = []
    names = {item[2] for _, items in py.LAYOUTS.values() for item in items
             if item[0] in ("subsection", "group")}
    for name in names:
        head = bytes([legacy.SUBSECTION, len(name)]) + name.encode()
        at = stream.find(head)
        if at < 0:
            continue
        out.append(stream[:at])
        v = at + len(head)
        for version in (0, 1, 2, 3, 0xFFFFFFFF):
            out.append(stream[:v] + version.to_bytes(4, "big") + stream[v + 4:])
    return out


def _agree(c: Codec, state: str, stream: bytes, version: int) -> None:
    """The load of `stream` through the module (compiled path first) and through the
    reference alone: the same value or the same error, the same subsections found."""
    assert _outcome(c.load_legacy, state, stream, version) == \
        _outcome(c._load_legacy_reference, state, stream, version), (state, stream.hex())


def _check_value(py: ModuleType, state: str, value: dict[str, Any], version: int,
                 needed: dict[str, bool], declined: bool, rng: random.Random) -> None:
    c: Codec = py.CODEC
    state_type = py.STATES[state][1]
    ref = _outcome(c._save_legacy_reference, state, value, version, needed=needed)
    assert _outcome(c.save_legacy, state, value, version, needed) == ref
    assert (c.streams.writer(state_type, version) is None) == declined
    assert (c.streams.reader(state_type, version) is None) == declined
    if ref[0] != "ok":
        return
    with legacy.subsections(needed=needed):
        stream = c._save_legacy_reference(state, value, version)
    loaded = _outcome(c._load_legacy_reference, state, stream, version)
    assert _outcome(c.load_legacy, state, stream, version) == loaded
    if loaded[0] == "ok" and not declined:  # the compiled reader took it
        with legacy.subsections(present=set()):
            assert c._load_legacy_fast(state_type, stream, version) is not None
    damaged = _damaged(stream, rng)
    edits = [stream[:-1], stream + b"\0", stream + b"\x05", *_subsection_edits(py, stream),
             *rng.sample(damaged, min(40, len(damaged)))]
    for edited in edits:
        _agree(c, state, edited, version)


@pytest.mark.parametrize(("mod", "state"), STATES)
def test_compiled_layouts_are_the_reference(modules: dict[str, Module], mod: str,
                                            state: str) -> None:
    """Valid states at every version, every choice of the subsections a C function
    decides: the same bytes, the same value; the stream cut, extended, a byte changed,
    a subsection cut off or given another version: the same value or error."""
    py, module = modules[mod]
    versions = _versions(py, state)
    decided = _decided(py)

    @settings(max_examples=15, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(support.struct_strategy(module, state), st.lists(st.booleans(), min_size=len(decided),
                                                            max_size=len(decided)),
           st.randoms(use_true_random=False))
    def check(value: dict[str, Any], choices: list[bool], rng: random.Random) -> None:
        needed = dict(zip(decided, choices, strict=True))
        for version in versions:
            _check_value(py, state, value, version, needed, (mod, state) in DECLINED, rng)

    check()


def _shapes(c: Codec) -> dict[str, Any]:
    """A valid Shapes: zero but for its `sel` (whose zero value save() refuses)."""
    value: dict[str, Any] = legacy.zero(c.tables, ("struct", "Shapes"))
    value["sel"] = {"s": {"k": "M_ON", "p": {"a": 7}}}
    return value


def test_the_compiled_layouts_decline_what_the_reference_refuses(
        modules: dict[str, Module]) -> None:
    """A subsection of an older version than the one that added a field of its struct:
    the reference's check refuses it (the field is missing), the compiled reader leaves
    it to the reference; the same stream with the subsection at its own version is read
    by the compiled reader."""
    py = modules["shapes"][0]
    c: Codec = py.CODEC
    value = _shapes(c)
    value.update(has_late=True, has_sel=True)
    needed = {"shapes/extra": False}
    with legacy.subsections(needed=needed):
        stream = c._save_legacy_reference("Shapes", value, 3)
    assert c._load_legacy_fast("Shapes", stream, 3) is not None
    head = bytes([legacy.SUBSECTION, 11]) + b"shapes/late"
    at = stream.index(head) + len(head)
    # version 1 of the subsection: its a, without b
    old = stream[:at] + (1).to_bytes(4, "big") + stream[at + 4:at + 8] + stream[at + 10:]
    assert c._load_legacy_fast("Shapes", old, 3) is None
    outcome = _outcome(c._load_legacy_reference, "Shapes", old, 3)
    assert outcome[0] == "error" and "missing field 'b'" in outcome[2], outcome
    assert _outcome(c.load_legacy, "Shapes", old, 3) == outcome


def test_a_subsection_header_of_a_member_struct_after_it_is_refused(
        modules: dict[str, Module]) -> None:
    """Bytes after a member struct with a layout that read as a subsection header of its
    VMState (here: the fields after `one` and the padding after them, which a load takes
    whatever it holds): the reference refuses them, and the compiled reader leaves them
    to it."""
    py = modules["shapes"][0]
    c: Codec = py.CODEC
    value = _shapes(c)
    value.update(le=int.from_bytes(b"\x05\x0bsh", "big", signed=True),
                 eq=int.from_bytes(b"ap", "big"), later=int.from_bytes(b"es/e", "big"),
                 has_late=True, has_sel=True)
    with legacy.subsections(needed={"shapes/extra": False}):
        stream = c._save_legacy_reference("Shapes", value, 3)
    assert c._load_legacy_fast("Shapes", stream, 3) is not None
    at = stream.index(b"\x05\x0bshapes/e") + 10
    edited = stream[:at] + b"lem" + stream[at + 3:]
    outcome = _outcome(c._load_legacy_reference, "Shapes", edited, 3)
    assert outcome[0] == "error" and "is not one of 'shapes/elem'" in outcome[2], outcome
    assert c._load_legacy_fast("Shapes", edited, 3) is None
    assert _outcome(c.load_legacy, "Shapes", edited, 3) == outcome


def test_a_count_outside_its_array_is_refused(modules: dict[str, Module]) -> None:
    """A count read apart from its array that its C type takes but its array cannot
    hold, with the elements it counts there: the reference refuses it, and so the
    compiled reader leaves it."""
    py = modules["shapes"][0]
    c: Codec = py.CODEC
    value = _shapes(c)
    value.update(nb=4, bl=[1, 2, 3, 4], has_sel=True)
    with legacy.subsections(needed={"shapes/extra": False}):
        stream = c._save_legacy_reference("Shapes", value, 3)
    assert c._load_legacy_fast("Shapes", stream, 3) is not None
    at = stream.index(bytes([4, 0, 1, 0, 2, 0, 3, 0, 4]))
    edited = stream[:at] + bytes([5, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5]) + stream[at + 9:]
    outcome = _outcome(c._load_legacy_reference, "Shapes", edited, 3)
    assert outcome[0] == "error" and "count 5 is outside 0..4" in outcome[2], outcome
    assert c._load_legacy_fast("Shapes", edited, 3) is None
    assert _outcome(c.load_legacy, "Shapes", edited, 3) == outcome


@settings(max_examples=int(os.environ.get("VMGEN_RANDOM_HEADERS", "8")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(st.lists(st.tuples(st.just(True), st.lists(st.integers(0, 1000), max_size=10)),
                min_size=1, max_size=3), st.data())
def test_random_layouts(structs: list[tuple[bool, list[int]]], data: st.DataObject) -> None:
    """Random headers of layout structs (test_legacy_fastpath's members: every member
    kind, unions, padding, counts apart, subsections): compiled and reference agree.
    VMGEN_RANDOM_HEADERS=N runs N headers (default 8)."""
    with tempfile.TemporaryDirectory() as tmp:
        header = Path(tmp) / "rnd.h"
        header.write_text(_random_header(structs))
        py, module = _generate(header, Path(tmp), support.FIXTURES)
        for s in module.states:
            state_type = py.STATES[s.name][1]
            declined = _has_union(py, ("struct", state_type))
            value = data.draw(support.struct_strategy(module, s.name), label=s.name)
            rng = data.draw(st.randoms(use_true_random=False), label="rng")
            for version in _versions(py, s.name):
                _check_value(py, s.name, value, version, {}, declined, rng)


def _has_union(py: ModuleType, desc: tuple[Any, ...]) -> bool:
    """Whether a value of `desc` holds a union (which the compiled codec declines in a
    layout, and so in any struct that holds one)."""
    if desc[0] == "list":
        return _has_union(py, desc[3])
    if desc[0] == "struct":
        return any(_has_union(py, m[2]) for m in py.STRUCTS[desc[1]])
    return bool(desc[0] == "union")


# ---- real device sections -----------------------------------------------------------------

REAL_STREAMS = ("pc", "pc-devices", "q35", "q35-devices")


def _sections(path: Path) -> list[tuple[str, int, bytes]]:
    """(VMState, version, body) of each device section with a VMState in a real stream."""
    from vmgen.runtime import qevm

    stream = qevm.parse(path.read_bytes())
    return [(r.device.layout.vmsd_name, r.version_id, bytes(stream.body(r)))
            for r in stream.records
            if isinstance(r, qevm.Section) and r.kind == qevm.Kind.FULL
            and r.device is not None and r.device.layout.vmsd_name is not None]


def _check_section(py: ModuleType, state: str, version: int, body: bytes,
                   rng: random.Random, where: str) -> None:
    """A real section: the compiled reader and writer take it, and give the reference's
    value and the section back; its damaged copies: the reference's outcome."""
    c: Codec = py.CODEC
    state_type = py.STATES[state][1]
    ref = _outcome(c._load_legacy_reference, state, body, version)
    assert ref[0] == "ok", (where, ref)
    with legacy.subsections(present=set()):
        assert c._load_legacy_fast(state_type, body, version) is not None, where
    assert _outcome(c.load_legacy, state, body, version) == ref, where
    present: set[str] = set()
    value = py.load_legacy(state, body, version, present=present)
    needed = {name: name in present for name in _decided(py)}
    assert c.streams.writer(state_type, version) is not None, where
    assert py.save_legacy(state, value, version, needed=needed) == body, where
    with legacy.subsections(needed=needed):
        assert c._save_legacy_reference(state, value, version) == body, where
    damaged = _damaged(body, rng) + _subsection_edits(py, body)
    for bad in rng.sample(damaged, min(60, len(damaged))):
        _agree(c, state, bad, version)


def test_real_sections(qemu_stream: Callable[[str], Path],
                       tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every device section of real QEMU 7.2 streams, through the headers `vmgen import`
    writes for them: the compiled path reads each (the reference's value) and writes it
    back byte for byte; both paths agree on its truncations and edits."""
    root = tmp_path_factory.mktemp("real")
    rng = random.Random(17)
    seen: set[str] = set()
    for name in REAL_STREAMS:
        path = qemu_stream(name)
        out = root / name
        proc = support.run_vmgen("import", "--from", str(path), "-o", str(out))
        assert proc.returncode == 0, proc.stderr
        by_vmsd: dict[str, tuple[Path, str]] = {}
        for line in proc.stdout.splitlines():
            m = re.fullmatch(r"(.+\.h): (\w+) serves VMState '(.+)' \(version \d+\)", line)
            assert m is not None, line
            by_vmsd[m.group(3)] = (Path(m.group(1)), m.group(2))
        built: dict[Path, ModuleType] = {}
        for vmsd, version, body in _sections(path):
            header, state = by_vmsd[vmsd]
            if header not in built:
                built[header] = _generate(header, out / "gen", header.parent)[0]
            _check_section(built[header], state, version, body, rng, f"{name}: {vmsd}")
            seen.add(vmsd)
    assert len(seen) >= 40, sorted(seen)


def test_adopted_devices_read_their_real_sections(
        qemu_stream: Callable[[str], Path], modules: dict[str, Module]) -> None:
    """The adopted devices (own structs, golden annotations files: groups decided by C
    functions, member paths, padding) on their sections of real streams."""
    rng = random.Random(5)
    for name, (_, vm) in ADOPTED.items():
        py = modules[name][0]
        (state,) = py.STATES
        found = [s for s in _sections(qemu_stream(vm)) if s[0] == name]
        assert found, name
        for vmsd, version, body in found:
            _check_section(py, state, version, body, rng, vmsd)
