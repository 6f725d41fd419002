"""Two processes for a large header: the same files, module and diagnostics as one.

The pipeline parses and lowers the device states in two halves at once and
renders the C in a forked child (vmgen.driver.pipeline, vmgen.driver.parallel) when a header
is large; here the size thresholds are set to zero so that small headers take
that path too, and every result is compared with a one-process run.  Each test
also checks that the two-process path was really taken, not fallen back from.
"""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import support
from vmgen.diagnostics import VmgenError
from vmgen.driver import parallel, pipeline
from vmgen.frontend.source import Options, read
from vmgen.lowering import ir

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork (POSIX)")

ONE = pipeline.Jobs(1)
TWO = pipeline.Jobs(2, min_text=0, min_fields=0)


def _all_fixtures(tmp_path: Path) -> Path:
    """One header including every fixture device: ten states with unions,
    externals, anonymous structs, sized arrays, enums and constants."""
    header = tmp_path / "all_devices.h"
    header.write_text("".join(f'#include "{stem}.h"\n' for stem in support.FIXTURE_HEADERS))
    return header


SHARED = """\
#include <stdint.h>
#include <stdbool.h>
#include "vmgen.h"
#define NREGS 4
typedef enum Mode { MODE_OFF, MODE_ON } Mode;
typedef union Payload {
    uint32_t word VMGEN_CASE(0);
    uint8_t bytes[4] VMGEN_CASE(1);
} Payload;
struct Regs { uint32_t r[NREGS]; Mode mode; };
typedef struct Regs RegsAlias;
typedef struct VMGEN_STATE(2, 1) Timer { uint64_t deadline; Mode mode; } Timer;
typedef struct VMGEN_STATE(1, 1) DevA { RegsAlias regs; Timer t; bool on; } DevA;
typedef struct VMGEN_STATE(3, 2) DevB {
    struct Regs regs;
    struct { uint16_t lo; uint16_t hi; } split;
    uint8_t kind;
    Payload payload VMGEN_UNION(kind);
    uint32_t extra VMGEN_SINCE(3);
} DevB;
typedef struct Inner { int16_t v[3]; Mode m; } Inner;
typedef struct VMGEN_STATE(1, 1) DevC { Inner in[2]; Timer t; uint8_t n;
    uint32_t log[8] VMGEN_SIZE_IS(n); } DevC;
typedef struct VMGEN_STATE(1, 1) DevD { Inner in; DevA a; } DevD;
"""


def _shared(tmp_path: Path) -> Path:
    header = tmp_path / "shared.h"
    header.write_text(SHARED)
    return header


def _synthetic(tmp_path: Path) -> Path:
    import sys

    sys.path.insert(0, str(support.REPO / "tests" / "bench"))
    from bench_scale import synth_header

    header = tmp_path / "synth.h"
    header.write_text(synth_header(180, "all"))
    return header


HEADERS = {"all_fixtures": _all_fixtures, "shared": _shared, "synthetic": _synthetic}


@pytest.mark.parametrize("make", HEADERS.values(), ids=list(HEADERS))
def test_two_processes_give_the_same_files(tmp_path: Path, make: object) -> None:
    header = str(make(tmp_path))  # type: ignore[operator]
    options = Options(include_dirs=(str(support.FIXTURES),))
    # the halves path is taken (not fallen back from) and gives the whole module
    halves = pipeline._lower_in_halves(header, read(header, options), options, TWO)
    assert halves is not None
    one = pipeline.generate(header, options, ONE)
    two = pipeline.generate(header, options, TWO)
    assert halves == one.module == two.module
    assert list(two.files) == list(one.files)
    assert two.files == one.files
    assert two.warnings == one.warnings


def test_a_broken_half_gives_the_one_process_diagnostics(tmp_path: Path) -> None:
    header = tmp_path / "broken.h"
    # the last state refuses a pointer, the second one a missing size: the
    # halves stand back and the one-process run reports both, in order
    header.write_text(SHARED.replace("bool on; }", "bool on; int *p; }")
                      + "typedef struct VMGEN_STATE(1, 1) DevE { uint8_t b[]; } DevE;\n")
    options = Options()
    assert pipeline._lower_in_halves(str(header), read(str(header), options), options,
                                     TWO) is None
    with pytest.raises(VmgenError) as one:
        pipeline.generate(str(header), options, ONE)
    with pytest.raises(VmgenError) as two:
        pipeline.generate(str(header), options, TWO)
    assert str(two.value) == str(one.value)
    assert len(one.value.diagnostics) == 2


