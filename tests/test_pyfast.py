"""The Python runtime's direct DER reader and writer against its generic path, through
generated modules.

`load()` of a record of exactly the module's version of a state, and `save()`, walk the
bytes themselves and fall back to the generic path (asn1tools' BER decoder + the DER
re-encoding, asn1tools' DER encoder) on anything irregular.  The invariant: for every
input, `load` and `save` answer what the generic path answers (`CODEC._load_generic`,
`CODEC._save_generic`, kept in the runtime's `Codec` for this), value for value and error
for error:

* valid states at every version the module writes: the direct writer writes the generic
  path's bytes, the direct reader takes the records of the module's version and builds
  the generic path's value (same keys in the same order, floats bit for bit);
* records edited at the TLV level (lengths, tags, INTEGER encodings, order, duplicates,
  unknown members, indefinite lengths, constructed strings) and at the byte level: both
  paths give the same value or the same error message;
* invalid values: `save` raises what the generic path raises.

Plus the newer-record check of the generic path (a known member's empty or non-minimal
INTEGER is refused, as the C loader does).  Modules: every fixture header, the benchmark states and
an odd-shapes header written here (tags of 1, 2 and 3 octets, unions in lists and
structs, signed ranges, negative enumerators, counts, strings, since-fields at depth)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import support
from vmgen.driver.pipeline import build_module
from vmgen.frontend.source import Options
from vmgen.lowering import ir

ODD_HEADER = """\
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

typedef enum Mode { MODE_NEG = -3, MODE_ZERO = 0, MODE_BIG = 70000 } Mode;
typedef enum Kind { KIND_A = 1, KIND_B = 2, KIND_C = 3 } Kind;

typedef struct Pair {
    int16_t lo VMGEN_RANGE(-5, 300);
    bool on;
    uint64_t since2 VMGEN_SINCE(2);
} Pair;

typedef union Payload {
    Pair pair VMGEN_CASE(KIND_A);
    uint16_t words[3] VMGEN_CASE(KIND_B);
    double d VMGEN_CASE(KIND_C);
} Payload;

typedef union Small {
    uint8_t raw[4] VMGEN_CASE(0, 1);
    int32_t n VMGEN_CASE(7);
    float f VMGEN_CASE(9, 10, 11);
} Small;

typedef struct Wide {
@WIDE@
    Payload late VMGEN_UNION(late_kind);
    Kind late_kind;
} Wide;

typedef struct VMGEN_STATE(3, 1) Odd {
    Pair items[4] VMGEN_SIZE_IS(n_items);
    uint8_t n_items VMGEN_RANGE(1, 4);
    Kind kind;
    Payload payload VMGEN_UNION(kind);
    int sel VMGEN_RANGE(0, 11);
    Small small VMGEN_UNION(sel);
    Mode modes[2][3];
    float fl[2];
    char name[12] VMGEN_STRING;
    char names[2][6] VMGEN_STRING;
    int8_t grid[2][2];
    bool bits[5];
    uint8_t buf[16] VMGEN_SIZE_IS(buf_len);
    uint16_t buf_len;
    Wide wide;
    int64_t big VMGEN_SINCE(2);
    Pair extra VMGEN_SINCE(3);
    char tag[4] VMGEN_STRING VMGEN_SINCE(3);
} Odd;
""".replace("@WIDE@", "\n".join(f"    uint8_t w{i};" for i in range(140)))  # tags [0]..[141]

SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])
MORE = settings(SETTINGS, max_examples=25)

# stem -> (its header, the include folder)
FIXTURE_STEMS = [*support.FIXTURE_HEADERS, "watchdog"]
SOURCES = {stem: (support.FIXTURES / f"{stem}.h", support.FIXTURES) for stem in FIXTURE_STEMS}
SOURCES["bench_states"] = (support.REPO / "tests" / "bench" / "bench_states.h",
                           support.REPO / "tests" / "bench")


class Gen:
    """Generated modules (imported) and their IR, by stem."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._cache: dict[str, tuple[ModuleType, ir.Module]] = {}

    def get(self, stem: str) -> tuple[ModuleType, ir.Module]:
        if stem not in self._cache:
            header, include = SOURCES.get(stem, (self.out / f"{stem}.h", self.out))
            proc = support.run_vmgen("generate", "-I", str(include), "-o", str(self.out),
                                     str(header))
            assert proc.returncode == 0, proc.stderr
            mod = support.import_module(self.out / f"{support.names_module(stem)}_asn1.py")
            module = build_module(str(header), Options(include_dirs=(str(include),)))
            self._cache[stem] = (mod, module)
        return self._cache[stem]


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> Gen:
    out = tmp_path_factory.mktemp("pyfast")
    (out / "odd.h").write_text(ODD_HEADER)
    return Gen(out)


