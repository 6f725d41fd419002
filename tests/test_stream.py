"""Whole QEMU migration streams: `vmgen stream` and vmgen/runtime/qevm.py.

* A small stream built here by hand from the format's facts (tests/test_stream.py's own
  encoder, not vmgen's): its records, offsets and fields are known, and every kind of
  bad input made from it gets its exact diagnostic, exit status 1 and no output file.
* Real QEMU 7.2 streams (tests/qemu.py; -M pc and q35, bare and with NICs, USB, ISA
  and HDA devices, two user netdevs): parsed and re-emitted identical, listed,
  converted to BER and back identical, and the restored stream loaded by real QEMU,
  which saves it again byte for byte.
* Outside tools read a whole VM's BER: asn1c's decoder (tests/interop/asn1c_stream.c)
  agrees with vmgen's reading and re-encodes the identical DER; asn1tools encodes the
  identical DER; openssl and dumpasn1 parse it.
* Hypothesis mutates real streams and BER files: list, decode, to-ber and from-ber
  fail only with a StreamError (exit 1), never crash.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import qemu
from tests.conftest import QEMU_VMS, Built, require_qemu, require_tool
from vmgen import cli
from vmgen.runtime import qevm, qevm_ber
from vmgen.runtime.qevm import StreamError
from vmgen.tools import stream as tools

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "templates" / "asn1" / "qevm-stream.asn"


# ---- a small stream, by hand --------------------------------------------------------------


def be32(n: int) -> bytes:
    return struct.pack(">I", n)


def be64(n: int) -> bytes:
    return struct.pack(">Q", n)


def name(s: bytes) -> bytes:
    return bytes([len(s)]) + s


DESCRIPTION: dict[str, Any] = {"page_size": 4096, "devices": [{
    "name": "dev", "instance_id": 0, "vmsd_name": "dev", "version": 1,
    "fields": [
        {"name": "a", "type": "uint8", "size": 1},
        {"name": "arr", "array_len": 2, "type": "struct", "size": 20, "struct": {
            "vmsd_name": "elem", "version": 1,
            "fields": [{"name": "x", "type": "uint16", "size": 2}],
            "subsections": [{"vmsd_name": "elem/sub", "version": 1,
                             "fields": [{"name": "y", "type": "int32 le", "size": 4}]}]}},
    ],
    "subsections": [{"vmsd_name": "dev/extra", "version": 2,
                     "fields": [{"name": "flag", "type": "bool", "size": 1}]}],
}]}


def small_stream(description: dict[str, Any] | None = None,
                 dev_body: bytes | None = None) -> bytes:
    """QEVM v3: configuration (pc-i440fx-7.2); ram START (block pc.ram, 0x2000 bytes),
    PART (a zero page, a 4 KiB page), END; FULL 'dev' (fields of DESCRIPTION); EOF;
    the JSON description.  Offsets: configuration 8, START 26, PART 79, END 4217, FULL
    4235 (body 4252..4309), EOF 4314, description 4315 (text 4320)."""
    out = b"QEVM" + be32(3)
    out += b"\x07" + be32(13) + b"pc-i440fx-7.2"
    out += b"\x01" + be32(2) + name(b"ram") + be32(0) + be32(4)
    out += be64(0x2000 | 0x04) + name(b"pc.ram") + be64(0x2000) + be64(0x10)
    out += b"\x7e" + be32(2)
    out += b"\x02" + be32(2)
    out += be64(0x0000 | 0x02) + name(b"pc.ram") + b"\x00"
    out += be64(0x1000 | 0x28) + bytes(range(256)) * 16
    out += be64(0x10)
    out += b"\x7e" + be32(2)
    out += b"\x03" + be32(2) + be64(0x10) + b"\x7e" + be32(2)
    out += b"\x04" + be32(3) + name(b"dev") + be32(0) + be32(1)
    if dev_body is None:
        dev_body = (b"\x2a"
                    + b"\x00\x01" + b"\x05" + name(b"elem/sub") + be32(1) + struct.pack(">i", -2)
                    + b"\x00\x03" + b"\x05" + name(b"elem/sub") + be32(1) + struct.pack(">i", 5)
                    + b"\x05" + name(b"dev/extra") + be32(2) + b"\x01")
    out += dev_body
    out += b"\x7e" + be32(3)
    out += b"\x00"
    text = json.dumps(description or DESCRIPTION).encode()
    out += b"\x06" + be32(len(text)) + text
    return out


def test_small_stream_records() -> None:
    data = small_stream()
    s = qevm.parse(data)
    assert qevm.encode(s) == data
    assert tools.rows(s) == [
        {"offset": 8, "kind": "configuration", "section_id": None, "idstr": "configuration",
         "instance_id": None, "version_id": None, "body_size": 17, "vmsd_name": None},
        {"offset": 26, "kind": "start", "section_id": 2, "idstr": "ram", "instance_id": 0,
         "version_id": 4, "body_size": 31, "vmsd_name": None},
        {"offset": 79, "kind": "part", "section_id": 2, "idstr": "ram", "instance_id": 0,
         "version_id": 4, "body_size": 4128, "vmsd_name": None},
        {"offset": 4217, "kind": "end", "section_id": 2, "idstr": "ram", "instance_id": 0,
         "version_id": 4, "body_size": 8, "vmsd_name": None},
        {"offset": 4235, "kind": "full", "section_id": 3, "idstr": "dev", "instance_id": 0,
         "version_id": 1, "body_size": 57, "vmsd_name": "dev"},
    ]
    assert [type(r).__name__ for r in s.records[-2:]] == ["Eof", "Description"]
    assert (s.records[-2].offset, s.records[-1].offset) == (4314, 4315)
    config = s.records[0]
    assert isinstance(config, qevm.Configuration) and config.machine == "pc-i440fx-7.2"
    dev = s.records[4]
    assert isinstance(dev, qevm.Section) and dev.device is not None
    assert qevm.fields(dev.device.layout, s.body(dev)) == {
        "a": 42,
        "arr": [{"x": 1, "elem/sub": {"y": -2}}, {"x": 3, "elem/sub": {"y": 5}}],
        "dev/extra": {"flag": True},
    }


def footerless(keep_last: bool = False) -> bytes:
    """small_stream() as a machine type before 2.4 sends it: no section footers (its
    four are at 74, 4212, 4230 and 4309; `keep_last` keeps the device's)."""
    data = small_stream()
    cuts = [74, 4212, 4230] + ([] if keep_last else [4309])
    out, pos = b"", 0
    for cut in cuts:
        out += data[pos:cut]
        pos = cut + 5
    return out + data[pos:]


def test_footerless_stream(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = footerless()
    s = qevm.parse(data)
    assert qevm.encode(s) == data
    assert [(r["offset"], r["kind"], r["body_size"]) for r in tools.rows(s)] == [
        (8, "configuration", 17), (26, "start", 31), (74, "part", 4128), (4207, "end", 8),
        (4220, "full", 57)]
    assert all(not r.footer for r in s.records if isinstance(r, qevm.Section))
    der = qevm_ber.join(qevm_ber.to_der(s), data)
    assert qevm_ber.join(qevm_ber.from_ber(der), der) == data
    _fails(tmp_path, capsys, footerless(keep_last=True),
           "section 'dev' (instance 0, id 3) at offset 4294: a section footer, in a stream "
           "whose first section has none")


def test_small_stream_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mig = tmp_path / "s.mig"
    mig.write_bytes(small_stream())
    assert cli.main(["stream", "list", str(mig)]) == 0
    assert capsys.readouterr().out == (
        "OFFSET  ID  KIND           IDSTR          INSTANCE  VERSION  SIZE\n"
        "     8   -  configuration  configuration         -        -    17\n"
        "    26   2  start          ram                   0        4    31\n"
        "    79   2  part           ram                   0        4  4128\n"
        "  4217   2  end            ram                   0        4     8\n"
        "  4235   3  full           dev                   0        1    57\n"
        f"EOF at offset 4314; JSON description at offset 4315: "
        f"{len(json.dumps(DESCRIPTION))} bytes, 1 device entries, page size 4096\n")
    assert cli.main(["stream", "decode", "--json", str(mig)]) == 0
    objs = json.loads(capsys.readouterr().out)
    assert objs == [
        {"idstr": "configuration", "instance_id": None, "version_id": None, "state": None,
         "value": None},
        *[{"idstr": "ram", "instance_id": 0, "version_id": 4, "state": None, "value": None}] * 3,
        {"idstr": "dev", "instance_id": 0, "version_id": 1, "state": None, "value": None},
    ]
    assert cli.main(["stream", "decode", str(mig)]) == 0
    text = capsys.readouterr().out
    assert "[3] FULL 'dev' instance 0 version 1, 57 bytes, VMState 'dev'" in text
    assert "    a = 42\n" in text and "      flag = true\n" in text
    ber, back = tmp_path / "s.ber", tmp_path / "back.mig"
    assert cli.main(["stream", "to-ber", str(mig), str(ber)]) == 0
    assert cli.main(["stream", "from-ber", str(ber), str(back)]) == 0
    assert back.read_bytes() == mig.read_bytes()


def test_stdin(tmp_path: Path) -> None:
    """From stdin ('-'): read in memory, bodies written from memory (no file to copy
    from); the same BER as from the file."""
    data = small_stream()
    mig, ber, ber2, back = (tmp_path / n for n in ("s.mig", "a.ber", "b.ber", "back.mig"))
    mig.write_bytes(data)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    vmgen = [sys.executable, "-m", "vmgen", "stream"]
    listed = subprocess.run([*vmgen, "list", "--json"], input=data, capture_output=True,
                            env=env, check=True, timeout=60)
    assert json.loads(listed.stdout)[-1]["idstr"] == "dev"
    subprocess.run([*vmgen, "to-ber", "-", str(ber)], input=data, env=env, check=True,
                   timeout=60)
    assert cli.main(["stream", "to-ber", str(mig), str(ber2)]) == 0
    assert ber.read_bytes() == ber2.read_bytes()
    subprocess.run([*vmgen, "from-ber", "-", str(back)], input=ber.read_bytes(), env=env,
                   check=True, timeout=60)
    assert back.read_bytes() == data


def test_plugin_module_serves_a_section(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The --module hook: a module whose SECTIONS names a VMState reads its sections
    (a hand-written module standing for what `vmgen import` will generate)."""
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "dev_asn1.py").write_text(
        "SECTIONS = {'dev': 'DevState'}\n"
        "def load_legacy(state, data, version):\n"
        "    assert state == 'DevState' and version == 1\n"
        "    return {'a': data[0], 'raw': data[1:3]}\n")
    mig = tmp_path / "s.mig"
    mig.write_bytes(small_stream())
    assert cli.main(["stream", "decode", "--json", "--module", str(tmp_path / "mods"),
                     str(mig)]) == 0
    last = json.loads(capsys.readouterr().out)[-1]
    assert last == {"idstr": "dev", "instance_id": 0, "version_id": 1, "state": "DevState",
                    "value": {"a": 42, "raw": "0001"}}
    # to-ber carries a served section as the module's record, which this module (no
    # save/load) cannot write: --strict refuses, else the section goes as its bytes.
    assert cli.main(["stream", "to-ber", "--strict", "--module", str(tmp_path / "mods"),
                     str(mig), str(tmp_path / "s.ber")]) == 1
    assert capsys.readouterr().err == (
        f"{mig}: section 'dev' (instance 0, id 3) at offset 4235: its module cannot carry "
        "it (module 'vmgen_decode_dev_asn1' has no attribute 'save') (--strict)\n")
    assert not (tmp_path / "s.ber").exists()
    assert cli.main(["stream", "to-ber", "--module", str(tmp_path / "mods"), str(mig),
                     str(tmp_path / "s.ber")]) == 0
    assert capsys.readouterr().err == (
        f"{mig}: section 'dev' (instance 0, id 3) at offset 4235: carried as bytes (module "
        "'vmgen_decode_dev_asn1' has no attribute 'save')\n")
    # a module that refuses a body: the section and the body's offset
    (tmp_path / "mods" / "dev_asn1.py").write_text(
        "SECTIONS = {'dev': 'DevState'}\n"
        "def load_legacy(state, data, version):\n"
        "    raise ValueError('a must be 43')\n")
    assert cli.main(["stream", "decode", "--module", str(tmp_path / "mods"), str(mig)]) == 1
    assert capsys.readouterr().err == (
        f"{mig}: section 'dev' (instance 0, id 3) at offset 4252: DevState: a must be 43\n")


def _fails(tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes,
           expected: str, commands: tuple[str, ...] = ("list", "decode", "to-ber")) -> None:
    mig = tmp_path / "bad.mig"
    mig.write_bytes(data)
    for command in commands:
        out = tmp_path / f"out-{command}.ber"
        argv = ["stream", command, str(mig)] + ([str(out)] if command == "to-ber" else [])
        assert cli.main(argv) == 1, command
        captured = capsys.readouterr()
        assert captured.err == f"{mig}: {expected}\n", command
        assert captured.out == "", command
        assert not out.exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _json_with(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    desc = json.loads(json.dumps(DESCRIPTION))
    edit(desc)
    return desc


BAD_STREAMS: list[tuple[str, Callable[[], bytes], str]] = [
    ("truncated", lambda: small_stream()[:3000],
     "at offset 3000: no JSON description (0x06, be32 length, JSON) ends the stream: device "
     "sections cannot be delimited"),
    ("missing description", lambda: small_stream()[:4315],
     "at offset 4315: no JSON description (0x06, be32 length, JSON) ends the stream: device "
     "sections cannot be delimited"),
    ("not a stream", lambda: b"QEVX" + small_stream()[4:],
     "at offset 0: not a QEMU migration stream (no 'QEVM' magic)"),
    ("body one byte short", lambda: small_stream(dev_body=small_stream()[4252:4308]),
     "section 'dev' (instance 0, id 3) at offset 4309: no section footer where the body "
     "ends (found 0x00, expected 0x7e)"),
    ("subsection renamed",
     lambda: small_stream().replace(b"elem/sub", b"elem/sux", 1),
     "section 'dev' (instance 0, id 3) at offset 4255: subsection 'elem/sux' where the JSON "
     "description has 'elem/sub'"),
    ("subsection version",
     lambda: small_stream(dev_body=small_stream()[4252:4293] + b"\x05" + name(b"dev/extra")
                          + be32(3) + b"\x01"),
     "section 'dev' (instance 0, id 3) at offset 4293: subsection 'dev/extra' version 3, the "
     "JSON description says 2"),
    ("description lies about a field size",
     lambda: small_stream(_json_with(lambda d: d["devices"][0]["fields"][0].update(
         type="uint16", size=2))),
     "section 'dev' (instance 0, id 3) at offset 4256: subsection 'elem/sub' expected "
     "(byte 0x08, not 0x05)"),
    ("description lies about a struct size",
     lambda: small_stream(_json_with(lambda d: d["devices"][0]["fields"][1].update(size=21))),
     "at offset 4320: JSON description: description.devices[0].fields[1] ('arr'): struct "
     "size 21, its fields and subsections add up to 20"),
    ("description names another device",
     lambda: small_stream(_json_with(lambda d: d["devices"][0].update(name="other"))),
     "section 'dev' (instance 0, id 3) at offset 4235: JSON description entry 0 is 'other' "
     "(instance 0, version 1), not this section (version 1)"),
    ("description with an extra device",
     lambda: small_stream(_json_with(lambda d: d["devices"].append(d["devices"][0]))),
     "at offset 4320: the JSON description lists 2 devices, the stream has 1 FULL "
     "sections"),
    ("negative array_len",
     lambda: small_stream(_json_with(lambda d: d["devices"][0]["fields"][1].update(
         array_len=-1))),
     "at offset 4320: JSON description: description.devices[0].fields[1].array_len is not "
     "an integer in 0..4294967295"),
    ("array_len past the end",
     lambda: small_stream(_json_with(lambda d: d["devices"][0]["fields"][1].update(
         array_len=4000000000))),
     "section 'dev' (instance 0, id 3) at offset 4252: truncated: the JSON description "
     "makes the body 80000000017 bytes, 631 left"),
    ("zero-size elements by the billion",
     lambda: small_stream(_json_with(lambda d: d["devices"][0]["fields"].append(
         {"name": "none", "type": "buffer", "size": 0, "array_len": 4000000000}))),
     "at offset 4320: JSON description: description.devices[0]: 4000000011 fields and "
     "elements for a body of 57 bytes"),
    ("description not JSON",
     lambda: small_stream()[:4321] + b"{" + small_stream()[4322:],
     "at offset 4320: JSON description: not valid JSON (Expecting property name enclosed in "
     "double quotes: line 1 column 2 (char 1))"),
    ("unknown section type",
     lambda: small_stream()[:4314] + b"\x09" + small_stream()[4314:],
     "at offset 4314: unknown section type 0x09"),
    ("footer names another section",
     lambda: small_stream()[:4310] + be32(4) + small_stream()[4314:],
     "section 'dev' (instance 0, id 3) at offset 4310: section footer names section id 4"),
    ("ram page outside its block",
     lambda: small_stream()[:100] + be64(0x2000 | 0x28) + small_stream()[108:],
     "section 'ram' (instance 0, id 2) at offset 100: ram page offset 0x2000 outside block "
     "'pc.ram' (0x2000 bytes)"),
    ("ram page of an unknown block",
     lambda: small_stream()[:93] + b"pc.rom" + small_stream()[99:],
     "section 'ram' (instance 0, id 2) at offset 84: ram page of unknown block 'pc.rom'"),
    ("ram block larger than the total",
     lambda: small_stream()[:58] + be64(0x3000) + small_stream()[66:],
     "section 'ram' (instance 0, id 2) at offset 51: ram block 'pc.ram' of 0x3000 bytes "
     "exceeds the 0x2000 left of the total"),
    ("ram flags",
     lambda: small_stream()[:4222] + be64(0x11) + small_stream()[4230:],
     "section 'ram' (instance 0, id 2) at offset 4222: ram record with flags 0x11"),
    ("PART without START",
     lambda: small_stream()[:79] + b"\x02" + be32(7) + small_stream()[84:],
     "at offset 80: PART section for section id 7, which no START section opened"),
    ("a footer missing after the first section's",
     lambda: small_stream()[:4309] + small_stream()[4314:],
     "section 'dev' (instance 0, id 3) at offset 4309: no section footer where the body "
     "ends (found 0x00, expected 0x7e)"),
    ("unknown configuration subsection",
     lambda: small_stream()[:26] + b"\x05" + name(b"configuration/x") + be32(1)
     + small_stream()[26:],
     "section 'configuration' at offset 26: unknown configuration subsection "
     "'configuration/x'"),
]


@pytest.mark.parametrize(("case", "make", "expected"), BAD_STREAMS,
                         ids=[c[0] for c in BAD_STREAMS])
def test_bad_stream(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str,
                    make: Callable[[], bytes], expected: str) -> None:
    _fails(tmp_path, capsys, make(), expected)


def ram_stream(headers: list[int | tuple[int, bytes]], block: int = 0x100000) -> bytes:
    """QEVM v3 with only RAM: block pc.ram of `block` bytes; a PART section whose records
    are a named zero page at 0, then per header word (be64) a 4 KiB page (a fill byte
    for a zero page; a (word, payload) pair: that payload); no devices.  The PART body
    starts at 84; page i's header is at 100 + 4104 * i (when all are 4 KiB pages)."""
    out = b"QEVM" + be32(3) + b"\x07" + be32(13) + b"pc-i440fx-7.2"
    out += b"\x01" + be32(2) + name(b"ram") + be32(0) + be32(4)
    out += be64(block | 0x04) + name(b"pc.ram") + be64(block) + be64(0x10) + b"\x7e" + be32(2)
    out += b"\x02" + be32(2) + be64(0x02) + name(b"pc.ram") + b"\x00"
    for i, item in enumerate(headers):
        if isinstance(item, tuple):  # a record with its own payload
            out += be64(item[0]) + item[1]
            continue
        zero = item & 0xFFF in (0x02, 0x22)
        out += be64(item) + (b"\x00" if zero else bytes([i % 256]) * 4096)
    out += be64(0x10) + b"\x7e" + be32(2)
    out += b"\x03" + be32(2) + be64(0x10) + b"\x7e" + be32(2) + b"\x00"
    text = b'{"page_size": 4096, "devices": []}'
    return out + b"\x06" + be32(len(text)) + text


def test_ram_runs_of_pages() -> None:
    """Long runs of pages are checked in batches (strided slices): the same records and
    the same errors, at the same offsets, as one by one."""
    good = [0x1000 * i | 0x28 for i in range(1, 256)]
    data = ram_stream(good)
    s = qevm.parse(data)
    assert qevm.encode(s) == data
    part = s.records[2]
    assert isinstance(part, qevm.Section) and part.body_size == 16 + 4104 * 255 + 8
    for i in (0, 63, 64, 150, 254):
        for word, message in [
            (0x100000 | 0x28, "ram page offset 0x100000 outside block 'pc.ram' (0x100000 "
             "bytes)"),
            (0x1000 * i | 0x128, "ram record with flags 0x128"),
            (0x1000 * i | 0x29, "ram record with flags 0x29"),
        ]:
            bad = ram_stream([*good[:i], word, *good[i + 1:]])
            with pytest.raises(StreamError) as err:
                qevm.parse(bad)
            assert str(err.value) == (f"section 'ram' (instance 0, id 2) at offset "
                                      f"{100 + 4104 * i}: {message}"), (i, word)
    # zero pages between runs of pages
    mixed = [w if i % 7 else (w & ~0xFFF) | 0x22 for i, w in enumerate(good)]
    data = ram_stream(mixed)
    s = qevm.parse(data)
    assert qevm.encode(s) == data
    assert s.records[2].body_end - s.records[2].body == 16 + 8 + sum(
        9 if i % 7 == 0 else 4104 for i in range(255))


def test_ram_encoded_pages() -> None:
    """XBZRLE pages (u8 encoding 1, be16 length, data) and compressed pages (be32 length,
    data), as migration/ram.c writes them; their lengths are checked."""
    xbzrle = (0x1000 | 0x60, b"\x01" + struct.pack(">H", 5) + b"abcde")
    compressed = (0x2000 | 0x120, be32(7) + b"zlib..!")
    data = ram_stream([xbzrle, compressed, 0x3000 | 0x28])
    s = qevm.parse(data)
    assert qevm.encode(s) == data
    assert s.records[2].body_end - s.records[2].body == 16 + 16 + 19 + 4104 + 8
    for record, message in [
        ((0x1000 | 0x60, b"\x02" + struct.pack(">H", 5) + b"abcde"), "xbzrle encoding 0x02"),
        ((0x1000 | 0x60, b"\x01" + struct.pack(">H", 4097) + b"x" * 4097),
         "xbzrle data of 4097 bytes for a 4096-byte page"),
        ((0x2000 | 0x120, be32(8193) + b"x" * 8193), "compressed page of 8193 bytes"),
    ]:
        with pytest.raises(StreamError) as err:
            qevm.parse(ram_stream([record]))
        assert str(err.value) == f"section 'ram' (instance 0, id 2) at offset 108: {message}"


def _checked(data: bytes, size: int) -> tuple[list[qevm.Record] | str, bytes]:
    """qevm.check of `data` through a window of `size` bytes: its records (or its error)
    and what its sink received."""
    out = bytearray()

    def fill(view: memoryview, at: int) -> None:
        view[:] = data[at:at + len(view)]

    def sink(view: memoryview, at: int) -> None:
        assert at == len(out)
        out.extend(view)

    window = qevm.Window(len(data), fill, sink, size=size)
    try:
        return qevm.check(window, lambda start, end: data[start:end]).records, bytes(out)
    except StreamError as exc:
        return str(exc), bytes(out)


@pytest.mark.parametrize("size", [1, 100, 4200, 1 << 20])
def test_checked_through_a_window(size: int) -> None:
    """qevm.check reads a stream once, in order, through a window that slides forward
    (from-ber writes what it checks, with no second pass): the same records and the same
    diagnostics as qevm.parse, and its sink gets every byte of a valid stream once, in
    order (windows smaller than a record grow to hold it)."""
    streams = [small_stream(), footerless(), footerless(keep_last=True),
               ram_stream([0x1000 * i | 0x28 for i in range(1, 40)]),
               ram_stream([0x1000 * i | (0x28 if i % 3 else 0x22) for i in range(1, 40)]),
               *(make() for _, make, _ in BAD_STREAMS)]
    for data in streams:
        try:
            expected: list[qevm.Record] | str = qevm.parse(data).records
        except StreamError as exc:
            expected = str(exc)
        got, written = _checked(data, size)
        assert got == expected
        if not isinstance(got, str):
            assert written == data


def ram_parts(pages: list[int]) -> bytes:
    """QEVM v3 with only RAM (block pc.ram of 16 MiB): one PART section per item of
    `pages`, of that many 4 KiB pages (a zero page if 0), each continuing the block."""
    out = b"QEVM" + be32(3) + b"\x07" + be32(13) + b"pc-i440fx-7.2"
    out += b"\x01" + be32(2) + name(b"ram") + be32(0) + be32(4)
    out += be64(0x1000000 | 0x04) + name(b"pc.ram") + be64(0x1000000) + be64(0x10)
    out += b"\x7e" + be32(2)
    out += b"\x02" + be32(2) + be64(0x02) + name(b"pc.ram") + b"\x00" + be64(0x10)
    out += b"\x7e" + be32(2)
    page = 0
    for count in pages:
        out += b"\x02" + be32(2)
        if count == 0:
            out += be64(0x22) + b"\x00"
        for _ in range(count):
            page += 1
            out += be64(0x1000 * page | 0x28) + bytes([page % 256]) * 4096
        out += be64(0x10) + b"\x7e" + be32(2)
    out += b"\x03" + be32(2) + be64(0x10) + b"\x7e" + be32(2) + b"\x00"
    text = b'{"page_size": 4096, "devices": []}'
    return out + b"\x06" + be32(len(text)) + text


@pytest.mark.parametrize("size", [1, 3000, 1 << 14, 1 << 20])
def test_to_ber_in_one_pass(tmp_path: Path, size: int) -> None:
    """to-ber of a file writes each body where the DER encoding puts it while it reads
    the stream, guessing the sizes of lengths not known yet (the records' total; a
    section's own, from the previous section and what it has read): bodies whose guess
    was wrong, and bodies they were written over, are written again.  Sections whose
    sizes change class (lengths of 1, 2, 3 octets), read through windows from 1 byte
    to 1 MiB: the same bytes as the DER encoding of the parsed stream."""
    streams = [small_stream(), footerless(), ram_parts([0, 1, 40, 0, 3, 70, 1, 16, 0]),
               ram_parts([20, 20, 0, 20]), ram_parts([100, 2, 100])]
    for data in streams:
        mig, ber = tmp_path / "s.mig", tmp_path / "s.ber"
        mig.write_bytes(data)
        expected = qevm_ber.join(qevm_ber.to_der(qevm.parse(data)), data)
        with open(mig, "rb") as f, open(ber, "wb", buffering=0) as out:
            stream = qevm_ber.write_file_stream(out, f.fileno(), data, lambda s: {},
                                                window_size=size)
        assert stream.records == qevm.parse(data).records
        assert ber.read_bytes() == expected


def test_device_record_subsections() -> None:
    """A device record's Device-record encoding, by hand: VMState name, the record (an
    EXPLICIT [1]), and only when some are listed the subsections ([2] SEQUENCE OF
    IA5String), which from-ber hands to the device reader with each name's offset
    (None: no such field, as in every file written before it existed)."""
    data = small_stream()
    s = qevm.parse(data)
    body = s.records[4]
    assert isinstance(body, qevm.Section) and body.name == "dev"
    record = b"\x30\x03\x80\x01\x2a"
    plain = b"\xa3\x0e\xa1\x0c\x80\x03dev\xa1\x05" + record
    listed = (b"\xa3\x25\xa1\x23\x80\x03dev\xa1\x05" + record
              + b"\xa2\x15\x16\x08elem/sub\x16\x09dev/extra")
    seen: list[tuple[str, bytes, int, qevm_ber.Listed]] = []

    def reader(vmsd: str, rec: bytes, version: int, offset: int,
               subs: qevm_ber.Listed) -> bytes:
        seen.append((vmsd, rec, version, subs))
        return bytes(s.body(body))

    for subsections, encoded in (((), plain), (("elem/sub", "dev/extra"), listed)):
        der = qevm_ber.join(qevm_ber.to_der(s, {4: ("dev", record, subsections)}), data)
        assert der.count(encoded) == 1
        seen.clear()
        assert qevm_ber.join(qevm_ber.from_ber(der, reader), der) == data
        at = der.index(encoded)
        assert seen == [("dev", record, 1, None if not subsections else (
            ("elem/sub", at + 18), ("dev/extra", at + 28)))]
    # not an IA5String, not printable: errors at the name
    for bad, message in ((b"\x1a\x08elem/sub", "(IA5String) expected (tag 0x16), found tag "
                          "0x1a"),
                         (b"\x16\x08elem\nsub", ": a name that is not 1 to 255 printable "
                          "characters")):
        der = qevm_ber.join(qevm_ber.to_der(s, {4: ("dev", record, ("elem/sub", "dev/extra"))}),
                            data)
        at = der.index(b"\x16\x08elem/sub")
        der = der[:at] + bad + der[at + len(bad):]
        with pytest.raises(StreamError) as exc:
            qevm_ber.join(qevm_ber.from_ber(der, reader), der)
        assert str(exc.value) == (f"at offset {at}: record 4 (section) device subsections"
                                  f" {message}".replace(" :", ":"))


def test_bad_ber(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mig, ber, out = tmp_path / "s.mig", tmp_path / "s.ber", tmp_path / "out.mig"
    mig.write_bytes(small_stream())
    assert cli.main(["stream", "to-ber", str(mig), str(ber)]) == 0
    good = ber.read_bytes()
    cases = [
        # 30 82 13 1a: 4890 bytes of contents after a 4-byte header
        (good[:-1], "at offset 0: Stream (SEQUENCE): 4890 bytes of contents, only 4889 left"),
        (good + b"\x00", "at offset 4894: 1 bytes after the Stream value"),
        # the ram START body's block length (0x2000 -> 0x3000): valid BER, invalid stream
        (good.replace(be64(0x2000), be64(0x3000), 1),
         "the stream it holds is not valid: section 'ram' (instance 0, id 2) at offset 51: "
         "ram block 'pc.ram' of 0x3000 bytes exceeds the 0x2000 left of the total"),
    ]
    for data, expected in cases:
        ber.write_bytes(data)
        assert cli.main(["stream", "from-ber", str(ber), str(out)]) == 1
        assert capsys.readouterr().err == f"{ber}: {expected}\n"
        assert not out.exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_strict_names_first_device_section(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str],
                                           built: Callable[[str], Built]) -> None:
    """Generated modules of today serve no section: decode is unchanged with them, and
    --strict fails on the first device section."""
    mods = built("rtc").out
    mig, ber = tmp_path / "s.mig", tmp_path / "s.ber"
    mig.write_bytes(small_stream())
    assert cli.main(["stream", "decode", "--json", str(mig)]) == 0
    plain = capsys.readouterr().out
    assert cli.main(["stream", "decode", "--json", "--module", str(mods), str(mig)]) == 0
    assert capsys.readouterr().out == plain
    assert cli.main(["stream", "to-ber", "--strict", "--module", str(mods), str(mig),
                     str(ber)]) == 1
    assert capsys.readouterr().err == (
        f"{mig}: section 'dev' (instance 0, id 3) at offset 4235: no --module serves "
        "VMState 'dev' (--strict)\n")
    assert not ber.exists()


@pytest.mark.parametrize("words", [
    ["stream", "to-ber", "a.mig", "b.ber"], ["stream", "from-ber", "-", "x.mig"],
    ["stream", "to-ber", "-", "-"], ["stream", "from-ber", "", "a b"],
    ["stream", "to-ber", "--strict", "a.mig", "b.ber"], ["stream", "to-ber", "a.mig"],
    ["stream", "to-ber", "-x", "b.ber"], ["stream", "from-ber", "a.ber", "--"],
    ["stream", "list", "a.mig", "b"], ["decode", "to-ber", "a", "b"],
    ["stream", "to-ber", "--module", "m", "a.mig", "b.ber"]])
def test_plain_conversions_skip_the_parser(words: list[str]) -> None:
    """`stream to-ber|from-ber IN OUT` without options runs without building the
    parser (its start-up is measured: BENCHMARKS.md); where it does, argparse reads the
    same command line as the same conversion, and every other line goes to argparse."""
    plain = cli._plain_conversion(words)
    try:
        args = cli.build_parser().parse_args(words)
    except SystemExit:
        assert plain is None
        return
    if plain is not None:
        assert args.command == "stream" and args.module == []
        assert not getattr(args, "strict", False)
        assert plain == (args.stream_command, args.input, args.output)


def test_conversions_start_light(tmp_path: Path) -> None:
    """to-ber and from-ber import neither argparse, typing, pathlib, dataclasses nor
    tempfile (with bytecode cached, about 30 ms of CPU of their 65-79 ms of start-up:
    BENCHMARKS.md)."""
    mig, ber, back = tmp_path / "s.mig", tmp_path / "s.ber", tmp_path / "back.mig"
    mig.write_bytes(small_stream())
    probe = ("import sys\n"
             "from vmgen import cli\n"
             "status = cli.main(sys.argv[1:])\n"
             "heavy = ('argparse', 'typing', 'pathlib', 'dataclasses', 'tempfile')\n"
             "print(status, [m for m in heavy if m in sys.modules])\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for words in (["stream", "to-ber", str(mig), str(ber)],
                  ["stream", "from-ber", str(ber), str(back)]):
        proc = subprocess.run([sys.executable, "-c", probe, *words], capture_output=True,
                              text=True, env=env, check=True, timeout=60)
        assert proc.stdout == "0 []\n", proc.stdout + proc.stderr
    assert back.read_bytes() == mig.read_bytes()


def test_schema_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["stream", "schema", "-o", str(tmp_path)]) == 0
    assert (tmp_path / "qevm-stream.asn").read_text() == SCHEMA.read_text()
    assert cli.main(["stream", "schema", "-o", "-"]) == 0
    assert capsys.readouterr().out == SCHEMA.read_text()


# ---- real QEMU ----------------------------------------------------------------------------

# Sections each VM's stream must hold (idstr, in stream order), besides the bare machine's.
EXPECTED = {
    "pc": ["timer", "cpu_common", "cpu", "apic", "fw_cfg", "0000:00:00.0/I440FX", "dma",
           "dma", "0000:00:01.0/PIIX3", "i8259", "i8259", "ioapic", "hpet", "mc146818rtc",
           "i8254", "pcspk", "fdc", "ps2kbd", "ps2mouse", "pckbd", "port92",
           "0000:00:01.1/ide", "0000:00:01.3/piix4_pm", "globalstate"],
    "q35": ["timer", "cpu", "0000:00:00.0/mch", "0000:00:1f.0/ICH9LPC", "hpet",
            "mc146818rtc", "i8254", "0000:00:1f.2/ich9_ahci", "0000:00:1f.3/ich9_smb",
            "globalstate"],
    "pc-2.3": ["timer", "cpu", "0000:00:00.0/I440FX", "hpet", "mc146818rtc", "i8254", "fdc",
               "0000:00:01.1/ide", "0000:00:01.3/piix4_pm", "globalstate"],
    "pc-devices": ["slirp", "slirp", "0000:00:02.0/e1000", "0000:00:03.0/rtl8139",
                   "0000:00:04.0/uhci", "0000:00:04.0/1/usb-kbd", "0000:00:04.0/2.1/usb-ptr",
                   "sb16", "ne2000", "parallel_isa", "serial"],
    "q35-devices": ["0000:00:01.0/xhci", "0000:00:01.0/1/usb-kbd", "0000:00:02.0/e1000e",
                    "0000:00:03.0/intel-hda", "hda-audio", "0000:00:04.0/i6300esb_wdt"],
}


def _subsequence(wanted: list[str], got: list[str]) -> bool:
    it = iter(got)
    return all(w in it for w in wanted)


@pytest.mark.parametrize("vm", list(QEMU_VMS))
def test_real_stream(vm: str, qemu_stream: Callable[[str], Path], tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    path = qemu_stream(vm)
    data = path.read_bytes()
    s = qevm.parse(data)
    assert qevm.encode(s) == data
    assert cli.main(["stream", "list", "--json", str(path)]) == 0
    listed = json.loads(capsys.readouterr().out)
    old = vm == "pc-2.3"  # machine types before 2.4: no configuration, no footers
    assert (listed[0]["kind"] == "configuration") != old
    assert all(r.footer != old for r in s.records if isinstance(r, qevm.Section))
    ram = [r for r in listed if r["idstr"] == "ram"]
    assert ram[0]["kind"] == "start" and ram[-1]["kind"] == "end"
    assert {r["kind"] for r in ram[1:-1]} <= {"part"}
    names = [r["idstr"] for r in listed if r["kind"] == "full"]
    assert _subsequence(EXPECTED[vm], names), names
    assert sum(r["body_size"] for r in listed) + 8 < len(data)
    # every FULL section has its description entry, matched by position
    assert len(names) == len(s.devices)

    ber, back, again = tmp_path / "vm.ber", tmp_path / "back.mig", tmp_path / "again.mig"
    assert cli.main(["stream", "to-ber", str(path), str(ber)]) == 0
    assert cli.main(["stream", "from-ber", str(ber), str(back)]) == 0
    assert back.read_bytes() == data
    # real QEMU loads the restored stream, and saves it again byte for byte
    machine, args = QEMU_VMS[vm]
    assert qemu.load_and_resave(back, again, machine, args) == data


def test_real_stream_with_capabilities(tmp_path: Path) -> None:
    """Migration capabilities that change the format: x-ignore-shared (each RAM block's
    address follows its length) and validate-uuid, both announced in configuration
    subsections."""
    require_qemu()
    machine, args = "pc", ["-uuid", "12345678-1234-1234-1234-123456789abc"]
    caps = ["x-ignore-shared", "validate-uuid"]
    path = tmp_path / "caps.mig"
    data = qemu.save_stream(path, machine, args, caps)
    s = qevm.parse(data)
    assert qevm.encode(s) == data
    config = s.records[0]
    assert isinstance(config, qevm.Configuration)
    assert config.subsections == ("configuration/capabilities", "configuration/uuid")
    assert config.capabilities == ("x-ignore-shared",)
    assert bytes.fromhex("12345678123412341234123456789abc") in bytes(s.body(config))
    plain = qevm.parse(qemu.save_stream(tmp_path / "plain.mig", machine, args))
    start, start_plain = s.records[1], plain.records[1]
    assert isinstance(start, qevm.Section) and isinstance(start_plain, qevm.Section)
    # each block's be64 address follows its length
    assert start.body_size == start_plain.body_size + 8 * _ram_blocks(plain) > 8 * 6
    ber, back, again = tmp_path / "caps.ber", tmp_path / "back.mig", tmp_path / "again.mig"
    assert cli.main(["stream", "to-ber", str(path), str(ber)]) == 0
    assert cli.main(["stream", "from-ber", str(ber), str(back)]) == 0
    assert back.read_bytes() == data
    assert qemu.load_and_resave(back, again, machine, args, caps) == data


def test_real_stream_compressed(tmp_path: Path) -> None:
    """The compress capability: non-zero pages travel as compressed records (flag
    0x100, be32 length).  QEMU's compression threads make two saves of one VM differ,
    so the restored stream is loaded and saved again, and that save parsed."""
    require_qemu()
    path, ber, back, again = (tmp_path / n for n in ("c.mig", "c.ber", "back.mig", "again.mig"))
    data = qemu.save_stream(path, "pc", [], ["compress"])
    s = qevm.parse(data)
    assert qevm.encode(s) == data
    ram = b"".join(bytes(s.body(r)) for r in s.records
                   if isinstance(r, qevm.Section) and r.name == "ram")
    assert re.search(rb"\x00\x00[\x00-\xff]{4}\x01\x20", ram)  # a compressed record
    assert cli.main(["stream", "to-ber", str(path), str(ber)]) == 0
    assert cli.main(["stream", "from-ber", str(ber), str(back)]) == 0
    assert back.read_bytes() == data
    resaved = qevm.parse(qemu.load_and_resave(back, again, "pc", [], ["compress"]))
    # (how many PART sections RAM takes varies too)
    assert [r.name for r in resaved.records if isinstance(r, qevm.Section) and r.device] == [
        r.name for r in s.records if isinstance(r, qevm.Section) and r.device]


def _ram_blocks(s: qevm.Stream) -> int:
    """How many RAM blocks the START section lists (a fresh walk of its block list)."""
    start = s.records[1]
    assert isinstance(start, qevm.Section) and start.name == "ram"
    body = bytes(s.body(start))
    total = int.from_bytes(body[:8], "big") & ~0xFFF
    pos, count = 8, 0
    while total > 0:
        n = body[pos]
        total -= int.from_bytes(body[pos + 1 + n:pos + 9 + n], "big")
        pos += 9 + n
        count += 1
    return count


def test_real_stream_fields(qemu_stream: Callable[[str], Path],
                            capsys: pytest.CaptureFixture[str]) -> None:
    """decode's description view of real devices: values QEMU's x86 machines hold."""
    path = qemu_stream("pc-devices")
    assert cli.main(["stream", "decode", "--json", "--fields", str(path)]) == 0
    objs = json.loads(capsys.readouterr().out)
    assert all(o["state"] is None and o["value"] is None for o in objs)
    assert all(set(o) == {"idstr", "instance_id", "version_id", "state", "value", "fields"}
               for o in objs)
    by = {}
    for o in objs:
        by.setdefault(o["idstr"], o)
    assert objs[0]["fields"]["machine"] == "pc-i440fx-7.2"
    hpet = by["hpet"]["fields"]
    assert hpet["num_timers"] == len(hpet["timer"]) == 3
    assert [t["tn"] for t in hpet["timer"]] == [0, 1, 2]
    i8254 = by["i8254"]["fields"]
    assert next(iter(i8254)) == "channels[0].irq_disabled"
    assert list(i8254)[-1] == "channels[0].next_transition_time"
    assert len(i8254["channels"]) == 3
    assert by["fdc"]["fields"]["state"]["num_floppies"] == 2  # uint8 equal
    slirps = [o for o in objs if o["idstr"] == "slirp"]
    assert len(slirps) == 2 and all(o["instance_id"] == 0 for o in slirps)
    # e1000's three subsections, after its fields
    assert list(by["0000:00:02.0/e1000"]["fields"])[-3:] == [
        "e1000/mit_state", "e1000/full_mac_state", "e1000/tx_tso_state"]
    assert by["globalstate"]["fields"]["size"] == len("prelaunch") + 1


def test_qemu_refuses_a_broken_stream(qemu_stream: Callable[[str], Path],
                                      tmp_path: Path) -> None:
    """The harness reports QEMU's own failure text for a stream it does not load."""
    data = qemu_stream("pc").read_bytes()
    s = qevm.parse(data)
    fdc = next(r for r in s.records if isinstance(r, qevm.Section) and r.name == "fdc")
    broken = tmp_path / "broken.mig"
    broken.write_bytes(data[:fdc.body_end - 1] + data[fdc.body_end:])
    with pytest.raises(qemu.QemuError, match="Missing section footer for fdc"):
        qemu.load_and_resave(broken, tmp_path / "x.mig")


# ---- outside tools read a whole VM's BER ------------------------------------------------


def _require(tool: str) -> str:
    return require_tool(tool)


def _run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300,
                          **kwargs)


def _expected_lines(s: qevm.Stream) -> list[str]:
    lines = [f"file-version {s.version}"]
    for r in s.records:
        if isinstance(r, qevm.Configuration):
            lines.append(f"configuration {r.end - r.body}")
        elif isinstance(r, qevm.Eof):
            lines.append("eof")
        elif isinstance(r, qevm.Description):
            lines.append(f"description {r.end - r.text}")
        else:
            head = (f" {r.name} {r.instance_id} {r.version_id}"
                    if r.kind in (qevm.Kind.START, qevm.Kind.FULL) else "")
            lines.append(f"section {int(r.kind)} {r.section_id}{head} {r.body_size}"
                         + ("" if r.footer else " no-footer"))
    return [*lines, "der identical"]


@pytest.mark.parametrize("vm", ["pc-devices", "q35-devices", "pc-2.3"])
def test_outside_tools_read_a_whole_vm(vm: str, qemu_stream: Callable[[str], Path],
                                       asn1c_reader: Path, tmp_path: Path) -> None:
    path = qemu_stream(vm)
    ber = tmp_path / "vm.ber"
    assert cli.main(["stream", "to-ber", str(path), str(ber)]) == 0
    s = qevm.parse(path.read_bytes())
    der = ber.read_bytes()

    # asn1c: decodes every byte, sees the records vmgen wrote, DER-encodes them identically
    proc = _run([str(asn1c_reader), str(ber)])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == _expected_lines(s)

    # asn1tools: decodes every byte and encodes the identical DER
    import asn1tools

    spec = asn1tools.compile_files(str(SCHEMA), "ber")
    value, used = spec.decode_with_length("Stream", der)
    assert used == len(der)
    assert asn1tools.compile_files(str(SCHEMA), "der").encode("Stream", value) == der
    assert len(value["records"]) == len(s.records)

    # openssl asn1parse: no error, the outer SEQUENCE spans the file
    proc = _run([_require("openssl"), "asn1parse", "-inform", "DER", "-in", str(ber)])
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    assert not re.search(r"^Error", proc.stdout, re.M)
    first = re.match(r"\s*0:d=0\s+hl=(\d+) l=\s*(\d+) cons: SEQUENCE", proc.stdout)
    assert first is not None and int(first[1]) + int(first[2]) == len(der)

    # dumpasn1: parses it, 0 errors (-e -o: bodies are raw bytes, not nested ASN.1/text)
    proc = _run([_require("dumpasn1"), "-e", "-o", "-z", str(ber)])
    assert re.fullmatch(r"0 warnings?, 0 errors?\.", proc.stderr.strip()), proc.stderr
    assert re.match(rf"\s*0\s+{len(der) - 5}: SEQUENCE \{{", proc.stdout)


# ---- hostile input ------------------------------------------------------------------------


def _interesting(s: qevm.Stream) -> list[int]:
    """Offsets where a mutation hits structure, not page data: record headers, device
    bodies, footers, the description's numbers."""
    out: list[int] = []
    for r in s.records:
        if isinstance(r, qevm.Section):
            out += range(r.offset, r.body + 16)
            if r.device is not None:
                out += range(r.body, min(r.body_end, r.body + 64))
            out += range(r.body_end - 4, r.end)
        elif isinstance(r, qevm.Description):
            out += range(r.offset, r.offset + 8)
    return out


MUTATIONS = st.lists(st.tuples(st.sampled_from(["set", "delete", "insert", "truncate"]),
                               st.integers(0, 2**31), st.integers(0, 255)),
                     min_size=1, max_size=3)


def _mutate(data: bytes, spots: list[int], ops: list[tuple[str, int, int]]) -> bytes:
    buf = bytearray(data)
    for op, where, byte in ops:
        at = spots[where % len(spots)] if where % 3 else where % len(buf)
        at = min(at, len(buf) - 1)
        if op == "set":
            buf[at] = byte
        elif op == "delete":
            del buf[at:at + 1 + byte % 8]
        elif op == "insert":
            buf[at:at] = bytes([byte]) * (1 + byte % 5)
        else:
            del buf[at:]
        if not buf:
            break
    return bytes(buf)


def _json_mutation(data: bytes, s: qevm.Stream, n: int, value: int) -> bytes:
    """The description with its n-th number replaced (its length field kept true)."""
    desc = s.records[-1]
    assert isinstance(desc, qevm.Description)
    text = data[desc.text:]
    numbers = list(re.finditer(rb"\d+", text))
    m = numbers[n % len(numbers)]
    text = text[:m.start()] + str(value).encode() + text[m.end():]
    return data[:desc.offset] + b"\x06" + be32(len(text)) + text


def _survives(data: bytes, tmp: Path) -> None:
    """list, decode and to-ber either work or raise StreamError; a to-ber output goes
    through from-ber back to the same bytes; the windowed check (from-ber's) and the
    one-pass to-ber of a file (through a small window) agree with parse and to_der."""
    mig, ber = tmp / "h.mig", tmp / "h.ber"
    mig.write_bytes(data)

    def one_pass() -> bytes | str:
        try:
            with open(mig, "rb") as f, open(ber, "wb", buffering=0) as out:
                qevm_ber.write_file_stream(out, f.fileno(), data, lambda s: {},
                                           window_size=5000)
        except StreamError as exc:
            return str(exc)
        return ber.read_bytes()

    try:
        s = qevm.parse(data)
    except StreamError as exc:
        assert _checked(data, 5000)[0] == str(exc)
        assert one_pass() == str(exc)
        return
    assert _checked(data, 5000) == (s.records, data)
    tools.list_text(s)
    tools.decode_text(s, {})
    tools.decode_json(s, {}, True)
    der = qevm_ber.join(qevm_ber.to_der(s), data)
    assert one_pass() == der
    assert qevm_ber.join(qevm_ber.from_ber(der), der) == data


@pytest.fixture(scope="module")
def hostile_base(qemu_stream: Callable[[str], Path]) -> tuple[bytes, qevm.Stream, list[int]]:
    data = qemu_stream("pc-devices").read_bytes()
    s = qevm.parse(data)
    return data, s, _interesting(s)


SETTINGS = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


@SETTINGS
@given(ops=MUTATIONS)
def test_mutated_streams_never_crash(hostile_base: tuple[bytes, qevm.Stream, list[int]],
                                     tmp_path: Path, ops: list[tuple[str, int, int]]) -> None:
    data, _, spots = hostile_base
    _survives(_mutate(data, spots, ops), tmp_path)


@SETTINGS
@given(n=st.integers(0, 10**6), value=st.sampled_from([0, 1, 2, 3, 7, 255, 256, 4095,
                                                       65536, 2**31, 2**32 - 1, 2**32]))
def test_mutated_descriptions_never_crash(hostile_base: tuple[bytes, qevm.Stream, list[int]],
                                          tmp_path: Path, n: int, value: int) -> None:
    data, s, _ = hostile_base
    _survives(_json_mutation(data, s, n, value), tmp_path)


@SETTINGS
@given(ops=MUTATIONS)
def test_mutated_ber_never_crashes(hostile_base: tuple[bytes, qevm.Stream, list[int]],
                                   ops: list[tuple[str, int, int]]) -> None:
    data, s, _ = hostile_base
    der = qevm_ber.join(qevm_ber.to_der(s), data)
    # structure lives in the first bytes of each record: mutate where the headers are
    spots = [i for i in range(len(der)) if i < 64 or der[i] in (0x30, 0xA1, 0xA2, 0xA3)]
    bad = _mutate(der, spots, ops)
    try:
        out = qevm_ber.join(qevm_ber.from_ber(bad), bad)
    except StreamError:
        return
    with contextlib.suppress(StreamError):
        qevm.parse(out)
