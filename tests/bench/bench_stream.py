#!/usr/bin/env python3
"""Stream conversion benchmark: `vmgen stream to-ber` + `from-ber` of a real QEMU 7.2
stream of a VM with 512 MiB of RAM, against `cp` of the same file (issue 16: within 3x).

The guest RAM is a file of random bytes mapped privately
(``-object memory-backend-file,mem-path=RANDOM,share=off``), so every page is sent
whole (no zero pages): the stream is a little over 512 MiB.  Best of N runs each, all
measured in this run, files in one temporary folder (page cache warm: the first,
unmeasured round of each command reads everything once; each command's output is
removed and `sync` run, untimed, before each run; vmgen's bytecode cached, as for an
installed package: PYTHONDONTWRITEBYTECODE is dropped and the warm-up run writes the cache
under a private PYTHONPYCACHEPREFIX):

  cp IN.mig COPY.mig
  python -m vmgen stream to-ber IN.mig OUT.ber
  python -m vmgen stream from-ber OUT.ber BACK.mig      (BACK.mig == IN.mig is checked)

The commands take turns, one run each per round, so that a change in the machine's
load during the run weighs on all of them alike.  Prints a Markdown table with the
ratio (to-ber + from-ber) / cp, in wall time and in CPU time (user + system: what the
machine's other jobs disturb least).  With --baseline DIR (a vmgen source tree, e.g.
`git archive REV vmgen templates | tar -x -C DIR`), that tree's commands take their
turns in the same rounds, on the same files, and its BER file is checked to be the
same bytes.  With --stream FILE, that stream is used instead of one saved by QEMU.

    .venv/bin/python tests/bench/bench_stream.py [-n 5] [--mib 512] [--baseline DIR] [-v]

Not collected by pytest.  Needs qemu-system-x86_64 (unless --stream).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests import qemu  # noqa: E402


def timed(cmd: list[str], env: dict[str, str] | None, cwd: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of `cmd`, whose last argument
    is its output: removed (untimed) first, and `sync` run, so no run pays for dropping
    or writing back the previous run's file."""
    Path(cmd[-1]).unlink(missing_ok=True)
    subprocess.run(["sync"], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def save_stream(mig: Path, mib: int, d: Path) -> None:
    ram = d / "ram.bin"
    with open(ram, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    qemu.save_stream(mig, "pc", [
        "-m", f"{mib}M",
        "-object", f"memory-backend-file,id=ram0,size={mib}M,mem-path={ram},share=off",
        "-machine", "memory-backend=ram0"])
    ram.unlink()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=5, help="runs of each command (best is kept)")
    ap.add_argument("--mib", type=int, default=512, help="guest RAM in MiB")
    ap.add_argument("--baseline", metavar="DIR",
                    help="a vmgen source tree timed in the same rounds (its rows first)")
    ap.add_argument("--stream", metavar="FILE", help="a stream to use instead of saving one")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every run's times")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vmgen-bench-stream-") as tmp:
        d = Path(tmp)
        mig = d / "vm.mig"
        if args.stream:
            shutil.copyfile(args.stream, mig)
        else:
            save_stream(mig, args.mib, d)
        size = mig.stat().st_size
        trees = [("baseline", Path(args.baseline).resolve())] if args.baseline else []
        trees.append(("", REPO))
        # (label, command, environment), in the order they take their turns
        commands: list[tuple[str, list[str], dict[str, str] | None]] = [
            ("`cp`", ["cp", str(mig), str(d / "copy.mig")], None)]
        for i, (name, tree) in enumerate(trees):
            # vmgen runs as an installed package does: its bytecode cached (the warm-up
            # run writes the cache under a private prefix)
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env["PYTHONPYCACHEPREFIX"] = str(d / f"pycache{i}")
            env["PYTHONPATH"] = os.pathsep.join([str(tree), env.get("PYTHONPATH", "")])
            py = [sys.executable, "-m", "vmgen", "stream"]
            label = f" ({name})" if name else ""
            ber = str(d / f"vm{i}.ber")
            commands += [(f"`vmgen stream to-ber`{label}", [*py, "to-ber", str(mig), ber], env),
                         (f"`vmgen stream from-ber`{label}",
                          [*py, "from-ber", ber, str(d / f"back{i}.mig")], env)]
        load = os.getloadavg()[0]
        # (run in the temporary folder: `python -m` puts the current folder first on
        # sys.path, which would run the vmgen of a source tree the bench is run from)
        for _, cmd, cmd_env in commands:  # warm-up: page cache, bytecode cache
            subprocess.run(cmd, check=True, env=cmd_env, cwd=d)
        best = {label: (float("inf"), float("inf")) for label, _, _ in commands}
        for _ in range(args.n):
            for label, cmd, cmd_env in commands:
                wall, cpu = timed(cmd, cmd_env, d)
                if args.verbose:
                    print(f"{label}: wall {wall:.3f} s, CPU {cpu:.3f} s", file=sys.stderr)
                best[label] = (min(best[label][0], wall), min(best[label][1], cpu))
        for i, _ in enumerate(trees):
            if not filecmp.cmp(mig, d / f"back{i}.mig", shallow=False):
                print(f"{trees[i][1]}: from-ber(to-ber(x)) differs from x", file=sys.stderr)
                return 1
            if not filecmp.cmp(d / "vm0.ber", d / f"vm{i}.ber", shallow=False):
                print("the baseline's BER file differs", file=sys.stderr)
                return 1
        ber_size = (d / "vm0.ber").stat().st_size
    print(f"stream: {size} bytes ({args.mib} MiB of random guest RAM, -M pc), "
          f"BER: {ber_size} bytes; best of {args.n}; load average {load:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after\n")
    print("| command | wall (s) | vs cp | CPU user+sys (s) | vs cp |")
    print("|---|---:|---:|---:|---:|")
    cp = best["`cp`"]
    rows = [("`cp`", cp)]
    for name, _ in trees:
        label = f" ({name})" if name else ""
        to_ber, from_ber = best[f"`vmgen stream to-ber`{label}"], \
            best[f"`vmgen stream from-ber`{label}"]
        rows += [(f"`vmgen stream to-ber`{label}", to_ber),
                 (f"`vmgen stream from-ber`{label}", from_ber),
                 (f"to-ber + from-ber{label}", (to_ber[0] + from_ber[0], to_ber[1] + from_ber[1]))]
    for label, (wall, cpu) in rows:
        strong = "**" if label.startswith("to-ber +") else ""
        print(f"| {label} | {wall:.3f} | {strong}{wall / cp[0]:.2f}{strong} | {cpu:.3f} | "
              f"{strong}{cpu / cp[1]:.2f}{strong} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
