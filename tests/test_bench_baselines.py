"""The codec benchmark's outside baselines (tests/bench/baselines.py) carry the same values
as vmgen, so `make bench` cannot silently measure the wrong thing.

- The VMState-style interpreter (tests/bench/vms*.c), built with -Wall -Wextra -Werror by
  each compiler: its records of the three bench states equal vmgen's legacy stream and the
  big-endian bytes this test packs with `struct` from the values asn1tools (through the
  generated Python module) reads back out of vmgen's DER record; its load gives back the
  object; a short record fails to load.
- protobuf-c and nanopb: each record decodes to the source object field by field (and the
  comparison fails for an object one value away), the two encoders' bytes are identical,
  and a record cut short does not decode. Their Debian packages are test dependencies:
  missing, they skip these tests, and fail them under CI (.ci/run installs them).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import CFLAGS, REPO, compilers, import_module, run_vmgen, runtime_sources

sys.path.insert(0, str(REPO / "tests" / "bench"))

import baselines

from vmgen.driver.pipeline import build_module
from vmgen.frontend.source import Options

BENCH = REPO / "tests" / "bench"
STATES = ("ScalarHeavy", "BufferHeavy", "RingHeavy")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench-baselines")
    for args in (["runtime", "-o", str(out)],
                 ["generate", "-I", str(BENCH), "-o", str(out), str(BENCH / "bench_states.h")]):
        proc = run_vmgen(*args)
        assert proc.returncode == 0, proc.stderr
    return out


# Values set by plain C assignments from a fixed xorshift sequence.
FILL = """\
static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1du;
}
static void fill_ScalarHeavy(ScalarHeavy *s)
{
@SCALAR@
}
static void fill_BufferHeavy(BufferHeavy *s)
{
    s->status = (uint32_t)next();
    s->index = (uint32_t)next();
    for (size_t i = 0; i < sizeof(s->ram); i++) s->ram[i] = (uint8_t)next();
    for (size_t i = 0; i < sizeof(s->vram); i++) s->vram[i] = (uint8_t)next();
    for (size_t i = 0; i < sizeof(s->fifo); i++) s->fifo[i] = (uint8_t)next();
    for (size_t i = 0; i < sizeof(s->rom); i++) s->rom[i] = (uint8_t)next();
}
static void fill_RingHeavy(RingHeavy *s)
{
    for (size_t i = 0; i < 256; i++) {
        s->ring[i].addr = next();
        s->ring[i].len = (uint32_t)next();
        s->ring[i].flags = (uint16_t)next();
        s->ring[i].next = (uint16_t)next();
        s->ring[i].status = (uint8_t)next();
        s->ring[i].valid = next() & 1;
    }
    s->head = (uint32_t)next();
    s->tail = (uint32_t)next();
}
static void die(const char *what)
{
    fprintf(stderr, "FAIL %s\\n", what);
    exit(1);
}
static void write_file(const char *name, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(name, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) die(name);
}
""".replace("@SCALAR@", "\n".join(f"    s->r{i} = (uint32_t)next();" for i in range(100)))

VMS_CHECK = """\
    {
        static %(S)s src, dst;
        static VmsChannel out;
        uint8_t *legacy, *der;
        size_t legacy_len, der_len;
        fill_%(S)s(&src);
        if (!vms_save_%(S)s(&src, &out)) die("vms save %(S)s");
        if (!vmgen_save_%(S)s_legacy(&src, 1u, &legacy, &legacy_len, NULL)) die("vmgen legacy");
        if (!vmgen_save_%(S)s(&src, &der, &der_len, NULL)) die("vmgen save");
        if (legacy_len != out.len || memcmp(legacy, out.data, out.len))
            die("vms and vmgen legacy bytes of %(S)s differ");
        write_file("%(S)s.vms", out.data, out.len);
        write_file("%(S)s.der", der, der_len);
        if (!vms_load_%(S)s(&dst, out.data, out.len) || memcmp(&src, &dst, sizeof(src)))
            die("vms load %(S)s");
        if (vms_load_%(S)s(&dst, out.data, out.len - 1)) die("vms load of a short %(S)s");
        free(legacy);
        free(der);
    }