def test_warnings_come_once(tmp_path: Path) -> None:
    header = tmp_path / "warn.h"
    # an enum without a zero value, used by states of both halves
    header.write_text(SHARED.replace("MODE_OFF, MODE_ON", "MODE_OFF = 1, MODE_ON"))
    options = Options()
    one = pipeline.generate(str(header), options, ONE)
    two = pipeline.generate(str(header), options, TWO)
    assert len(one.warnings) == 1
    assert two.warnings == one.warnings and two.files == one.files


def test_halves_that_disagree_are_not_merged(tmp_path: Path) -> None:
    header = str(_shared(tmp_path))
    module = pipeline.build_module(header, Options(), jobs=ONE)
    regs = module.struct("RegsAlias")  # named by its first typedef
    # the same struct (place and name) lowered differently in the second half
    other = ir.Struct(regs.name, regs.c_type, regs.fields[:1], regs.location, None)
    second = replace(module, structs=(other, *module.structs[-1:]))
    assert pipeline.merge(module, second) is None
    # a struct of its own in the second half is appended; shared ones dropped
    first = replace(module, structs=module.structs[:2])
    merged = pipeline.merge(first, module)
    assert merged is not None and merged.structs == module.structs


def test_the_child_gives_its_result_or_none() -> None:
    assert parallel.Child(lambda: {"a": "b" * 1_000_000}).result() == {"a": "b" * 1_000_000}

    def fails() -> int:
        raise ValueError("lost")

    assert parallel.Child(fails).result() is None

    def killed() -> int:
        os.kill(os.getpid(), signal.SIGKILL)
        return 1

    assert parallel.Child(killed).result() is None


