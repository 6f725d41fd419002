"""`vmgen explain` (golden text) and `vmgen decode` (records saved by the generated C)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests import support

GOLDEN = Path(__file__).parent / "golden" / "explain"


@pytest.mark.parametrize("stem", ["vnet", "nic", "hpet", "watchdog"])
def test_explain_matches_golden(stem: str) -> None:
    proc = support.run_vmgen("explain", "-I", "fixtures", f"fixtures/{stem}.h", cwd=support.REPO)
    assert proc.returncode == 0, proc.stderr
    golden = GOLDEN / f"{stem}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(proc.stdout)
    assert proc.stdout == golden.read_text()


def test_explain_reports_errors_like_generate(tmp_path: Path) -> None:
    (tmp_path / "bad.h").write_text('#include "vmgen.h"\nstruct VMGEN_STATE(1, 1) S { int *p; };\n')
    proc = support.run_vmgen("explain", "bad.h", cwd=tmp_path)
    assert proc.returncode == 1
    assert "bad.h:2:35: error: field 'p' (int *): pointers cannot be migrated" in proc.stderr


def test_decode_prints_a_c_saved_record(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    b = built("usb")
    value = {"product_desc": "QEMU USB Tablet", "speed": 2, "addr": 5, "state": "SETUP_STATE_DATA",
             "setup_buf": bytes(range(8)), "setup_len": 18, "setup_index": 4,
             "remote_wakeup": 0, "data_len": 3, "data_buf": b"\x01\x02\x03"}
    (blob,) = b.c_save([("USBDevice", value)])
    record = tmp_path / "usb.ber"
    record.write_bytes(blob)
    proc = support.run_vmgen("decode", "--module", str(b.out), str(record))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        f"{record}: device USBDevice, data version 1, readable by version 1 and later "
        f"({len(blob)} bytes)\n"
        "  product_desc: 'QEMU USB Tablet'\n"
        "  speed: 2\n"
        "  addr: 5\n"
        "  state: 'SETUP_STATE_DATA'\n"
        "  setup_buf: 8 bytes\n"
        "    000000  00 01 02 03 04 05 06 07\n"
        "  setup_len: 18\n"
        "  setup_index: 4\n"
        "  remote_wakeup: 0\n"
        "  data_len: 3\n"
        "  data_buf: 3 bytes\n"
        "    000000  01 02 03\n"
    )
    as_json = support.run_vmgen("decode", "--json", "--module", str(b.out / "usb_asn1.py"),
                                str(record))
    assert as_json.returncode == 0, as_json.stderr
    doc = json.loads(as_json.stdout)
    assert doc["device"] == "USBDevice" and doc["version"] == 1
    assert doc["state"]["data_buf"] == "010203" and doc["state"]["setup_len"] == 18


def test_decode_refusals(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    b = built("rtc")
    junk = tmp_path / "junk.ber"
    junk.write_bytes(b"\x04\x01\x00")
    proc = support.run_vmgen("decode", "--module", str(b.out), str(junk))
    assert (proc.returncode, proc.stderr) == (
        1, f"vmgen: error: {junk}: not a vmgen record (no SEQUENCE)\n")
    other = tmp_path / "other.ber"
    other.write_bytes(built("usb").py.save("USBDevice", {
        "product_desc": "", "speed": 0, "addr": 0, "state": "SETUP_STATE_IDLE",
        "setup_buf": bytes(8), "setup_len": 0, "setup_index": 0, "remote_wakeup": 0,
        "data_len": 0, "data_buf": b""}))
    proc = support.run_vmgen("decode", "--module", str(b.out / "rtc_asn1.py"), str(other))
    assert proc.returncode == 1
    assert proc.stderr == ("vmgen: error: no generated module knows device 'USBDevice' "
                           f"(looked in {b.out / 'rtc_asn1.py'})\n")
    cut = tmp_path / "cut.ber"
    cut.write_bytes(b.py.save("RTCState", b.py.load("RTCState", b.c_save([("RTCState", {
        "cmos_data": bytes(128), "cmos_index": 0, "base_year": 0, "base_rtc": 0,
        "last_update": 0, "offset": 0, "it_shift": 0, "irq_coalesced": 0, "period": 0,
        "lost_tick_policy_slew": False, "next_periodic_time": 0, "next_alarm_time": 0})])[0]))
        + b"\x00")
    proc = support.run_vmgen("decode", "--module", str(b.out), str(cut))
    assert proc.returncode == 1
    assert proc.stderr == (f"vmgen: error: {cut}: RTCState-Record: 1 trailing byte(s) after "
                           "the value\n")


@pytest.mark.parametrize("stem", ["hpet", "vnet", "display"])
def test_explain_vmstate_matches_golden(stem: str) -> None:
    proc = support.run_vmgen("explain", "--vmstate", "-I", "fixtures", f"fixtures/{stem}.h",
                             cwd=support.REPO)
    assert proc.returncode == 0, proc.stderr
    golden = GOLDEN / f"{stem}.vmstate.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(proc.stdout)
    assert proc.stdout == golden.read_text()


def test_convert_is_lossless_both_ways(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    b = built("hpet")
    timer = {"tn": 0, "config": 1, "cmp": 2, "fsb": 3, "period": 4, "wrap_flag": 0, "last": 5}
    state = {"rtc_irq_level": 1, "num_timers": 3, "timer": [timer] * 3, "capability": 6,
             "config": 7, "isr": 8, "hpet_counter": 9, "hpet_id": 0,
             "hpet_offset_saved": 10, "hpet_offset": 11}
    (blob,) = b.c_save([("HPETState", state)])
    ber = tmp_path / "hpet.ber"
    ber.write_bytes(blob)
    legacy, again = tmp_path / "hpet.legacy", tmp_path / "again.ber"
    proc = support.run_vmgen("convert", "--module", str(b.out), "--to", "legacy", str(ber),
                             str(legacy))
    assert (proc.returncode, proc.stdout) == (
        0, f"HPETState: legacy stream of version 2 ({len(legacy.read_bytes())} bytes)\n")
    assert legacy.read_bytes() == b.py.save_legacy("HPETState", state)
    proc = support.run_vmgen("convert", "--module", str(b.out), "--to", "ber", "--device",
                             "HPETState", "--version", "2", str(legacy), str(again))
    assert proc.returncode == 0, proc.stderr
    assert again.read_bytes() == blob
    # A legacy stream of version 1 lacks the version-2 fields; converting it gives a
    # version-1 record.
    old = tmp_path / "v1.legacy"
    old.write_bytes(b.py.save_legacy("HPETState", state, 1))
    proc = support.run_vmgen("convert", "--module", str(b.out), "--to", "ber", "--device",
                             "HPETState", "--version", "1", str(old), str(again))
    assert proc.returncode == 0, proc.stderr
    assert b.py.load("HPETState", again.read_bytes()) == {
        k: v for k, v in state.items() if not k.startswith("hpet_offset")}
    proc = support.run_vmgen("convert", "--module", str(b.out), "--to", "ber", str(old),
                             str(again))
    assert (proc.returncode, proc.stderr) == (
        1, "vmgen: error: a legacy stream does not say its device and version: give "
           "--device and --version\n")
