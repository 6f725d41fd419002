"""Sidecar annotations (a TOML file beside a header the user cannot edit).

Most tests drive the pipeline directly (``vmgen.driver.pipeline.generate(header,
Options(annotations=PATH))``), which is what ``vmgen generate --annotations
FILE.toml`` calls; `test_cli_option` runs that command line itself.

Every test works in a temporary folder with relative paths, as a user would, so
messages read ``dev.toml:2:1: error: ...`` and are compared exactly.

* Positive: a fixture stripped of every vmgen macro (and of ``#include
  "vmgen.h"``, replaced by a comment so that line numbers stay) plus a sidecar
  saying the same things generates exactly the files of the annotated fixture.
* Negative: invalid TOML, unknown keys, values of the wrong type, a sidecar
  contradicting the header, entries naming nothing in the header.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vmgen.diagnostics import VmgenError
from vmgen.driver.pipeline import generate
from vmgen.frontend.source import Options

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")

# One vmgen macro with its arguments (one level of nested parentheses).
_MACRO = r"[ \t]*\bVMGEN_{name}\b(?:\((?:[^()]|\([^()]*\))*\))?"


def _strip(text: str, keep: str = "") -> str:
    """`text` without vmgen macros (except the VMGEN_`keep` ones); without
    vmgen.h unless some are kept."""
    name = rf"(?!{keep}\b)[A-Z_]+" if keep else "[A-Z_]+"
    stripped = re.sub(_MACRO.format(name=name), "", text)
    if not keep:
        stripped = stripped.replace('#include "vmgen.h"', "/* annotations: sidecar */")
        assert not re.search(r"VMGEN_|vmgen", stripped)
    return stripped


def _files(folder: Path, header: str, annotations: str = "",
           monkeypatch: pytest.MonkeyPatch | None = None) -> dict[str, str]:
    assert monkeypatch is not None
    monkeypatch.chdir(folder)
    options = Options(include_dirs=(".",), cc="gcc", annotations=annotations)
    return generate(header, options).files


# What each fixture's macros say, as a sidecar.
SIDECARS = {
    "rtc": """\
[RTCState]
state = [3, 1]

[RTCState.fields]
irq = "skip"
periodic_timer = "skip"
update_timer = "skip"
""",
    "hpet": """\
[HPETTimer.fields]
state = "skip"
qemu_timer = "skip"
tn = { range = [0, 31] }        # HPET_MAX_TIMERS - 1

[HPETState]
state = [2, 1]

[HPETState.fields]
irqs = "skip"
flags = "skip"
num_timers = { range = [3, 32] }
timer = { size_is = "num_timers" }
hpet_offset_saved = { since = 2 }
hpet_offset = { since = 2 }
""",
    "usb": """\
[USBDevice]
state = [1, 1]

[USBDevice.fields]
port = "skip"
product_desc = { string = true }
setup_len = { range = [0, 4096] }
setup_index = { range = [0, 4096] }
data_buf = { size_is = "data_len" }
""",
}
_VNET_STRUCT = """\
[VirtIONet]
state = [1, 1]

[VirtIONet.fields]
offload = { union = "offload_kind" }

[VirtIONet_mac_table.fields]    # the struct type of the member 'mac_table'
macs = { size_is = "in_use" }
"""
# The VMState layouts of the QEMU 7.2 mirrors (VMGEN_VMSD, _UNUSED, _EQUAL, _POSITIVE_LE).
_QEMU72 = """\
[TimersState]
state = [2, 2]
vmsd = "timer"
fields = { unused = { unused = true } }

[RTCWire]
state = [3, 1]
vmsd = "mc146818rtc"

[RTCWire.fields]
unused0 = { unused = true }
unused1 = { unused = true }
irq_coalesced = { since = 2 }
period = { since = 2 }
base_rtc = { since = 3 }
last_update = { since = 3 }
offset = { since = 3 }
update_timer = { since = 3 }
next_alarm_time = { since = 3 }

[HPETTimerWire]
vmsd = "hpet_timer"

[HPETWire]
state = [2, 1]
vmsd = "hpet"