def test_no_process_to_be_had(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fork failing (a process limit): every two-process path does the work itself."""
    def refuse() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    header = str(_shared(tmp_path))
    options = Options()
    one = pipeline.generate(header, options, ONE)
    with monkeypatch.context() as m:
        m.setattr(os, "fork", refuse)
        assert parallel.Child(lambda: 1).result() is None
        parallel.Child(lambda: 1).cancel()
        two = pipeline.generate(header, options, TWO)
        many = pipeline.generate_all([header, header], options, TWO)
    assert (two.module, two.files, two.warnings) == (one.module, one.files, one.warnings)
    assert many == [one, one]


def _second(jobs: int) -> bool:
    with parallel.second_process(jobs) as two:
        return two


def test_second_process_under_make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAKEFLAGS", "")
    assert (_second(0), _second(1), _second(2)) == (parallel.cpus() >= 2, False, True)
    # make 4.3's jobserver (inherited descriptors): recipes cannot reach it
    monkeypatch.setenv("MAKEFLAGS", " -j4 --jobserver-auth=3,4")
    assert (_second(0), _second(2)) == (False, True)
    # make 4.4's named pipe: a free slot is taken for the block and given back
    fifo = tmp_path / "jobserver"
    os.mkfifo(fifo)
    keep = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # make's end
    try:
        monkeypatch.setenv("MAKEFLAGS", f" -j2 --jobserver-auth=fifo:{fifo}")
        assert not _second(0)  # no free slot
        os.write(keep, b"+")
        with parallel.second_process(0) as two:
            assert two
            with pytest.raises(BlockingIOError):
                os.read(keep, 1)  # taken
        assert os.read(keep, 1) == b"+"  # given back
    finally:
        os.close(keep)
    monkeypatch.setenv("MAKEFLAGS", f" -j2 --jobserver-auth=fifo:{tmp_path / 'gone'}")
    assert not _second(0)


def test_jobs_option(tmp_path: Path) -> None:
    header = _shared(tmp_path)
    for jobs in ("1", "2", "0"):
        out = tmp_path / f"out{jobs}"
        done = support.run_vmgen("generate", "-j", jobs, "-o", str(out), str(header))
        assert done.returncode == 0, done.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "out1").iterdir()} == {
        p.name: p.read_bytes() for p in (tmp_path / "out2").iterdir()}
    bad = support.run_vmgen("generate", "-j", "x", str(header))
    assert bad.returncode == 2
    assert "argument -j/--jobs: not a number of processes: 'x'" in bad.stderr


# ---- any header: random structs, shared and embedded, random device states ---------

_SCALAR_TYPES = ("uint8_t", "uint16_t", "int32_t", "uint64_t", "bool", "double", "Mode0",
                 "Mode1")


@st.composite
def _headers(draw: st.DrawFn) -> str:
    """Structs defined in order, each holding scalars, byte arrays, anonymous
    structs, sized arrays and (by value, by typedef, tag or alias, or in an array)
    structs defined before it; some are device states (a state may hold
    another), some have a second typedef."""
    out = ["#include <stdbool.h>", "#include <stdint.h>", '#include "vmgen.h"',
           "typedef enum Mode0 { M0_A, M0_B } Mode0;",
           "typedef enum { M1_A = 0, M1_B = 5 } Mode1;"]
    n = draw(st.integers(min_value=2, max_value=9))
    spellings: list[list[str]] = []
    states = 0
    for i in range(n):
        state = draw(st.booleans()) or (i == n - 1 and states < 2)
        states += state
        head = f"VMGEN_STATE({draw(st.integers(1, 3))}, 1) " if state else ""
        fields = []
        for k in range(draw(st.integers(min_value=1, max_value=4))):
            kind = draw(st.sampled_from(("scalar", "bytes", "struct", "array", "inline",
                                         "sized")))
            if kind == "inline":
                fields.append(f"    struct {{ uint16_t a; Mode0 b; }} m{k};")
            elif kind == "sized":
                fields += [f"    uint8_t n{k} VMGEN_RANGE(0, 4);",
                           f"    uint32_t m{k}[4] VMGEN_SIZE_IS(n{k});"]
            elif kind in ("struct", "array") and spellings:
                t = draw(st.sampled_from(spellings[draw(st.integers(0, len(spellings) - 1))]))
                fields.append(f"    {t} m{k}[2];" if kind == "array" else f"    {t} m{k};")
            elif kind == "bytes":
                fields.append(f"    uint8_t m{k}[{draw(st.integers(1, 8))}];")
            else:
                fields.append(f"    {draw(st.sampled_from(_SCALAR_TYPES))} m{k};")
        form = draw(st.sampled_from(("typedef", "tag")))
        if form == "typedef":
            out += [f"typedef struct {head}T{i} {{", *fields, f"}} T{i};"]
            names = [f"T{i}", f"struct T{i}"]
        else:
            out += [f"struct {head}T{i} {{", *fields, "};"]
            names = [f"struct T{i}"]
        if draw(st.booleans()):
            out.append(f"typedef struct T{i} T{i}Alias;")
            names.append(f"T{i}Alias")
        spellings.append(names)
    return "\n".join(out) + "\n"


@settings(max_examples=40, deadline=None)
@given(_headers())
def test_two_processes_on_any_header(text: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        header = Path(tmp) / "any.h"
        header.write_text(text)
        name = str(header)
        options = Options()
        try:
            one = pipeline.generate(name, options, ONE)
        except VmgenError as exc:
            with pytest.raises(VmgenError) as two_error:
                pipeline.generate(name, options, TWO)
            assert str(two_error.value) == str(exc)
            return
        # the halves path is taken whenever there are two states, and agrees
        halves = pipeline._lower_in_halves(name, read(name, options), options, TWO)
        assert (halves is not None) == (text.count("VMGEN_STATE") >= 2)
        if halves is not None:
            assert halves == one.module
        two = pipeline.generate(name, options, TWO)
        assert (two.module, two.files, two.warnings) == (one.module, one.files, one.warnings)


# ---- many headers in one run ------------------------------------------------------------


def test_many_headers_in_two_processes(tmp_path: Path) -> None:
    """One run given many headers splits them between two processes; the
    outcomes, in order (warnings, errors and all), are those of one process."""
    broken = tmp_path / "broken.h"
    broken.write_text('#include <stdint.h>\n#include "vmgen.h"\n'
                      "struct VMGEN_STATE(1, 1) B { int *p; };\n")
    headers = [str(support.FIXTURES / f"{stem}.h") for stem in support.FIXTURE_HEADERS]
    headers.insert(3, str(broken))
    options = Options(include_dirs=(str(support.FIXTURES),))
    one = pipeline.generate_all(headers, options, ONE)
    two = pipeline.generate_all(headers, options, pipeline.Jobs(2))
    assert two == one
    assert [type(o).__name__ for o in one].count("Failed") == 1
    assert isinstance(one[3], pipeline.Failed) and "pointer" in one[3].message
    assert sum(len(o.warnings) for o in one if isinstance(o, pipeline.Generated)) == 2
    # the command: same diagnostics, same status, nothing written either way
    runs = [support.run_vmgen("generate", "-j", j, "-I", str(support.FIXTURES), "-o",
                              str(tmp_path / f"out{j}"), *headers) for j in ("1", "2")]
    assert [r.returncode for r in runs] == [1, 1]
    assert runs[0].stderr == runs[1].stderr
    assert not (tmp_path / "out1").exists() and not (tmp_path / "out2").exists()
