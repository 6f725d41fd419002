"""The generated C and the runtime build warning-free with gcc and clang, C99 and C11."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests import support
from vmgen.backends.c import RUNTIME_VERSION


@pytest.fixture(scope="module")
def all_generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("all")
    for stem in support.FIXTURE_HEADERS:
        support.generate(stem, out)
    return out


@pytest.mark.parametrize("std", ["c99", "c11"])
@pytest.mark.parametrize("cc", support.compilers())
def test_generated_c_compiles_clean(all_generated: Path, cc: str, std: str) -> None:
    sources = sorted(all_generated.glob("*.c"))
    assert len(sources) == len(support.FIXTURE_HEADERS) + len(support.RUNTIME_SOURCES)
    for src in sources:
        if std == "c99" and src.name.removesuffix("-visit.c") in support.C11_ONLY:
            continue  # the fixture header itself is C11
        cmd = [cc, f"-std={std}", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2",
               "-I", str(all_generated), "-I", str(support.FIXTURES), "-c", str(src),
               "-o", str(all_generated / f"{src.stem}-{cc}-{std}.o")]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_stale_runtime_is_refused_at_compile_time(all_generated: Path, tmp_path: Path) -> None:
    for f in all_generated.iterdir():
        if f.suffix in (".c", ".h"):
            shutil.copy(f, tmp_path)
    header = (all_generated / "vmgen-visitor.h").read_text()
    # The generator and the runtime it ships agree on the version...
    current = f"#define VMGEN_RUNTIME_VERSION {RUNTIME_VERSION}\n"
    assert current in header
    # ...and generated code refuses any other.
    (tmp_path / "vmgen-visitor.h").write_text(
        header.replace(current, f"#define VMGEN_RUNTIME_VERSION {RUNTIME_VERSION + 1}\n"))
    cmd = ["gcc", "-std=c99", "-I", str(tmp_path),
           "-I", str(support.FIXTURES), "-c", str(tmp_path / "rtc-visit.c"), "-o",
           str(tmp_path / "rtc.o")]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert (f"rtc-visit.h needs vmgen runtime version {RUNTIME_VERSION}: regenerate it and "
            "the runtime "
            "(vmgen generate, vmgen runtime) with one vmgen") in proc.stderr
