"""Slicing: the annotated structs' declarations alone give the same IR as the
whole translation unit, and a big include tree shrinks to what is needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import support
from vmgen import lower
from vmgen.frontend import Options, parse
from vmgen.resources import probe_header
from vmgen.slicer import slice_text
from vmgen.tu import neutralize

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
