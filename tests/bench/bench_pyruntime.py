#!/usr/bin/env python3
"""The generated Python module before and after the Python runtime (issue 13), in one process.

Generates the module of tests/bench/bench_states.h twice: with vmgen at a baseline revision
(its codec engine copied into the module; `git archive` of that revision's vmgen/ and
templates/) and with this checkout (tables bound to vmgen.runtime).  Imports both into
this process, checks that they write the same bytes and read the same values, and times
save, load, save_legacy and load_legacy of each bench state, the modules in turn batch
by batch, the best of N batches each; a second copy of the baseline module, timed the
same way, shows the noise floor (its ratio to the baseline would be 1.00x on a quiet
machine).  Prints a Markdown table (BENCHMARKS.md, "Python runtime (issue 13)").

    .venv/bin/python tests/bench/bench_pyruntime.py [--baseline REV] [--repeat N]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import subprocess
import sys
import tarfile
import time
import timeit
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent
BENCH = REPO / "tests" / "bench"
BUILD = REPO / "build" / "bench-pyruntime"
# The last revision whose generated modules carried the codec engine.
BASELINE = "7c0eb71"
STATES = ("ScalarHeavy", "BufferHeavy", "RingHeavy")


def generate(vmgen_root: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(vmgen_root))
    subprocess.run([sys.executable, "-m", "vmgen", "generate", "-I", str(BENCH), "-o",
                    str(out), str(BENCH / "bench_states.h")],
                   cwd=vmgen_root, env=env, check=True)
    return out / "bench_states_asn1.py"


def baseline_tree(rev: str) -> Path:
    root = BUILD / f"vmgen-{rev}"
    if not (root / "vmgen").is_dir():
        blob = subprocess.run(["git", "-C", str(REPO), "archive", rev, "vmgen", "templates"],
                              capture_output=True, check=True).stdout
        with tarfile.open(fileobj=BytesIO(blob)) as tar:
            tar.extractall(root, filter="data")
    return root


def load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fill(mod: ModuleType, desc: tuple[Any, ...], rng: random.Random) -> Any:
    """A pseudo-random value of a descriptor (full arrays, every value in its range)."""
    kind = desc[0]
    if kind == "int":
        return rng.randint(desc[1], desc[2])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "bytes":
        return rng.randbytes(desc[2])
    if kind == "list":
        return [fill(mod, desc[3], rng) for _ in range(desc[2])]
    if kind == "struct":
        return {c: fill(mod, d, rng) for c, _, d, _, role in mod.STRUCTS[desc[1]]
                if role is None}
    raise NotImplementedError(kind)


def _timeit(fn: Callable[[], Any], n: int) -> float:
    """CPU seconds of n calls (process time: the time the process was not running, on a
    shared machine, is not counted)."""
    return timeit.Timer(fn, timer=time.process_time).timeit(number=n)


def best(fns: list[Callable[[], Any]], repeat: int) -> list[float]:
    """Seconds per call of each of fns: batches of ~0.1 s, the functions in turn (in a
    rotating order), best of `repeat` batches each."""
    n = 1
    while _timeit(fns[0], n) < 0.02:
        n *= 2
    n *= 5
    times: list[list[float]] = [[] for _ in fns]
    for i in range(repeat):
        for j in range(len(fns)):
            k = (i + j) % len(fns)
            times[k].append(_timeit(fns[k], n) / n)
    return [min(t) for t in times]


def fmt(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.1f} us"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", default=BASELINE, help=f"vmgen revision (default {BASELINE})")
    ap.add_argument("--repeat", type=int, default=9, help="batches per measurement")
    args = ap.parse_args()
    old_path = generate(baseline_tree(args.baseline), BUILD / "old")
    new_path = generate(REPO, BUILD / "new")
    old = load_module(old_path, "bench_states_asn1_old")
    new = load_module(new_path, "bench_states_asn1_new")
    # the noise floor: the baseline module against a second copy of itself
    control = load_module(old_path, "bench_states_asn1_control")
    rows = [f"| module | size of `bench_states_asn1.py` | {old_path.stat().st_size:,} B | "
            f"{new_path.stat().st_size:,} B | | |"]
    for state in STATES:
        value = fill(new, ("struct", new.STATES[state][1]), random.Random(state))
        version = new.STATES[state][2]
        der = new.save(state, value)
        stream = new.save_legacy(state, value)
        assert old.save(state, value) == der and old.save_legacy(state, value) == stream
        assert new.same(old.load(state, der), new.load(state, der))
        assert new.same(old.load_legacy(state, stream, version),
                        new.load_legacy(state, stream, version))
        ops: list[tuple[str, Callable[[ModuleType], Callable[[], Any]]]] = [
            ("save", lambda m: lambda: m.save(state, value)),  # noqa: B023
            ("load", lambda m: lambda: m.load(state, der)),  # noqa: B023
            ("save_legacy", lambda m: lambda: m.save_legacy(state, value)),  # noqa: B023
            ("load_legacy", lambda m: lambda: m.load_legacy(state, stream, version)),  # noqa: B023
        ]
        for op, call in ops:
            before, after, again = best([call(old), call(new), call(control)], args.repeat)
            rows.append(f"| {state} | `{op}` | {fmt(before)} | {fmt(after)} | "
                        f"{before / after:.2f}x | {before / again:.2f}x |")
            print(rows[-1], file=sys.stderr)
    print(f"Baseline: vmgen {args.baseline}; CPU time per call, best of {args.repeat} batches "
          "of each, in turn; "
          f"Python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.1f}.\n")
    print("| state | operation | before (engine in the module) | after (vmgen.runtime) | "
          "speed-up | control: before / a copy of before |")
    print("|---|---|--:|--:|--:|--:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