[HPETWire.fields]
num_timers = { since = 2, range = [3, 32] }
timer = { size_is = "num_timers" }

[PITChannelWire]
vmsd = "pit channel"

[PITWire]
state = [3, 2]
vmsd = "i8254"
fields = { channels0_irq_disabled = { since = 3 } }

[PCIBusWire]
state = [1, 1]
vmsd = "PCIBUS"
fields = { nirq = { equal = true } }

[PCIDeviceWire]
vmsd = "PCIDevice"
fields = { version_id = { positive_le = true } }

[PIIX3Wire]
state = [3, 2]
vmsd = "PIIX3"

[FWCfgDMAWire]
vmsd = "fw_cfg/dma"

[FWCfgACPIWire]
vmsd = "fw_cfg/acpi_mr"

[FWCfgWire]
state = [2, 2]
vmsd = "fw_cfg"

[FWCfgWire.fields]
dma = { subsection = [0, 0, "has_dma"] }
acpi_mr = { subsection = [1, 1, "has_acpi_mr"] }

[FDriveMediaRateWire]
vmsd = "fdrive/media_rate"

[FDriveWire]
vmsd = "fdrive"
fields = { media_rate = { subsection = [1, 1, "has_media_rate"] } }

[FDCtrlWire]
vmsd = "fdc"
fields = { num_floppies = { equal = true } }

[FDCtrlISAWire]
state = [2, 2]
vmsd = "fdc"

[KBDExtendedWire]
vmsd = "pckbd/extended_state"

[KBDWire]
vmsd = "pckbd"
fields = { extended_state = { subsection = [0, 0, "has_extended_state"] } }

[ISAKBDWire]
state = [3, 3]
vmsd = "pckbd"
"""
_VNET_UNION = """\
[VNetOffloadParams.fields]
csum = { case = ["OFFLOAD_CSUM"] }
tso = { case = ["OFFLOAD_TSO"] }
none = { case = ["OFFLOAD_NONE"] }

"""


@pytest.mark.parametrize(("stem", "sidecar", "keep"), [
    ("rtc", SIDECARS["rtc"], ""),
    ("hpet", SIDECARS["hpet"], ""),
    ("usb", SIDECARS["usb"], ""),
    # The union's VMGEN_CASE stay in the header: the rest of vnet from the sidecar.
    pytest.param("vnet", _VNET_STRUCT, "CASE", id="vnet-cases-in-header"),
    pytest.param("vnet", _VNET_UNION + _VNET_STRUCT, "", id="vnet"),
    pytest.param("qemu72/devices", _QEMU72, "", id="qemu72"),
])
def test_sidecar_equals_macros(stem: str, sidecar: str, keep: str, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _files(FIXTURES, f"{stem}.h", monkeypatch=monkeypatch)
    (tmp_path / f"{stem}.h").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / f"{stem}.h").write_text(
        _strip((FIXTURES / f"{stem}.h").read_text(encoding="utf-8"), keep), encoding="utf-8")
    (tmp_path / f"{stem}.toml").write_text(sidecar, encoding="utf-8")
    got = _files(tmp_path, f"{stem}.h", f"{stem}.toml", monkeypatch)
    assert sorted(got) == sorted(expected)
    for name, text in expected.items():
        assert got[name] == text, name


# ---- negative cases ----------------------------------------------------------------

DEV_H = """\
#include <stdint.h>
#include "vmgen.h"

typedef struct QEMUTimer QEMUTimer;

