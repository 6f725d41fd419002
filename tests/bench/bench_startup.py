#!/usr/bin/env python3
"""Start-up benchmark: what vmgen costs when nothing changed.

Measures, best of N runs each, in one run on one machine:
  floor      python -c pass
  floor      python -c "import pycparser.c_parser, jinja2"  (what generate needs)
  floor      cc -E of the header, as vmgen runs it (vmgen's preprocessor command)
  vmgen      python -m vmgen --help
  vmgen      python -m vmgen generate ... on fixtures/rtc.h into a folder already holding
             its outputs (a no-change run: nothing is written)
and prints a Markdown table (targets, issue 5: --help within 2x of `python -c pass` +
the imports generate needs, a no-change generate within 2x of that + cc -E).

    .venv/bin/python tests/bench/bench_startup.py [-n 20] [--header fixtures/rtc.h]
        [--no-bytecode-cache]

vmgen runs as an installed package does, its modules' bytecode cached like the
floor's pycparser and Jinja2 (the first run writes the caches under a temporary
PYTHONPYCACHEPREFIX; PYTHONDONTWRITEBYTECODE is dropped from its environment).
--no-bytecode-cache runs vmgen in this environment as it is.

Not collected by pytest.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def best(cmd: list[str], n: int, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       env=env)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=20, help="runs per command (best is kept)")
    ap.add_argument("--header", default=str(REPO / "fixtures" / "rtc.h"))
    ap.add_argument("--no-bytecode-cache", action="store_true",
                    help="keep PYTHONDONTWRITEBYTECODE: vmgen's modules compile at every run")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from vmgen.frontend.source import Options, preprocess_command

    py = sys.executable
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    header = Path(args.header)
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as caches:
        if not args.no_bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = caches
        gen = [py, "-m", "vmgen", "generate", "-I", str(header.parent), "-o", out, str(header)]
        subprocess.run(gen, check=True, env=env)  # outputs exist: later runs write nothing
        cpp = preprocess_command(str(header), Options(include_dirs=(str(header.parent),)))
        rows = [
            ("floor: `python -c pass`", best([py, "-c", "pass"], args.n)),
            ("floor: `python -c 'import pycparser.c_parser, jinja2'`",
             best([py, "-c", "import pycparser.c_parser, jinja2"], args.n)),
            ("floor: `cc -E` of the header (vmgen's command)", best(cpp, args.n)),
            ("vmgen `--help`", best([py, "-m", "vmgen", "--help"], args.n, env)),
            (f"vmgen `generate` {header.name}, no change", best(gen, args.n, env)),
        ]
    t = dict(enumerate(r[1] for r in rows))
    cached = "PYTHONDONTWRITEBYTECODE" not in env
    print(f"python {sys.version.split()[0]}, best of {args.n}, vmgen's bytecode "
          f"{'cached' if cached else 'compiled at every run'}\n")
    print("| command | best (ms) |\n|---|---:|")
    for name, sec in rows:
        print(f"| {name} | {sec * 1e3:.1f} |")
    print(f"\n--help / (python -c pass + the imports generate needs) = {t[3] / t[1]:.2f}x "
          f"(target <= 2x); vs python -c pass alone = {t[3] / t[0]:.2f}x")
    floor = t[1] + t[2]
    print(f"no-change generate / (imports + cc -E) = {t[4] / floor:.2f}x "
          f"(floor {floor * 1e3:.1f} ms; target <= 2x); "
          f"vs imports alone = {t[4] / t[1]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