STATES = [(stem, s.name) for stem in FIXTURE_STEMS for s in support.fixture_module(stem).states]
STATES += [("bench_states", s) for s in ("ScalarHeavy", "BufferHeavy", "RingHeavy")]
STATES += [("odd", "Odd")]


def outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """("ok", repr, value) or ("error", exception type name, message)."""
    try:
        value = fn(*args, **kwargs)
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc))
    return ("ok", repr(value), value)


def assert_same_outcome(mod: ModuleType, a: tuple[Any, ...], b: tuple[Any, ...]) -> None:
    assert a[:2] == b[:2], (a[:3], b[:3])  # (repr: the same keys in the same order)
    if a[0] == "error":
        assert a[2] == b[2]
    else:
        assert mod.same(a[2], b[2]), (a[2], b[2])


# ---- a DER tree, to edit records a TLV at a time ------------------------------------------

Node = list[Any]  # [identifier octets, children (list) or None, contents]


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def parse(data: bytes) -> list[Node]:
    """The TLVs of DER `data` (as save writes it): constructed ones with their children."""
    out, p = [], 0
    while p < len(data):
        q = p + 1
        if data[p] & 0x1F == 0x1F:
            while data[q] & 0x80:
                q += 1
            q += 1
        ident, first = data[p:q], data[q]
        q += 1
        n = first
        if first & 0x80:
            k = first & 0x7F
            n = int.from_bytes(data[q:q + k], "big")
            q += k
        contents = data[q:q + n]
        out.append([ident, parse(contents) if ident[0] & 0x20 else None, contents])
        p = q + n
    return out


def serialize(nodes: list[Node]) -> bytes:
    out = b""
    for ident, children, contents in nodes:
        body = serialize(children) if children is not None else contents
        out += ident + _der_length(len(body)) + body
    return out


def _walk(nodes: list[Node]) -> list[tuple[list[Node], int]]:
    """Every node as (its sibling list, its index)."""
    out = []
    for i, node in enumerate(nodes):
        out.append((nodes, i))
        if node[1] is not None:
            out += _walk(node[1])
    return out


def _set_raw(siblings: list[Node], i: int, raw: bytes) -> None:
    """Replace node i by raw TLV bytes (a primitive pseudo-node that serializes as is)."""
    siblings[i] = _Raw(raw)


class _Raw(list):  # type: ignore[type-arg]
    """A node written verbatim."""

    def __init__(self, raw: bytes) -> None:
        super().__init__([b"", None, b""])
        self.raw = raw


def serialize_edited(nodes: list[Node]) -> bytes:
    out = b""
    for node in nodes:
        if isinstance(node, _Raw):
            out += node.raw
            continue
        ident, children, contents = node
        body = serialize_edited(children) if children is not None else contents
        out += ident + _der_length(len(body)) + body
    return out


def _header(ident: bytes, n: int, edit: str) -> bytes:
    if edit == "long":  # non-minimal long form: a leading zero octet
        k = (n.bit_length() + 7) // 8 + 1
        return ident + bytes([0x80 | k]) + n.to_bytes(k, "big")
    if edit == "long1" and n < 0x80:
        return ident + b"\x81" + bytes([n])
    return ident + _der_length(n)


