"""The shortcuts that make the generator fast change no result.

Each fast path below is compared with the general path it stands for, on the
fixtures, the broken headers of tests/errors and tests/hostile, the QEMU-like
translation unit, and random text:

* lowering: a plain `T name;` / `T name[N];` field lowered in a few steps
  (`Lowerer._plain_field`, which remembers what a type name and literal sizes
  give) against the general `_lower_field`; a field and a location made without
  their dataclass's `__init__` against the ones it makes;
* slicing: declarations split in one match, common declarations read in one
  match, bracket groups stepped over, and mentions read with `findall`, against
  the token-by-token scan (the one-match shortcuts are taken on long texts only:
  here on every text);
* neutralizing: struct bodies and function bodies taken in one match, against
  the bracket-by-bracket loops;
* the schema backend's field lines and its layout against the generic JSON layout;
* the ASN.1 backend's comments, SEQUENCE bodies and the repr() each parsed type
  carries, and the Python backend's member tables, against their general paths;
* the frontend's line-marker search against its plain definition.
"""

from __future__ import annotations

import dataclasses
import gc
import json
from pathlib import Path
from typing import Any

import asn1tools
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycparser import c_ast
from pycparser.c_parser import Coord

from tests import support
from vmgen.backends import asn1, python, schema
from vmgen.diagnostics import Location, VmgenError, location
from vmgen.driver import pipeline
from vmgen.frontend import neutralize, slicer
from vmgen.frontend.annotations import _UNKNOWN, location_of
from vmgen.frontend.source import _LINE_MARKER, Options, dependencies, parse, preprocess
from vmgen.lowering import ir, lower
from vmgen.resources import probe_header

REPO = support.REPO
ERRORS = sorted((REPO / "tests" / "errors").glob("*.h"))
HOSTILE = sorted((REPO / "tests" / "hostile").glob("*.h"))
QEMU_LIKE = REPO / "fixtures" / "qemu_like"
HEADERS = [(str(support.FIXTURES / f"{stem}.h"), (str(support.FIXTURES),))
           for stem in support.FIXTURE_HEADERS]
HEADERS += [(str(p), (str(support.FIXTURES),)) for p in sorted((REPO / "fixtures" / "cve")
                                                                  .glob("*.h"))]
HEADERS.append((str(QEMU_LIKE / "serial.c"), (str(QEMU_LIKE / "include"),)))

ALWAYS, NEVER = 0, 1 << 62  # FAST_TEXT values: take the shortcuts on every text, or none

# A header whose fields take the plain path and the general one, in every way a
# type name can resolve.
TRICKY = """\
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"
typedef uint32_t U32;
typedef U32 U32b;
typedef const uint8_t CU8;
typedef struct { uint16_t a; } Anon;
typedef struct { uint8_t b[2]; } AnonArr[3];
typedef enum Mode { M_OFF, M_ON = 4 } Mode;
typedef union Pick { uint8_t x [[vmgen::case(M_OFF)]]; uint16_t y [[vmgen::case(M_ON)]]; } Pick;
typedef Pick PickAlias;
typedef struct QEMUTimer QEMUTimer VMGEN_EXTERNAL(int64);
enum { N = 4, M = sizeof(uint32_t) * 2 };
typedef struct VMGEN_STATE(2, 1) Dev {
    U32 a;
    U32b b[N];
    const U32 c;
    CU8 d;
    Anon e, f[2];
    AnonArr g;
    Mode h;
    Mode hs[M];
    PickAlias p VMGEN_UNION(h);
    QEMUTimer t;
    QEMUTimer *tp;
    unsigned int u;
    long long ll[2][3];
    bool flag;
    char name[8] VMGEN_STRING;
    uint8_t n VMGEN_RANGE(0, 8);
    uint8_t buf[8] VMGEN_SIZE_IS(n);
    uint32_t late VMGEN_SINCE(2);
    struct { uint8_t x; Anon y; } inner;
    uint32_t bits : 3;
    void *skip VMGEN_SKIP;
    uint8_t r1[4];
    uint8_t r2[4];
    uint8_t r3[0x4];
    U32 r4[2][3];
    U32 r5[2][3];
    unsigned int r6[4];
    int unsigned r7[4];
    unsigned r8[4];
    CU8 r9[4];
    Mode r10[2];
    Anon r11[2];
} Dev;
"""


