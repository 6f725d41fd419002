"""The generated Python modules: their parsed ASN.1, their API and their refusals."""

from __future__ import annotations

import copy
import math
import struct
from pathlib import Path
from types import ModuleType
from typing import Any

import asn1tools
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import support
from vmgen.checks import names
from vmgen.lowering import ir
from vmgen.runtime import cview


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("py")
    for stem in support.FIXTURE_HEADERS:
        support.generate(stem, out)
    return out


_modules: dict[Path, ModuleType] = {}


def _mod(gen: Path, stem: str) -> ModuleType:
    path = gen / f"{stem}_asn1.py"
    if path not in _modules:
        _modules[path] = support.import_module(path)
    return _modules[path]


@pytest.mark.parametrize("stem", support.FIXTURE_HEADERS)
def test_shipped_parse_equals_asn1tools_parse(gen: Path, stem: str) -> None:
    mod = _mod(gen, stem)
    assert asn1tools.parse_string(mod.SPEC) == mod.PARSED
    assert (gen / f"{stem}.asn").read_text() == mod.SPEC


def test_import_and_use_never_parse_asn1_text(gen: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("ASN.1 text was parsed")

    monkeypatch.setattr(asn1tools, "parse_string", refuse)
    monkeypatch.setattr(asn1tools, "parse_files", refuse)
    mod = support.import_module(gen / "pit_asn1.py")  # a fresh import
    value = {"channels_enabled": 1, "speaker_data_on": 0, "channels": [
        {f.name: 0 for f in support.fixture_module("pit").struct("PITChannelState").migrated}
    ] * 3}
    assert mod.load("PITCommonState", mod.save("PITCommonState", value)) == value


@pytest.mark.parametrize("stem", support.FIXTURE_HEADERS)
def test_encode_decode_every_type(gen: Path, stem: str) -> None:
    mod = _mod(gen, stem)
    module = support.fixture_module(stem)
    types: list[tuple[str, Any]] = []
    for s in module.structs:
        types.append((names.type_name(s.name), support.struct_strategy(module, s.name)))
    for e in module.enums:
        types.append((names.type_name(e.name), support.strategy(module, ir.EnumRef(e.name))))
    for u in module.unions:
        types.append((names.type_name(u.name), st.one_of([
            support.strategy(module, m.type).map(lambda v, n=m.name: {n: v})
            for m in u.members])))
    assert {t for t, _ in types} | {mod.STATES[s][0] for s in mod.STATES} == set(mod.TYPES)

    @settings(max_examples=25, deadline=None)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        for type_name, strat in types:
            value = data.draw(strat, label=type_name)
            assert mod.same(mod.decode(type_name, mod.encode(type_name, value)), value)

    check()


def _record(mod: ModuleType, state: str, **changes: Any) -> bytes:
    """A record crafted with asn1tools directly (the module would refuse to write it)."""
    record_type, state_type, version, minimum = mod.STATES[state]
    codec = asn1tools.compile_dict(copy.deepcopy(mod.PARSED), "der")
    zero = mod.decode(state_type, mod.encode(state_type, _zero(mod, state_type)))
    value = {"device": state, "version": version, "minimum-version": minimum,
             "state": cview.to_asn1(mod.CODEC.tables, mod.TYPES[state_type], zero, state,
                                    version)}
    value.update(changes)
    return bytes(codec.encode(record_type, value))


def _zero(mod: ModuleType, type_name: str) -> Any:
    def zero(desc: tuple[Any, ...]) -> Any:
        kind = desc[0]
        if kind == "int":
            return 0
        if kind == "bool":
            return False
        if kind == "bytes":
            return bytes(desc[1])
        if kind == "float":
            return 0.0
        if kind == "enum":
            return mod.ENUMS[desc[1]][0][0]
        if kind == "list":
            return [zero(desc[3]) for _ in range(desc[1])]
        if kind == "string":
            return ""
        if kind == "union":
            c_name, _, d, _ = mod.UNIONS[desc[1]][0]
            return {c_name: zero(d)}
        return {m[0]: zero(m[2]) for m in mod.STRUCTS[desc[1]]}

    return zero(mod.TYPES[type_name])


def test_load_refusals_exact(gen: Path) -> None:
    mod = _mod(gen, "display")  # CursorState: version 5, minimum version 3
    good = _record(mod, "CursorState")
    assert mod.load("CursorState", good)["visible"] is False
    cases = {
        _record(mod, "CursorState", device="DisplayState"):
            "record is for device 'DisplayState', expected 'CursorState'",
        _record(mod, "CursorState", **{"minimum-version": 6}):
            "CursorState: data needs a reader of version >= 6, this reader is version 5",
        _record(mod, "CursorState", version=2, **{"minimum-version": 2}):
            "CursorState: data is version 2, this reader needs version >= 3",
        good + b"\x00":
            "CursorState-Record: 1 trailing byte(s) after the value",
        # the same record with a long-form length: BER, but not DER
        good[:1] + bytes([0x81, good[1]]) + good[2:]:
            "CursorState-Record: not a DER encoding, or it has members this reader does not "
            "know",
    }
    for data, message in cases.items():
        with pytest.raises(mod.Error) as info:
            mod.load("CursorState", data)
        assert str(info.value) == message
    for cut in range(len(good)):
        with pytest.raises(mod.Error):
            mod.load("CursorState", good[:cut])


def test_save_refusals_exact(gen: Path) -> None:
    mod = _mod(gen, "display")
    ok = {"x": 1, "y": 2, "blink": "BLINK_SLOW", "visible": True}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**ok, "x": 65536}, "CursorState-Record.state.x: 65536 is out of range 0..65535"),
        ({**ok, "x": -1}, "CursorState-Record.state.x: -1 is out of range 0..65535"),
        ({**ok, "x": True}, "CursorState-Record.state.x: expected int, got bool"),
        ({**ok, "visible": 1}, "CursorState-Record.state.visible: expected bool, got int"),
        ({**ok, "blink": "BLINK_NEVER"},
         "CursorState-Record.state.blink: 'BLINK_NEVER' is not an enumerator of Blink-mode"),
        ({k: v for k, v in ok.items() if k != "y"},
         "CursorState-Record.state: missing field 'y' of CursorState"),
        ({**ok, "z": 0}, "CursorState-Record.state: CursorState has no migrated field 'z'"),
    ]
    for value, message in cases:
        with pytest.raises(mod.Error) as info:
            mod.save("CursorState", value)
        assert str(info.value) == message
    scalars = _mod(gen, "scalars")
    base = scalars.decode("ScalarState", scalars.encode("ScalarState", _zero(scalars,
                                                                             "ScalarState")))
    for field, bad, message in [
        ("raw", b"\x00" * 7, "expected 8 bytes, got 7"),
        ("fs", [0.0], "expected 2 elements, got 1"),
        ("f", 1e39, "1e+39 is out of range for a float"),
        ("name", "text", "expected bytes, got str"),
    ]:
        with pytest.raises(scalars.Error) as info:
            scalars.save("ScalarState", {**base, field: bad})
        assert str(info.value) == f"ScalarState-Record.state.{field}: {message}"
    with pytest.raises(KeyError):
        scalars.save("NoSuchState", base)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bits32=st.integers(0, 2**32 - 1), bits64=st.integers(0, 2**64 - 1))
