"""The C backend's shortcuts change no text.

`c.generate(module)` renders the members of one shape once and puts in each member's
name, lvalue and identifier octets; `c.generate(module, shapes=False)` renders every
member on its own (the visitors' member templates, the codec's macros on each planned
op), and `cfast.plan(module, shapes=False)` plans every member on its own.  Both must
give the same text and the same plan, on the fixtures, on a large synthetic header
whose members repeat, and on random headers that use every kind of member.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import support
from vmgen.backends import c, cfast
from vmgen.driver import pipeline
from vmgen.frontend.source import Options
from vmgen.lowering import ir

REPO = support.REPO
QEMU_LIKE = REPO / "fixtures" / "qemu_like"
BLINKER = REPO / "fixtures" / "projects" / "make" / "include"
FIXTURES: list[tuple[Path, tuple[str, ...]]] = [
    *((p, ()) for p in sorted((REPO / "fixtures").glob("*.h"))),
    *((p, ()) for p in sorted((REPO / "fixtures" / "cve").glob("*.h"))),
    *((p, ()) for p in sorted((REPO / "fixtures" / "history").glob("*.h"))),
    (QEMU_LIKE / "serial.c", (str(QEMU_LIKE / "include"),)),
    (BLINKER / "blinker.h", (str(BLINKER),)),
]

# Members of every kind the backend visits (`{n}`: the member's name; `{p}`: a struct
# declared before this one).  Several lines make one member with its helpers.
MEMBERS = (
    "uint8_t {n};", "uint16_t {n};", "int32_t {n};", "uint64_t {n};", "int64_t {n};",
    "bool {n};", "float {n};", "double {n};", "char {n};", "unsigned long {n};",
    "uint8_t {n}[4];", "uint16_t {n}[3];", "int8_t {n}[2][3];", "bool {n}[2];",
    "double {n}[2];", "Mode {n};", "Mode {n}[2];", "const uint32_t {n};", "const Mode {n};",
    "const int16_t {n};", "uint32_t {n} : 3;", "int {n} : 5;", "bool {n} : 1;",
    "Mode {n} : 4;", "uint8_t {n} VMGEN_RANGE(1, 9);", "int16_t {n} VMGEN_RANGE(-5, 5);",
    "uint64_t {n} VMGEN_RANGE(0, 18446744073709551615ULL);", "char {n}[8] VMGEN_STRING;",
    "uint32_t {n} VMGEN_SINCE(2);", "uint8_t {n}[4] VMGEN_SINCE(3);",
    "Mode {n} VMGEN_SINCE(2);", "struct {{ uint16_t a; uint8_t b[2]; }} {n};",
    "struct {{ uint8_t c; Mode m; bool d[2]; }} {n}[2];",
    "struct {{ uint8_t k VMGEN_RANGE(0, 3); uint16_t v[3] VMGEN_SIZE_IS(k); }} {n};",
    "uint8_t {n}_len VMGEN_RANGE(0, 8);\n    uint8_t {n}[8] VMGEN_SIZE_IS({n}_len);",
    "uint32_t {n}_n VMGEN_RANGE(1, 4);\n    uint16_t {n}[4] VMGEN_SIZE_IS({n}_n);",
    "int {n}_n VMGEN_RANGE(0, 2);\n    Inner {n}[2] VMGEN_SIZE_IS({n}_n);",
    "Pick {n} VMGEN_UNION({n}_k);\n    Mode {n}_k;", "Clock {n};", "Clock *{n};",
    "Inner {n};", "Inner {n}[2];", "{p} {n};", "{p} {n}[2] VMGEN_SINCE(2);",
    "void *{n} VMGEN_SKIP;",
)

PRELUDE = """\
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"
typedef enum Mode { M_OFF, M_ON = 3, M_AUTO } Mode;
typedef struct Inner { uint16_t x; Mode y; } Inner;
typedef union Pick { uint8_t a VMGEN_CASE(M_OFF); Inner b VMGEN_CASE(M_ON, M_AUTO); } Pick;
typedef struct Clock Clock VMGEN_EXTERNAL(int64);
"""


def _header(structs: list[list[int]]) -> str:
    """Structs S0, S1, ... (each a device state) with the MEMBERS picked."""
    out = [PRELUDE]
    for i, picks in enumerate(structs):
        out.append(f"typedef struct VMGEN_STATE({3 + i % 2}, 1) S{i} {{")
        out += ["    " + MEMBERS[k].format(n=f"m{j}", p=f"S{i - 1}" if i else "Inner")
                for j, k in enumerate(picks)]
        out.append("    uint8_t tail;")
        out.append(f"}} S{i};")
    return "\n".join(out) + "\n"


def _module(header: Path, includes: tuple[str, ...] = ()) -> ir.Module:
    return pipeline.build_module(str(header), Options(include_dirs=includes))


def _check(module: ir.Module) -> None:
    fast, general = cfast.plan(module), cfast.plan(module, shapes=False)
    assert [(s.name, s.locals, s.ops) for s in fast.structs] == \
        [(s.name, s.locals, s.ops) for s in general.structs]
    assert (fast.states, fast.visited, fast.enums) == \
        (general.states, general.visited, general.enums)
    assert c.generate(module) == c.generate(module, shapes=False)


@pytest.mark.parametrize(("header", "includes"), FIXTURES,
                         ids=[p.name for p, _ in FIXTURES])
def test_fixtures_render_alike(header: Path, includes: tuple[str, ...]) -> None:
    _check(_module(header, includes))


def test_synthetic_header_renders_alike(tmp_path: Path) -> None:
    # every member kind many times over, in structs that reach each other
    header = tmp_path / "synth.h"
    header.write_text(_header([[(i * 7 + j) % len(MEMBERS) for j in range(len(MEMBERS))]
                               for i in range(12)]))
    _check(_module(header))
    # the shortcut is taken: members of one type share one shape
    plain = [k for k, m in enumerate(MEMBERS) if "Pick" not in m and "Clock" not in m]
    header.write_text(_header([plain[i:] + plain[:i] for i in range(12)]))
    module = _module(header)
    _check(module)
    plan = cfast.plan(module)
    assert len(plan.structs) >= 12
    shapes = [shape for s in plan.structs for shape in s.placed.shapes]
    assert len({id(shape) for shape in shapes}) < len(shapes) // 2


def test_marks_never_reach_the_output(tmp_path: Path) -> None:
    header = tmp_path / "marks.h"
    header.write_text(_header([list(range(len(MEMBERS)))] * 3))
    for text in c.generate(_module(header)).values():
        assert "\x01" not in text and "\x02" not in text  # cfast's and clegacy's marks


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.integers(0, len(MEMBERS) - 1), max_size=12), min_size=1,
                max_size=4))
def test_random_headers_render_alike(structs: list[list[int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        header = Path(tmp) / "random.h"
        header.write_text(_header(structs))
        _check(_module(header))
