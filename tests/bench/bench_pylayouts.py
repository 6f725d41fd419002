#!/usr/bin/env python3
"""load_legacy and save_legacy of real QEMU 7.2 device sections, before and after the
compiled legacy codec took structs with a VMState layout (issue 17 item 5).

Saves a stream from real QEMU (the `pc-devices` VM of tests/conftest.py; or --stream),
writes the headers `vmgen import` makes for its sections, then, for the baseline revision
(`git archive` of its vmgen/ and templates/) and for this checkout in turn, generates the
Python modules of the devices timed and runs a child process with that vmgen first on
sys.path: it checks load_legacy then save_legacy gives each section back and times both,
CPU time per call, the best of --repeat batches.  Rounds alternate baseline and checkout
(best of the rounds).  Prints a Markdown table (BENCHMARKS.md, "Python runtime").

    .venv/bin/python tests/bench/bench_pylayouts.py [--baseline REV] [--repeat N] [--rounds N]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
import time
import timeit
from collections.abc import Callable
from functools import partial
from io import BytesIO
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent
BUILD = REPO / "build" / "bench-pylayouts"
DEVICES = ("i8254", "hpet", "mc146818rtc", "rtl8139", "cpu", "e1000")


def _timeit(fn: Callable[[], Any], n: int) -> float:
    return timeit.Timer(fn, timer=time.process_time).timeit(number=n)


def best(fn: Callable[[], Any], repeat: int) -> float:
    """Seconds per call: batches of ~0.05 s, the best of `repeat`."""
    n = 1
    while _timeit(fn, n) < 0.01:
        n *= 2
    n *= 5
    return min(_timeit(fn, n) / n for _ in range(repeat))


def child(tree: Path, gen: Path, stream: Path, repeat: int) -> None:
    """In a process with `tree`'s vmgen: each device's load_legacy and save_legacy."""
    sys.path.insert(0, str(tree))
    from vmgen.runtime import qevm

    assert Path(sys.modules["vmgen.runtime"].__file__ or "").is_relative_to(tree)
    index = json.loads((gen / "index.json").read_text())
    parsed = qevm.parse(stream.read_bytes())
    out: dict[str, dict[str, float]] = {}
    for r in parsed.records:
        if not (isinstance(r, qevm.Section) and r.kind == qevm.Kind.FULL
                and r.device is not None and r.device.layout.vmsd_name in index):
            continue
        vmsd = r.device.layout.vmsd_name
        assert vmsd is not None
        if vmsd in out:
            continue
        module, state = index[vmsd]
        spec = importlib.util.spec_from_file_location(module, gen / f"{module}.py")
        assert spec is not None and spec.loader is not None
        py: Any = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(py)
        body, version = bytes(parsed.body(r)), r.version_id
        present: set[str] = set()
        value = py.load_legacy(state, body, version, present=present)
        names = {item[2] for _, items in py.LAYOUTS.values() for item in items
                 if item[0] in ("subsection", "group") and item[5] is None}
        needed = {n: n in present for n in names}
        assert py.save_legacy(state, value, version, needed=needed) == body, vmsd
        out[vmsd] = {
            "bytes": len(body),
            "load": best(partial(py.load_legacy, state, body, version), repeat),
            "save": best(partial(py.save_legacy, state, value, version, needed=needed),
                         repeat),
        }
    print(json.dumps(out))


def baseline_tree(rev: str) -> Path:
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", rev],
                         capture_output=True, text=True, check=True).stdout.strip()
    root = BUILD / f"vmgen-{sha}"
    if not (root / "vmgen").is_dir():
        blob = subprocess.run(["git", "-C", str(REPO), "archive", sha, "vmgen", "templates"],
                              capture_output=True, check=True).stdout
        with tarfile.open(fileobj=BytesIO(blob)) as tar:
            tar.extractall(root, filter="data")
    return root


def python_module(stem: str) -> str:
    sys.path.insert(0, str(REPO))
    from vmgen.checks.names import python_module as name

    return name(stem)


def generate(tree: Path, headers: dict[str, tuple[Path, str]], out: Path) -> Path:
    """The Python modules of the devices timed, by `tree`'s vmgen, and their index."""
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(tree))
    index = {}
    for vmsd in DEVICES:
        header, state = headers[vmsd]
        subprocess.run([sys.executable, "-m", "vmgen", "generate", "-I", str(header.parent),
                        "-o", str(out), str(header)], cwd=tree, env=env, check=True,
                       capture_output=True)
        index[vmsd] = (f"{python_module(header.stem)}_asn1", state)
    (out / "index.json").write_text(json.dumps(index))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", default="main", help="vmgen revision (default main)")
    ap.add_argument("--repeat", type=int, default=7, help="batches per measurement")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    ap.add_argument("--stream", type=Path, help="a saved stream (default: save one)")
    ap.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.stream, args.repeat)
        return
    stream = args.stream
    if stream is None:
        stream = BUILD / "pc-devices.mig"
        if not stream.exists():
            sys.path.insert(0, str(REPO))
            from tests import qemu
            from tests.conftest import QEMU_VMS

            BUILD.mkdir(parents=True, exist_ok=True)
            qemu.save_stream(stream, *QEMU_VMS["pc-devices"])
    proc = subprocess.run([sys.executable, "-m", "vmgen", "import", "--from", str(stream),
                           "-o", str(BUILD / "headers")], cwd=REPO, capture_output=True,
                          text=True, check=True)
    headers = {}
    for line in proc.stdout.splitlines():
        m = re.fullmatch(r"(.+\.h): (\w+) serves VMState '(.+)' \(version \d+\)", line)
        if m:
            headers[m.group(3)] = (Path(m.group(1)), m.group(2))
    trees = {"before": baseline_tree(args.baseline), "after": REPO}
    gens = {k: generate(tree, headers, BUILD / k) for k, tree in trees.items()}
    results: dict[str, list[dict[str, dict[str, float]]]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        for k in ("before", "after"):
            out = subprocess.run([sys.executable, __file__, "--child", str(trees[k]),
                                  str(gens[k]), "--stream", str(stream), "--repeat",
                                  str(args.repeat)], cwd="/", capture_output=True,
                                 text=True, check=True).stdout
            results[k].append(json.loads(out))

    def fmt(seconds: float) -> str:
        us = seconds * 1e6
        return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.1f} us"

    print(f"Baseline: vmgen {args.baseline}; CPU time per call, best of {args.repeat} batches "
          f"in each of {args.rounds} alternating rounds; Python {sys.version.split()[0]}; "
          f"load average {os.getloadavg()[0]:.1f}.\n")
    print("| section | bytes | operation | before | after | speed-up |")
    print("|---|--:|---|--:|--:|--:|")
    for vmsd in DEVICES:
        for op in ("load", "save"):
            before = min(r[vmsd][op] for r in results["before"])
            after = min(r[vmsd][op] for r in results["after"])
            size = results["after"][0][vmsd]["bytes"]
            print(f"| {vmsd} | {size:,} | `{op}_legacy` | {fmt(before)} | {fmt(after)} | "
                  f"{before / after:.2f}x |")


if __name__ == "__main__":
    main()
