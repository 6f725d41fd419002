"""Real device sections through vmgen's generated legacy codec (VMGEN_VMSD layouts).

fixtures/qemu72/devices.h mirrors nine sections of the stream QEMU 7.2 saves for a
paused ``-M pc`` VM (padding, timers, fields of later versions in place, a count
apart from its array, struct arrays, _EQUAL, POSITIVE_LE, subsections at the top and
inside member structs).  Each test takes the sections out of a stream real QEMU just
saved (vmgen.runtime.qevm, delimited by QEMU's own JSON description), feeds them to
the generated C (built with -Wall -Wextra -Werror and ASan/UBSan), and compares:

* load then save gives the section back byte for byte, in C and in the generated
  Python module (whose BER record of the same state round-trips too);
* a value changed through vmgen's C saver, spliced into the stream, is loaded by real
  QEMU (``-incoming``), and the stream QEMU saves next holds vmgen's bytes.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import qemu, support
from vmgen.runtime import qevm

# QEMU idstr -> the mirror struct, and C statements that set what a load compares
# with the value in place (VMGEN_EQUAL, VMGEN_POSITIVE_LE, the count of a version-1
# stream): what the machine itself holds before it loads.
SECTIONS: dict[str, tuple[str, str]] = {
    "timer": ("TimersState", ""),
    "mc146818rtc": ("RTCWire", ""),
    "hpet": ("HPETWire", "obj.num_timers = 3;"),
    "i8254": ("PITWire", ""),
    "PCIBUS": ("PCIBusWire", "obj.nirq = 4;"),
    "0000:00:01.0/PIIX3": ("PIIX3Wire", "obj.dev.version_id = 2;"),
    "fw_cfg": ("FWCfgWire", ""),
    "fdc": ("FDCtrlISAWire", "obj.state.num_floppies = 2;"),
    "pckbd": ("ISAKBDWire", ""),
}

# The change spliced into a stream: a byte of the RTC's CMOS memory past what the
# firmware uses.
POKE = ("mc146818rtc", "RTCWire", "obj.cmos_data[0x70] = 0x5a;")

_DRIVER = """\
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices-visit.h"

@UNHEX@
static void put_hex(const char *tag, const uint8_t *buf, size_t len)
{
    printf("%s ", tag);
    for (size_t i = 0; i < len; i++) {
        printf("%02x", buf[i]);
    }
    printf("\\n");
}

@CASES@

int main(void)
{
    static char hex[1 << 21];
    static uint8_t buf[1 << 20];
    char name[64], mode[16];
    unsigned version;

    while (scanf("%63s %15s %u %2097151s", name, mode, &version, hex) == 4) {
        size_t len = unhex(hex, buf);
        int poke = strcmp(mode, "poke") == 0;

@DISPATCH@
        printf("%s unknown\\n", name);
    }
    return 0;
}
"""

_CASE = """\
static void run_%(state)s(unsigned version, const uint8_t *buf, size_t len, int poke)
{
    %(state)s obj;
    Error *err = NULL;
    uint8_t *out = NULL;
    size_t olen = 0;

    memset(&obj, 0, sizeof(obj));
    %(prepare)s
    if (!vmgen_load_%(state)s_legacy(&obj, version, buf, len, &err)) {
        printf("%(state)s load-error %%s\\n", error_get_pretty(err));
        error_free(err);
        return;
    }
    if (poke) {
        %(poke)s
    }
    if (!vmgen_save_%(state)s_legacy(&obj, version, &out, &olen, &err)) {
        printf("%(state)s save-error %%s\\n", error_get_pretty(err));
        error_free(err);
        return;
    }
    put_hex("%(state)s", out, olen);
    free(out);
}
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("qemu72")
    header = support.FIXTURES / "qemu72" / "devices.h"
    for args in (["runtime", "-o", str(out)],
                 ["generate", "-I", str(support.FIXTURES), "-o", str(out), str(header)]):
        proc = support.run_vmgen(*args)
        assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def driver(generated: Path) -> Path:
    out = generated
    cases = "\n".join(_CASE % {"state": state, "prepare": prepare,
                               "poke": POKE[2] if state == POKE[1] else "(void)0;"}
                      for state, prepare in SECTIONS.values())
    dispatch = "\n".join(f'        if (strcmp(name, "{state}") == 0) {{\n'
                         f"            run_{state}(version, buf, len, poke);\n"
                         "            continue;\n        }"
                         for state, _ in SECTIONS.values())
    (out / "driver.c").write_text(_DRIVER.replace("@UNHEX@", support.C_UNHEX)
                                  .replace("@CASES@", cases)
                                  .replace("@DISPATCH@", dispatch))
    return support.compile_c(
        [out / "driver.c", out / "devices-visit.c", *support.runtime_sources(out)],
        out / "driver", include=[out, support.FIXTURES], extra=support.SANITIZE)


def _run(driver: Path, jobs: list[tuple[str, str, int, bytes]]) -> list[tuple[str, str]]:
    stdin = "".join(f"{state} {mode} {version} {body.hex()}\n"
                    for state, mode, version, body in jobs)
    proc = subprocess.run([str(driver)], input=stdin, capture_output=True, text=True,
                          check=True, timeout=120)
    assert not proc.stderr, proc.stderr
    lines = [tuple(line.split(" ", 1)) for line in proc.stdout.splitlines()]
    assert len(lines) == len(jobs), proc.stdout
    return [(a, b) for a, b in lines]


