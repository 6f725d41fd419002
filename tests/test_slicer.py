"""Slicing: the annotated structs' declarations alone give the same IR as the
whole translation unit, and a big include tree shrinks to what is needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import support
from vmgen.frontend import slicer
from vmgen.frontend.neutralize import neutralize
from vmgen.frontend.slicer import slice_text
from vmgen.frontend.source import Options, parse
from vmgen.lowering import lower
from vmgen.resources import probe_header

CASES = [(str(support.FIXTURES / f"{stem}.h"), (str(support.FIXTURES),))
         for stem in support.FIXTURE_HEADERS]
CASES.append((str(support.FIXTURES / "qemu_like" / "serial.c"),
              (str(support.FIXTURES / "qemu_like" / "include"),)))


@pytest.mark.parametrize(("header", "includes"), CASES, ids=lambda c: Path(c).stem
                         if isinstance(c, str) else "")
def test_sliced_ir_equals_whole_ir(header: str, includes: tuple[str, ...]) -> None:
    options = Options(include_dirs=includes)
    sliced = parse(header, options, ())
    whole = parse(header, options, None)
    assert sliced.sliced and not whole.sliced
    a, problems_a = lower.lower(sliced, options)
    b, problems_b = lower.lower(whole, options)
    assert a == b
    assert problems_a == problems_b == []


def test_slice_keeps_only_what_is_needed() -> None:
    text = (
        '# 1 "dev.h"\n'
        "typedef unsigned int uint32_t;\n"
        "typedef unsigned short uint16_t;\n"
        "enum { N = 4 };\n"
        "enum unused { U1, U2 };\n"
        "struct inner { uint16_t x; };\n"
        "typedef struct inner Inner;\n"
        "int unrelated_function(int a);\n"
        "extern struct inner an_object;\n"
        "struct [[vmgen::state(1, 1)]] Dev { uint32_t a[N]; Inner i; };\n"
    )
    out = slice_text(neutralize(text), [str(probe_header())])
    kept = [line for line in out.splitlines() if not line.startswith("#")]
    assert kept == [
        "typedef unsigned int uint32_t;",
        "typedef unsigned short uint16_t;",
        "enum { N = 4 };",
        "struct inner { uint16_t x; };",
        "typedef struct inner Inner;",
        "struct [[vmgen::state(1, 1)]] Dev { uint32_t a[N]; Inner i; };",
    ]
    # each declaration keeps its line
    assert '# 9 "dev.h"' in out


def test_typedef_naming_a_kept_tag_is_kept(tmp_path: Path) -> None:
    """`typedef struct Foo FooAlias;` names Foo's definition (the first typedef
    of a struct names it in the IR): nothing mentions FooAlias, yet leaving it
    out would name the struct 'Foo' where the whole text names it 'FooAlias'."""
    header = tmp_path / "alias.h"
    header.write_text(
        "#include <stdint.h>\n"
        '#include "vmgen.h"\n'
        "struct Foo { uint32_t x; };\n"
        "typedef const struct Foo FooAlias, *FooPtr;\n"
        "union U { uint8_t b; };\n"
        "typedef union U UAlias;\n"
        "struct VMGEN_STATE(1, 1) B { struct Foo g; };\n"
    )
    sliced = parse(str(header), Options(), ())
    whole = parse(str(header), Options(), None)
    a, _ = lower.lower(sliced, Options())
    b, _ = lower.lower(whole, Options())
    assert [(s.name, s.c_type) for s in a.structs] == [("FooAlias", "FooAlias"), ("B", "struct B")]
    assert a == b
    # the same through the one-match shortcut of long texts
    text = neutralize(sliced.text)
    padding = "int pad_%d;\n"
    long_text = "".join(padding % n for n in range(8000)) + text
    assert len(long_text) >= slicer.FAST_TEXT
    kept = slice_text(long_text, [str(probe_header())])
    assert "typedef const struct Foo FooAlias, *FooPtr;" in kept
    assert "typedef union U UAlias;" not in kept  # no kept union U


def _states_header(n: int) -> str:
    out = ["#include <stdint.h>", '#include "vmgen.h"', "typedef uint32_t reg_t;",
           "struct Shared { reg_t r; };"]
    for i in range(n):
        out += [f"struct Inner{i} {{ uint16_t v[{i + 1}]; }};",
                f"typedef struct Inner{i} Inner{i}T;",
                f"struct VMGEN_STATE(1, 1) Dev{i} {{ Inner{i}T in; struct Shared s; }};"]
    return "\n".join(out) + "\n"


def test_slice_parts_split_the_states_in_two_runs(tmp_path: Path) -> None:
    header = tmp_path / "states.h"
    header.write_text(_states_header(6))
    text = neutralize(parse(str(header), Options(), ()).text)
    probe = [str(probe_header())]
    parts = slicer.slice_parts(text, probe, 0)
    assert parts is not None
    first, second = ([line.strip() for line in part.splitlines() if not line.startswith("#")]
                     for part in parts)
    states = [[line for line in part if "VMGEN_STATE" in line or "vmgen::state" in line]
              for part in (first, second)]
    # three states each, in source order; what both need is in both
    assert [len(s) for s in states] == [3, 3]
    assert all("Dev0" in line or "Dev1" in line or "Dev2" in line for line in states[0])
    assert "struct Shared { reg_t r; };" in first and "struct Shared { reg_t r; };" in second
    inner4 = "typedef struct Inner4 Inner4T;"
    assert inner4 in second and inner4 not in first
    # the union of the two is what slice_text keeps
    whole = [line.strip() for line in slice_text(text, probe).splitlines()
             if not line.startswith("#")]
    assert sorted(set(first) | set(second)) == sorted(set(whole))
    # too small, or a single state: no split
    assert slicer.slice_parts(text, probe, len(text) + 1) is None
    header.write_text(_states_header(1))
    one = neutralize(parse(str(header), Options(), ()).text)
    assert slicer.slice_parts(one, probe, 0) is None


def test_the_tag_of_an_annotated_struct_is_defined() -> None:
    """`struct [[vmgen::state(1, 1)]] T0 {` defines the tag T0 (the attributes come
    between the keyword and the tag): a slice that mentions `struct T0` keeps it."""
    text = (
        '# 1 "dev.h"\n'
        "typedef unsigned char uint8_t;\n"
        "typedef struct [[vmgen::state(1, 1)]] T0 { uint8_t a; } T0;\n"
        "struct [[vmgen::state(1, 1)]] T5 { struct T0 inner; };\n"
    )
    parts = slicer.slice_parts(neutralize(text), [str(probe_header())], 0)
    assert parts is not None
    assert "T0 { uint8_t a; } T0;" in parts[0]
    assert "T0 { uint8_t a; } T0;" in parts[1]  # the second state holds the first
