"""Stage 1: run the system C preprocessor and pycparser over a header.

The preprocessor is the user's compiler (``$CC``, default ``cc``) with the
build's own ``-I``/``-D`` flags, ``VMGEN`` defined (so the annotation macros of
``vmgen.h`` become C23 attributes) and GNU spellings that pycparser does not
know defined away.  Line markers are kept, so every AST coordinate points into
the user's original file.  Preprocessor failures come back as the compiler's
own messages; parse errors as ``FILE:LINE:COL: error:`` diagnostics.
"""

from __future__ import annotations

import gc
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from pycparser import c_ast, c_parser

from vmgen.diagnostics import Diagnostic, Location, VmgenError
from vmgen.frontend.neutralize import neutralize
from vmgen.frontend.slicer import slice_text
from vmgen.resources import probe_header, runtime_dir

# GNU spellings in system headers that pycparser does not parse and vmgen does
# not need (see shared NOTES: these make real glibc headers parse).
_GNU_DEFINES = (
    "-D__attribute__(x)=",
    "-D__extension__=",
    "-D__restrict=",
    "-D__restrict__=",
    "-D__inline=inline",
    "-D__inline__=inline",
    "-D__thread=_Thread_local",
    "-D__typeof__=typeof",
    "-D__typeof=typeof",
    "-D__signed__=signed",
    "-D__volatile__=volatile",
    "-D__const=const",
    "-D__alignof__=_Alignof",
)

_LINE_MARKER = re.compile(r'^# (\d+) "((?:[^"\\]|\\.)*)"', re.MULTILINE)
# The same after the newline that starts its line (a literal prefix the regular
# expression engine looks for fast; `^` makes it try every position), the file
# name's loop unrolled (same match), the file alone captured.
_LINE_MARKER_AFTER_NEWLINE = re.compile(r'\n# \d+ "([^"\\]*(?:\\.[^"\\]*)*)"')


@dataclass(frozen=True)
class Options:
    """What the user passed that changes how a header is read."""

    include_dirs: tuple[str, ...] = ()
    defines: tuple[str, ...] = ()
    cc: str = ""  # empty: $CC, else "cc"
    annotations: str = ""  # a sidecar annotations file (TOML), if any

    def compiler(self) -> list[str]:
        cc = self.cc or os.environ.get("CC", "") or "cc"
        return shlex.split(cc)


@dataclass(frozen=True)
class Parsed:
    header: str
    ast: c_ast.FileAST
    dependencies: tuple[str, ...]  # files the preprocessor read, in first-seen order
    text: str  # the preprocessed text (Source.text)
    sliced: bool = False  # only what the annotated structs need was parsed


_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9][A-Za-z0-9_.]*|\S")


def _preprocessed_lines(text: str, file: str, line: int) -> list[str]:
    """The physical lines of the preprocessed text that stand for `file`:`line`.

    Usually one; more where a macro from a system header expanded on that line
    (the preprocessor then puts line markers in the middle of it)."""
    found: list[str] = []
    current_file, current_line = None, 0
    for raw in text.split("\n"):
        m = _LINE_MARKER.match(raw)
        if m is not None:
            current_file, current_line = m.group(2), int(m.group(1))
            continue
        if current_file == file and current_line == line:
            found.append(raw)
        current_line += 1
    return found