typedef struct VMGEN_STATE(1, 1) DevTag {
    uint8_t index VMGEN_RANGE(0, 7);
    uint32_t count;
    QEMUTimer *timer VMGEN_SKIP;
} Dev;
"""


def _dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sidecar: str | None,
         header: str = DEV_H) -> dict[str, str]:
    (tmp_path / "dev.h").write_text(header, encoding="utf-8")
    if sidecar is not None:
        (tmp_path / "dev.toml").write_text(sidecar, encoding="utf-8")
    return _files(tmp_path, "dev.h", "dev.toml" if sidecar is not None else "", monkeypatch)


def _refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sidecar: str,
             header: str = DEV_H) -> str:
    with pytest.raises(VmgenError) as info:
        _dev(tmp_path, monkeypatch, sidecar, header)
    return str(info.value)


REFUSALS = {
    # invalid TOML: tomllib's message, at its line and column
    "invalid_value": ("[Dev.fields]\ncount = = 1\n",
                      "dev.toml:2:9: error: invalid TOML: Invalid value"),
    "unclosed_table": ("[Dev.fields]\nindex = { range = [0, 7]\n",
                       "dev.toml:2:25: error: invalid TOML: Unclosed inline table"),
    # unknown keys
    "unknown_struct_key": ("[Dev]\nstat = [1, 1]\n",
                           "dev.toml:2:1: error: [Dev]: unknown key 'stat' (state, vmsd, "
                           "layout, subsections, fields)"),
    "unknown_field_key": ("[Dev.fields]\ncount = { ranges = [0, 1] }\n",
                          "dev.toml:2:1: error: Dev.count: unknown key 'ranges' "
                          "(case, equal, positive_le, range, since, size_is, skip, string, "
                          "subsection, union, unused, visitor)"),
    # values of the wrong type
    "range_string": ("[Dev.fields]\ncount = { range = \"0..7\" }\n",
                     "dev.toml:2:1: error: 'range' = \"0..7\" does not say VMGEN_RANGE(lo, hi)"),
    "range_float": ("[Dev.fields]\ncount = { range = [0.5, 9] }\n",
                    "dev.toml:2:1: error: 'range' = [0.5, 9] does not say "
                    "VMGEN_RANGE(lo, hi)"),
    "state_one_number": ("[Dev]\nstate = [1]\n",
                         "dev.toml:2:1: error: 'state' = [1] does not say "
                         "VMGEN_STATE(version, minimum_version)"),
    "string_number": ("[Dev.fields]\ncount = { string = 1 }\n",
                      "dev.toml:2:1: error: 'string' = 1 does not say VMGEN_STRING"),
    "field_number": ("[Dev.fields]\ncount = 3\n",
                     "dev.toml:2:1: error: Dev.count: expected \"skip\" or a table"),
    "top_level_value": ("state = [1, 1]\n", "dev.toml:1:1: error: 'state' must be a table"),
    "external_not_table": ("[types]\nQEMUTimer = \"int64\"\n",
                           "dev.toml:2:1: error: [types] QEMUTimer must be "
                           "{ external = \"kind\" }"),
    "external_number": ("[types]\nQEMUTimer = { external = 64 }\n",
                        "dev.toml:2:1: error: VMGEN_EXTERNAL(kind): kind is one of int8, uint8, "
                        "int16, uint16, int32, uint32, int64, uint64, bool, float, double"),
    # checked like the macros, at the sidecar's line
    "range_outside_type": ("[Dev.fields]\ncount = { range = [-1, 9] }\n",
                           "dev.toml: In struct 'Dev':\n"
                           "dev.toml:2:1: error: field 'count' (uint32_t): VMGEN_RANGE(-1, 9) "
                           "does not fit the type's range 0..4294967295"),
    "range_on_skipped": ("[Dev.fields]\ntimer = { range = [0, 1] }\n",
                         "dev.toml: In struct 'Dev':\n"
                         "dev.toml:2:1: error: VMGEN_RANGE on field 'timer', which is VMGEN_SKIP"),
    # naming what the header does not have
    "missing_struct": ("[Nope]\nstate = [1, 1]\n",
                       "dev.toml:1:1: error: the annotations file names struct 'Nope', which "
                       "the header does not define"),
    "missing_field": ("[Dev.fields]\ncount = \"skip\"\nnope = \"skip\"\n",
                      "dev.toml:3:1: error: the annotations file names field 'nope' of 'Dev', "
                      "which is not a migrated struct's field"),
    "missing_type": ("[types]\nTimer = { external = \"int64\" }\n",
                     "dev.toml:2:1: error: the annotations file names type 'Timer', which is "
                     "not a typedef of the header"),
    "missing_type_second_table": (
        "[Dev.fields]\ncount = { range = [0, 9] }\n\n[types]\nTimer = { external = \"int64\" }\n",
        "dev.toml:5:1: error: the annotations file names type 'Timer', which is not a typedef "
        "of the header"),
}

REFUSALS.update({
    "contradiction": ("[Dev.fields]\nindex = { range = [0, 8] }\n",
                      "dev.toml: In struct 'Dev':\n"
                      "dev.toml:2:1: error: the annotations file says VMGEN_RANGE(0, 8) but the "
                      "header says VMGEN_RANGE(0, 7) (at dev.h:7:19)"),
    "fields_not_table": ("[Dev]\nfields = 3\n",
                         "dev.toml:2:1: error: [Dev]: 'fields' must be a table of fields"),
    "since_not_constant": ("[Dev.fields]\ncount = { since = \"V2\" }\n",
                           "dev.toml: In struct 'Dev':\n"
                           "dev.toml:2:1: error: the version of VMGEN_SINCE is not an integer "
                           "constant: 'V2' is not an enumeration constant"),
})


REFUSALS.update({
    # a device's own layout and host members (annotations file only)
    "layout_without_vmsd": (
        '[Dev]\nlayout = ["count", "index"]\n',
        "dev.toml: In struct 'Dev':\ndev.toml:2:1: error: a layout for 'Dev', which "
        "has no vmsd (the VMStateDescription its legacy stream follows)"),
    "layout_entry_number": (
        '[Dev]\nvmsd = "dev"\nlayout = ["count", 3]\n',
        "dev.toml:3:1: error: [Dev] layout: 3 is neither a member name, a member path "
        '("a[0].b") nor { unused = N, since = V } with N > 0'),
    "layout_empty": (
        '[Dev]\nvmsd = "dev"\nlayout = []\n',
        "dev.toml:3:1: error: [Dev] layout must be a non-empty list of member names, "
        'member paths ("a[0].b") and { unused = N } tables'),
    "layout_unused_zero": (
        '[Dev]\nvmsd = "dev"\nlayout = ["count", "index", { unused = 0 }]\n',
        'dev.toml:3:1: error: [Dev] layout: {"unused": 0} is neither a member name, a '
        'member path ("a[0].b") nor { unused = N, since = V } with N > 0'),
    "layout_unknown_member": (
        '[Dev]\nvmsd = "dev"\nlayout = ["count", "index", "nope"]\n',
        "dev.toml: In struct 'Dev':\ndev.toml:3:1: error: 'nope' in the layout of "
        "'Dev' is not one of its members"),
    "layout_skipped_member": (
        '[Dev]\nvmsd = "dev"\nlayout = ["count", "index", "timer"]\n',
        "dev.toml: In struct 'Dev':\ndev.toml:3:1: error: 'timer' is in the layout of "
        "'Dev' but marked skip"),
    "layout_twice": (
        '[Dev]\nvmsd = "dev"\nlayout = ["count", "count", "index"]\n',
        "dev.toml: In struct 'Dev':\ndev.toml:3:1: error: 'count' is in the layout of "
        "'Dev' twice"),
    "layout_forgotten_member": (
        '[Dev]\nvmsd = "dev"\nlayout = ["count"]\n',
        "dev.h: In struct 'Dev':\ndev.h:7:13: error: 'index' of 'Dev' is migrated but "
        "not in its layout: list it in the annotations file's layout (or a "
        "subsection), or mark it skip"),
    "layout_path_not_array": (
        '[Dev]\nvmsd = "dev"\nlayout = ["count", "index", "count[0]"]\n',
        "dev.toml: In struct 'Dev':\ndev.toml:3:1: error: 'count[0]' in the layout of "
        "'Dev': [0] follows something that is not an array"),
    "layout_path_not_struct": (
        '[Dev]\nvmsd = "dev"\nlayout = ["count", "index", "count.x"]\n',
        "dev.toml: In struct 'Dev':\ndev.toml:3:1: error: 'count.x' in the layout of "
        "'Dev': 'x' follows something that is not a struct"),
    "subsection_missing_key": (
        '[Dev]\nvmsd = "dev"\nlayout = ["count"]\n\n[[Dev.subsections]]\nvmsd = '
        '"dev/x"\nversion = 1\nminimum = 1\nlayout = ["index"]\n',
        "dev.toml:5:1: error: [[Dev.subsections]] lacks needed (keys: vmsd, version, "
        "minimum, needed, layout)"),
    "subsection_versions": (
        '[Dev]\nvmsd = "dev"\nlayout = ["count"]\n\n[[Dev.subsections]]\nvmsd = '
        '"dev/x"\nversion = 1\nminimum = 2\nneeded = "f"\nlayout = ["index"]\n',
        "dev.toml:5:1: error: subsection 'dev/x': versions 1 (minimum 2) must satisfy "
        "0 <= minimum <= version < 2^32"),
    "subsection_needed_field_not_bool": (
        '[Dev]\nvmsd = "dev"\nlayout = ["count"]\n\n[[Dev.subsections]]\nvmsd = '
        '"dev/x"\nversion = 1\nminimum = 1\nneeded = "count"\nlayout = ["index"]\n',
        "dev.toml: In struct 'Dev':\ndev.toml:5:1: error: subsection 'dev/x': 'count' "
        "says whether the subsection is there: a bool field without since (or name a "
        "function bool needed(void *))"),
    "subsections_not_tables": (
        '[Dev]\nvmsd = "dev"\nsubsections = 3\n',
        "dev.toml:3:1: error: [Dev] subsections must be an array of tables "
        "([[Dev.subsections]])"),
    "visitor_zero_bytes": (
        '[Dev.fields]\ncount = { visitor = ["v", "bytes(0)"] }\n',
        "dev.toml: In struct 'Dev':\ndev.toml:2:1: error: VMGEN_VISITOR: bytes(0) must "
        "be 1 to 4294967295 bytes"),
    "visitor_unknown_kind": (
        '[Dev.fields]\ncount = { visitor = ["v", "int128"] }\n',
        "dev.toml: In struct 'Dev':\ndev.toml:2:1: error: VMGEN_VISITOR(name, kind): "
        "name is the visitor's (visit_type_<name>), kind is bytes(N) or one of int8, "
        "uint8, int16, uint16, int32, uint32, int64, uint64, bool, float, double"),
})


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusal(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sidecar, expected = REFUSALS[case]
    assert _refused(tmp_path, monkeypatch, sidecar) == expected


def test_agreeing_with_the_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same annotation in both is fine, and changes nothing."""
    alone = _dev(tmp_path, monkeypatch, None)
    both = _dev(tmp_path, monkeypatch, """\
[Dev]
state = [1, 1]

[Dev.fields]
index = { range = [0, 7] }
timer = "skip"
""")
    assert both == alone


