"""vmgen as a build step in real builds: the make and meson projects of
fixtures/projects/, built by real GNU make and meson + ninja in a copy each.

vmgen runs through a wrapper script that counts its runs, so "a no-op build runs
nothing" is observed, not inferred.  Everything else is observed through mtimes
(ns): an output vmgen did not rewrite keeps its mtime, an object that was not
recompiled keeps its mtime.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import support
from vmgen.resources import RUNTIME_FILES

PROJECTS = support.FIXTURES / "projects"
SYSTEMS = ("make", "meson")
STEM = "blinker"
GENERATED = (f"{STEM}-visit.h", f"{STEM}-visit.c", f"{STEM}.asn", f"{STEM}_asn1.py",
             f"{STEM}.vmgen.json")
RUNTIME = RUNTIME_FILES


def _meson() -> list[str]:
    """The meson command, or a skip (a failure in CI): meson is a test dependency."""
    if importlib.util.find_spec("mesonbuild") is None:
        message = "meson is not installed in this venv (pip install meson; test extras)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    script = Path(sys.executable).parent / "meson"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mesonbuild.mesonmain"]


def _ninja() -> str:
    found = shutil.which("ninja") or str(Path(sys.executable).parent / "ninja")
    if not Path(found).is_file():
        pytest.fail("ninja is required (apt-get install ninja-build, or pip install ninja)")
    return found


def vmgen_wrapper(path: Path, count: Path, pythonpath: Path = support.REPO) -> Path:
    """An executable `vmgen` that logs each run to `count`, then runs
    `python -m vmgen` from `pythonpath` (this checkout, or a copy of it)."""
    path.write_text(
        "#!/bin/sh\n"
        f"echo \"$*\" >> '{count}'\n"
        f"PYTHONPATH='{pythonpath}' exec '{sys.executable}' -m vmgen \"$@\"\n")
    path.chmod(0o755)
    return path


class Project:
    """A copy of fixtures/projects/SYSTEM in tmp, built with real tools."""

    def __init__(self, system: str, tmp: Path, pythonpath: Path = support.REPO) -> None:
        self.system = system
        self.root = tmp / system
        shutil.copytree(PROJECTS / system, self.root)
        self.count = tmp / "vmgen-runs.log"
        self.count.touch()
        self.vmgen = vmgen_wrapper(tmp / "vmgen", self.count, pythonpath)
        self.build_dir = self.root / "build"
        self.gen = self.build_dir / "gen" if system == "make" else self.build_dir
        if system == "meson":
            self._run([*_meson(), "setup", "build", f"-Dvmgen={self.vmgen}"])

    def _run(self, cmd: list[str]) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, check=False,
                              timeout=300)
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def build(self) -> str:
        if self.system == "make":
            return self._run(["make", f"VMGEN={self.vmgen}"]).stdout
        return self._run([_ninja(), "-C", "build"]).stdout

    def assert_nothing_to_do(self) -> None:
        """The build tool's own dry run plans no work."""
        if self.system == "make":
            q = subprocess.run(["make", "-q", f"VMGEN={self.vmgen}"], cwd=self.root,
                               capture_output=True, text=True, check=False)
            assert q.returncode == 0, f"make -q: out of date\n{q.stdout}{q.stderr}"
            n = self._run(["make", "-n", f"VMGEN={self.vmgen}"])
            assert "Nothing to be done" in n.stdout, n.stdout
        else:
            n = self._run([_ninja(), "-C", "build", "-n", "-d", "explain"])
            assert "no work to do" in n.stdout, n.stdout + n.stderr
            assert "explain" not in n.stderr, n.stderr

    @property
    def runs(self) -> int:
        return len(self.count.read_text().splitlines())

    def mtimes(self) -> dict[str, int]:
        """Every build product: generated files, objects, the program."""
        out = {}
        for p in self.build_dir.rglob("*"):
            if p.is_file() and (p.suffix in (".o", ".h", ".c", ".asn", ".py", ".json")
                                or p.name == STEM):
                out[p.relative_to(self.build_dir).as_posix()] = p.stat().st_mtime_ns
        return out

    def objects(self) -> dict[str, int]:
        return {k: v for k, v in self.mtimes().items() if k.endswith(".o")}

    def object_of(self, source: str) -> str:
        """The object file name built from `source` (a project or generated .c file)."""
        stem = Path(source).stem
        hits = [k for k in self.objects() if Path(k).name.startswith(f"{stem}.")
                or Path(k).name.endswith(f"_{stem}.c.o")]
        assert len(hits) == 1, (source, sorted(self.objects()))
        return hits[0]

    def generated(self, name: str) -> str:
        return (self.gen / name).relative_to(self.build_dir).as_posix()

    def run_program(self) -> dict[str, object]:
        """Run the device program; its record, decoded by the generated Python module."""
        out = subprocess.run([str(self.build_dir / STEM)], capture_output=True, text=True,
                             check=True, timeout=60).stdout
        py = support.import_module(self.gen / f"{STEM}_asn1.py")
        state: dict[str, object] = py.load("BlinkerState", bytes.fromhex(out.strip()))
        return state


def touch(path: Path) -> None:
    """Bump `path`'s mtime past every earlier write (coarse clocks tick every few ms)."""
    time.sleep(0.02)
    os.utime(path)


