"""`vmgen import`: QEMU's description of its device sections -> annotated headers in wire
layout, whose generated legacy codec reads and writes the real sections byte for byte.

Streams come from real QEMU 7.2 (tests/qemu.py, saved once per session): -M pc and
-M q35, bare and with add-on devices (NICs, USB, ISA sound/NIC/parallel/serial, HDA,
a watchdog).  Every device section with a VMState is imported, generated, compiled
with -Wall -Wextra -Werror under ASan/UBSan, loaded and saved again: the bytes must
be the section's, and so must the generated Python module's.  One changed value is
spliced back and real QEMU must load it.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import qemu, support
from vmgen.driver.pipeline import generate
from vmgen.frontend.source import Options
from vmgen.runtime import qevm
from vmgen.tools.importer import ImportFailure, import_devices

STREAMS = ("pc", "pc-devices", "q35", "q35-devices")

_DRIVER = """\
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "@STEM@-visit.h"

static uint8_t buf[1 << 20];
static @STATE@ obj;

/* stdin: the section's body; argv[1]: its version; prints the body saved again in hex. */
int main(int argc, char **argv)
{
    size_t n = fread(buf, 1, sizeof(buf), stdin);
    unsigned version = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 0;
    Error *err = NULL;
    uint8_t *out = NULL;
    size_t len = 0;

    if (!vmgen_load_@STATE@_legacy(&obj, version, buf, n, &err)) {
        printf("load: %s\\n", error_get_pretty(err));
        return 1;
    }
    @POKE@
    if (!vmgen_save_@STATE@_legacy(&obj, version, &out, &len, &err)) {
        printf("save: %s\\n", error_get_pretty(err));
        return 1;
    }
    for (size_t i = 0; i < len; i++) {
        printf("%02x", out[i]);
    }
    printf("\\n");
    free(out);
    return 0;
}
"""


@dataclass(frozen=True)
class Header:
    stem: str
    state: str
    vmsd: str
    text: str  # the header vmgen import wrote
    exe: Path


def _import(stream: Path, out: Path) -> list[tuple[str, str, str]]:
    """(stem, state, vmsd) of every header `vmgen import` writes for `stream`."""
    proc = support.run_vmgen("import", "--from", str(stream), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    found = []
    for line in proc.stdout.splitlines():
        m = re.fullmatch(r"(.+)/(\w+)\.h: (\w+) serves VMState '(.+)' \(version \d+\)", line)
        assert m is not None, line
        found.append((m.group(2), m.group(3), m.group(4)))
    return found


def _build(src: Path, stem: str, state: str, poke: str, root: Path) -> Path:
    """The generated codec of src/STEM.h with the driver, compiled once per header text."""
    digest = hashlib.sha256((src / f"{stem}.h").read_bytes() + poke.encode()).hexdigest()[:16]
    out = root / f"{stem}-{digest}"
    exe = out / "driver"
    if exe.exists():
        return exe
    out.mkdir(parents=True)
    for args in (["runtime", "-o", str(out)],
                 ["generate", "-I", str(src), "-o", str(out), str(src / f"{stem}.h")]):
        proc = support.run_vmgen(*args)
        assert proc.returncode == 0, proc.stderr
    (out / "driver.c").write_text(_DRIVER.replace("@STEM@", stem).replace("@STATE@", state)
                                  .replace("@POKE@", poke))
    return support.compile_c(
        [out / "driver.c", out / f"{stem}-visit.c", *support.runtime_sources(out)], exe,
        include=[out, src], extra=support.SANITIZE)


@pytest.fixture(scope="module")
def imported(qemu_stream: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, tuple[qevm.Stream, dict[str, Header]]]:
    """Per stream: the parsed stream, and its headers by VMState name, built."""
    root = tmp_path_factory.mktemp("import")
    found: dict[str, tuple[qevm.Stream, dict[str, Header]]] = {}
    jobs = []
    for name in STREAMS:
        path = qemu_stream(name)
        src = root / name
        for stem, state, vmsd in _import(path, src):
            jobs.append((name, src, stem, state, vmsd))
        found[name] = (qevm.parse(path.read_bytes()), {})
    with ThreadPoolExecutor(2) as pool:
        exes = list(pool.map(lambda j: _build(j[1], j[2], j[3], "", root / "built"), jobs))
    for (name, src, stem, state, vmsd), exe in zip(jobs, exes, strict=True):
        found[name][1][vmsd] = Header(stem, state, vmsd, (src / f"{stem}.h").read_text(), exe)
    return found


def _device_sections(stream: qevm.Stream) -> list[qevm.Section]:
    return [r for r in stream.records if isinstance(r, qevm.Section)
            and r.kind == qevm.Kind.FULL and r.device is not None]


def _resave(exe: Path, section: qevm.Section, body: bytes) -> str:
    proc = subprocess.run([str(exe), str(section.version_id)], input=body,
                          capture_output=True, check=False, timeout=60)
    assert not proc.stderr, proc.stderr.decode()
    assert proc.returncode == 0, f"{section.name}: {proc.stdout.decode()}"
    return proc.stdout.decode().strip()


@pytest.mark.parametrize("name", STREAMS)
def test_every_real_section_resaves_byte_for_byte(
        name: str, imported: dict[str, tuple[qevm.Stream, dict[str, Header]]]) -> None:
    stream, headers = imported[name]
    left_out = []
    for section in _device_sections(stream):
        assert section.device is not None
        vmsd = section.device.layout.vmsd_name
        if vmsd is None:
            left_out.append(section.name)  # an old-style section: no VMState to import
            continue
        body = bytes(stream.body(section))
        assert _resave(headers[vmsd].exe, section, body) == body.hex(), section.name
    # Only the user-mode network's sections have no VMState.
    assert set(left_out) <= {"slirp"}, left_out


@pytest.mark.parametrize("name", STREAMS)
def test_python_reads_and_writes_every_real_section(
        name: str, imported: dict[str, tuple[qevm.Stream, dict[str, Header]]]) -> None:
    """The generated Python module of each header: load_legacy then save_legacy gives
    the section back; it names the section it serves; its BER record round-trips."""
    stream, headers = imported[name]
    modules: dict[Path, object] = {}
    for section in _device_sections(stream):
        assert section.device is not None
        vmsd = section.device.layout.vmsd_name
        if vmsd is None:
            continue
        h = headers[vmsd]
        path = h.exe.parent / f"{h.stem}_asn1.py"
        if path not in modules:
            modules[path] = support.import_module(path)
        py: Any = modules[path]
        assert {vmsd: h.state} == py.SECTIONS
        body = bytes(stream.body(section))
        value = py.load_legacy(h.state, body, section.version_id)
        assert py.save_legacy(h.state, value, section.version_id) == body, section.name
        assert py.load(h.state, py.save(h.state, value)) == value, section.name


def test_the_devices_proven(imported: dict[str, tuple[qevm.Stream, dict[str, Header]]]) -> None:
    """What the sections above cover: distinct VMStates, and among them the layouts the
    issue names (subsections, padding, timers, struct arrays, _EQUAL fields)."""
    headers = {v: h for _, hs in imported.values() for v, h in hs.items()}
    assert len(headers) >= 40, sorted(headers)
    features = {"subsection": "VMGEN_SUBSECTION", "padding": "VMGEN_UNUSED",
                "timer": "a QEMUTimer", "struct array": r"VMState_\w+ \w+\[\d+\];",
                "_EQUAL": "equal: QEMU loads it only if it equals"}
    for feature, pattern in features.items():
        having = sorted(v for v, h in headers.items() if re.search(pattern, h.text))
        assert len(having) >= 2, (feature, having)


def test_real_qemu_loads_an_imported_devices_section(
        qemu_stream: Callable[[str], Path], tmp_path: Path) -> None:
    """A value changed through the imported header's generated saver, spliced in:
    real QEMU loads the stream and saves it back unchanged."""
    path = qemu_stream("pc")
    original = path.read_bytes()
    stream = qevm.parse(original)
    [(stem, state, _)] = [h for h in _import(path, tmp_path / "h") if h[2] == "hpet"]
    # The HPET's interrupt status register: QEMU keeps what it loads into a paused VM.
    exe = _build(tmp_path / "h", stem, state, "obj.isr ^= 1;", tmp_path / "built")
    [section] = [s for s in _device_sections(stream) if s.name == "hpet"]
    body = bytes(stream.body(section))
    changed = bytes.fromhex(_resave(exe, section, body))
    assert len(changed) == len(body) and changed != body
    spliced = original[:section.body] + changed + original[section.body_end:]
    (tmp_path / "in.mig").write_bytes(spliced)
    resaved = qemu.load_and_resave(tmp_path / "in.mig", tmp_path / "out.mig", "pc")
    assert resaved == spliced


def test_refusals(qemu_stream: Callable[[str], Path], tmp_path: Path) -> None:
    path = qemu_stream("pc-devices")
    out = tmp_path / "out"
    proc = support.run_vmgen("import", "--from", str(path), "--device", "slirp", "-o", str(out))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (f"{path}: section 'slirp' has no VMState (an old-style section: "
                           "its bytes are its own format)\n")
    proc = support.run_vmgen("import", "--from", str(path), "--device", "nothing", "-o",
                             str(out))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"{path}: no section or VMState named 'nothing' in {path.name}\n"
    # A stream cut before its description: nothing to import from.
    cut = tmp_path / "cut.mig"
    data = path.read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    proc = support.run_vmgen("import", "--from", str(cut), "-o", str(out))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith(f"{cut}: ") and proc.stderr[-1] == "\n"
    assert not out.exists()
    # Without --device, what has no VMState is left out with a note.
    proc = support.run_vmgen("import", "--from", str(path), "-o", str(out))
    assert proc.returncode == 0
    assert proc.stderr == ("vmgen import: left out slirp: section 'slirp' has no VMState (an "
                           "old-style section: its bytes are its own format)\n") * 2


def test_stream_decode_reads_every_device_through_its_imported_module(
        qemu_stream: Callable[[str], Path],
        imported: dict[str, tuple[qevm.Stream, dict[str, Header]]]) -> None:
    """`vmgen stream decode --module` with the imported modules: analyze-migration's
    job, every device section by name, through the module that serves it."""
    _, headers = imported["pc"]
    modules = sorted({str(h.exe.parent / f"{h.stem}_asn1.py") for h in headers.values()})
    args = [a for m in modules for a in ("--module", m)]
    proc = support.run_vmgen("stream", "decode", *args, "--json", str(qemu_stream("pc")))
    assert proc.returncode == 0, proc.stderr
    sections = json.loads(proc.stdout)
    served = {s["idstr"]: s["state"] for s in sections if s["state"] is not None}
    unserved = sorted({s["idstr"] for s in sections if s["state"] is None})
    assert unserved == ["configuration", "ram"]
    assert served["hpet"] == headers["hpet"].state
    hpet = next(s for s in sections if s["idstr"] == "hpet")["value"]
    assert hpet["num_timers"] == len(hpet["timer"]) == 3
    assert len(served) == len(headers)


# ---- any description QEMU could write: a header vmgen generates, or a clear refusal ----

_SCALARS = {"uint8": 1, "uint16": 2, "uint32": 4, "uint64": 8, "int8": 1, "int16": 2,
            "int32": 4, "int64": 8, "bool": 1, "timer": 8, "int32 equal": 4,
            "uint8 equal": 1, "int32 le": 4, "pci irq state": 16}
_NAMES = st.sampled_from(["a", "b", "x.y", "regs[0].lo", "unused[1]", "int", "9lives",
                          "has_a", "env.segs", "_q_ZMMReg[2]", "a b"])


def _desc_size(s: dict[str, Any]) -> int:
    size = sum(f["size"] * f.get("array_len", 1) for f in s["fields"])
    for sub in s.get("subsections", []):
        size += 2 + len(sub["vmsd_name"]) + 4 + _desc_size(sub)
    return size


@st.composite
def _struct_desc(draw: st.DrawFn, vmsd: str, depth: int) -> dict[str, Any]:
    fields: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["scalar", "scalar", "buffer", "unused", "opaque"]
                                    + (["struct"] if depth < 2 else [])))
        f: dict[str, Any] = {"name": draw(_NAMES)}
        if kind == "scalar":
            f["type"] = draw(st.sampled_from(sorted(_SCALARS)))
            f["size"] = _SCALARS[f["type"]]
        elif kind == "buffer":
            f["type"], f["size"] = "buffer", draw(st.integers(1, 40))
        elif kind == "unused":
            f["type"], f["size"] = "unused_buffer", draw(st.integers(1, 40))
        elif kind == "opaque":
            f["type"] = draw(st.sampled_from(["pci config", "msix state", "virtio"]))
            f["size"] = draw(st.integers(1, 64))
        else:
            inner = draw(_struct_desc(draw(st.sampled_from(["inner", vmsd, "pit channel"])),
                                      depth + 1))
            f["type"], f["struct"], f["size"] = "struct", inner, _desc_size(inner)
        if kind in ("scalar", "struct") and draw(st.booleans()):
            f["array_len"] = draw(st.integers(1, 4))
        fields.append(f)
    subs = [draw(_struct_desc(f"{vmsd}/{name}", depth + 1)) | {"version": v}
            for name, v in draw(st.lists(st.tuples(st.sampled_from(["sub", "more"]),
                                                   st.integers(0, 3)),
                                         max_size=2 if depth < 2 else 0,
                                         unique_by=lambda x: x[0]))]
    return {"vmsd_name": vmsd, "version": draw(st.integers(0, 5)), "fields": fields,
            "subsections": subs}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(device=_struct_desc("dev", 0))
def test_any_description_imports_to_a_header_vmgen_generates(device: dict[str, Any]) -> None:
    text = json.dumps({"page_size": 4096, "devices": [
        {"name": "dev", "instance_id": 0, **device}]}).encode()
    _, devices = qevm.parse_description(text)
    try:
        outcome = import_devices(devices, "hypothesis.mig", [])
    except ImportFailure:
        return
    with tempfile.TemporaryDirectory() as tmp:
        for name, h in outcome.headers.items():
            (Path(tmp) / name).write_text(h.text)
            generate(str(Path(tmp) / name), Options(include_dirs=(tmp,), cc="gcc"))
    # What was left out says why; nothing else is.
    assert len(outcome.headers) + len(outcome.skipped) == 1


@pytest.mark.parametrize("name", STREAMS)
def test_to_ber_carries_every_device_as_its_record(
        name: str, qemu_stream: Callable[[str], Path], tmp_path: Path,
        imported: dict[str, tuple[qevm.Stream, dict[str, Header]]]) -> None:
    """With the imported modules, `to-ber --strict` writes every device section as its
    module's record (the device's state field by field, which dumpasn1 and openssl read)
    and `from-ber` writes the stream back byte for byte; without them it refuses."""
    path = qemu_stream(name)
    stream, headers = imported[name]
    modules = [a for h in headers.values()
               for a in ("--module", str(h.exe.parent / f"{h.stem}_asn1.py"))]
    ber, back = tmp_path / "vm.ber", tmp_path / "back.mig"
    # slirp (no VMState) has no module: --strict is for streams without it
    strict = ["--strict"] if "slirp" not in {s.name for s in _device_sections(stream)} else []
    proc = support.run_vmgen("stream", "to-ber", *strict, *modules, str(path), str(ber))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    proc = support.run_vmgen("stream", "from-ber", *modules, str(ber), str(back))
    assert proc.returncode == 0, proc.stderr
    assert back.read_bytes() == path.read_bytes()
    # Outside tools read the device records' fields: openssl parses the whole file,
    # dumpasn1 shows each record (it names its device state) field by field.
    parsed = subprocess.run(["openssl", "asn1parse", "-inform", "DER", "-in", str(ber)],
                            capture_output=True, text=True, check=False, timeout=120)
    assert parsed.returncode == 0 and "error" not in parsed.stdout.lower(), parsed.stderr
    dump = subprocess.run(["dumpasn1", "-z", str(ber)], capture_output=True, text=True,
                          check=False, timeout=120)
    assert "Error" not in dump.stdout + dump.stderr
    for h in headers.values():
        assert f"'{h.state}'" in dump.stdout, h.state
    # Without the modules, the records cannot be written back: nothing is written.
    proc = support.run_vmgen("stream", "from-ber", str(ber), str(tmp_path / "none.mig"))
    assert proc.returncode == 1 and proc.stdout == ""
    assert re.fullmatch(rf"{re.escape(str(ber))}: at offset \d+: a device record of VMState "
                        r"'[^']+': no --module serves it\n", proc.stderr), proc.stderr
    assert not (tmp_path / "none.mig").exists()



def test_dump_vmstate_gives_minimum_versions_and_field_versions(
        qemu_stream: Callable[[str], Path], tmp_path: Path) -> None:
    """With QEMU's -dump-vmstate output, the headers say each device's minimum version and
    the version each field came in, and read older data: a real section with the fields
    of later versions taken out loads at that version and saves back the same bytes (C
    and Python).  Where the stream leaves out a table entry older data may hold (fw_cfg's
    version-1 cur_offset), the minimum stays the stream's version."""
    qemu.dump_vmstate(tmp_path / "dump.json")
    path = qemu_stream("pc")
    src = tmp_path / "h"
    proc = support.run_vmgen("import", "--from", str(path), "--dump-vmstate",
                             str(tmp_path / "dump.json"), "--device", "mc146818rtc",
                             "--device", "hpet", "--device", "fw_cfg", "-o", str(src))
    assert proc.returncode == 0, proc.stderr
    rtc = (src / "mc146818rtc.h").read_text()
    assert "VMGEN_STATE(3, 1) VMGEN_VMSD(\"mc146818rtc\")" in rtc
    for line in ("uint32_t irq_coalesced VMGEN_SINCE(2);", "uint32_t period VMGEN_SINCE(2);",
                 "uint64_t base_rtc VMGEN_SINCE(3);", "uint64_t next_alarm_time VMGEN_SINCE(3);"):
        assert line in rtc, line
    assert "uint8_t num_timers VMGEN_SINCE(2);" in (src / "hpet.h").read_text()
    assert "VMGEN_STATE(2, 2) VMGEN_VMSD(\"fw_cfg\")" in (src / "fw_cfg.h").read_text()
    stream = qevm.parse(path.read_bytes())
    sections = {s.name: s for s in _device_sections(stream)}
    body = bytes(stream.body(sections["mc146818rtc"]))
    # version 3 is the section as QEMU wrote it; version 2 lacks the five 8-byte fields
    # of version 3 at its end, version 1 also the two uint32 before them
    older = {3: body, 2: body[:-40], 1: body[:-48]}
    exe = _build(src, "mc146818rtc", "VMState_mc146818rtc", "", tmp_path / "built")
    py: Any = support.import_module(exe.parent / "mc146818rtc_asn1.py")
    for version, data in older.items():
        r = subprocess.run([str(exe), str(version)], input=data, capture_output=True,
                           check=False, timeout=60)
        assert (r.returncode, r.stdout.decode().strip()) == (0, data.hex()), version
        value = py.load_legacy("VMState_mc146818rtc", data, version)
        assert py.save_legacy("VMState_mc146818rtc", value, version) == data, version
        assert ("base_rtc" in value) == (version >= 3)


def test_dump_vmstate_that_is_not_one(qemu_stream: Callable[[str], Path],
                                      tmp_path: Path) -> None:
    (tmp_path / "dump.json").write_text("[1, 2")
    proc = support.run_vmgen("import", "--from", str(qemu_stream("pc")), "--dump-vmstate",
                             str(tmp_path / "dump.json"), "-o", str(tmp_path / "out"))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.startswith(f"{tmp_path / 'dump.json'}: not -dump-vmstate output "
                                  "(not JSON: ")
    assert not (tmp_path / "out").exists()
