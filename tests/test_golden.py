"""Generated outputs for every fixture, compared exactly with reviewed golden files.

After an intended change to the generated code, regenerate the golden files with
``UPDATE_GOLDEN=1 make test`` and review the diff like any other code change.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests import support

GOLDEN = Path(__file__).parent / "golden"

# Fixtures that are legal but suspicious, on purpose.
WARNINGS = {
    "uart": "{fixtures}/uart.h:23:9: warning: enum 'UARTParity' has no enumerator with the "
            "value 0: a zero-initialized field of this type cannot be saved\n",
    "display": "{fixtures}/display.h:16:1: warning: enum 'enum blink_mode' has no enumerator "
               "with the value 0: a zero-initialized field of this type cannot be saved\n",
}


# Wire-layout mirrors of real QEMU 7.2 device sections (VMGEN_VMSD layouts).
LAYOUT_HEADERS = ("qemu72/devices",)


@pytest.mark.parametrize("stem", (*support.FIXTURE_HEADERS, *LAYOUT_HEADERS))
def test_generated_matches_golden(stem: str, tmp_path: Path) -> None:
    proc = support.run_vmgen("generate", "-I", str(support.FIXTURES), "-o", str(tmp_path),
                             str(support.FIXTURES / f"{stem}.h"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == WARNINGS.get(stem, "").format(fixtures=support.FIXTURES)
    golden = GOLDEN / stem
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        shutil.copytree(tmp_path, golden)
    produced = sorted(p.name for p in tmp_path.iterdir())
    expected = sorted(p.name for p in golden.iterdir())
    assert produced == expected
    for name in expected:
        assert (tmp_path / name).read_text() == (golden / name).read_text(), name


def test_runtime_matches_shipped_sources(tmp_path: Path) -> None:
    proc = support.run_vmgen("runtime", "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    shipped = support.REPO / "templates" / "runtime"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(p.name for p in shipped.iterdir())
    for name in names:
        assert (tmp_path / name).read_bytes() == (shipped / name).read_bytes()


def test_demo_leaves_out_exactly_the_warning_fixtures(tmp_path: Path) -> None:
    """`make demo` generates fixtures/*.h without the fixtures that warn on purpose (the
    Makefile's WARNING_FIXTURES): its output has no warning, and every one left out warns."""
    makefile = (support.REPO / "Makefile").read_text(encoding="utf-8")
    (line,) = [x for x in makefile.splitlines() if x.startswith("WARNING_FIXTURES :=")]
    left_out = line.split(":=", 1)[1].split()
    assert sorted(left_out) == sorted(f"fixtures/{stem}.h" for stem in WARNINGS)
    demo = sorted(str(p.relative_to(support.REPO))
                  for p in support.FIXTURES.glob("*.h")
                  if str(p.relative_to(support.REPO)) not in left_out)
    proc = support.run_vmgen("generate", "-I", "fixtures", "-o", str(tmp_path), *demo,
                             cwd=support.REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