def test_floats_travel_bit_exactly(gen: Path, bits32: int, bits64: int) -> None:
    mod = _mod(gen, "scalars")
    f = support.f32_from_bits(bits32)
    d = support.f64_from_bits(bits64)
    value = mod.load("ScalarState", mod.save("ScalarState",
                                             {**_zero(mod, "ScalarState"), "f": f, "d": d}))
    assert support.f32_bits(value["f"]) == bits32
    assert support.f64_bits(value["d"]) == bits64
    assert struct.pack(">d", value["d"]) == struct.pack(">Q", bits64)


def test_negative_zero_and_nan_payload_reach_the_wire(gen: Path) -> None:
    mod = _mod(gen, "scalars")
    nan = support.f64_from_bits(0x7FF0_0000_0000_0123)  # a signalling NaN with a payload
    assert math.isnan(nan)
    assert mod.encode("ScalarState", {**_zero(mod, "ScalarState"), "d": -0.0}).find(
        bytes.fromhex("8000000000000000")) > 0
    assert mod.encode("ScalarState", {**_zero(mod, "ScalarState"), "d": nan}).find(
        bytes.fromhex("7ff0000000000123")) > 0


# ---- sizes at their limits: one element (byte, character) too many or too few -----------


def _ir_zero(module: ir.Module, t: ir.WireType) -> Any:
    """The smallest valid C-view value of `t`, from the IR (not from the generated module)."""
    if isinstance(t, ir.IntType):
        return 0 if t.min <= 0 <= t.max else t.min
    if isinstance(t, ir.BoolType):
        return False
    if isinstance(t, ir.FloatType):
        return 0.0
    if isinstance(t, ir.EnumRef):
        return module.enum(t.name).enumerators[0].name
    if isinstance(t, ir.StringType):
        return ""
    if isinstance(t, ir.BytesType):
        return bytes(t.length if t.count is None else t.count.min)
    if isinstance(t, ir.ArrayType):
        n = t.length if t.count is None else t.count.min
        return [_ir_zero(module, t.element) for _ in range(n)]
    assert isinstance(t, ir.StructRef), t
    s = module.struct(t.name)
    value: dict[str, Any] = {}
    for f in s.wire:
        assert f.type is not None
        value[f.name] = _ir_zero(module, f.type)
    for f in s.migrated:
        if f.count_of is not None:
            value[f.name] = len(value[f.count_of])
    return value