def edit(path: Path, old: str, new: str) -> None:
    time.sleep(0.02)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def changed(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {k for k in after if before.get(k) != after[k]}


@pytest.fixture(params=SYSTEMS)
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    p = Project(request.param, tmp_path)
    p.build()
    yield p


def test_first_build_generates_compiles_and_runs(project: Project) -> None:
    for name in GENERATED + RUNTIME:
        assert (project.gen / name).is_file(), name
    assert project.runs == 2  # vmgen runtime, vmgen generate
    state = project.run_program()
    assert state["mode"] == "BLINKER_BLINK"
    assert (state["period_ms"], state["ticks"]) == (250, 5)
    assert state["leds"] == [{"brightness": 200, "on": on} for on in (True, False, True)]


def test_noop_build_runs_nothing(project: Project) -> None:
    before = project.mtimes()
    project.assert_nothing_to_do()
    project.build()
    assert project.runs == 2
    assert project.mtimes() == before


def test_touched_header_only_vmgen_reads_reruns_vmgen_and_recompiles_nothing(
        project: Project) -> None:
    # blinker-migration.h is included under #ifdef VMGEN: the compiler never reads it.
    before = project.mtimes()
    touch(project.root / "include" / "blinker-migration.h")
    project.build()
    assert project.runs > 2, "vmgen did not rerun for an included header"
    assert project.mtimes() == before
    project.assert_nothing_to_do()


def test_touched_device_header_keeps_generated_files(project: Project) -> None:
    before = project.mtimes()
    runs = project.runs
    touch(project.root / "include" / "blinker-regs.h")
    project.build()
    assert project.runs > runs
    after = project.mtimes()
    for name in GENERATED + RUNTIME:
        assert after[project.generated(name)] == before[project.generated(name)], name
    # The runtime does not include the device header: not recompiled.
    for source in ("vmgen-visitor.c", "vmgen-ber.c"):
        assert after[project.object_of(source)] == before[project.object_of(source)]
    project.assert_nothing_to_do()


def test_added_field_regenerates_and_recompiles(project: Project) -> None:
    before = project.mtimes()
    texts = {name: (project.gen / name).read_text() for name in GENERATED + RUNTIME}
    edit(project.root / "include" / "blinker.h", "    uint64_t ticks;\n",
         "    uint64_t ticks;\n    uint16_t duty;\n")
    project.build()
    after = project.mtimes()
    rewritten = {name for name in GENERATED + RUNTIME
                 if after[project.generated(name)] != before[project.generated(name)]}
    assert rewritten == {name for name in GENERATED + RUNTIME
                         if (project.gen / name).read_text() != texts[name]}
    assert {f"{STEM}-visit.c", f"{STEM}.asn", f"{STEM}_asn1.py", f"{STEM}.vmgen.json"} <= rewritten
    assert project.object_of(f"{STEM}-visit.c") in changed(before, after)
    assert project.object_of("vmgen-ber.c") not in changed(before, after)
    assert "duty" in (project.gen / f"{STEM}-visit.c").read_text()
    assert project.run_program()["duty"] == 0
    project.assert_nothing_to_do()


@pytest.mark.parametrize("name", [f"{STEM}.asn", f"{STEM}-visit.c", "vmgen-ber.c"])
def test_deleted_output_is_regenerated(project: Project, name: str) -> None:
    path = project.gen / name
    text = path.read_text()
    before = project.mtimes()
    path.unlink()
    project.build()
    assert path.read_text() == text
    after = project.mtimes()
    assert changed(before, after) - {project.generated(name)} <= (
        set() if name.endswith(".asn") else {project.object_of(name), STEM})
    project.assert_nothing_to_do()


@pytest.mark.parametrize("system", SYSTEMS)
def test_vmgen_upgrade_regenerates(system: str, tmp_path: Path) -> None:
    """A new vmgen (here: a copy of this checkout whose templates change) reruns
    through the depfile; the same text recompiles nothing, new text recompiles."""
    pkg = tmp_path / "vmgen-copy"
    shutil.copytree(support.REPO / "vmgen", pkg / "vmgen",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(support.REPO / "templates", pkg / "templates")
    project = Project(system, tmp_path, pythonpath=pkg)
    project.build()
    template = pkg / "templates" / "c" / "visit.c.j2"

    before, runs = project.mtimes(), project.runs
    touch(template)
    project.build()
    assert project.runs > runs, "a touched template did not rerun vmgen"
    assert project.mtimes() == before

    runs = project.runs
    time.sleep(0.02)
    with template.open("a") as f:
        f.write("/* vmgen, upgraded */\n")
    project.build()
    assert project.runs > runs
    after = project.mtimes()
    assert (project.gen / f"{STEM}-visit.c").read_text().endswith("/* vmgen, upgraded */\n")
    assert changed(before, after) == {project.generated(f"{STEM}-visit.c"),
                                      project.object_of(f"{STEM}-visit.c"), STEM}
    project.assert_nothing_to_do()


def test_runtime_writes_a_depfile(tmp_path: Path) -> None:
    proc = support.run_vmgen("runtime", "-o", str(tmp_path), "--depfile",
                             str(tmp_path / "runtime.d"))
    assert proc.returncode == 0, proc.stderr
    deps = (tmp_path / "runtime.d").read_text()
    assert str(tmp_path / "vmgen-ber.c") in deps.split(":")[0]
    assert str(support.REPO / "templates" / "runtime" / "vmgen-ber.c") in deps


def test_depfile_target_can_be_a_stamp(tmp_path: Path) -> None:
    stamp = tmp_path / "rtc.stamp"
    proc = support.run_vmgen("generate", "-I", str(support.FIXTURES), "-o", str(tmp_path),
                             "--depfile", str(tmp_path / "rtc.d"), "--depfile-target", str(stamp),
                             str(support.FIXTURES / "rtc.h"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "rtc.d").read_text().startswith(f"{stamp}: \\\n")