def remap_column(text: str, loc: Location) -> Location:
    """The preprocessor folds white space (tabs, runs of blanks) and expands macros,
    so pycparser's columns count in the preprocessed line.  Map the token at that
    column onto the user's own line: tokens before the first and after the last
    difference between the two lines align one to one; a token inside a macro's
    expansion maps to the same token where the user wrote it, else to the macro.
    Keeps `loc` when the line cannot be read or the column names no token."""
    if loc.column <= 0:
        return loc
    fragments = _preprocessed_lines(text, loc.file, loc.line)
    try:
        with open(loc.file, encoding="utf-8", errors="replace") as f:
            for _ in range(loc.line - 1):
                f.readline()
            original = f.readline().rstrip("\n")
    except OSError:
        return loc
    pre: list[str] = []
    target = -1
    for fragment in fragments:
        for m in _TOKEN.finditer(fragment):
            if target < 0 and m.start() == loc.column - 1:
                target = len(pre)
            pre.append(m.group())
    if target < 0:
        return loc
    orig = [(m.start(), m.group()) for m in _TOKEN.finditer(original)]
    words = [t for _, t in orig]
    head = 0
    while head < min(len(pre), len(words)) and pre[head] == words[head]:
        head += 1
    tail = 0
    while (tail < min(len(pre), len(words)) - head
           and pre[-1 - tail] == words[-1 - tail]):
        tail += 1
    if target < head:
        return Location(loc.file, loc.line, orig[target][0] + 1)
    if target >= len(pre) - tail:
        return Location(loc.file, loc.line, orig[len(words) - (len(pre) - target)][0] + 1)
    # Inside the expanded part: the same token written by the user ...
    token = pre[target]
    nth = pre[head:target].count(token)
    middle = [i for i in range(head, len(words) - tail) if words[i] == token]
    if nth < len(middle):
        return Location(loc.file, loc.line, orig[middle[nth]][0] + 1)
    # ... else, inside an annotation's [[vmgen::...]] expansion, the VMGEN_ macro
    # the user wrote for it (the n-th annotation of the middle is the n-th macro) ...
    group = _annotation_index(pre, head, target)
    if group is not None:
        macros = [i for i in range(head, len(words) - tail) if words[i].startswith("VMGEN_")]
        if group < len(macros):
            return Location(loc.file, loc.line, orig[macros[group]][0] + 1)
    # ... else the first token where the lines differ: the macro that expanded.
    if head < len(orig):
        return Location(loc.file, loc.line, orig[head][0] + 1)
    return loc


def _annotation_index(tokens: list[str], start: int, target: int) -> int | None:
    """If tokens[target] lies in a `[[vmgen::...]]` group, that group's index
    among the groups from `start` on; else None."""
    index, inside = -1, False
    i = start
    while i <= target and i < len(tokens):
        if tokens[i] == "[" and tokens[i + 1:i + 3] == ["[", "vmgen"]:
            index, inside = index + 1, True
            i += 2
        elif inside and tokens[i] == "]" and tokens[i + 1:i + 2] == ["]"]:
            if i + 1 >= target:
                return index if i <= target else None
            inside = False
            i += 1
        i += 1
    return index if inside else None


def preprocess_command(header: str, options: Options) -> list[str]:
    cmd = [*options.compiler(), "-E", "-std=gnu2x", "-DVMGEN"]
    cmd += _GNU_DEFINES
    for d in options.include_dirs:
        cmd += ["-I", d]
    for d in options.defines:
        cmd += ["-D", d]
    # vmgen.h is found even when the user has not written the runtime yet.  Not
    # -idirafter: tokens of macros from system folders get line markers of
    # their own in the middle of the user's line, which shifts every column.
    cmd += ["-I", str(runtime_dir())]
    cmd += ["-include", str(probe_header()), header]
    return cmd


def preprocess(header: str, options: Options) -> str:
    if not Path(header).is_file():
        raise VmgenError([Diagnostic(None, f"cannot read '{header}': no such file")])
    cmd = preprocess_command(header, options)
    try:
        proc = subprocess.run(cmd, capture_output=True, check=False)
    except OSError as exc:
        raise VmgenError(
            [Diagnostic(None, f"cannot run the C preprocessor '{cmd[0]}': {exc.strerror}")]
        ) from None
    if proc.returncode != 0:
        # The compiler's own message, verbatim: it is already file:line:col.
        raise PreprocessorError(proc.stderr.decode("utf-8", "replace").rstrip("\n"))
    try:
        return proc.stdout.decode("utf-8")
    except UnicodeDecodeError as exc:
        loc = _offset_location(proc.stdout, exc.start, header)
        loc = remap_column(proc.stdout.decode("utf-8", "replace"), loc)
        raise VmgenError([Diagnostic(
            loc,
            f"byte 0x{proc.stdout[exc.start]:02x} is not UTF-8 ({exc.reason}): vmgen reads "
            "headers as UTF-8",
        )]) from None


def _offset_location(data: bytes, offset: int, header: str) -> Location:
    """Where byte `offset` of preprocessed output comes from (by its line markers)."""
    start = data.rfind(b"\n", 0, offset) + 1
    file, line = header, 1
    for m in re.finditer(rb'^# (\d+) "((?:[^"\\]|\\.)*)"', data[:start], re.MULTILINE):
        file, line = m.group(2).decode("utf-8", "replace"), int(m.group(1))
        line += data.count(b"\n", m.end(), start) - 1
    return Location(file, line, offset - start + 1)