# (stem, state, field, one element of the field's value, lowest and highest number of
# elements): fixed and sized byte arrays, fixed and sized arrays (of numbers and of
# structs), strings.
SIZED = [
    ("scalars", "ScalarState", "raw", b"\x5a", 8, 8),
    ("scalars", "ScalarState", "fs", [1.5], 2, 2),
    ("scalars", "ScalarState", "words", [7], 5, 5),
    ("counts", "RingState", "data", b"\x5a", 0, 24),
    ("counts", "RingState", "slots", [{"id": 1, "len": 2}], 0, 6),
    ("usb", "USBDevice", "data_buf", b"\x5a", 0, 4096),
    ("usb", "USBDevice", "product_desc", "x", 0, 31),
    ("pit", "PITCommonState", "channels", None, 3, 3),  # None: the zero PITChannelState
]


def _with(module: ir.Module, state: str, field: str, value: Any) -> dict[str, Any]:
    """The zero state with `field` set to `value` (and its count field, if any, to its
    length, so that only the length itself can be wrong)."""
    out: dict[str, Any] = _ir_zero(module, ir.StructRef(state))
    out[field] = value
    for f in module.struct(state).migrated:
        if f.count_of == field:
            out[f.name] = len(value)
    return out


def _size_refusal(what: Any, lo: int, hi: int, n: int) -> str:
    if isinstance(what, str):
        return f"expected at most {hi} printable ASCII characters"
    size = str(lo) if lo == hi else f"{lo}..{hi}"
    return f"expected {size} {'bytes' if isinstance(what, bytes) else 'elements'}, got {n}"


@pytest.mark.parametrize(("stem", "state", "field", "unit", "lo", "hi"), SIZED,
                         ids=[f"{c[1]}.{c[2]}" for c in SIZED])
def test_sizes_at_their_limits(gen: Path, stem: str, state: str, field: str, unit: Any,
                               lo: int, hi: int) -> None:
    """Every writer (save, encode, save_legacy) takes the lowest and highest number of
    elements and refuses one more than the highest (and one less than the lowest), with its
    exact message; so does every reader (load, decode) of a record crafted with asn1tools."""
    mod = _mod(gen, stem)
    module = support.fixture_module(stem)
    if unit is None:
        element = module.struct(state).field(field).type
        assert isinstance(element, ir.ArrayType)
        unit = [_ir_zero(module, element.element)]
    version = module.struct(state).state.version  # type: ignore[union-attr]
    record = names.record_name(state)
    asn1_field = names.identifier(field)
    der = asn1tools.compile_string(mod.SPEC, "der")  # no constraint checks: it writes anything
    for n in {lo, hi}:
        value = _with(module, state, field, unit * n)
        blob = mod.save(state, value)
        assert mod.load(state, blob) == value
        assert mod.decode(state, mod.encode(state, value)) == value
        assert mod.load_legacy(state, mod.save_legacy(state, value), version) == value
    for n in sorted({hi + 1, lo - 1} - {-1}):
        value = _with(module, state, field, unit * n)
        message = f"{field}: {_size_refusal(unit, lo, hi, n)}"
        for write, path in ((mod.save, f"{record}.state"), (mod.encode, state),
                            (mod.save_legacy, state)):
            with pytest.raises(mod.Error) as info:
                write(state, value)
            assert str(info.value) == f"{path}.{message}", write
        # The same value on the wire: the valid record of one bound, edited with asn1tools.
        edge = hi if n > hi else lo
        good = der.decode(record, mod.save(state, _with(module, state, field, unit * edge)))
        wire = good["state"][asn1_field]
        good["state"][asn1_field] = wire + wire[:1] if n > hi else wire[:-1]
        data = der.encode(record, good)
        for read, name in ((mod.load, state), (mod.decode, record)):
            with pytest.raises(mod.Error) as info:
                read(name, data)
            assert str(info.value) == f"{record}.state.{message}", read