BYTE_EDITS = ["byte", "truncate", "trailing", "insert", "delete"]
PRIMITIVE_EDITS = ["pad", "int", "text", "grow", "shrink", "bool01", "segmented"]
CONSTRUCTED_EDITS = ["unknown", "indefinite"]
EDITS = ["length+1", "length-1", "long", "long1", "empty", "retag", "flip-constructed", "swap",
         "dup", "drop", "high-tag", *PRIMITIVE_EDITS, *CONSTRUCTED_EDITS, *BYTE_EDITS]
INTS = [0, 1, 2, 3, 4, 7, 9, 10, 11, 12, -1, -5, -6, 127, 128, 255, 256, 300, 301, 65535, 65536,
        70000, -3, -4, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63, 2**64 - 1, 2**64]


def mutate(blob: bytes, edit: str, rng: random.Random) -> bytes:
    """`blob` with one edit at a random TLV (`blob` is DER), or byte."""
    if edit in BYTE_EDITS:
        b = bytearray(blob)
        if not b:
            return bytes([rng.randrange(256)])
        i = rng.randrange(len(b))
        if edit == "byte":
            b[i] = rng.choice([b[i] ^ (1 << rng.randrange(8)), rng.randrange(256),
                               (b[i] + 1) & 0xFF, (b[i] - 1) & 0xFF])
        elif edit == "truncate":
            del b[i:]
        elif edit == "trailing":
            b += bytes([rng.randrange(256)]) * rng.randint(1, 3)
        elif edit == "insert":
            b.insert(i, rng.randrange(256))
        else:
            del b[i]
        return bytes(b)
    tree = parse(blob)
    nodes = _walk(tree)
    if edit in PRIMITIVE_EDITS:
        nodes = [(s, i) for s, i in nodes if s[i][1] is None]
    elif edit in CONSTRUCTED_EDITS:
        nodes = [(s, i) for s, i in nodes if s[i][1] is not None]
    siblings, i = rng.choice(nodes)
    ident, children, contents = siblings[i]
    body = serialize(children) if children is not None else contents
    if edit in ("length+1", "length-1"):
        n = len(body) + (1 if edit == "length+1" else -1)
        _set_raw(siblings, i, ident + _der_length(max(n, 0)) + body)
    elif edit in ("long", "long1"):
        _set_raw(siblings, i, _header(ident, len(body), edit) + body)
    elif edit == "pad":  # a non-minimal INTEGER (or a longer string)
        siblings[i] = [ident, None, (b"\xff" if body[:1] >= b"\x80" else b"\x00") + body]
    elif edit == "int" and 0 < len(body) <= 9:  # another value, in the minimal form
        v = int.from_bytes(body, "big", signed=True)
        v = rng.choice([v + 1, v - 1, rng.choice(INTS)])
        siblings[i] = [ident, None, v.to_bytes((8 + (v + (v < 0)).bit_length()) // 8, "big",
                                               signed=True)]
    elif edit == "text" and body:  # one octet of a string, a float, an INTEGER...
        k = rng.randrange(len(body))
        octet = rng.choice([0x00, 0x1F, 0x20, 0x41, 0x7E, 0x7F, 0x80, 0xFF])
        siblings[i] = [ident, None, body[:k] + bytes([octet]) + body[k + 1:]]
    elif edit == "grow":
        siblings[i] = [ident, None, body + b"A" * rng.choice([1, 2, 4, 5, 40])]
    elif edit == "shrink" and body:
        siblings[i] = [ident, None, body[:-rng.choice([1, 1, 2, 4])]]
    elif edit == "empty":
        siblings[i] = [ident, None if children is None else [], b""]
    elif edit == "bool01" and body in (b"\xff", b"\x00"):  # (or an INTEGER 0 made longer)
        siblings[i] = [ident, None, b"\x01" if body == b"\xff" else b"\x00\x00"]
    elif edit == "retag":  # the tag number one up or down
        delta = rng.choice([1, -1])
        if len(ident) == 1:
            number = min(max((ident[0] & 0x1F) + delta, 0), 30)
            ident = bytes([ident[0] & 0xE0 | number])
        else:
            ident = ident[:-1] + bytes([(ident[-1] + delta) & 0x7F])
        siblings[i] = [ident, children, contents]
    elif edit == "flip-constructed":
        _set_raw(siblings, i, bytes([ident[0] ^ 0x20]) + ident[1:] + _der_length(len(body))
                 + body)
    elif edit == "swap" and i + 1 < len(siblings):
        siblings[i], siblings[i + 1] = siblings[i + 1], siblings[i]
    elif edit == "dup":
        siblings.insert(i, list(siblings[i]))
    elif edit == "drop":
        del siblings[i]
    elif edit == "unknown" and children is not None:
        children.append([b"\x9f\x7f", None, b"\x00"])  # [127], after the known members
    elif edit == "indefinite" and children is not None:
        _set_raw(siblings, i, ident + b"\x80" + body + b"\x00\x00")
    elif edit == "segmented" and len(body) >= 2:  # a BER constructed string
        half = len(body) // 2
        seg = b"\x04" + _der_length(half) + body[:half] + b"\x04" + \
            _der_length(len(body) - half) + body[half:]
        _set_raw(siblings, i, bytes([ident[0] | 0x20]) + ident[1:] + _der_length(len(seg))
                 + seg)
    elif edit == "high-tag" and len(ident) == 1 and ident[0] & 0x1F < 31:
        # the same tag number in the (non-minimal) multi-octet form
        _set_raw(siblings, i, bytes([ident[0] | 0x1F, ident[0] & 0x1F]) + _der_length(len(body))
                 + body)
    return serialize_edited(tree)