# The same, where fields are refused: each path must refuse them alike, in the same
# order, naming what it lowered on the way the same.
TRICKY_ERRORS = TRICKY.replace("} Dev;", """\
    uint8_t odd[sizeof(struct { int q; })];
    uint8_t odd2[sizeof(struct { int r; }) + 1];
    const Anon ca;
    const Anon cas[2];
    PickAlias bare;
    PickAlias pa[2];
    U32 neg[-1];
    U32 zero[0];
    U32b huge[1 << 20][1 << 20];
    QEMUTimer tarr[sizeof(QEMUTimer)];
    __int128 wide;
    float fl[2];
    long double ld;
    const uint8_t cb[4];
    const uint8_t cb2[4];
    uint8_t big[2147483648];
    uint8_t big2[2147483648];
    PickAlias pas[2];
} Dev;""")


def _tricky(tmp_path: Path, text: str = TRICKY) -> tuple[str, tuple[str, ...]]:
    header = tmp_path / "tricky.h"
    header.write_text(text)
    return str(header), ()


def _lowered(header: str, includes: tuple[str, ...]) -> object:
    options = Options(include_dirs=includes, cc="gcc")
    try:
        parsed = parse(header, options, ())
    except VmgenError as exc:
        return str(exc)
    module, problems = lower.lower(parsed, options)
    return module, problems


@pytest.mark.parametrize(("header", "includes"),
                         HEADERS + [(str(p), ()) for p in ERRORS + HOSTILE]
                         + [("tricky", ()), ("tricky errors", ())],
                         ids=lambda c: Path(c).stem if isinstance(c, str) else "")
