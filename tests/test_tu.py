"""vmgen.frontend.neutralize: function bodies, file-scope initializers, asm, static
assertions and GNU attributes blanked out of preprocessed text, so that a
device's .c file (glib/QEMU include tree) parses; every other byte, every
newline and every line marker in place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycparser import c_ast, c_parser

from vmgen.frontend import source
from vmgen.frontend.neutralize import neutralize

REPO = Path(__file__).resolve().parent.parent
QEMU_LIKE = REPO / "fixtures" / "qemu_like"
SERIAL = QEMU_LIKE / "serial.c"

_MARKER = re.compile(r'^# \d+ "')


def parse(text: str, filename: str = "<text>") -> c_ast.FileAST:
    return c_parser.CParser(dialect="c23").parse(text, filename=filename)


def assert_layout_kept(before: str, after: str) -> None:
    """Same length, every newline at the same offset, every line marker intact."""
    assert len(after) == len(before)
    assert [i for i, c in enumerate(after) if c == "\n"] == [
        i for i, c in enumerate(before) if c == "\n"]
    for old, new in zip(before.split("\n"), after.split("\n"), strict=True):
        if _MARKER.match(old):
            assert new == old


# (input, exact output).  Removed characters become spaces, so the columns of
# everything that stays are unchanged.
CASES = {
    "function body": (
        "int f(void) { return 1; }\n",
        "int f(void) ;            \n",
    ),
    "inline asm volatile with operands": (
        "static inline unsigned long long rdtsc(void)\n"
        "{\n"
        "    unsigned lo, hi;\n"
        '    asm volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");\n'
        '    __asm__ __volatile__("mfence" ::: "memory");\n'
        "    return ((unsigned long long)hi << 32) | lo;\n"
        "}\n"
        "int after;\n",
        "static inline unsigned long long rdtsc(void)\n"
        ";\n"
        "                    \n"
        "                                                            \n"
        "                                                \n"
        "                                               \n"
        " \n"
        "int after;\n",
    ),
    "statement expression in an inline function": (
        "static inline int m(int a, int b) { return ({ int _a = a; _a < b ? _a : b; }); }\n",
        "static inline int m(int a, int b) ;                                             \n",
    ),
    "statement expression in an initializer": (
        "static int k = ({ int t = 1; t + 1; });\n",
        "static int k                          ;\n",
    ),
    "range initializer": (
        "static const unsigned char mask[256] = { [0 ... 0x7f] = 0x7f, [0x80 ... 0xff] = 0xff };\n",
        "static const unsigned char mask[256]                                                  ;\n",
    ),
    "nested braces and a compound literal in initializers": (
        "struct P p = { { 1, 2 }, { .a = { 3 } } }, q;\n"
        "const struct F *fields = (struct F[]) { { .name = \"a\", .offset = __builtin_offsetof"
        "(struct S, a) }, {} };\n",
        "struct P p                               , q;\n"
        "const struct F *fields                                                                 "
        "                 ;\n",
    ),
    "multiple declarators keep their commas": (
        "int a = 1, b = 2, *c = &a, d[2] = { 1, 2 };\n",
        "int a    , b    , *c     , d[2]           ;\n",
    ),
    "strings with braces, semicolons and escaped quotes": (
        'const char *s = "{;}\\"", *t = "x\\\\";\n'
        'void f(void) { puts("}\\"{;"); }\n'
        "int g(void);\n",
        "const char *s          , *t        ;\n"
        "void f(void) ;                 \n"
        "int g(void);\n",
    ),
    "character literals": (
        "char c = '}', d = '\\'', e = '{';\n"
        "int h(int x) { return x == '}' || x == '\\'' || x == '\"'; }\n",
        "char c      , d       , e      ;\n"
        "int h(int x) ;                                            \n",
    ),
    "a K&R definition keeps an empty body": (
        "int kr(a, b) int a; char *b; { return a + *b; }\nint next;\n",
        "int kr(a, b) int a; char *b; {                }\nint next;\n",
    ),
    "function pointers and prototypes untouched": (
        "typedef int (*fn)(int);\n"
        "void (*signal(int sig, void (*handler)(int)))(int);\n"
        "typedef void IOHandler(void *opaque);\n",
        "typedef int (*fn)(int);\n"
        "void (*signal(int sig, void (*handler)(int)))(int);\n"
        "typedef void IOHandler(void *opaque);\n",
    ),
    "struct definitions untouched, their objects' initializers dropped": (
        "typedef struct [[vmgen::state(3, 2)]] S {\n"
        "    unsigned a : 3, b : 5;\n"
        "    int arr[4 * 2];\n"
        "    struct { int x; } inner;\n"
        "    void *p [[vmgen::skip]];\n"
        "} S;\n"
        "struct T { int x; } t = { 1 };\n"
        "union U { int i; float f; };\n",
        "typedef struct [[vmgen::state(3, 2)]] S {\n"
        "    unsigned a : 3, b : 5;\n"
        "    int arr[4 * 2];\n"
        "    struct { int x; } inner;\n"
        "    void *p [[vmgen::skip]];\n"
        "} S;\n"
        "struct T { int x; } t        ;\n"
        "union U { int i; float f; };\n",
    ),
    "enum values untouched": (
        "enum E { A = 1, B = A << 2, C = 'x' };\n"
        "typedef enum : unsigned char { X = 0xff } Byte;\n"
        "enum F : unsigned long { Y = 1 };\n"
        "int z; enum G : typeof(z) { W = 2 };\n",
        "enum E { A = 1, B = A << 2, C = 'x' };\n"
        "typedef enum : unsigned char { X = 0xff } Byte;\n"
        "enum F : unsigned long { Y = 1 };\n"
        "int z; enum G : typeof(z) { W = 2 };\n",
    ),
    "a function returning a struct it defines": (
        "static inline struct Pair { int a, b; } *none(void) { return 0; }\n",
        "static inline struct Pair { int a, b; } *none(void) ;            \n",
    ),
    "a function returning a pointer to an array": (
        "int (*rows(void))[3] { static int r[2][3]; return r; }\n",
        "int (*rows(void))[3] ;                                \n",
    ),
    "attributes between the declarator and the body": (
        "void f(void) __attribute__((noinline, section(\"x)\"))) { }\n"
        "void g(void) [[gnu::cold]] { }\n",
        "void f(void)                                          ;  \n"
        "void g(void) [[gnu::cold]] ;  \n",
    ),
    "GNU attributes dropped everywhere": (
        "struct __attribute__((packed)) H { int a __attribute__((aligned(4))); };\n"
        "int pf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));\n"
        "int unused(int x __attribute((unused)));\n",
        "struct                         H { int a                            ; };\n"
        "int pf(const char *fmt, ...)                                      ;\n"
        "int unused(int x                      );\n",
    ),
    "file-scope asm and asm labels": (
        'asm(".globl x");\n'
        '__asm__ volatile ("nop" : : : "memory");\n'
        'extern int open64(const char *p) __asm__("" "open");\n'
        "int after;\n",
        "                \n"
        "                                        \n"
        "extern int open64(const char *p)                   ;\n"
        "int after;\n",
    ),
    "static assertions at file scope": (
        "_Static_assert(__builtin_offsetof(struct S, a) == 0, \"a first\");\n"
        "static_assert(sizeof(int) == 4);\n"
        "struct K { int a; _Static_assert(1, \"kept in a struct\"); };\n",
        "                                                                \n"
        "                                \n"
        "struct K { int a; _Static_assert(1, \"kept in a struct\"); };\n",
    ),
    "line markers inside a removed body stay, pragmas go": (
        "int f(void) {\n"
        '# 12 "/usr/include/stddef.h" 3 4\n'
        "  return __builtin_offsetof(struct S, a);\n"
        "#pragma GCC diagnostic push\n"
        '# 40 "dev.c"\n'
        "}\n",
        "int f(void) ;\n"
        '# 12 "/usr/include/stddef.h" 3 4\n'
        "                                         \n"
        "                           \n"
        '# 40 "dev.c"\n'
        " \n",
    ),
    "line markers inside a removed initializer stay": (
        "static const struct T t = {\n"
        '# 3 "vmstate.h"\n'
        "  .x = 1,\n"
        '# 9 "dev.c"\n'
        "};\n",
        "static const struct T t    \n"
        '# 3 "vmstate.h"\n'
        "         \n"
        '# 9 "dev.c"\n'
        " ;\n",
    ),
    "file-scope pragmas and markers untouched": (
        '# 1 "dev.c"\n#pragma pack(push, 1)\nstruct A { char c; };\n#pragma pack(pop)\n',
        '# 1 "dev.c"\n#pragma pack(push, 1)\nstruct A { char c; };\n#pragma pack(pop)\n',
    ),
    "comments": (
        "int x = /* ; } */ 1; // { = ;\nint y; /* { */\n",
        "int x              ; // { = ;\nint y; /* { */\n",
    ),
    "digit separators": (
        "int n = 1'000'000, m = 0x1'0;\nint after;\n",
        "int n            , m        ;\nint after;\n",
    ),
    "_Thread_local and __int128 declarations stay, their initializers go": (
        "static _Thread_local unsigned long counter = 0;\n__int128 big = 1;\n",
        "static _Thread_local unsigned long counter    ;\n__int128 big    ;\n",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_exact_output(name: str) -> None:
    source, expected = CASES[name]
    result = neutralize(source)
    assert result == expected
    assert_layout_kept(source, result)


@pytest.mark.parametrize("name", [n for n in CASES if n != "comments"])
def test_output_parses(name: str) -> None:
    # pycparser knows no comments: cc -E has removed them in real input.
    parse(CASES[name][1])


def test_idempotent() -> None:
    for _, expected in CASES.values():
        assert neutralize(expected) == expected


@pytest.mark.parametrize("source", [
    "", "\n", "int", "int f(void) {", "int f(void) { {", "int x = ", "int x = {",
    "}", ")", "]", "int f(void) } x;", 'char *s = "unterminated\nint y;\n', "'", "/*",
    "__attribute__", "__attribute__((", "asm", "asm(", "_Static_assert(", "# 1",
    "int f(void) { a # }\n }\nint g;\n",
])
def test_broken_input_does_not_crash(source: str) -> None:
    assert_layout_kept(source, neutralize(source))


_PIECES = st.sampled_from([
    "int", " ", "\n", "x", "f", "(", ")", "{", "}", "[", "]", "=", ";", ",", "'", '"', "\\",
    "/", "*", "#", '# 1 "a.h"\n', "struct", "enum", ":", "__attribute__", "asm", "volatile",
    "_Static_assert", "static_assert", "1'0", "u8'a'", "[[", "]]", "typeof",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=60))
def test_any_text_keeps_its_layout(pieces: list[str]) -> None:
    source = "".join(pieces)
    assert_layout_kept(source, neutralize(source))


# ---- a QEMU-like device .c file ---------------------------------------------------------


def preprocessed_serial() -> str:
    options = source.Options(include_dirs=(str(QEMU_LIKE / "include"),))
    command = source.preprocess_command(str(SERIAL), options)
    assert "-E" in command and "-DVMGEN" in command
    return source.preprocess(str(SERIAL), options)


def test_qemu_like_file_fails_without_and_parses_with_neutralize() -> None:
    text = preprocessed_serial()
    with pytest.raises(c_parser.ParseError):
        parse(text, str(SERIAL))
    result = neutralize(text)
    assert_layout_kept(text, result)
    ast = parse(result, str(SERIAL))

    top = {getattr(n, "name", None): n for n in ast.ext}
    # Function definitions are prototypes now; objects lost their initializers.
    for function in ("cpu_get_host_ticks", "smp_mb", "clamp_fifo", "serial_update_irq",
                     "serial_register_types", "qemu_pair_none"):
        assert isinstance(top[function], c_ast.Decl), function
        assert isinstance(top[function].type, (c_ast.FuncDecl, c_ast.PtrDecl)), function
    for obj in ("vmstate_serial", "serial_lsr_mask", "parity_names", "default_parity",
                "qemu_tls_counter"):
        assert isinstance(top[obj], c_ast.Decl) and top[obj].init is None, obj
    assert not any(isinstance(n, (c_ast.FuncDef, c_ast.StaticAssert)) for n in ast.ext
                   if n.coord is not None and "qemu_like" in n.coord.file)
    assert "_Thread_local" in top["qemu_coroutine_depth"].storage

    # Type declarations are all there, bit-fields and enumerator values included.
    flags = next(n.type for n in ast.ext
                 if isinstance(n, c_ast.Decl) and isinstance(n.type, c_ast.Enum)
                 and n.type.name == "VMStateFlags")
    assert [e.name for e in flags.values.enumerators] == [
        "VMS_SINGLE", "VMS_POINTER", "VMS_ARRAY", "VMS_END"]
    assert isinstance(flags.values.enumerators[3].value, c_ast.BinaryOp)
    field = top["VMStateField"].type.type
    assert [d.bitsize.value for d in field.decls if d.bitsize is not None] == ["4", "28"]
    structs = {n.type.name: n.type for n in ast.ext
               if isinstance(n, c_ast.Decl) and isinstance(n.type, c_ast.Struct)}
    assert [d.name for d in structs["QEMUPackedHeader"].decls] == ["kind", "length"]


def test_qemu_like_device_struct_keeps_its_coordinates() -> None:
    result = neutralize(preprocessed_serial())
    ast = parse(result, str(SERIAL))
    state = next(n for n in ast.ext if isinstance(n, c_ast.Typedef) and n.name == "SerialState")
    struct = state.type.type
    assert isinstance(struct, c_ast.Struct) and struct.name == "SerialState"
    source_lines = SERIAL.read_text().split("\n")

    def line_of(pattern: str, lines: range = range(len(source_lines))) -> int:
        (line,) = [i + 1 for i in lines if re.search(pattern, source_lines[i])]
        return line

    body = range(line_of(r"VMGEN_STATE\(3, 2\) SerialState"), line_of(r"^} SerialState;"))

    names = [d.name for d in struct.decls]
    assert names == ["divider", "rbr", "ier", "iir", "fifo", "parity", "thr_ipending",
                     "tsr_retry", "chr", "fifo_timeout_timer", "irq"]
    for decl in struct.decls:
        assert decl.coord.file == str(SERIAL)
        assert decl.coord.line == line_of(rf"\b{decl.name}\b.*;", body), decl.name
    assert state.coord.line == line_of(r"^} SerialState;")
    assert struct.coord.line == line_of(r"VMGEN_STATE\(3, 2\) SerialState")


def test_qemu_like_file_through_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    # The hook the frontend is meant to get: parse neutralize(preprocess(...)).
    from vmgen.driver.pipeline import build_module

    original = source.preprocess
    monkeypatch.setattr(source, "preprocess", lambda h, o: neutralize(original(h, o)))
    module = build_module(str(SERIAL), source.Options(
        include_dirs=(str(QEMU_LIKE / "include"),)))
    (state,) = [s for s in module.structs if s.state is not None]
    assert state.name == "SerialState"
    assert (state.state.version, state.state.minimum_version) == (3, 2)
    assert [(f.name, f.skipped, f.location.line) for f in state.fields] == [
        ("divider", False, 15), ("rbr", False, 16), ("ier", False, 17), ("iir", False, 17),
        ("fifo", False, 18), ("parity", False, 19), ("thr_ipending", False, 20),
        ("tsr_retry", False, 20), ("chr", True, 21), ("fifo_timeout_timer", True, 22),
        ("irq", True, 23)]


# ---- a large input ------------------------------------------------------------------


def stress_text(functions: int) -> str:
    parts = ['# 1 "stress.c"\n', "typedef unsigned long size_t;\n"]
    for i in range(functions):
        parts.append(
            f'# {10 * i + 2} "stress.c"\n'
            f"static inline unsigned f{i}(unsigned x) {{\n"
            f'    unsigned r; __asm__ __volatile__("bswap %0" : "=r"(r) : "0"(x) : "memory");\n'
            f"    r = ({{ typeof(x) _a = (x); typeof(r) _b = (r); _a < _b ? _a : _b; }});\n"
            f"    return r + '}}' + sizeof(\"{{;\");\n"
            f"}}\n"
            f"typedef struct S{i} {{ int a : 3; unsigned b[4]; }} S{i};\n"
            f"static const int t{i}[4] = {{ [0 ... 3] = {i} }};\n"
            f"enum E{i} {{ E{i}_A = 1, E{i}_B = E{i}_A << 2 }};\n"
        )
    return "".join(parts)


def test_large_input_parses() -> None:
    text = stress_text(2000)
    result = neutralize(text)
    assert_layout_kept(text, result)
    ast = parse(result, "stress.c")
    prototypes = [n for n in ast.ext if isinstance(n, c_ast.Decl)
                  and isinstance(n.type, c_ast.FuncDecl)]
    assert len(prototypes) == 2000
    last = prototypes[-1]
    assert (last.coord.file, last.coord.line) == ("stress.c", 10 * 1999 + 2)
