"""The README's quick start, as a new user runs it: fixtures/quickstart/ holds its files
(the header, the C program, the Python script, the commands and their output), the README
shows exactly their text, and the commands run in a copy of that folder, with `vmgen`
and `python3` on the PATH and the plain `cc` compiling with -Wall -Wextra -Werror."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import support

QUICKSTART = support.FIXTURES / "quickstart"
# (file, the language of its README code block)
FILES = [("include/rtc.h", "c"), ("my_device.c", "c"), ("read_rtc.py", "python"),
         ("build.sh", "sh"), ("output.txt", "")]


def _quick_start_section() -> str:
    readme = (support.REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Quick start\n")
    return readme[start:readme.index("\n## ", start + 1)]


def test_readme_shows_the_fixture_files() -> None:
    section = _quick_start_section()
    blocks = [block.split("\n", 1) for block in section.split("```")[1::2]]
    assert [(lang, text) for lang, text in blocks] == [
        (lang, (QUICKSTART / name).read_text(encoding="utf-8")) for name, lang in FILES]


def test_quick_start_runs(tmp_path: Path) -> None:
    if shutil.which("cc") is None:
        pytest.fail("the quick start compiles with cc (a C compiler is required)")
    work = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, work)
    (work / "output.txt").unlink()
    # `vmgen` and `python3` as an installed vmgen gives them: this checkout, this Python.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, command in (("vmgen", f'"{sys.executable}" -m vmgen'),
                          ("python3", f'"{sys.executable}"')):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec {command} "$@"\n')
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(support.REPO)}
    proc = subprocess.run(["sh", "-e", "build.sh"], cwd=work, env=env, capture_output=True,
                          text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout == (QUICKSTART / "output.txt").read_text(encoding="utf-8")
    assert sorted(p.name for p in (work / "build").iterdir()) == [
        "rtc-visit.c", "rtc-visit.h", "rtc.asn", "rtc.vmgen.json", "rtc_asn1.py",
        "vmgen-ber.c", "vmgen-ber.h", "vmgen-legacy.c", "vmgen-legacy.h",
        "vmgen-visitor.c", "vmgen-visitor.h", "vmgen.h"]