def test_plain_fields_lower_as_the_general_path(header: str, includes: tuple[str, ...],
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    if header.startswith("tricky"):
        header, includes = _tricky(tmp_path, TRICKY_ERRORS if "errors" in header else TRICKY)
    quick = _lowered(header, includes)
    monkeypatch.setattr(lower.Lowerer, "_plain_field", lambda self, decl, struct: None)
    assert _lowered(header, includes) == quick


def test_tricky_header_takes_both_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    header, includes = _tricky(tmp_path)
    taken = {"plain": 0, "general": 0}
    plain = lower.Lowerer._plain_field

    def counting(self: lower.Lowerer, decl: object, struct: str) -> object:
        found = plain(self, decl, struct)
        taken["plain" if found is not None else "general"] += 1
        return found

    monkeypatch.setattr(lower.Lowerer, "_plain_field", counting)
    result = _lowered(header, includes)
    assert isinstance(result, tuple) and result[1] == []
    assert taken["plain"] >= 5 and taken["general"] >= 5
    errors = _lowered(*_tricky(tmp_path, TRICKY_ERRORS))
    assert isinstance(errors, tuple) and len(errors[1]) >= 10


def test_fast_constructors_make_the_dataclass() -> None:
    """`location` and `ir.plain_field` skip the frozen dataclasses' `__init__`:
    the same objects, attribute for attribute, in the same order."""
    loc = Location("a.h", 3, 7)
    assert vars(location("a.h", 3, 7)) == vars(loc)
    assert list(vars(location("a.h", 3, 7))) == [f.name for f in dataclasses.fields(Location)]
    assert location("a.h", 3, 7) == loc and hash(location("a.h", 3, 7)) == hash(loc)
    wire = ir.IntType("uint8", 8, False)
    for const in (False, True):
        quick = ir.plain_field("x", "uint8_t", wire, loc, const)
        slow = ir.Field("x", "uint8_t", wire, loc, const=const)
        assert quick == slow and repr(quick) == repr(slow)
        assert list(vars(quick).items()) == list(vars(slow).items())
        assert list(vars(quick)) == [f.name for f in dataclasses.fields(ir.Field)]


@pytest.mark.parametrize(("header", "includes"), [*HEADERS[:3], (str(ERRORS[0]), ())],
                         ids=lambda c: Path(c).stem if isinstance(c, str) else "")
def test_locations_are_the_general_path(header: str, includes: tuple[str, ...]) -> None:
    ast = parse(header, Options(include_dirs=includes, cc="gcc"), ()).ast
    nodes = [ast]
    while nodes:
        node = nodes.pop()
        nodes.extend(child for _, child in node.children())
        coord = node.coord
        general = (_UNKNOWN if coord is None else
                   Location(str(coord.file), int(coord.line), int(coord.column or 0)))
        assert location_of(node) == general
    for coord in (Coord("a.h", 2), Coord("a.h", 2, 0), Coord("a.h", 2, 5)):
        node = c_ast.ID("x", coord)
        assert location_of(node) == Location("a.h", 2, coord.column or 0)


# ---- slicing -------------------------------------------------------------------------


def _texts() -> list[str]:
    texts = []
    for header, includes in HEADERS:
        texts.append(neutralize.neutralize(preprocess(header, Options(include_dirs=includes))))
    return texts


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return _texts()


def _slow_slicer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every shortcut of vmgen.frontend.slicer off: the token-by-token scan alone."""
    monkeypatch.setattr(slicer, "FAST_TEXT", NEVER)
    monkeypatch.setattr(slicer, "_inert", lambda text, start, close: False)


def _index_facts(text: str) -> tuple[object, ...]:
    index = slicer._Index(text)
    return (index.ends, index.annotated, index.defines, index.enum_before)


def _mentions_by_scan(index: slicer._Index, i: int) -> tuple[set[str], set[str]]:
    found: set[str] = set()
    slicer._scan(index.text, index.begin(i), index.ends[i], i in index.enum_before,
                 index.closers, set(), found)
    return ({k[3:] for k in found if k.startswith("id:")},
            {k[4:] for k in found if k.startswith("tag:")})


def _check_common(text: str) -> None:
    """Each declaration `_common` reads, `_scan` reads alike."""
    index = slicer._Index(text)
    for i in range(len(index.ends)):
        begin, end = index.begin(i), index.ends[i]
        quick: set[str] = set()
        found = slicer._common(text, begin, end, quick)
        if found is not None:
            scanned: set[str] = set()
            for before in (False, True):
                assert slicer._scan(text, begin, end, before, {}, scanned, None) == found
                assert scanned == quick, text[begin:end]


def _check_slicer(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slicer, "FAST_TEXT", ALWAYS)
    _check_common(text)
    roots = [str(probe_header()), "a.h"]
    names = ("RTCState", "S", "T", "x")
    quick = (_index_facts(text), slicer.slice_text(text, roots),
             slicer.slice_text(text, roots, names))
    index = slicer._Index(text)
    for i in range(len(index.ends)):
        assert index.mentions(i) == _mentions_by_scan(index, i), text[index.begin(i):
                                                                       index.ends[i]]
    with monkeypatch.context() as m:
        _slow_slicer(m)
        m.setattr(slicer._Index, "mentions", _mentions_by_scan)
        slow = (_index_facts(text), slicer.slice_text(text, roots),
                slicer.slice_text(text, roots, names))
    assert quick == slow


def test_slicer_shortcuts_on_real_text(texts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for text in texts:
        _check_slicer(text, monkeypatch)


_PIECES = st.sampled_from([
    "int", " ", "\n", "x", "S", "T", "(", ")", "{", "}", "[", "]", "=", ";", ";", ",", "'", '"',
    "\\", "/", "*", "#", '\n# 1 "a.h"\n', "\n#pragma x\n", "struct", "union", "enum", "typedef",
    ":", "[[", "]]", "[[vmgen::state(1, 1)]]", "[[vmgen::skip]]", "1'0", "'a'", '"s;{"', "0x1F",
    "{ A, B = 2, C }", "struct S { int a; }", "(*fn)", "(void)", "{ { { { { } } } } }",
    "int a[3];", "void (*p)(int);", "int b [[vmgen::range(0, 1)]];", "struct T *next;",
    "enum { Q = (1 << 2), R };", "typedef struct S S;", "typedef enum { E1, E2 = 4 } E;",
    "__attribute__((x))", "asm(\"x\")", "_Static_assert(1, \"\");", "{ return ({ 1; }); }",
    "typedef union U V;", "typedef enum E E;", "typedef struct enum x;", "typedef struct T int;",
    "struct S { int a; enum E e; };", "struct S" + " " * 45 + "{ int a; };",
    "typedef enum" + " " * 41 + "X { A } Y;", "typedef enum { A, B = 1, C = B + 0x10 } F;",
    "typedef struct S { int a; } S;", "typedef struct { int a[2]; } A;", "struct S { int a; } x;",
    "typedef union { int a; } int;", "struct { int a; };", "typedef struct S {int a;};",
    "typedef enum Q { A = sizeof x, enumz } R;", "typedef enum { int, A } B;",
    "typedef enum { A } int;", "typedef enum X\n{ A,\n B } X;", "struct S {};",
    "1.f", "2.5e+3", "0x1p-2", ".5x", "1_a", "9struct", "é", "x\u00e9y", "struct\tS", "S.x",
    "struct [[vmgen::state(1, 1)]] S { int a; };", "typedef struct [[x(a[1])]] T {int a;} T;",
    "struct [[", "enum [[x]] E { A };",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=60))
def test_slicer_shortcuts_on_any_text(pieces: list[str]) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        _check_slicer(neutralize.neutralize("".join(pieces)), monkeypatch)


# ---- neutralizing ----------------------------------------------------------------------


def _neutralized(text: str, fast_text: int) -> str:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(neutralize, "FAST_TEXT", fast_text)
        return neutralize.neutralize(text)


def test_neutralize_shortcuts_on_real_text() -> None:
    for header, includes in HEADERS:
        text = preprocess(header, Options(include_dirs=includes))
        assert _neutralized(text, ALWAYS) == _neutralized(text, NEVER)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=60))
def test_neutralize_shortcuts_on_any_text(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert _neutralized(text, ALWAYS) == _neutralized(text, NEVER)


# ---- backends and frontend -------------------------------------------------------------


def _generic_layout(value: Any, indent: str, depth: int) -> str:
    """The schema's layout as documented: objects and lists over lines down to
    `depth`, json.dumps below."""
    inner = indent + "  "
    if depth > 0 and isinstance(value, dict) and value:
        items = ",\n".join(f"{inner}{json.dumps(k)}: {_generic_layout(v, inner, depth - 1)}"
                           for k, v in value.items())
        return "{\n" + items + "\n" + indent + "}"
    if depth > 0 and isinstance(value, list) and value:
        items = ",\n".join(f"{inner}{_generic_layout(v, inner, depth - 1)}" for v in value)
        return "[\n" + items + "\n" + indent + "]"
    return json.dumps(value)


@pytest.mark.parametrize("header", [h for h, _ in HEADERS] + ["tricky"],
                         ids=lambda h: Path(h).stem)
def test_schema_lines_are_the_generic_layout(header: str, tmp_path: Path) -> None:
    if header == "tricky":
        # Versions, a selector, a bit-field, a const field; a file name to escape.
        header = str(tmp_path / 'tr"icky\u00e9.h')
        Path(header).write_text(TRICKY)
        includes: tuple[str, ...] = ()
    else:
        includes = next(i for h, i in HEADERS if h == header)
    module = pipeline.build_module(header, Options(include_dirs=includes))
    text = schema.generate(module)
    assert text == schema._layout(schema.schema(module), "", 4) + "\n"
    assert text == _generic_layout(schema.schema(module), "", 4) + "\n"


def _asn1_and_python(module: ir.Module) -> tuple[str, asn1.Parsed, str]:
    spec, parsed = asn1.generate(module)
    return spec, parsed, python.generate(module, spec, parsed)


@pytest.mark.parametrize("header", [h for h, _ in HEADERS] + ["tricky"],
                         ids=lambda h: Path(h).stem)
def test_asn1_and_python_shortcuts_are_the_general_path(header: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    if header == "tricky":  # versions, a union, counts, const fields and bit-fields
        header, includes = _tricky(tmp_path)
    else:
        includes = next(i for h, i in HEADERS if h == header)
    module = pipeline.build_module(header, Options(include_dirs=includes))
    quick = _asn1_and_python(module)
    (types,) = (m["types"] for m in quick[1].values())
    for value in types.values():  # the literal each parsed type carries is its repr()
        if isinstance(value, asn1.ParsedType):
            assert value.literal == repr(dict(value))
    assert asn1tools.parse_string(quick[0]) == quick[1]
    # The ASN.1 module's general path: every comment through the notes, every
    # body through _layout; the Python module's: repr() of the tables.
    monkeypatch.setattr(asn1, "_PLAIN_TYPES", frozenset())
    monkeypatch.setattr(asn1, "_root_lines", lambda names, types, comments: asn1._layout(
        [asn1._Row(*row) for row in zip(names, types, comments, strict=True)], [], True))
    monkeypatch.setattr(python, "_members", lambda s, pieces: repr(
        tuple(python._member(f) for f in s.migrated)))
    monkeypatch.setattr(python, "_known", lambda value: value if type(value) is python._Literal
                        else None)
    assert _asn1_and_python(module) == quick


def test_dependencies_are_every_marker_file() -> None:
    pieces = ['# 1 "a.h"\n', '# 2 "b.h" 3\n', "x\n", '# 3 "<built-in>"\n', '# 4 "c\\"d.h"\n',
              '# 5 "unterminated\n', "#pragma\n", ' # 6 "e.h"\n', '# 7 "f\nnext"\n', "\n"]
    texts = [preprocess(h, Options(include_dirs=i)) for h, i in HEADERS[:2]]
    texts += ["".join(pieces), "".join(reversed(pieces)), pieces[1] + pieces[0] * 3, ""]
    for text in texts:
        names = dict.fromkeys(m.group(2) for m in _LINE_MARKER.finditer(text))
        assert dependencies(text) == tuple(n for n in names if not n.startswith("<"))


@pytest.mark.parametrize("enabled", [True, False])
def test_generate_leaves_the_collector_as_it_was(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        pipeline.generate(str(support.FIXTURES / "rtc.h"),
                          Options(include_dirs=(str(support.FIXTURES),)))
        assert gc.isenabled() == enabled
    finally:
        (gc.enable if was else gc.disable)()