class PreprocessorError(VmgenError):
    """The preprocessor failed; its stderr is the message."""

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__([])

    def __str__(self) -> str:
        return self.text


def dependencies(text: str) -> tuple[str, ...]:
    """Every real file named by a line marker, in first-seen order."""
    first = _LINE_MARKER.match(text)
    names = [first.group(2)] if first is not None else []
    names += _LINE_MARKER_AFTER_NEWLINE.findall(text, first.end() if first else 0)
    return tuple(name for name in dict.fromkeys(names) if not name.startswith("<"))



_PARSE_ERROR = re.compile(r"^(?P<file>.*?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$", re.DOTALL)


@dataclass(frozen=True)
class Source:
    """A header preprocessed, before parsing."""

    text: str  # the preprocessor's output
    # the same with function bodies and initializers of file-scope objects blanked
    # (they hold what pycparser cannot parse, GNU asm and statement expressions,
    # and vmgen does not need them): see vmgen.frontend.neutralize
    neutral: str
    dependencies: tuple[str, ...]  # files the preprocessor read, in first-seen order

    def original_location(self, loc: Location) -> Location:
        """`loc` with its column moved from the preprocessed line to the original line."""
        return remap_column(self.text, loc)


def read(header: str, options: Options) -> Source:
    text = preprocess(header, options)
    return Source(text, neutralize(text), dependencies(text))


def parse(header: str, options: Options, roots: tuple[str, ...] | None = ()) -> Parsed:
    """The AST of a header.  With `roots` (names an annotations file gives; may be
    empty), only the declarations the annotated structs need are parsed (see
    vmgen.frontend.slicer); with None, everything.  A sliced text that fails to parse is
    parsed whole."""
    return parse_source(header, read(header, options), roots)


def parse_source(header: str, source: Source, roots: tuple[str, ...] | None = ()) -> Parsed:
    """`parse` of a header already read."""
    if roots is not None:
        sliced = slice_text(source.neutral, [str(probe_header())], roots)
        try:
            return parse_slice(header, source, sliced)
        except VmgenError:
            pass  # parse everything: its error, if any, is the user's
    try:
        ast = _parse(source.neutral, header)
    except VmgenError as e:
        # columns count in the preprocessed line: map them to the user's line
        raise VmgenError([replace(d, location=remap_column(source.text, d.location))
                          if d.location is not None else d for d in e.diagnostics]) from None
    return Parsed(header, ast, source.dependencies, source.text)


def parse_slice(header: str, source: Source, sliced: str) -> Parsed:
    """The AST of a slice of `source.neutral` (see vmgen.frontend.slicer).  A syntax error
    raises VmgenError with the column in the preprocessed line."""
    return Parsed(header, _parse(sliced, header), source.dependencies, source.text,
                  sliced=True)


def _parse(text: str, header: str) -> c_ast.FileAST:
    parser = c_parser.CParser(dialect="c23")
    # The parse allocates millions of short-lived objects; pausing the cyclic
    # collector around it saves about a quarter of the time (shared NOTES).
    enabled = gc.isenabled()
    gc.disable()
    try:
        ast = parser.parse(text, filename=header)
        # The parser and its lexer point at each other: only the cyclic collector
        # frees them, and with them every token of the text (a tracing pass over
        # hundreds of thousands of objects).  Parsing nothing drops the tokens now.
        parser.parse("", filename=header)
        return ast
    except c_parser.ParseError as exc:
        m = _PARSE_ERROR.match(str(exc))
        if m is None:
            # Some errors carry no coordinates ("FILE: Invalid specifier list"): the
            # token the parser was looking at when it gave up is where it went wrong.
            tok = parser._tokens.peek(1)  # pycparser 3.x's lookahead
            if tok is not None and tok.lineno and tok.column:
                detail = str(exc).rpartition(": ")[2]
                loc = Location(tok.filename, tok.lineno, tok.column)
                msg = f"syntax error before '{tok.value}' ({detail[:1].lower()}{detail[1:]})"
                raise VmgenError([Diagnostic(loc, msg)]) from None
            raise VmgenError([Diagnostic(None, f"{header}: syntax error: {exc}")]) from None
        msg = m.group("msg")
        if msg.startswith("before: "):
            msg = f"syntax error before '{msg[len('before: '):]}'"
        loc = Location(m.group("file"), int(m.group("line")), int(m.group("col")))
        raise VmgenError([Diagnostic(loc, msg)]) from None
    finally:
        if enabled:
            gc.enable()
