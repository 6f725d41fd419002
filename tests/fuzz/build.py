"""Build and run the libFuzzer targets of every fixture device state.

    python -m tests.fuzz.build [--out DIR] [--seconds N] [--runs N] [--jobs J] [--only SUBSTR]
                               [--modes plain,struct] [--no-run]

For each header (the fixtures of `support.FIXTURE_HEADERS` and `fixtures/cve/*.h`) the
runtime and the generated code go to OUT/STEM/; for each device state S, OUT/STEM/S/ holds:

    config.h      includes STEM-visit.h and names S (and its codecs) for tests/fuzz/fuzz_load.c
    fuzz-plain    libFuzzer with its own byte-level mutations
    fuzz-struct   the same target with tests/fuzz/ber_mutator.c (LLVMFuzzerCustomMutator)
    seeds/        records written by the generated Python `save` of Hypothesis values
    corpus/       what the runs found (created by `run`)

Both binaries are built with clang -fsanitize=fuzzer,address,undefined.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import support
from vmgen.checks.names import python_module
from vmgen.driver.pipeline import build_module
from vmgen.frontend.source import Options
from vmgen.lowering import ir

HERE = Path(__file__).resolve().parent
CVE_DIR = support.FIXTURES / "cve"
FUZZ_CFLAGS = ["-std=c11", "-g", "-O1", "-Wall", "-Wextra", "-Werror",
               "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all"]
MODES = ("plain", "struct")


def headers() -> list[Path]:
    """Every header with fuzz targets: the round-trip fixtures and the CVE fixtures."""
    return ([support.FIXTURES / f"{s}.h" for s in support.FIXTURE_HEADERS]
            + sorted(CVE_DIR.glob("*.h")))


@dataclass
class Target:
    stem: str
    state: str
    dir: Path
    max_len: int

    @property
    def name(self) -> str:
        return f"{self.stem}.{self.state}"

    def binary(self, mode: str) -> Path:
        return self.dir / f"fuzz-{mode}"

    @property
    def seeds(self) -> Path:
        return self.dir / "seeds"


@dataclass
class FuzzRun:
    target: str
    mode: str
    returncode: int
    executions: int
    seconds: float
    output: str

    @property
    def crashed(self) -> bool:
        return self.returncode != 0


def _run(cmd: list[str], **kw: Any) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\n{proc.stdout}{proc.stderr}")


def module_of(header: Path) -> ir.Module:
    return build_module(str(header), Options(include_dirs=(str(support.FIXTURES),)))


def seed_values(module: ir.Module, state: str, n: int) -> list[dict[str, Any]]:
    """n Hypothesis values of `state` (deterministic), const fields 0 like the destination."""
    from hypothesis import HealthCheck, Phase, given, settings

    found: list[dict[str, Any]] = []

    @settings(max_examples=n, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(support.struct_strategy(module, state, const_zero=True))
    def collect(value: dict[str, Any]) -> None:
        found.append(value)

    collect()
    return found[:n]


def seed_records(py: Any, module: ir.Module, state: str, n: int,
                 legacy: bool = False) -> list[bytes]:
    """Records of `state`: Python `save` of Hypothesis values, at every version it writes,
    and with `legacy` their legacy streams too (the fuzz target reads its input as both)."""
    newest, minimum = py.STATES[state][2], py.STATES[state][3]
    s = module.struct(state)
    blobs: list[bytes] = []
    for i, value in enumerate(seed_values(module, state, n)):
        versions = [newest] if i % 2 else sorted({newest, minimum})
        for version in versions:
            present = {k: v for k, v in value.items() if (s.field(k).since or 0) <= version}
            blobs_of = [py.save(state, value, version=version)]
            if legacy:
                blobs_of.append(py.save_legacy(state, present, version))
            for blob in blobs_of:
                if blob not in blobs:
                    blobs.append(blob)
    return blobs


def config_header(module: ir.Module, stem: str, state: str) -> str:
    info = module.struct(state).state
    assert info is not None
    prepare = "".join(f"memset((void *)&{p}, 0, sizeof {p}); "
                      for p in support.const_paths(module, state, "(*(obj))"))
    return (f'#include <string.h>\n#include "{stem}-visit.h"\n'
            f"#define FUZZ_STATE {module.struct(state).c_type}\n"
            f"#define FUZZ_LOAD vmgen_load_{state}\n#define FUZZ_SAVE vmgen_save_{state}\n"
            f"#define FUZZ_DER_LOAD vmgen_der_load_{state}\n"
            f"#define FUZZ_DER_SAVE vmgen_der_save_{state}\n"
            f"#define FUZZ_VISIT_LOAD vmgen_visit_load_{state}\n"
            f"#define FUZZ_VISIT_SAVE vmgen_visit_save_{state}\n"
            f"#define FUZZ_HAS_DER {int(support.has_specialized_codec(module, state))}\n"
            f"#define FUZZ_LOAD_LEGACY vmgen_load_{state}_legacy\n"
            f"#define FUZZ_FAST_LOAD_LEGACY vmgen_fast_load_{state}_legacy\n"
            f"#define FUZZ_FAST_SAVE_LEGACY vmgen_fast_save_{state}_legacy\n"
            f"#define FUZZ_VISIT_LOAD_LEGACY vmgen_visit_load_{state}_legacy\n"
            f"#define FUZZ_VISIT_SAVE_LEGACY vmgen_visit_save_{state}_legacy\n"
            f"#define FUZZ_HAS_LEGACY {int(support.has_legacy_codec(module, state))}\n"
            f"#define FUZZ_MIN_VERSION {info.minimum_version}u\n"
            f"#define FUZZ_VERSION {info.version}u\n"
            f'#define FUZZ_NAME "{state}"\n'
            f"#define FUZZ_PREPARE(obj) do {{ {prepare}}} while (0)\n")


def _objects(out: Path, cc: str) -> tuple[Path, Path]:
    """The runtime and the mutator, compiled once for every target."""
    rt = out / "runtime"
    rt.mkdir(parents=True, exist_ok=True)
    proc = support.run_vmgen("runtime", "-o", str(rt))
    assert proc.returncode == 0, proc.stderr
    _run([cc, *FUZZ_CFLAGS, "-fsanitize=fuzzer-no-link", "-c", "-I", str(rt),
          *(str(c) for c in sorted(rt.glob("vmgen-*.c")))], cwd=rt)
    _run([cc, *FUZZ_CFLAGS, "-c", str(HERE / "ber_mutator.c"), "-o", str(rt / "mutator.o")])
    return rt, rt / "mutator.o"


def build(out: Path, cc: str = "clang", seeds: int = 6, jobs: int = 2,
          only: str | None = None) -> list[Target]:
    """Generates, builds and seeds every target (those whose name contains `only`)."""
    out = out.resolve()  # compilers run in subfolders
    out.mkdir(parents=True, exist_ok=True)
    rt, mutator = _objects(out, cc)
    targets: list[Target] = []
    compiles: list[tuple[Target, Path, Path]] = []
    for header in headers():
        stem = header.stem
        gen = out / stem
        gen.mkdir(exist_ok=True)
        proc = support.run_vmgen("generate", "-I", str(support.FIXTURES), "-o", str(gen),
                                 str(header))
        assert proc.returncode == 0, proc.stderr
        module = module_of(header)
        py = support.import_module(gen / f"{python_module(stem)}_asn1.py")
        for s in module.states:
            t = Target(stem, s.name, gen / s.name, 4096)
            if only and only not in t.name:
                continue
            t.dir.mkdir(exist_ok=True)
            (t.dir / "config.h").write_text(config_header(module, stem, s.name))
            if t.seeds.exists():
                shutil.rmtree(t.seeds)
            t.seeds.mkdir()
            blobs = seed_records(py, module, s.name, seeds, legacy=True)
            for i, blob in enumerate(blobs):
                (t.seeds / f"seed-{i:02d}").write_bytes(blob)
            t.max_len = max(4096, 2 * max(len(b) for b in blobs))
            targets.append(t)
            compiles.append((t, gen, header))

    def compile_one(job: tuple[Target, Path, Path]) -> None:
        t, gen, _ = job
        common = [cc, *FUZZ_CFLAGS, "-I", str(gen), "-I", str(rt), "-I", str(support.FIXTURES)]
        _run([*common, "-include", str(t.dir / "config.h"), "-c", str(HERE / "fuzz_load.c"),
              "-o", str(t.dir / "fuzz_load.o")])
        _run([*common, "-c", str(gen / f"{t.stem}-visit.c"), "-o", str(t.dir / "visit.o")])
        objs = [str(t.dir / "fuzz_load.o"), str(t.dir / "visit.o"),
                *(str(o) for o in sorted(rt.glob("vmgen-*.o")))]
        _run([cc, *FUZZ_CFLAGS, *objs, "-o", str(t.binary("plain"))])
        _run([cc, *FUZZ_CFLAGS, *objs, str(mutator), "-o", str(t.binary("struct"))])

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        list(pool.map(compile_one, compiles))
    return targets


_EXECS = re.compile(r"stat::number_of_executed_units:\s*(\d+)")
_DONE = re.compile(r"Done (\d+) runs in")


def run(t: Target, mode: str, seconds: int, runs: int | None = None,
        corpus: Path | None = None, extra: Iterable[str] = ()) -> FuzzRun:
    """One libFuzzer run of target `t`; new inputs go to `corpus` (default t.dir/corpus-MODE)."""
    corpus = corpus or t.dir / f"corpus-{mode}"
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts = t.dir / "artifacts"
    artifacts.mkdir(exist_ok=True)
    cmd = [str(t.binary(mode)), f"-max_total_time={seconds}", f"-max_len={t.max_len}",
           "-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1",
           f"-artifact_prefix={artifacts}/{mode}-", *extra]
    if runs is not None:
        cmd.append(f"-runs={runs}")
    cmd += [str(corpus), str(t.seeds)]
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env,
                          timeout=seconds + 120)
    elapsed = time.monotonic() - start
    out = proc.stdout + proc.stderr
    m = _EXECS.search(out) or _DONE.search(out)
    return FuzzRun(t.name, mode, proc.returncode, int(m.group(1)) if m else 0, elapsed, out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, default=support.REPO / "build" / "fuzz")
    ap.add_argument("--seconds", type=int, default=60,
                    help="per target and mode (with --runs: the time limit)")
    ap.add_argument("--runs", type=int, default=None,
                    help="stop each target and mode after this many executions")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--only", help="targets whose name (STEM.State) contains this")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--no-run", action="store_true")
    args = ap.parse_args(argv)
    cc = os.environ.get("FUZZ_CC", "clang")
    targets = build(args.out, cc=cc, jobs=args.jobs, only=args.only)
    print(f"built {len(targets)} targets in {args.out}")
    if args.no_run:
        return 0
    jobs = [(t, m) for m in args.modes.split(",") for t in targets]
    failed = 0
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for r in pool.map(lambda j: run(j[0], j[1], args.seconds, runs=args.runs), jobs):
            status = "CRASH" if r.crashed else "ok"
            print(f"{r.target:40} {r.mode:6} {r.executions:>12} execs "
                  f"{r.seconds:7.1f}s  {status}", flush=True)
            if r.crashed:
                failed += 1
                sys.stderr.write(r.output[-6000:])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