def test_the_tree_toolkit_reads_back_what_it_parses(gen: Gen) -> None:
    mod, _ = gen.get("odd")
    blob = mod.CODEC._save_generic("Odd", _example_odd(), 3)
    assert serialize(parse(blob)) == blob


def _example_odd() -> dict[str, Any]:
    pair = {"lo": -5, "on": True, "since2": 2**64 - 1}
    wide: dict[str, Any] = {f"w{i}": i for i in range(140)}
    wide.update(late={"words": [0, 1, 65535]}, late_kind="KIND_B")
    return {"items": [pair, {"lo": 300, "on": False, "since2": 0}], "n_items": 2,
            "kind": "KIND_C", "payload": {"d": -0.0}, "sel": 10, "small": {"f": 1.5},
            "modes": [["MODE_NEG", "MODE_ZERO", "MODE_BIG"]] * 2, "fl": [math.inf, -1.0],
            "name": "eleven char", "names": ["", "five~"], "grid": [[-128, 127], [0, -1]],
            "bits": [True, False, True, True, False], "buf": b"\x00\xff", "buf_len": 2,
            "wide": wide, "big": -(2**63), "extra": pair, "tag": "abc"}


# ---- valid values: the direct path is taken and answers what the generic path does ------


@pytest.mark.parametrize(("stem", "state"), STATES)
def test_valid_states_take_the_direct_path(gen: Gen, stem: str, state: str) -> None:
    """Every version the module writes: the direct writer's bytes are the generic path's;
    at the module's version the direct reader takes them and builds the generic value."""
    mod, module = gen.get(stem)
    _, _, newest, minimum = mod.STATES[state]

    @SETTINGS
    @given(support.struct_strategy(module, state))
    def check(value: dict[str, Any]) -> None:
        for version in range(minimum, newest + 1):
            blob = mod.CODEC._save_fast(state, value, version)
            assert blob is not None
            assert blob == mod.CODEC._save_generic(state, value, version)
            assert mod.save(state, value, version) == blob
            generic = outcome(mod.CODEC._load_generic, state, blob)
            assert generic[0] == "ok", generic
            if version == newest:
                fast = mod.CODEC._load_fast(state, blob)
                assert fast is not None
                assert_same_outcome(mod, ("ok", repr(fast), fast), generic)
                assert_same_outcome(mod, outcome(mod.load, state, bytearray(blob)), generic)
            else:  # older data: the generic path only
                assert mod.CODEC._load_fast(state, blob) is None
            assert_same_outcome(mod, outcome(mod.load, state, blob), generic)

    check()


