"""vmgen's Python runtime (`vmgen.runtime`) driven directly, with tables written here.

The tables of a small device are written by hand below (its ASN.1 text too; only its
parse comes from asn1tools), and the expected bytes are worked out by hand from X.690
and the legacy stream's rules, so nothing here takes its expectation from the code under
test.  Then the contract between generated modules and the runtime: the version check
at import (its exact message), and what importing a generated module loads (no
generator, no pycparser, no Jinja2; asn1tools only once the generic path runs).
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import asn1tools
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vmgen
from tests import support
from tests.test_pyfast import ODD_HEADER
from vmgen import runtime
from vmgen.driver.pipeline import build_module
from vmgen.frontend.source import Options
from vmgen.lowering import ir
from vmgen.runtime import Codec, Error, cview, der, floats

SPEC = """\
Hand DEFINITIONS AUTOMATIC TAGS ::= BEGIN
Color ::= ENUMERATED { red(0), green(1), blue(5) }
Shape ::= CHOICE {
    side    INTEGER (0..65535),
    radius  OCTET STRING (SIZE (8))
}
Dev ::= SEQUENCE {
    level   INTEGER (-128..127),
    on      BOOLEAN,
    gain    OCTET STRING (SIZE (4)),
    name    VisibleString (SIZE (0..7)),
    color   Color,
    shape   Shape,
    regs    SEQUENCE (SIZE (0..4)) OF INTEGER (0..4294967295),
    ...,
    [[
        late  INTEGER (0..255)
    ]]
}
Dev-Record ::= SEQUENCE {
    device           VisibleString,
    version          INTEGER (0..4294967295),
    minimum-version  INTEGER (0..4294967295),
    state            Dev,
    ...
}
END
"""

TYPES = {"Color": ("enum", "Color"), "Shape": ("union", "Shape"), "Dev": ("struct", "Dev"),
         "Dev-Record": ("record", "Dev")}
STRUCTS: dict[str, tuple[tuple[Any, ...], ...]] = {"Dev": (
    ("level", "level", ("int", -128, 127, 1, True), None, None),
    ("on", "on", ("bool",), None, None),
    ("gain", "gain", ("float", 32), None, None),
    ("name", "name", ("string", 7), None, None),
    ("color", "color", ("enum", "Color"), None, None),
    ("shape", "shape", ("union", "Shape"), None, ("union", "color")),
    ("n_regs", None, ("int", 0, 4, 1, False), None, ("count", "regs")),
    ("regs", "regs", ("list", 0, 4, ("int", 0, 4294967295, 4, False)), None, None),
    ("late", "late", ("int", 0, 255, 1, False), 2, None),
)}
UNIONS: dict[str, tuple[tuple[Any, ...], ...]] = {"Shape": (
    ("side", "side", ("int", 0, 65535, 2, False), (1,)),
    ("radius", "radius", ("float", 64), (5,)),
)}
ENUMS = {"Color": (("RED", "red", 0), ("GREEN", "green", 1), ("BLUE", "blue", 5))}
STATES = {"Dev": ("Dev-Record", "Dev", 2, 1)}


def codec(spec: str = SPEC) -> Codec:
    return Codec(spec, asn1tools.parse_string(spec), TYPES, STRUCTS, UNIONS, ENUMS, STATES)


def value() -> dict[str, Any]:
    return {"level": -2, "on": True, "gain": 1.5, "name": "ab", "color": "BLUE",
            "shape": {"radius": -0.0}, "n_regs": 2, "regs": [1, 256], "late": 7}


# The state's members, by hand (AUTOMATIC TAGS: [0].. in order, the extension addition
# `late` is [7]; a CHOICE gets a constructed tag around its alternative's TLV).
STATE_V1 = bytes.fromhex(
    "8001fe"                        # level [0] -2
    "8101ff"                        # on [1] TRUE
    "82043fc00000"                  # gain [2] 1.5 as binary32
    "83026162"                      # name [3] "ab"
    "840105"                        # color [4] blue (5)
    "a50a" "81088000000000000000"   # shape [5] { radius [1] -0.0 as binary64 }
    "a607" "020101" "02020100")     # regs [6] { 1, 256 }
STATE_V2 = STATE_V1 + bytes.fromhex("870107")  # late [7] 7


def record(state: bytes, version: int, minimum: int = 1) -> bytes:
    head = b"\x80\x03Dev" + bytes((0x81, 1, version, 0x82, 1, minimum))
    body = head + bytes((0xA3, len(state))) + state
    return bytes((0x30, len(body))) + body


RECORD_V2 = record(STATE_V2, 2)
RECORD_V1 = record(STATE_V1, 1)

# The legacy stream, by hand: C widths, big-endian, the union's selected member inline,
# the count (at its C width) right before its array, `late` only from version 2.
LEGACY_V1 = bytes.fromhex(
    "fe" "01" "3fc00000" "6162000000000000" "00000005" "8000000000000000"
    "02" "00000001" "00000100")
LEGACY_V2 = LEGACY_V1 + b"\x07"


def test_hand_computed_record_both_paths() -> None:
    c = codec()
    assert len(RECORD_V2) == 2 + 0x38 and RECORD_V2[:2] == b"\x30\x38"
    assert c.save("Dev", value()) == RECORD_V2
    assert c._save_fast("Dev", value(), 2) == RECORD_V2  # the direct writer
    assert c._save_generic("Dev", value(), 2) == RECORD_V2  # asn1tools' DER encoder
    loaded = c._load_fast("Dev", RECORD_V2)
    assert loaded is not None and cview.same(loaded, value())
    assert list(loaded) == [m[0] for m in STRUCTS["Dev"]]  # C order, count included
    assert cview.same(c._load_generic("Dev", RECORD_V2), loaded)
    assert cview.same(c.load("Dev", bytearray(RECORD_V2)), value())
    assert math.copysign(1.0, c.load("Dev", RECORD_V2)["shape"]["radius"]) == -1.0


def test_older_version_is_written_without_later_fields_and_read_generically() -> None:
    c = codec()
    v1 = {k: v for k, v in value().items() if k != "late"}
    assert c.save("Dev", value(), 1) == RECORD_V1
    assert c.save("Dev", v1, 1) == RECORD_V1
    assert c._load_fast("Dev", RECORD_V1) is None  # not this module's version
    assert cview.same(c.load("Dev", RECORD_V1), v1)


def test_encode_decode_types() -> None:
    c = codec()
    assert c.encode("Color", "BLUE") == b"\x0a\x01\x05"
    assert c.encode("Shape", {"side": 300}) == b"\x80\x02\x01\x2c"
    assert c.decode("Shape", b"\x80\x02\x01\x2c") == {"side": 300}
    assert c.encode("Dev", value()) == bytes((0x30, len(STATE_V2))) + STATE_V2
    rec = {"device": "Dev", "version": 2, "minimum_version": 1, "state": value()}
    assert c.encode("Dev-Record", rec) == RECORD_V2
    assert cview.same(c.decode("Dev-Record", RECORD_V2), rec)


def test_legacy_stream_by_hand() -> None:
    c = codec()
    assert c.save_legacy("Dev", value()) == LEGACY_V2
    assert c.save_legacy("Dev", value(), 1) == LEGACY_V1
    assert c._save_legacy_reference("Dev", value()) == LEGACY_V2
    assert c.streams.compiled[("Dev", 2)] is not None  # the compiled writer was taken
    assert cview.same(c.load_legacy("Dev", LEGACY_V2, 2), value())
    assert c._load_legacy_fast("Dev", LEGACY_V2, 2) is not None
    assert cview.same(c._load_legacy_reference("Dev", LEGACY_V2, 2), value())
    v1 = c.load_legacy("Dev", LEGACY_V1, 1)
    assert "late" not in v1 and v1["regs"] == [1, 256] and v1["n_regs"] == 2
    assert c.to_legacy("Dev", RECORD_V2) == (LEGACY_V2, 2)
    assert c.from_legacy("Dev", LEGACY_V1, 1) == RECORD_V1


def _raises(fn: Any, *args: Any) -> str:
    with pytest.raises(Error) as info:
        fn(*args)
    return str(info.value)


def test_error_messages() -> None:
    c = codec()
    assert _raises(c.save, "Dev", {**value(), "level": 200}) == \
        "Dev-Record.state.level: 200 is out of range -128..127"
    assert _raises(c.save, "Dev", {**value(), "color": "GREEN"}) == \
        "Dev-Record.state.shape: the data holds member 'radius', but 'color' = 1 selects 'side'"
    assert _raises(c.save, "Dev", {**value(), "n_regs": 3}) == \
        "Dev-Record.state.n_regs: count 3 but 'regs' has 2 elements"
    assert _raises(c.save, "Dev", {**value(), "name": "eight ch"}) == \
        "Dev-Record.state.name: expected at most 7 printable ASCII characters"
    nan = struct.unpack(">d", bytes.fromhex("7ff0000000000001"))[0]
    assert _raises(c.save, "Dev", {**value(), "gain": nan}) == \
        "Dev-Record.state.gain: NaN payload 0x1 does not fit a float"
    assert _raises(c.save, "Dev", value(), 3) == \
        "Dev: cannot write version 3: this writer knows versions 1..2"
    assert _raises(c.load, "Dev", record(STATE_V2, 3, 3)) == \
        "Dev: data needs a reader of version >= 3, this reader is version 2"
    assert _raises(c.load, "Dev", record(STATE_V2, 2, 0)[:-1]).startswith("Dev-Record: ")
    # BOOLEAN TRUE as 0x01 is BER, not DER: the direct reader leaves it, the generic one says
    ber = RECORD_V2.replace(b"\x81\x01\xff", b"\x81\x01\x01")
    assert c._load_fast("Dev", ber) is None
    assert _raises(c.load, "Dev", ber) == \
        "Dev-Record: not a DER encoding, or it has members this reader does not know"
    assert _raises(c.load_legacy, "Dev", b"", 2) == \
        "Dev.level: truncated data: 1 bytes needed, 0 left"
    assert _raises(c.load_legacy, "Dev", LEGACY_V2 + b"\x00", 2) == \
        "Dev: 1 trailing bytes after the data"
    assert _raises(c.load_legacy, "Dev", LEGACY_V1.replace(b"\x00\x00\x00\x05", b"\0\0\0\x02"),
                   1) == "Dev.color: 2 is not an enumerator of Color"
    with pytest.raises(KeyError) as info:
        c.save("Nope", value())
    assert info.value.args[0] == "'Nope' is not a device state of this module (have: Dev)"
    with pytest.raises(KeyError) as info:
        c.encode("Nope", 1)
    assert info.value.args[0] == ("no ASN.1 type 'Nope' in this module (have: Color, Shape, "
                                  "Dev, Dev-Record)")


def test_plans_are_built_at_first_use_and_kept() -> None:
    c = codec()
    assert c.direct.plans == {} and c.direct.state_plans == {} and c._codecs == {}
    c.save("Dev", value())
    assert set(c.direct.plans) == {("Dev", 2)} and c._codecs == {}  # asn1tools not needed
    entries, counts, unions, order, required, known = c.direct.plans[("Dev", 2)]
    assert [(e[0], e[1], e[3]) for e in entries] == [
        ("level", b"\x80", der.INT), ("on", b"\x81", der.BOOL), ("gain", b"\x82", der.F32),
        ("name", b"\x83", der.STRING), ("color", b"\x84", der.ENUM),
        ("shape", b"\xa5", der.UNION), ("regs", b"\xa6", der.LIST), ("late", b"\x87", der.UINT)]
    assert counts == (("n_regs", "regs", 0, 4),)
    assert unions == (("shape", "color", {"RED": 0, "GREEN": 1, "BLUE": 5},
                       {1: "side", 5: "radius"}),)
    assert order == tuple(m[0] for m in STRUCTS["Dev"]) and required == 9 and known is None
    c.save("Dev", value(), 1)
    assert c.direct.plans[("Dev", 1)][5] == frozenset(m[0] for m in STRUCTS["Dev"])


def test_identifier_octets() -> None:
    assert der.tag(0, False) == b"\x80" and der.tag(30, True) == b"\xbe"
    assert der.tag(31, False) == b"\x9f\x1f" and der.tag(139, False) == b"\x9f\x81\x0b"
    assert der.tag(141, True) == b"\xbf\x81\x0d"


def test_a_shape_the_direct_codec_leaves_goes_the_generic_way() -> None:
    """EXPLICIT TAGS (members untagged: universal tags only): no plan, every record
    through asn1tools."""
    c = codec(SPEC.replace("AUTOMATIC TAGS", "EXPLICIT TAGS"))
    blob = c.save("Dev", value())
    assert c.direct.state_plan("Dev", 2) is None
    assert blob == bytes.fromhex(
        "3036" "1a03446576" "020102" "020101"  # device, version, minimum-version
        "3029" "0201fe" "0101ff" "04043fc00000" "1a026162" "0a0105"
        "04088000000000000000" "3007" "020101" "02020100" "020107")
    assert cview.same(c.load("Dev", blob), value())


def test_newer_record_known_members_are_held_to_the_c_loaders_rules() -> None:
    c = codec()
    newer = record(STATE_V2 + b"\x88\x01\x01", 3)  # a member a version-3 writer added
    assert cview.same(c.load("Dev", newer), value())
    loose = record(STATE_V2.replace(b"\x84\x01\x05", b"\x84\x02\x00\x05") + b"\x88\x01\x01", 3)
    assert _raises(c.load, "Dev", loose) == \
        "Dev-Record.state.color: non-minimal ENUMERATED encoding"


def test_offers_and_negotiation() -> None:
    c = codec()
    assert c.offer("Dev") == (3, 1, 2) and c.offer("Dev", runtime.LEGACY) == (1, 1, 2)
    assert runtime.encode_offer((3, 1, 2)) == b"VMGo" + bytes.fromhex("000000030000000100000002")
    assert runtime.decode_offer(runtime.encode_offer((2, 0, 9))) == (2, 0, 9)
    assert runtime.negotiate((3, 1, 5), (3, 2, 4)) == (runtime.BER, 4)
    assert runtime.negotiate((1, 1, 5), (3, 0, 7)) == (runtime.LEGACY, 5)
    assert _raises(runtime.negotiate, (1, 1, 5), (2, 1, 5)) == \
        "no common migration format (formats 1 and 2)"
    assert _raises(runtime.negotiate, (3, 1, 2), (3, 3, 4)) == "no common version: 1..2 and 3..4"
    assert _raises(runtime.decode_offer, b"VMGo" + bytes(11)) == "not a vmgen offer"
    assert _raises(runtime.decode_offer, b"VMGo" + bytes.fromhex("000000030000000200000001")) \
        == "invalid offer: versions 2..1"


def test_floats_bit_exact() -> None:
    quiet = struct.unpack(">d", bytes.fromhex("7ff8000020000000"))[0]  # payload fits binary32
    assert floats.float32_bits(quiet, "x") == bytes.fromhex("7fc00001")
    back = floats.float32_value(bytes.fromhex("7fc00001"))
    assert struct.pack(">d", back) == bytes.fromhex("7ff8000020000000")
    assert floats.float32_bits(-0.0, "x") == bytes.fromhex("80000000")
    with pytest.raises(Error, match=r"^x: 1e\+300 is out of range for a float$"):
        floats.float32_bits(1e300, "x")
    assert cview.same(-0.0, -0.0) and not cview.same(-0.0, 0.0)
    assert cview.same(quiet, quiet) and not cview.same(1, True)
    assert not cview.same([1.0], [1.0, 2.0])


# ---- the contract with generated modules -------------------------------------------------


def test_require() -> None:
    # Runtime 2 added VMState layouts (LAYOUTS, SECTIONS); modules of runtime 1 still run.
    assert (runtime.OLDEST, runtime.VERSION) == (1, 2)
    runtime.require(2, "x_asn1.py", "0.0.1")
    runtime.require(1, "x_asn1.py", "0.0.1")
    for version in (0, 3):
        with pytest.raises(ImportError) as info:
            runtime.require(version, "x_asn1.py", "9.9.9")
        assert str(info.value) == (
            f"x_asn1.py needs vmgen's Python runtime version {version} (it was "
            f"generated by vmgen 9.9.9), but the installed vmgen {vmgen.__version__} has "
            "runtime versions 1..2: regenerate x_asn1.py with the installed vmgen, or "
            "install vmgen 9.9.9")


@pytest.fixture(scope="module")
def pit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pyruntime")
    proc = support.run_vmgen("generate", "-I", str(support.FIXTURES), "-o", str(out),
                             str(support.FIXTURES / "pit.h"))
    assert proc.returncode == 0, proc.stderr
    return out / "pit_asn1.py"


def test_a_module_of_another_runtime_version_fails_at_import(pit: Path, tmp_path: Path) -> None:
    text = pit.read_text()
    line = f"_runtime.require({runtime.VERSION}, 'pit_asn1.py', '{vmgen.__version__}')\n"
    assert line in text
    newer = tmp_path / "newer_asn1.py"
    newer.write_text(text.replace(line, "_runtime.require(7, 'pit_asn1.py', '3.1.4')\n"))
    with pytest.raises(ImportError) as info:
        support.import_module(newer)
    assert str(info.value) == (
        "pit_asn1.py needs vmgen's Python runtime version 7 (it was generated by vmgen "
        f"3.1.4), but the installed vmgen {vmgen.__version__} has runtime versions 1..2: "
        "regenerate pit_asn1.py with the installed vmgen, or install vmgen 3.1.4")


# In a fresh interpreter: import the module, use the direct path, then the generic one.
PROBE = """\
import json, sys
sys.path.insert(0, sys.argv[1])
def loaded():
    return sorted(m for m in sys.modules
                  if m.split(".")[0] in ("vmgen", "pycparser", "jinja2", "asn1tools"))