"""

PB_CHECK = """\
    {
        static %(S)s src, other;
        uint8_t *pb, *nb;
        size_t pn, nn, cap;
        fill_%(S)s(&src);
        other = src;
        %(perturb)s
        pbc_prepare_%(S)s(&src);
        nanopb_prepare_%(S)s(&src);
        pn = pbc_save_%(S)s(&pb);
        cap = nanopb_max_%(S)s();
        nb = malloc(cap);
        if (!nb) die("malloc");
        nn = nanopb_save_%(S)s(nb, cap);
        if (!pn || !nn) die("encode %(S)s");
        if (!pbc_check_%(S)s(pb, pn, &src)) die("protobuf-c values of %(S)s");
        if (!nanopb_check_%(S)s(nb, nn, &src)) die("nanopb values of %(S)s");
        if (pbc_check_%(S)s(pb, pn, &other)) die("protobuf-c check of %(S)s cannot fail");
        if (nanopb_check_%(S)s(nb, nn, &other)) die("nanopb check of %(S)s cannot fail");
        if (pn != nn || memcmp(pb, nb, pn)) die("protobuf-c and nanopb bytes of %(S)s differ");
        if (pbc_load_%(S)s(pb, pn - 1)) die("protobuf-c decoded a short %(S)s");
        if (nanopb_load_%(S)s(nb, nn - 1)) die("nanopb decoded a short %(S)s");
        write_file("%(S)s.pb", pb, pn);
        free(pb);
        free(nb);
    }
"""
# One value changed in a place each codec carries differently (the last field, inside the
# last ring descriptor, the last byte of the last array).
PERTURB = {"ScalarHeavy": "other.r99 ^= 1;", "BufferHeavy": "other.rom[8191] ^= 1;",
           "RingHeavy": "other.ring[255].next ^= 1;"}


def program(protobuf: bool) -> str:
    lines = ["#include <stdio.h>", "#include <stdlib.h>", "#include <string.h>",
             '#include "bench_states-visit.h"', '#include "vms_tables.h"']
    if protobuf:
        lines.append('#include "protobuf_glue.h"')
    lines += [FILL, "int main(void)", "{"]
    for s in STATES:
        lines.append((PB_CHECK % {"S": s, "perturb": PERTURB[s]}) if protobuf
                     else VMS_CHECK % {"S": s})
    lines += ['    puts("ok");', "    return 0;", "}", ""]
    return "\n".join(lines)


def build_and_run(cc: str, generated: Path, work: Path, protobuf: bool) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    (work / "main.c").write_text(program(protobuf))
    flags = [*CFLAGS, "-O1", "-I", str(generated), "-I", str(BENCH), "-I", str(work)]
    sources = [work / "main.c", *baselines.vms_sources()]
    libs: list[str] = []
    if protobuf:
        module = build_module(str(BENCH / "bench_states.h"),
                              Options(include_dirs=(str(BENCH), str(generated))))
        sources += baselines.write_protobuf(module, STATES, work)
        libs = baselines.PROTOBUF_LIBS
    else:
        sources += [generated / "bench_states-visit.c", *runtime_sources(generated)]
    exe = work / "check"
    proc = subprocess.run([cc, *flags, *map(str, sources), *libs, "-o", str(exe)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([str(exe)], cwd=work, capture_output=True, text=True, check=False,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout == "ok\n", proc.stdout + proc.stderr
    return work


def expected_legacy(state: str, v: dict[str, Any]) -> bytes:
    """QEMU's VMSTATE_UINT32 / _UINT64 / _UINT16 / _UINT8 / _BOOL / _BUFFER /
    _STRUCT_ARRAY bytes: big-endian at each field's C width, in C order."""
    if state == "ScalarHeavy":
        return struct.pack(">100I", *(v[f"r{i}"] for i in range(100)))
    if state == "BufferHeavy":
        return struct.pack(">II", v["status"], v["index"]) + v["ram"] + v["vram"] + v["fifo"] \
            + v["rom"]
    ring = b"".join(struct.pack(">QIHHB?", d["addr"], d["len"], d["flags"], d["next"],
                                d["status"], d["valid"]) for d in v["ring"])
    return ring + struct.pack(">II", v["head"], v["tail"])


@pytest.mark.parametrize("cc", compilers())
def test_vmstate_interpreter_writes_qemus_bytes(cc: str, generated: Path,
                                                tmp_path: Path) -> None:
    work = build_and_run(cc, generated, tmp_path / "vms", protobuf=False)
    mod = import_module(generated / "bench_states_asn1.py")
    for state in STATES:
        values = mod.load(state, (work / f"{state}.der").read_bytes())
        assert (work / f"{state}.vms").read_bytes() == expected_legacy(state, values), state


def protobuf_tools() -> None:
    missing = baselines.missing_packages()
    if missing:
        message = f"the protobuf baselines need the Debian packages {' '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.parametrize("cc", compilers())
def test_protobuf_baselines_carry_the_same_values(cc: str, generated: Path,
                                                  tmp_path: Path) -> None:
    protobuf_tools()
    work = build_and_run(cc, generated, tmp_path / "pb", protobuf=True)
    # Field 1 of ScalarHeavy is r0: the record starts with its tag (1 << 3 | varint).
    assert (work / "ScalarHeavy.pb").read_bytes()[0] == 0x08
