"""CI smoke run of the libFuzzer targets (tests/fuzz/): every fixture device state and
every CVE fixture, plain and with the structure-aware BER mutator, a few seconds each.
A crash (sanitizer report or a fuzz_load.c oracle abort) fails the test with libFuzzer's
output.  `make fuzz` runs the same targets for longer (FUZZ_SECONDS)."""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fuzz import build

SECONDS = 2
RUNS = 300_000


def _libfuzzer_missing(tmp: Path) -> str:
    """Why clang cannot build a libFuzzer target here ("" when it can)."""
    if not shutil.which("clang"):
        return "clang is not installed"
    src = tmp / "probe.c"
    src.write_text("#include <stddef.h>\n#include <stdint.h>\n"
                   "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
                   "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                   " { (void)d; (void)n; return 0; }\n")
    proc = subprocess.run(["clang", "-fsanitize=fuzzer", str(src), "-o", str(tmp / "probe")],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return f"clang cannot link a libFuzzer target (clang -fsanitize=fuzzer):\n{proc.stderr}"
    return ""


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> list[build.Target]:
    root = tmp_path_factory.mktemp("fuzz")
    missing = _libfuzzer_missing(root)
    if missing:
        # A test dependency, like asn1c, meson and pre-commit: in CI its absence fails.
        if os.environ.get("CI"):
            pytest.fail(f"{missing}\nthe fuzz smoke tests need clang with libFuzzer in CI")
        pytest.skip(missing)
    return build.build(root, seeds=4, jobs=2)


def test_every_state_has_a_target(targets: list[build.Target]) -> None:
    expected = {f"{h.stem}.{s.name}" for h in build.headers()
                for s in build.module_of(h).states}
    assert {t.name for t in targets} == expected
    assert all(any(t.seeds.iterdir()) for t in targets)


def test_smoke(targets: list[build.Target], tmp_path: Path) -> None:
    jobs = [(t, mode) for t in targets for mode in build.MODES]

    def one(job: tuple[build.Target, str]) -> build.FuzzRun:
        t, mode = job
        return build.run(t, mode, SECONDS, runs=RUNS, corpus=tmp_path / t.name / mode)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, jobs))
    crashed = [r for r in results if r.crashed]
    assert not crashed, "\n\n".join(f"{r.target} {r.mode}:\n{r.output[-4000:]}"
                                    for r in crashed)
    assert all(r.executions > 0 for r in results), [(r.target, r.mode) for r in results]


def test_oracle_catches_a_loader_that_writes_on_failure(targets: list[build.Target],
                                                        tmp_path: Path) -> None:
    """The harness can fail: a load that writes the destination and then fails aborts."""
    t = next(t for t in targets if t.state == "RTCState")
    cfg = tmp_path / "config.h"
    cfg.write_text((t.dir / "config.h").read_text() + (
        "static inline bool broken_load(RTCState *o, const uint8_t *b, size_t n, Error **e)\n"
        "{ bool ok = vmgen_load_RTCState(o, b, n, e); if (!ok) o->cmos_index ^= 1; "
        "return ok; }\n#undef FUZZ_LOAD\n#define FUZZ_LOAD broken_load\n"))
    gen = t.dir.parent
    rt = gen.parent / "runtime"
    exe = tmp_path / "broken"
    cc = subprocess.run(["clang", *build.FUZZ_CFLAGS, "-I", str(gen), "-I", str(rt),
                         "-I", str(build.support.FIXTURES), "-include",
                         str(cfg), str(build.HERE / "fuzz_load.c"), str(gen / "rtc-visit.c"),
                         *(str(o) for o in sorted(rt.glob("vmgen-*.o"))), "-o", str(exe)],
                        check=False, capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    (tmp_path / "x").write_bytes(b"\x30\x00")
    proc = subprocess.run([str(exe), str(tmp_path / "x")], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode != 0
    assert "failed load changed the destination" in proc.stderr


def test_oracle_catches_a_legacy_loader_that_writes_on_decline(targets: list[build.Target],
                                                               tmp_path: Path) -> None:
    """The legacy oracle can fail: a specialized legacy loader that writes the destination
    and then declines aborts."""
    t = next(t for t in targets if t.state == "RTCState")
    cfg = tmp_path / "config.h"
    cfg.write_text((t.dir / "config.h").read_text() + (
        "static inline bool broken_fast(RTCState *o, uint32_t v, const uint8_t *b, size_t n)\n"
        "{ (void)v; (void)b; (void)n; o->cmos_index ^= 1; return false; }\n"
        "#undef FUZZ_FAST_LOAD_LEGACY\n#define FUZZ_FAST_LOAD_LEGACY broken_fast\n"))
    gen = t.dir.parent
    rt = gen.parent / "runtime"
    exe = tmp_path / "broken"
    cc = subprocess.run(["clang", *build.FUZZ_CFLAGS, "-I", str(gen), "-I", str(rt),
                         "-I", str(build.support.FIXTURES), "-include",
                         str(cfg), str(build.HERE / "fuzz_load.c"), str(gen / "rtc-visit.c"),
                         *(str(o) for o in sorted(rt.glob("vmgen-*.o"))), "-o", str(exe)],
                        check=False, capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    (tmp_path / "x").write_bytes(b"\x00")
    proc = subprocess.run([str(exe), str(tmp_path / "x")], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode != 0
    assert "the specialized legacy loader declined but changed the destination" in proc.stderr