def _sections(stream: qevm.Stream) -> dict[str, qevm.Section]:
    found = {}
    for r in stream.records:
        if isinstance(r, qevm.Section) and r.kind == qevm.Kind.FULL and r.name in SECTIONS:
            assert r.name not in found, f"two sections named {r.name}"
            found[r.name] = r
    return found


def test_real_sections_resave_byte_for_byte(
        qemu_stream: Callable[[str], Path], driver: Path) -> None:
    stream = qevm.parse(qemu_stream("pc").read_bytes())
    sections = _sections(stream)
    assert sorted(sections) == sorted(SECTIONS)
    jobs = [(SECTIONS[name][0], "same", s.version_id, bytes(stream.body(s)))
            for name, s in sections.items()]
    results = _run(driver, jobs)
    for (state, _, _, body), (tag, text) in zip(jobs, results, strict=True):
        assert tag == state, text
        assert text == body.hex(), f"{state}: {text}"


def test_real_qemu_loads_what_vmgen_saved(
        qemu_stream: Callable[[str], Path], driver: Path, tmp_path: Path) -> None:
    original = qemu_stream("pc").read_bytes()
    stream = qevm.parse(original)
    rtc = _sections(stream)[POKE[0]]
    body = bytes(stream.body(rtc))
    [(tag, text)] = _run(driver, [(POKE[1], "poke", rtc.version_id, body)])
    assert tag == POKE[1], text
    changed = bytes.fromhex(text)
    assert len(changed) == len(body) and changed != body
    assert changed[0x70] == 0x5A and changed[:0x70] == body[:0x70]
    spliced = original[:rtc.body] + changed + original[rtc.body_end:]
    (tmp_path / "in.mig").write_bytes(spliced)
    resaved = qemu.load_and_resave(tmp_path / "in.mig", tmp_path / "out.mig", "pc")
    again = qevm.parse(resaved)
    assert bytes(again.body(_sections(again)[POKE[0]])) == changed
    # Nothing else moved: the whole stream QEMU saves is the one it was given.
    assert resaved == spliced


def test_python_reads_and_writes_the_real_sections(
        qemu_stream: Callable[[str], Path], generated: Path) -> None:
    py = support.import_module(generated / "devices_asn1.py")
    stream = qevm.parse(qemu_stream("pc").read_bytes())
    for name, section in _sections(stream).items():
        state = SECTIONS[name][0]
        assert py.SECTIONS[section.device.layout.vmsd_name] == state  # type: ignore[union-attr]
        body = bytes(stream.body(section))
        value = py.load_legacy(state, body, section.version_id)
        assert py.save_legacy(state, value, section.version_id) == body, name
        assert py.load(state, py.save(state, value)) == value, name


def _subsection(name: bytes, version: int, body: bytes) -> bytes:
    return bytes([5, len(name)]) + name + version.to_bytes(4, "big") + body


# Sections edited the ways a hostile or mismatched stream would be: (struct, version, how
# to edit the real body, C's message, Python's message).
HOSTILE = [
    ("FWCfgWire", 2, lambda b: b + _subsection(b"fw_cfg/bogus", 1, b"\0" * 8),
     "FWCfgWire: subsection 'fw_cfg/bogus' at offset 74 is not one of 'fw_cfg' (unknown, or "
     "out of order)",
     "FWCfgWire: subsection 'fw_cfg/bogus' at offset 74 is not one of 'fw_cfg' (unknown, or "
     "out of order)"),
    # the dma subsection (after cur_entry and cur_offset: 0x05, 10, its name, be32 0) as
    # version 1
    ("FWCfgWire", 2, lambda b: b[:18] + (1).to_bytes(4, "big") + b[22:],
     "FWCfgWire: fw_cfg/dma: subsection version 1, this reader takes 0..0",
     "FWCfgWire.dma: subsection version 1, this reader takes 0..0"),
    ("FWCfgWire", 2, lambda b: b[:-1],
     "FWCfgWire: acpi_mr.rsdp_mr_size: truncated data: 8 bytes needed, 7 left",
     "FWCfgWire.acpi_mr.rsdp_mr_size: truncated data: 8 bytes needed, 7 left"),
    ("HPETWire", 2, lambda b: b[:24] + bytes([33]) + b[25:],
     "HPETWire: num_timers: INTEGER 33 out of range 3..32",
     "HPETWire.num_timers: 33 is out of range 3..32"),
]


@pytest.mark.parametrize("case", HOSTILE, ids=["unknown-subsection", "subsection-version",
                                               "truncated-subsection", "count-above-capacity"])
def test_edited_sections_are_refused(
        case: tuple[str, int, Callable[[bytes], bytes], str, str],
        qemu_stream: Callable[[str], Path], generated: Path, driver: Path) -> None:
    state, version, edit, c_message, py_message = case
    stream = qevm.parse(qemu_stream("pc").read_bytes())
    name = next(k for k, (s, _) in SECTIONS.items() if s == state)
    real = bytes(stream.body(_sections(stream)[name]))
    if state == "FWCfgWire":  # the edits know where its subsections are
        assert real[6:22] == _subsection(b"fw_cfg/dma", 0, b"")
    body = edit(real)
    [(tag, text)] = _run(driver, [(state, "same", version, body)])
    assert (tag, text) == (state, f"load-error {c_message}")
    py = support.import_module(generated / "devices_asn1.py")
    with pytest.raises(py.Error) as info:
        py.load_legacy(state, body, version)
    assert str(info.value) == py_message