def test_an_example_of_every_odd_shape(gen: Gen) -> None:
    mod, _ = gen.get("odd")
    value = _example_odd()
    blob = mod.save("Odd", value)
    assert blob == mod.CODEC._save_generic("Odd", value, 3)
    # Wide's members w139 [139] and late [141] (constructed), 3-octet identifiers
    assert b"\x9f\x81\x0b\x02\x00\x8b" in blob and b"\xbf\x81\x0d" in blob
    loaded = mod.CODEC._load_fast("Odd", blob)
    assert loaded is not None and mod.same(loaded, value) and list(loaded) == list(value)
    assert mod.same(mod.CODEC._load_generic("Odd", blob), loaded)


def test_import_builds_nothing(gen: Gen) -> None:
    mod, _ = gen.get("rtc")
    fresh = support.import_module(gen.out / "rtc_asn1.py")
    codec = fresh.CODEC
    assert codec.direct.plans == {} and codec.direct.state_plans == {} and codec._codecs == {}
    assert mod is not fresh


def test_other_inputs_go_the_generic_way(gen: Gen) -> None:
    """memoryview (and anything that is not bytes or bytearray) is the generic path's."""
    mod, _ = gen.get("rtc")
    value = {"cmos_data": bytes(128), "cmos_index": 7, "base_year": 2000, "base_rtc": 5,
             "last_update": 6, "offset": -3, "it_shift": 1, "irq_coalesced": 2, "period": 9,
             "lost_tick_policy_slew": True, "next_periodic_time": 11, "next_alarm_time": 12}
    blob = mod.save("RTCState", value)
    assert mod.CODEC._load_fast("RTCState", memoryview(blob)) is None
    assert mod.load("RTCState", memoryview(blob)) == value
    for bad in ("text", None, 5, [1, 2]):
        assert_same_outcome(mod, outcome(mod.load, "RTCState", bad),
                            outcome(mod.CODEC._load_generic, "RTCState", bad))


# ---- edited records: the same value or the same error ------------------------------------


@pytest.mark.parametrize(("stem", "state"), STATES)
def test_edited_records_get_the_generic_answer(gen: Gen, stem: str, state: str) -> None:
    mod, module = gen.get(stem)
    _, _, newest, minimum = mod.STATES[state]

    @MORE
    @given(support.struct_strategy(module, state), st.sampled_from([newest, minimum]),
           st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 2**32)),
                    min_size=8, max_size=8))
    def check(value: dict[str, Any], version: int, edits: list[tuple[str, int]]) -> None:
        blob = mod.save(state, value, version)
        for edit, seed in edits:
            rng = random.Random(seed)
            data = mutate(blob, edit, rng)
            if rng.random() < 0.3:
                data = mutate(data, rng.choice(BYTE_EDITS), rng)  # two faults
            generic = outcome(mod.CODEC._load_generic, state, data)
            fast = mod.CODEC._load_fast(state, data)
            if fast is not None:
                assert_same_outcome(mod, ("ok", repr(fast), fast), generic)
            assert_same_outcome(mod, outcome(mod.load, state, data), generic)

    check()