import pit_asn1 as m
after_import = loaded()
channel = {f[0]: 0 for f in m.STRUCTS["PITChannelState"]}
state = {"channels_enabled": 1, "channels": [channel] * 3, "speaker_data_on": 0}
blob = m.save("PITCommonState", state)
assert m.load("PITCommonState", blob) == state
print(json.dumps([after_import, loaded()]), flush=True)
m.decode("PITCommonState-Record", blob)
print(json.dumps(loaded()))
"""


def _probe(pit: Path, prelude: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(support.REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return subprocess.run([sys.executable, "-c", prelude + PROBE, str(pit.parent)],
                          capture_output=True, text=True, env=env, check=False)


def test_importing_a_module_loads_only_the_runtime(pit: Path) -> None:
    proc = _probe(pit)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    after_import, after_direct = json.loads(first)
    after_generic = json.loads(second)
    assert "vmgen" in after_import and "vmgen.runtime" in after_import
    assert all(m == "vmgen" or m.startswith("vmgen.runtime") for m in after_import), after_import
    assert after_direct == after_import  # save and load of a valid record: no asn1tools
    assert "asn1tools" in after_generic  # decode: asn1tools, imported then
    assert not [m for m in after_generic if m.split(".")[0] in ("pycparser", "jinja2")]


def test_without_asn1tools_the_direct_path_works_and_the_rest_says_why(pit: Path) -> None:
    proc = _probe(pit, "import sys\nsys.modules['asn1tools'] = None\n")
    assert proc.returncode == 1
    assert proc.stderr.rstrip().endswith(
        "ImportError: vmgen's Python runtime needs asn1tools here (records it does not read "
        "directly, encode, decode): pip install asn1tools"), proc.stderr
    assert len(proc.stdout.splitlines()) == 1  # save and load went through, decode did not


# ---- the compiled stream codec against the reference -------------------------------------

STREAM_STATES = [(stem, s.name) for stem in support.FIXTURE_HEADERS
                 for s in support.fixture_module(stem).states] + [("odd", "Odd")]


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[ModuleType, ir.Module]]:
    out = tmp_path_factory.mktemp("streams")
    (out / "odd.h").write_text(ODD_HEADER)
    found = {}
    for stem in {s for s, _ in STREAM_STATES}:
        header, include = ((out / "odd.h", out) if stem == "odd" else
                           (support.FIXTURES / f"{stem}.h", support.FIXTURES))
        proc = support.run_vmgen("generate", "-I", str(include), "-o", str(out), str(header))
        assert proc.returncode == 0, proc.stderr
        found[stem] = (support.import_module(out / f"{stem}_asn1.py"),
                       build_module(str(header), Options(include_dirs=(str(include),))))
    return found


def _outcome(fn: Any, *args: Any) -> tuple[Any, ...]:
    try:
        v = fn(*args)
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc))
    return ("ok", repr(v), list(v) if isinstance(v, dict) else None)


@pytest.mark.parametrize(("stem", "state"), STREAM_STATES)
def test_compiled_stream_codec_is_the_reference(modules: dict[str, tuple[ModuleType, ir.Module]],
                                                stem: str, state: str) -> None:
    """Valid states at every version: the same bytes, the same value (keys in the same
    order); the stream cut, extended and with a byte changed: the same value or error."""
    mod, module = modules[stem]
    c: Codec = mod.CODEC
    _, state_type, newest, minimum = mod.STATES[state]

    @settings(max_examples=15, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(support.struct_strategy(module, state), st.data())
    def check(value: dict[str, Any], data: st.DataObject) -> None:
        for version in range(minimum, newest + 1):
            stream = c._save_legacy_reference(state, value, version)
            assert c.save_legacy(state, value, version) == stream
            assert c.streams.writer(state_type, version) is not None
            fast = c._load_legacy_fast(state_type, stream, version)
            assert fast is not None
            ref = c._load_legacy_reference(state, stream, version)
            assert cview.same(fast, ref) and list(fast) == list(ref)
            edits = [stream[:-1], stream + b"\0"]
            if stream:
                i = data.draw(st.integers(0, len(stream) - 1), label="at")
                b = data.draw(st.integers(0, 255), label="byte")
                edits += [stream[:i], stream[:i] + bytes((b,)) + stream[i + 1:]]
            for edited in edits:
                assert _outcome(c.load_legacy, state, edited, version) == \
                    _outcome(c._load_legacy_reference, state, edited, version)

    check()
