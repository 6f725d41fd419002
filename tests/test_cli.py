"""The `vmgen` command as a user drives it: exit codes, all-or-nothing writes,
untouched unchanged outputs, deterministic bytes, and the installed wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests import support

COMMANDS = ("generate", "check", "compat", "explain", "decode", "convert", "runtime")


def test_help_lists_commands() -> None:
    proc = support.run_vmgen("--help")
    assert proc.returncode == 0
    # Each command once, in one list (argparse's), with its one-line summary.
    listed = [line.split()[0] for line in proc.stdout.splitlines()
              if line.strip() and line.split()[0] in COMMANDS]
    assert listed == list(COMMANDS), proc.stdout
    gen = support.run_vmgen("generate", "--help")
    assert gen.returncode == 0
    for word in ("-I DIR", "-D NAME[=VALUE]", "-o OUTDIR", "STEM-visit.h", "MOD_asn1.py"):
        assert word in gen.stdout


def test_no_command_prints_help_and_fails() -> None:
    proc = support.run_vmgen()
    assert proc.returncode == 1
    assert "usage: vmgen" in proc.stdout


def test_one_bad_header_writes_nothing_at_all(tmp_path: Path) -> None:
    bad = tmp_path / "bad.h"
    bad.write_text('#include "vmgen.h"\nstruct VMGEN_STATE(1, 1) S { int *p; };\n')
    out = tmp_path / "out"
    proc = support.run_vmgen("generate", "-I", str(support.FIXTURES), "-o", str(out),
                             str(support.FIXTURES / "rtc.h"), "bad.h", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr == (
        "bad.h: In struct 'S':\n"
        "bad.h:2:35: error: field 'p' (int *): pointers cannot be migrated: "
        "mark the field VMGEN_SKIP (or VMGEN_SIZE_IS(count) for a buffer of count elements)\n"
    )
    assert not out.exists()


def test_unchanged_outputs_are_not_touched(tmp_path: Path) -> None:
    header = tmp_path / "dev.h"
    header.write_text('#include "vmgen.h"\n#include <stdint.h>\n'
                      "typedef struct VMGEN_STATE(1, 1) Dev { uint8_t a; } Dev;\n")
    out = tmp_path / "out"
    assert support.run_vmgen("generate", "-o", str(out), str(header)).returncode == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    for p in out.iterdir():  # make any rewrite visible in the mtime
        os.utime(p, ns=(1_000_000_000, 1_000_000_000))
    assert support.run_vmgen("generate", "-o", str(out), str(header)).returncode == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == dict.fromkeys(
        before, 1_000_000_000)
    header.write_text(header.read_text().replace("uint8_t a;", "uint8_t a; uint8_t b;"))
    assert support.run_vmgen("generate", "-o", str(out), str(header)).returncode == 0
    changed = {p.name for p in out.iterdir() if p.stat().st_mtime_ns != 1_000_000_000}
    # the visit header declares nothing new, so it keeps its old text and mtime
    assert changed == {"dev-visit.c", "dev.asn", "dev_asn1.py", "dev.vmgen.json"}
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_same_stem_twice_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    shutil.copy(support.FIXTURES / "rtc.h", tmp_path / "a" / "rtc.h")
    proc = support.run_vmgen("generate", "-o", str(tmp_path / "out"), "-I",
                             str(support.FIXTURES), str(support.FIXTURES / "rtc.h"),
                             "a/rtc.h", cwd=tmp_path)
    assert proc.returncode == 1
    assert "vmgen: error: 'a/rtc.h' and '" in proc.stderr
    assert "would both write 'rtc-visit.h'" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_output_is_byte_deterministic(tmp_path: Path) -> None:
    runs = []
    for i, (cwd, header, seed, locale) in enumerate([
        (support.REPO, "fixtures/display.h", "0", "C"),
        (tmp_path, str(support.FIXTURES / "display.h"), "12345", "C.UTF-8"),
    ]):
        out = tmp_path / f"out{i}"
        env = {**os.environ, "PYTHONHASHSEED": seed, "LC_ALL": locale}
        proc = subprocess.run(
            [sys.executable, "-m", "vmgen", "generate", "-I", str(support.FIXTURES), "-o",
             str(out), header], cwd=cwd, env=env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        runs.append({p.name: p.read_bytes() for p in out.iterdir()})
    assert runs[0] == runs[1]


def test_wheel_ships_templates_and_runtime(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path),
         str(support.REPO)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("vmgen-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    for name in ("vmgen-visitor.c", "vmgen-visitor.h", "vmgen-ber.c", "vmgen-ber.h",
                 "vmgen-legacy.c", "vmgen-legacy.h", "vmgen.h"):
        assert f"vmgen/templates/runtime/{name}" in shipped
    assert "vmgen/templates/probe/vmgen-target.h" in shipped
    assert "vmgen/templates/c/visit.c.j2" in shipped
    # A non-editable install of that wheel generates from its own copy.
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                           "--target", str(target), str(wheel)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = tmp_path / "out"
    script = ("import vmgen, sys; from vmgen.cli import main; print(vmgen.__file__); "
              "sys.exit(main(sys.argv[1:]))")
    for args in (["runtime", "-o", str(out)],
                 ["generate", "-I", str(support.FIXTURES), "-o", str(out),
                  str(support.FIXTURES / "rtc.h")]):
        proc = subprocess.run([sys.executable, "-c", script, *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(str(target))
    assert (out / "vmgen-ber.c").is_file() and (out / "rtc_asn1.py").is_file()
    # The wheel ships the Python runtime, and a generated module runs on it.
    for name in ("__init__", "codec", "cview", "der", "floats", "legacy", "tables"):
        assert f"vmgen/runtime/{name}.py" in shipped
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import rtc_asn1, vmgen.runtime; "
             "print(vmgen.runtime.__file__); "
             "state = dict(cmos_data=bytes(128), cmos_index=7, base_year=2000, base_rtc=5, "
             "last_update=6, offset=-3, it_shift=1, irq_coalesced=2, period=9, "
             "lost_tick_policy_slew=True, next_periodic_time=11, next_alarm_time=12); "
             "assert rtc_asn1.load('RTCState', rtc_asn1.save('RTCState', state)) == state")
    proc = subprocess.run([sys.executable, "-c", probe, str(out)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(str(target / "vmgen" / "runtime"))


def test_runtime_list_names_what_runtime_writes(tmp_path: Path) -> None:
    listed = support.run_vmgen("runtime", "--list", "-o", str(tmp_path))
    assert listed.returncode == 0 and not any(tmp_path.iterdir())
    written = support.run_vmgen("runtime", "-o", str(tmp_path))
    assert written.returncode == 0
    assert sorted(listed.stdout.split()) == sorted(str(p) for p in tmp_path.iterdir())


def test_warnings_do_not_stop_generation(tmp_path: Path) -> None:
    (tmp_path / "dev.h").write_text(
        '#include "vmgen.h"\n#include <stdint.h>\n'
        "enum mode { MODE_A = 1, MODE_B };\n"
        "struct VMGEN_STATE(1, 1) Dev { enum mode m; uint8_t x; };\n")
    proc = support.run_vmgen("generate", "-o", "out", "dev.h", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stderr == ("dev.h:3:1: warning: enum 'enum mode' has no enumerator with the "
                           "value 0: a zero-initialized field of this type cannot be saved\n")
    assert (tmp_path / "out" / "dev-visit.c").is_file()