def _member_edits(body: bytes) -> list[bytes]:
    """Contents for a primitive TLV: other INTEGER values (minimal), odd octets, other
    sizes, a non-minimal form, nothing."""
    out = [body + b"A", body[:-1], (b"\xff" if body[:1] >= b"\x80" else b"\x00") + body, b""]
    if 0 < len(body) <= 9:
        v = int.from_bytes(body, "big", signed=True)
        out += [x.to_bytes((8 + (x + (x < 0)).bit_length()) // 8, "big", signed=True)
                for x in (v + 1, v - 1, 0, 1, 2, 3, 4, 7, 11, -1, 128)]
    for k in {0, len(body) - 1} if body else ():
        out += [body[:k] + bytes([octet]) + body[k + 1:] for octet in (0x00, 0x7F, 0xFF)]
    return out


@pytest.mark.parametrize(("stem", "state"), STATES)
def test_every_member_edited(gen: Gen, stem: str, state: str) -> None:
    """Each member (two elements of each array) with each contents edit: discriminators
    that select another member, values at and past their range, unknown enumerators,
    strings and floats of other sizes, control characters..."""
    mod, module = gen.get(stem)

    @settings(SETTINGS, max_examples=2)
    @given(support.struct_strategy(module, state))
    def check(value: dict[str, Any]) -> None:
        blob = mod.save(state, value)
        tree = parse(blob)
        seen: dict[tuple[bytes, ...], int] = {}
        targets = []

        def visit(nodes: list[Node], path: tuple[bytes, ...]) -> None:
            for i, node in enumerate(nodes):
                key = (*path, node[0])
                seen[key] = seen.get(key, 0) + 1
                if node[1] is not None:
                    visit(node[1], key)
                elif seen[key] <= 2:
                    targets.append((nodes, i))

        visit(tree, ())
        for siblings, i in targets:
            ident, _, body = siblings[i]
            for contents in _member_edits(body):
                siblings[i] = [ident, None, contents]
                data = serialize(tree)
                fast = mod.CODEC._load_fast(state, data)
                if fast is not None:
                    generic = outcome(mod.CODEC._load_generic, state, data)
                    assert_same_outcome(mod, ("ok", repr(fast), fast), generic)
            siblings[i] = [ident, None, body]

    check()


# ---- invalid values: save raises what the generic path raises -----------------------------

ODD_VALUES: list[Any] = [None, True, False, 0, -1, 1, 255, 256, 2**31, 2**63, 2**64, -(2**63) - 1,
                         1.5, -0.0, math.nan, math.inf, 1e300, 10**400, "", "x", "\x01", "é",
                         "KIND_A", "MODE_ZERO", b"", b"abcd", bytearray(b"abcdef"), [], (),
                         [0], {}, {"x": 1}]


class _IntLike(int):
    """An int subclass (the generic path takes it; the direct writer leaves it)."""


def _containers(value: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """(container, key) of every member and element in a value."""
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((value, k))
            _containers(v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((value, i))
            _containers(v, out)
    return out


def spoil(value: dict[str, Any], rng: random.Random, enumerators: list[str]) -> None:
    """One odd change somewhere in `value` (in place)."""
    container, key = rng.choice(_containers(value, []))
    old = container[key]
    how = rng.randrange(11)
    if how == 0 and isinstance(old, int) and not isinstance(old, bool):
        container[key] = old + rng.choice([1, -1, 2**32, -(2**32)])
    elif how == 1 and isinstance(container, dict):
        del container[key]
    elif how == 2 and isinstance(container, dict):
        container[rng.choice(["extra", key + "_", 7])] = 0
    elif how == 3 and isinstance(old, list) and old:
        container[key] = tuple(old) if rng.random() < 0.5 else old[:-1]
    elif how == 4 and isinstance(old, list):
        container[key] = [*old, old[0] if old else 0]
    elif how == 5 and isinstance(old, bytes):
        container[key] = bytearray(old) if rng.random() < 0.5 else old + b"\x00"
    elif how == 6 and isinstance(old, int) and not isinstance(old, bool):
        container[key] = _IntLike(old)
    elif how == 7 and isinstance(old, float):
        container[key] = rng.choice([math.nan, -math.nan, 3.4e38, 3.5e38, 1e-46, 7, 10**400,
                                     support.f64_from_bits(0x7FF0000000000001)])  # (binary32
                                                         # cannot hold that NaN's payload)
    elif how == 8 and isinstance(old, int) and not isinstance(old, bool):
        container[key] = rng.choice(INTS)  # (another union member's case, or out of range)
    elif how == 9 and isinstance(old, str):  # another enumerator (of any enum), or longer
        container[key] = rng.choice(enumerators) if enumerators and rng.random() < 0.7 else \
            old + "x" * rng.choice([1, 4, 20])
    else:
        container[key] = rng.choice(ODD_VALUES)


@pytest.mark.parametrize(("stem", "state"), STATES)
def test_spoiled_values_get_the_generic_answer(gen: Gen, stem: str, state: str) -> None:
    mod, module = gen.get(stem)
    _, _, newest, minimum = mod.STATES[state]
    enumerators = [e.name for enum in module.enums for e in enum.enumerators]

    @MORE
    @given(support.struct_strategy(module, state), st.sampled_from([newest, minimum]),
           st.lists(st.integers(0, 2**32), min_size=6, max_size=6))
    def check(value: dict[str, Any], version: int, seeds: list[int]) -> None:
        for seed in seeds:
            rng = random.Random(seed)
            spoiled = _deep_copy(value)
            spoil(spoiled, rng, enumerators)
            if rng.random() < 0.3:
                spoil(spoiled, rng, enumerators)
            generic = outcome(mod.CODEC._save_generic, state, spoiled, version)
            try:
                fast = mod.CODEC._save_fast(state, spoiled, version)
            except Exception:
                fast = None
            if fast is not None:
                assert generic == ("ok", repr(fast), fast)
            assert outcome(mod.save, state, spoiled, version) == generic

    check()


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


# ---- a newer writer's records --------------------------------------------------------------


def _newer(blob: bytes, edit: Callable[[list[Node]], None] | None = None,
           version: int = 99) -> bytes:
    """`blob` as a newer writer's record (version `version`), its state edited."""
    tree = parse(blob)
    record = tree[0][1]
    record[1] = [record[1][0], None, bytes([version])]
    if edit is not None:
        edit(record[3][1])
    return serialize(tree)


def _empty(*path: int) -> Callable[[list[Node]], None]:
    """Empties the contents of the TLV at `path` (indices of children) in the state."""
    def edit(members: list[Node]) -> None:
        for i in path[:-1]:
            members = members[i][1]
        members[path[-1]] = [members[path[-1]][0], None, b""]
    return edit


def test_newer_records_with_an_empty_integer_are_refused(gen: Gen) -> None:
    """In a known member, at any depth: the C loader's refusal (its path, with C names)."""
    mod, _ = gen.get("odd")
    blob = mod.save("Odd", _example_odd())
    assert mod.load("Odd", _newer(blob)) == mod.load("Odd", blob)
    extra = _newer(blob, lambda m: m.append([b"\xbf\x7f", None, b""]))  # an unknown member
    assert mod.load("Odd", extra) == mod.load("Odd", blob)
    cases = {
        "items[1].lo: empty INTEGER": _empty(0, 1, 0),
        "modes[1][2]: empty ENUMERATED": _empty(5, 1, 2),  # (Mode has a 0; Kind has not)
        "grid[0][1]: empty INTEGER": _empty(9, 0, 1),
        "wide.w139: empty INTEGER": _empty(12, 139),
        "big: empty INTEGER": _empty(13),
        "extra.since2: empty INTEGER": _empty(14, 2),
    }
    for message, edit in cases.items():
        with pytest.raises(mod.Error, match="^" + "Odd-Record.state." + message.replace(
                "[", r"\[").replace("]", r"\]").replace(".", r"\.") + "$"):
            mod.load("Odd", _newer(blob, edit))

    def pair_alternative(members: list[Node]) -> None:
        members[2][1][0][1][0] = [b"\x80", None, b""]  # payload.pair.lo

    value = _example_odd()
    value.update(kind="KIND_A", payload={"pair": {"lo": 1, "on": True, "since2": 3}})
    with pytest.raises(mod.Error, match=r"^Odd-Record\.state\.payload\.pair\.lo: empty INTEGER$"):
        mod.load("Odd", _newer(mod.save("Odd", value), pair_alternative))

    def empty_minimum(tree: list[Node]) -> None:
        tree[0][1][2] = [b"\x82", None, b""]

    t = parse(_newer(blob))
    empty_minimum(t)
    with pytest.raises(mod.Error, match=r"^Odd-Record\.minimum_version: empty INTEGER$"):
        mod.load("Odd", serialize(t))


def _padded(*path: int) -> Callable[[list[Node]], None]:
    """Prefixes the contents of the INTEGER at `path` with its sign octet: the same
    value, not minimal (0x00 before a first octet below 0x80, 0xff before one above)."""
    def edit(members: list[Node]) -> None:
        for i in path[:-1]:
            members = members[i][1]
        old = members[path[-1]]
        assert isinstance(old[2], bytes) and old[2]
        fill = 0xFF if old[2][0] >= 0x80 else 0x00
        members[path[-1]] = [old[0], None, bytes([fill]) + old[2]]
    return edit


def test_newer_records_with_a_non_minimal_integer_are_refused(gen: Gen) -> None:
    """asn1tools' BER decoder reads a non-minimal INTEGER as its value; the C loader
    refuses it ("non-minimal INTEGER encoding"), and so does load() now."""
    mod, _ = gen.get("odd")
    blob = mod.save("Odd", _example_odd())
    cases = {
        "items[1].lo: non-minimal INTEGER encoding": _padded(0, 1, 0),
        "modes[1][2]: non-minimal ENUMERATED encoding": _padded(5, 1, 2),
        "big: non-minimal INTEGER encoding": _padded(13),
        "extra.since2: non-minimal INTEGER encoding": _padded(14, 2),
    }
    for message, edit in cases.items():
        newer = _newer(blob, edit)
        assert mod.CODEC._decode_asn1("Odd-Record", newer)  # the BER decoder takes it
        with pytest.raises(mod.Error, match="^" + "Odd-Record.state." + message.replace(
                "[", r"\[").replace("]", r"\]").replace(".", r"\.") + "$"):
            mod.load("Odd", newer)
    t = parse(_newer(blob))
    t[0][1][2] = [b"\x82", None, b"\x00" + t[0][1][2][2]]  # minimum_version
    with pytest.raises(mod.Error,
                       match=r"^Odd-Record\.minimum_version: non-minimal INTEGER encoding$"):
        mod.load("Odd", serialize(t))


def test_empty_integers_in_what_a_newer_writer_added_are_skipped(gen: Gen) -> None:
    """A reader of an older release: the newer writer's own members are not looked into
    (as in C); its known members are."""
    watchdog, _ = gen.get("watchdog")
    out = gen.out / "history"
    out.mkdir(exist_ok=True)
    proc = support.run_vmgen("generate", "-I", str(support.FIXTURES), "-o", str(out),
                             str(support.FIXTURES / "history" / "watchdog-v1.h"))
    assert proc.returncode == 0, proc.stderr
    v1 = support.import_module(out / "watchdog_v1_asn1.py")
    value = {"reload": 1, "counter": 2, "control": 3, "enabled": True, "last_kick": 4,
             "stage": 1, "prescaler": 5, "name": "wd"}
    blob = watchdog.save("WatchdogState", value)
    assert v1.load("WatchdogState", blob) == {"reload": 1, "counter": 2, "control": 3,
                                              "enabled": True}
    tree = parse(blob)
    tree[0][1][3][1][4] = [b"\x84", None, b""]  # last_kick (version 2): unknown to v1
    assert v1.load("WatchdogState", serialize(tree))["reload"] == 1
    tree[0][1][3][1][1] = [b"\x81", None, b""]  # counter: known
    with pytest.raises(v1.Error,
                       match=r"^WatchdogState-Record\.state\.counter: empty INTEGER$"):
        v1.load("WatchdogState", serialize(tree))


def test_known_versions_keep_their_der_refusal(gen: Gen) -> None:
    mod, _ = gen.get("odd")
    blob = mod.save("Odd", _example_odd())
    tree = parse(blob)
    _empty(0, 1, 0)(tree[0][1][3][1])
    with pytest.raises(mod.Error, match="not a DER encoding"):
        mod.load("Odd", serialize(tree))