def test_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dev.h").write_text(DEV_H, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(VmgenError) as info:
        generate("dev.h", Options(cc="gcc", annotations="nope.toml"))
    assert str(info.value) == ("vmgen: error: cannot read the annotations file 'nope.toml': "
                               "no such file")


_TAGGED = DEV_H.replace("VMGEN_STATE(1, 1) ", "")


def test_struct_by_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    by_tag = _dev(tmp_path, monkeypatch, "[DevTag]\nstate = [1, 1]\n", _TAGGED)
    assert by_tag == _dev(tmp_path, monkeypatch, None)


def test_fields_by_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _dev(tmp_path, monkeypatch, "[DevTag.fields]\ncount = { range = [0, 9] }\n")
    assert "count  INTEGER (0..9)," in files["dev.asn"]


def test_cli_option(tmp_path: Path) -> None:
    (tmp_path / "rtc.h").write_text(
        _strip((FIXTURES / "rtc.h").read_text(encoding="utf-8")), encoding="utf-8")
    (tmp_path / "rtc.toml").write_text(SIDECARS["rtc"], encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "vmgen", "generate", "--cc", "gcc", "-o", str(out),
         "--annotations", "rtc.toml", "rtc.h"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "rtc-visit.c", "rtc-visit.h", "rtc.asn", "rtc.vmgen.json", "rtc_asn1.py"]
