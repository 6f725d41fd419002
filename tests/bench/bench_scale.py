#!/usr/bin/env python3
"""Scale benchmarks for vmgen as a build step, each against its floor measured in
the same run:

  large    synthetic headers of ~5k, ~20k and ~50k lines (~1,800 structs at 50k);
           floor = `cc -E` (vmgen's own preprocessor command) + pycparser's
           CParser(dialect="c23").parse of the same text with gc paused;
           vmgen = `python -m vmgen generate` end to end into an empty folder, as
           it runs by default (with two CPUs, a second process for a large header:
           see vmgen.driver.parallel) and with `-j 1`, and the CPU time of its processes.
           Structs come in chains of 30 (each holds the previous one by value) and
           the last of each chain is a VMGEN_STATE, so every struct is reachable
           ("all"); "subset" has one state reaching 30 structs.
  tu       a QEMU-like device .c file with a large include tree (30-odd glibc
           headers + generated glib-like headers full of inline functions,
           ~30k preprocessed lines): vmgen end to end, where the time goes, and
           vmgen's slicing (vmgen/frontend/slicer.py) against a whole parse of the same text,
           checked to generate the very same files.
  many     `make -j` over 200 generated headers: wall time vs the sum of single runs
           (make -j1), and one vmgen run given all 200 headers.

    .venv/bin/python tests/bench/bench_scale.py [large] [tu] [many] [--repeat 3]
        [--no-bytecode-cache]

vmgen runs as an installed package does: with its modules' bytecode cached (a
first run writes the caches, under a temporary PYTHONPYCACHEPREFIX, not into the
tree; PYTHONDONTWRITEBYTECODE is dropped from the child environment).
--no-bytecode-cache runs vmgen in this environment as it is: under
PYTHONDONTWRITEBYTECODE (set where these benchmarks were first run) every run
compiles vmgen's modules again, about 40 ms more a run.

The in-process phase tables run the pipeline's own steps with the cyclic garbage
collector paused, as vmgen.driver.pipeline does.

Prints Markdown.  Not collected by pytest.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pycparser import c_parser  # noqa: E402

from vmgen.backends import asn1, c, python, schema  # noqa: E402
from vmgen.checks import rules  # noqa: E402
from vmgen.frontend.neutralize import neutralize  # noqa: E402
from vmgen.frontend.slicer import slice_text  # noqa: E402
from vmgen.frontend.source import Options, Parsed, dependencies, preprocess, preprocess_command  # noqa: E402
from vmgen.lowering import lower  # noqa: E402
from vmgen.resources import probe_header  # noqa: E402

PY = sys.executable
ENV = {**os.environ, "PYTHONPATH": str(REPO)}  # main() adds the bytecode cache


def best(fn: Callable[[], Any], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run(cmd: list[str], **kw: Any) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)


def parse_paused(text: str, name: str) -> Any:
    parser = c_parser.CParser(dialect="c23")
    enabled = gc.isenabled()
    gc.disable()
    try:
        return parser.parse(text, filename=name)
    finally:
        if enabled:  # `phases` keeps it paused
            gc.enable()


# ---- large synthetic headers -------------------------------------------------------

_FIELDS = ("uint8_t", "uint16_t", "uint32_t", "uint64_t", "int32_t", "bool", "double",
           "uint8_t {}[16]", "uint32_t {}[4]", "int16_t", "int64_t", "uint8_t")


def synth_header(nstructs: int, reach: str) -> str:
    out = ["#include <stdbool.h>", "#include <stdint.h>", '#include "vmgen.h"', "",
           "typedef struct Timer Timer;", ""]
    for i in range(nstructs):
        if i % 10 == 0:
            out += [f"typedef enum Mode{i} {{", f"    MODE{i}_OFF,", f"    MODE{i}_ON = 3,",
                    f"    MODE{i}_AUTO,", f"}} Mode{i};", ""]
        last = i % 30 == 29
        state = last and (reach == "all" or i == 29)
        head = f"VMGEN_STATE({1 + i % 3}, 1) " if state else ""
        out.append(f"typedef struct {head}S{i} {{")
        for k in range(22):
            t = _FIELDS[(i + k) % len(_FIELDS)]
            out.append(f"    {t.format(f'f{k}')};" if "{}" in t else f"    {t} f{k};")
        out.append(f"    Mode{i - i % 10} mode;")
        if i % 30:
            out.append(f"    S{i - 1} prev;")
        out.append("    Timer *timer VMGEN_SKIP;")
        out += [f"}} S{i};", ""]
    return "\n".join(out) + "\n"


def phases(header: Path, options: Options, slicer: bool = True) -> dict[str, float]:
    """vmgen's pipeline, phase by phase, in this process (one run), the cyclic
    garbage collector paused as vmgen.driver.pipeline does.  `slicer`: slice before the
    parse, as vmgen does (False: parse the whole text)."""
    t: dict[str, float] = {}
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        text = preprocess(str(header), options)
        t["cc -E"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        clean = neutralize(text)
        t["neutralize"] = time.perf_counter() - t0
        if slicer:
            t0 = time.perf_counter()
            clean = slice_text(clean, [str(probe_header())])
            t["slice"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        ast = parse_paused(clean, str(header))
        parsed = Parsed(str(header), ast, dependencies(text), text, sliced=slicer)
        t["parse"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        module, problems = lower.lower(parsed, options)
        t["lower"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        problems += rules.diagnose(module)
        t["checks"] = time.perf_counter() - t0
        assert not problems, [p.format() for p in problems]
        del parsed, ast
        t0 = time.perf_counter()
        files = c.generate(module)
        t["backend c"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        spec, parsed_spec = asn1.generate(module)
        files[f"{module.stem}.asn"] = spec
        t["backend asn1"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        files[python.module_file(module)] = python.generate(module, spec, parsed_spec)
        t["backend python"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        files[f"{module.stem}.vmgen.json"] = schema.generate(module)
        t["backend schema"] = time.perf_counter() - t0
    finally:
        if enabled:
            gc.enable()
    t["_files"] = files  # type: ignore[assignment]
    return t


def bench_large(tmp: Path, repeat: int) -> None:
    print("### Large input\n")
    print(f"vmgen as it runs by default ({os.cpu_count()} CPUs: a second process for a large "
          "header), and with `-j 1` (one process); CPU = user + system time of vmgen's "
          "processes.\n")
    print("| header | lines | structs | states | floor: cc -E + parse (s) | vmgen (s) "
          "| vmgen / floor | CPU (s) | vmgen -j 1 (s) | -j 1 / floor | vmgen s per 10k lines |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    for nstructs, reach in ((180, "all"), (720, "all"), (1800, "all"), (1800, "subset")):
        header = tmp / f"synth{nstructs}{reach}.h"
        header.write_text(synth_header(nstructs, reach))
        lines = header.read_text().count("\n")
        options = Options()
        cmd = preprocess_command(str(header), options)
        text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        floor = best(lambda cmd=cmd: run(cmd), repeat) + best(
            lambda text=text, h=header: parse_paused(text, str(h)), repeat)
        out = tmp / f"out{nstructs}{reach}"

        cpu: list[float] = []

        def vmgen(header: Path = header, out: Path = out, jobs: str = "0",
                  cpu: list[float] = cpu) -> None:
            shutil.rmtree(out, ignore_errors=True)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            run([PY, "-m", "vmgen", "generate", "-j", jobs, "-o", str(out), str(header)],
                env=ENV)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)

        total = best(vmgen, repeat)
        used = min(cpu)
        one = best(lambda vmgen=vmgen: vmgen(jobs="1"), repeat)
        states = nstructs // 30 if reach == "all" else 1
        rows.append((lines, total))
        print(f"| {reach} | {lines} | {nstructs} | {states} | {floor:.2f} | {total:.2f} "
              f"| {total / floor:.2f}x | {used:.2f} | {one:.2f} | {one / floor:.2f}x "
              f"| {total / lines * 1e4:.3f} |")
        if nstructs == 1800:
            runs = [phases(header, options) for _ in range(repeat)]
            p = {k: min(r[k] for r in runs) for k in runs[0] if not k.startswith("_")}
            print("\n  phases (in process, best of runs): " + ", ".join(
                f"{k} {v:.3f}s" for k, v in p.items()) + f"; sum {sum(p.values()):.2f}s\n")
    print()


# ---- a QEMU-like translation unit ---------------------------------------------------

_SYSTEM_TEXT = ("stdio.h stdlib.h string.h pthread.h signal.h sys/socket.h netinet/in.h math.h "
           "time.h unistd.h fcntl.h sys/stat.h errno.h limits.h stdarg.h setjmp.h sched.h "
           "sys/mman.h sys/uio.h poll.h dirent.h wchar.h ctype.h inttypes.h sys/types.h "
           "sys/time.h arpa/inet.h netdb.h sys/ioctl.h termios.h glob.h locale.h")
_SYSTEM = _SYSTEM_TEXT.split()


def filler_header(n: int, items: int) -> str:
    """A glib-like header: typedefs, structs, enums, prototypes and inline functions
    with GNU C bodies (statement expressions, asm, typeof)."""
    g = f"G{n}"
    out = [f"#ifndef FILLER_{n}_H", f"#define FILLER_{n}_H", "#include <stdint.h>",
           "#include <stddef.h>",
           f"#define {g}_MAX(a, b) ({{ typeof(a) _a = (a); typeof(b) _b = (b); "
           "_a > _b ? _a : _b; })", ""]
    for i in range(items):
        out += [
            f"typedef struct {g}Obj{i} {g}Obj{i};",
            f"typedef enum {{ {g.upper()}_K{i}_A, {g.upper()}_K{i}_B = 4 }} {g}Kind{i};",
            f"struct {g}Obj{i} {{",
            f"    {g}Kind{i} kind;",
            "    uint32_t refcount;",
            f"    struct {g}Obj{i} *next;",
            "    void (*notify)(void *data, int flags);",
            "    char name[32];",
            "};",
            f"extern {g}Obj{i} *{g.lower()}_obj{i}_new(const char *name, size_t len);",
            f"void {g.lower()}_obj{i}_unref({g}Obj{i} *obj);",
            f"static inline uint32_t {g.lower()}_obj{i}_ref({g}Obj{i} *obj)",
            "{",
            f"    uint32_t r = {g}_MAX(obj->refcount, 1u);",
            '    __asm__ __volatile__("" ::: "memory");',
            "    if (__builtin_expect(r > 100, 0)) {",
            "        return ({ int _t = (int)r; _t + 1; });",
            "    }",
            "    return obj->refcount = r + 1;",
            "}",
            "",
        ]
    return "\n".join([*out, "#endif", ""])


def qemu_like_tu(root: Path, headers: int = 12, items: int = 85) -> Path:
    inc = root / "include"
    (inc / "glibish").mkdir(parents=True, exist_ok=True)
    for n in range(headers):
        (inc / "glibish" / f"g{n}.h").write_text(filler_header(n, items))
    dev = root / "hw_timer.c"
    lines = [f"#include <{h}>" for h in _SYSTEM]
    lines += [f'#include "glibish/g{n}.h"' for n in range(headers)]
    lines += ['#include "vmgen.h"', "", "typedef struct QEMUTimer QEMUTimer;", "",
              "typedef enum TimerMode { TIMER_ONESHOT, TIMER_PERIODIC } TimerMode;", "",
              "typedef struct TimerChannel {", "    uint64_t deadline;", "    uint32_t count;",
              "    TimerMode mode;", "    G3Kind7 kind;", "} TimerChannel;", "",
              "typedef struct VMGEN_STATE(2, 1) HWTimerState {",
              "    TimerChannel ch[4];", "    uint32_t ctrl;", "    bool irq_level;",
              "    G0Obj1 *owner VMGEN_SKIP;", "    QEMUTimer *timer VMGEN_SKIP;",
              "    pthread_mutex_t lock VMGEN_SKIP;", "} HWTimerState;", "",
              "static uint64_t hw_timer_read(void *opaque, uint64_t addr, unsigned size)",
              "{", "    HWTimerState *s = opaque;",
              "    return G1_MAX(s->ctrl, (uint32_t)addr) + size;", "}", ""]
    dev.write_text("\n".join(lines))
    return dev


def bench_tu(tmp: Path, repeat: int) -> None:
    from vmgen.frontend.slicer import _declarations, slice_text

    root = tmp / "qemu_like"
    dev = qemu_like_tu(root)
    options = Options(include_dirs=(str(root / "include"),))
    text = preprocess(str(dev), options)
    clean = neutralize(text)
    sliced = slice_text(clean, [str(probe_header())])
    kept = sum(1 for line in sliced.splitlines() if line.startswith("# "))
    total_decls = _declarations(clean)
    print("### A QEMU-like device .c file\n")
    print(f"{len(text.splitlines())} preprocessed lines ({len(dependencies(text))} files), "
          f"{total_decls} file-scope declarations; the slice keeps {kept} declarations, "
          f"{len(sliced.splitlines())} lines.\n")
    out = tmp / "tu-out"

    def vmgen() -> None:
        shutil.rmtree(out, ignore_errors=True)
        run([PY, "-m", "vmgen", "generate", "-I", str(root / "include"), "-o", str(out),
             str(dev)], env=ENV)

    total = best(vmgen, repeat)
    full = min((phases(dev, options, slicer=False) for _ in range(repeat)),
               key=lambda p: p["parse"])
    cut = min((phases(dev, options, slicer=True) for _ in range(repeat)),
              key=lambda p: p["parse"])
    assert cut["_files"] == full["_files"], "the slice generates other files"
    start = best(lambda: run([PY, "-c", "import pycparser.c_parser, jinja2"]), repeat)
    print(f"vmgen end to end (it slices): **{total:.3f} s** (target <= 0.25 s); interpreter + "
          f"imports floor {start:.3f} s\n")
    print("| phase (in process, best of runs) | full parse (s) | sliced (s) |\n|---|---:|---:|")
    for k in full:
        if not k.startswith("_"):
            print(f"| {k} | {full[k]:.3f} | {cut.get(k, 0.0):.3f} |")
    print(f"| slice | - | {cut['slice']:.3f} |")
    tf = sum(v for k, v in full.items() if not k.startswith("_"))
    tc = sum(v for k, v in cut.items() if not k.startswith("_"))
    print(f"| **pipeline total** | {tf:.3f} | {tc:.3f} |\n")
    print("The sliced pipeline generates byte-identical files (the whole-text column is what "
          "vmgen would cost without slicing).\n")


# ---- many headers ---------------------------------------------------------------------

def bench_many(tmp: Path, count: int = 200) -> None:
    root = tmp / "many"
    (root / "include").mkdir(parents=True)
    rtc = (REPO / "fixtures" / "rtc.h").read_text()
    stems = []
    for i in range(count):
        stem = f"dev{i:03d}"
        (root / "include" / f"{stem}.h").write_text(
            rtc.replace("RTCState", f"Dev{i:03d}State").replace("FIXTURE_RTC_H", f"DEV{i}_H"))
        stems.append(stem)
    vmgen = f"{PY} -m vmgen"
    (root / "Makefile").write_text(
        f"VMGEN := PYTHONPATH={REPO} {vmgen}\n"
        f"STEMS := {' '.join(stems)}\n"
        "all: $(STEMS:%=gen/%.stamp)\n"
        "gen/%.stamp: include/%.h\n"
        "\t@$(VMGEN) generate -I include -o gen --depfile gen/$*.d $<\n"
        "\t@touch $@\n")
    jobs = os.cpu_count() or 1

    def make(j: int) -> float:
        shutil.rmtree(root / "gen", ignore_errors=True)
        (root / "gen").mkdir()
        t0 = time.perf_counter()
        run(["make", "-s", f"-j{j}"], cwd=root, env=ENV)
        return time.perf_counter() - t0

    serial = make(1)
    parallel = make(jobs)
    def one_run(jobs: str) -> float:
        shutil.rmtree(root / "gen", ignore_errors=True)
        t0 = time.perf_counter()
        run([PY, "-m", "vmgen", "generate", "-j", jobs, "-I", "include", "-o", "gen",
             *[f"include/{s}.h" for s in stems]], cwd=root, env=ENV)
        return time.perf_counter() - t0

    batch = min(one_run("0") for _ in range(3))
    batch_one = min(one_run("1") for _ in range(3))
    print("### Many headers\n")
    print(f"{count} headers (copies of fixtures/rtc.h), one vmgen run per header, "
          f"{jobs} CPUs:\n")
    print("| how | wall (s) | per header (ms) |\n|---|---:|---:|")
    print(f"| sum of single runs (`make -j1`) | {serial:.2f} | {serial / count * 1e3:.0f} |")
    print(f"| `make -j{jobs}` | {parallel:.2f} | {parallel / count * 1e3:.0f} |")
    print(f"| one `vmgen generate` of all {count} | {batch:.2f} | {batch / count * 1e3:.0f} |")
    print(f"| one `vmgen generate -j 1` of all {count} | {batch_one:.2f} "
          f"| {batch_one / count * 1e3:.0f} |")
    print(f"\nspeed-up of -j{jobs} over the sum: {serial / parallel:.2f}x\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", nargs="*", default=["large", "tu", "many"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-bytecode-cache", action="store_true",
                    help="keep PYTHONDONTWRITEBYTECODE: vmgen's modules compile at every run")
    args = ap.parse_args()
    cached = not args.no_bytecode_cache or "PYTHONDONTWRITEBYTECODE" not in os.environ
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}, best of {args.repeat}, vmgen's bytecode "
          f"{'cached' if cached else 'compiled at every run'}\n")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_bytecode_cache:
            ENV.pop("PYTHONDONTWRITEBYTECODE", None)
            ENV["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        # One run first: writes the bytecode caches (vmgen's and Jinja2's templates').
        run([PY, "-m", "vmgen", "generate", "-I", str(REPO / "fixtures"), "-o",
             str(Path(tmp) / "warm-up"), str(REPO / "fixtures" / "rtc.h")], env=ENV)
        for what in args.what:
            {"large": bench_large, "tu": bench_tu,
             "many": lambda t, r: bench_many(t)}[what](Path(tmp), args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
