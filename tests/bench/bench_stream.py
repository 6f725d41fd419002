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

prints a Markdown table with the ratio (to-ber + from-ber) / cp, in wall time and in CPU
time (user + system: what the machine's other jobs disturb least).

    .venv/bin/python tests/bench/bench_stream.py [-n 5] [--mib 512]

Not collected by pytest.  Needs qemu-system-x86_64.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests import qemu  # noqa: E402


def best(cmd: list[str], n: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Best wall time and best CPU time (user + system) of `cmd`, whose last argument is
    its output: removed (untimed) before each run, so no run pays for dropping the
    previous run's file."""
    out = Path(cmd[-1])
    subprocess.run(cmd, check=True, env=env)  # warm-up: page cache, bytecode cache
    times, cpu = [], []
    for _ in range(n):
        out.unlink()
        subprocess.run(["sync"], check=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, check=True, env=env)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(times), min(cpu)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=5, help="runs of each command (best is kept)")
    ap.add_argument("--mib", type=int, default=512, help="guest RAM in MiB")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vmgen-bench-stream-") as tmp:
        d = Path(tmp)
        ram = d / "ram.bin"
        with open(ram, "wb") as f:
            for _ in range(args.mib):
                f.write(os.urandom(1 << 20))
        mig = d / "vm.mig"
        qemu.save_stream(mig, "pc", [
            "-m", f"{args.mib}M",
            "-object", f"memory-backend-file,id=ram0,size={args.mib}M,mem-path={ram},share=off",
            "-machine", "memory-backend=ram0"])
        ram.unlink()
        size = mig.stat().st_size
        py = [sys.executable, "-m", "vmgen", "stream"]
        # vmgen runs as an installed package does: its bytecode cached (the warm-up run
        # writes the cache under a private prefix)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(d / "pycache")
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        cp = best(["cp", str(mig), str(d / "copy.mig")], args.n)
        to_ber = best([*py, "to-ber", str(mig), str(d / "vm.ber")], args.n, env)
        from_ber = best([*py, "from-ber", str(d / "vm.ber"), str(d / "back.mig")], args.n, env)
        if not filecmp.cmp(mig, d / "back.mig", shallow=False):
            print("from-ber(to-ber(x)) differs from x", file=sys.stderr)
            return 1
        ber_size = (d / "vm.ber").stat().st_size
    print(f"stream: {size} bytes ({args.mib} MiB of random guest RAM, -M pc), "
          f"BER: {ber_size} bytes; best of {args.n}; load average "
          f"{os.getloadavg()[0]:.2f}\n")
    print("| command | wall (s) | vs cp | CPU user+sys (s) | vs cp |")
    print("|---|---:|---:|---:|---:|")
    rows = [("`cp`", cp), ("`vmgen stream to-ber`", to_ber),
            ("`vmgen stream from-ber`", from_ber),
            ("to-ber + from-ber", (to_ber[0] + from_ber[0], to_ber[1] + from_ber[1]))]
    for label, (wall, cpu) in rows:
        strong = "**" if label.startswith("to-ber +") else ""
        print(f"| {label} | {wall:.3f} | {strong}{wall / cp[0]:.2f}{strong} | {cpu:.3f} | "
              f"{strong}{cpu / cp[1]:.2f}{strong} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
