"""Stage 2: read the ``[[vmgen::...]]`` attributes that vmgen.h's macros expand to.

pycparser hands over C23 attributes with their arguments as raw text; this
module finds them on declarations, declarators and struct tags, checks the
annotation name and arity, and parses the arguments as C expressions (they
were macro-expanded already, so ``VMGEN_SIZE_IS(N_TIMERS)`` arrives folded
into whatever ``N_TIMERS`` expands to).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pycparser import c_ast, c_parser

from vmgen.diagnostics import Location, VmgenError, location

NAMESPACE = "vmgen"

# annotation -> (number of arguments, -1 for one or more; the macro users write)
KNOWN: dict[str, tuple[int, str]] = {
    "state": (2, "VMGEN_STATE(version, minimum_version)"),
    "skip": (0, "VMGEN_SKIP"),
    "since": (1, "VMGEN_SINCE(version)"),
    "size_is": (1, "VMGEN_SIZE_IS(field)"),
    "range": (2, "VMGEN_RANGE(lo, hi)"),
    "string": (0, "VMGEN_STRING"),
    "union": (1, "VMGEN_UNION(field)"),
    "case": (-1, "VMGEN_CASE(value, ...)"),
    "external": (1, "VMGEN_EXTERNAL(kind)"),
    "vmsd": (1, 'VMGEN_VMSD("name")'),
    "positive_le": (0, "VMGEN_POSITIVE_LE"),
    "equal": (0, "VMGEN_EQUAL"),
    "unused": (0, "VMGEN_UNUSED"),
    "subsection": (3, "VMGEN_SUBSECTION(version, minimum_version, needed)"),
    "visitor": (2, "VMGEN_VISITOR(name, kind)"),
}


@dataclass(frozen=True)
class Annotation:
    kind: str
    args: tuple[c_ast.Node, ...]
    location: Location

    @property
    def macro(self) -> str:
        return KNOWN[self.kind][1].split("(")[0]


_UNKNOWN = Location("<unknown>", 0, 0)


def location_of(node: c_ast.Node) -> Location:
    coord = node.coord
    if coord is None:
        return _UNKNOWN
    file, line, column = coord.file, coord.line, coord.column
    if type(file) is str and type(line) is int and type(column) is int:
        return location(file, line, column)  # the common case, made faster
    return Location(str(file), int(line), int(column or 0))


_PER_THREAD = threading.local()


def _arg_parser() -> c_parser.CParser:
    """One parser per thread: a CParser keeps its lexer's state while it parses, so two
    threads lowering modules at once must not share one."""
    parser: c_parser.CParser | None = getattr(_PER_THREAD, "parser", None)
    if parser is None:
        parser = _PER_THREAD.parser = c_parser.CParser(dialect="c23")
    return parser


def _parse_args(
    text: str | None, location: Location, kind: str, column: int = 1
) -> tuple[c_ast.Node, ...]:
    """The arguments as C expressions.  `column` is where they start in the
    (preprocessed) line of `location`: a line marker and indentation give the
    nodes the header's file, line and column, so errors point into the header."""
    if text is None or not text.strip():
        return ()
    marker = f'# {location.line} "{location.file}"\n' if location.line > 0 else ""
    source = f"int __vmgen_args[] = {{\n{marker}{' ' * (column - 1)}{text}\n}};"
    try:
        ast = _arg_parser().parse(source, filename="<annotation>")
    except c_parser.ParseError:
        raise VmgenError.at(
            location, f"cannot parse the arguments of {KNOWN[kind][1]}: '{text.strip()}'"
        ) from None
    decl = ast.ext[0]
    assert isinstance(decl, c_ast.Decl) and isinstance(decl.init, c_ast.InitList)
    return tuple(decl.init.exprs)


def _attributes(node: c_ast.Node) -> list[c_ast.Attribute]:
    found: list[c_ast.Attribute] = []
    for spec in getattr(node, "attributes", None) or ():
        if isinstance(spec, c_ast.AttributeSpecifier):
            found.extend(a for a in spec.attributes if isinstance(a, c_ast.Attribute))
        elif isinstance(spec, c_ast.Attribute):
            found.append(spec)
    return found


def _read(attrs: list[c_ast.Attribute]) -> list[Annotation]:
    result: list[Annotation] = []
    for attr in attrs:
        if attr.namespace != NAMESPACE:
            continue
        loc = location_of(attr)
        if attr.name not in KNOWN:
            names = ", ".join(m for _, m in KNOWN.values())
            raise VmgenError.at(loc, f"unknown annotation 'vmgen::{attr.name}' (known: {names})")
        arity, macro = KNOWN[attr.name]
        # The arguments follow "name(" (the preprocessor writes no blank between).
        args = _parse_args(attr.arguments, loc, attr.name, loc.column + len(attr.name) + 1)
        if arity < 0 and not args:
            raise VmgenError.at(loc, f"{macro} takes one or more arguments, got none")
        if arity >= 0 and len(args) != arity:
            raise VmgenError.at(
                loc, f"{macro} takes {arity} argument{'s' if arity != 1 else ''}, got {len(args)}"
            )
        result.append(Annotation(attr.name, args, loc))
    return result


def on_declaration(decl: c_ast.Decl) -> list[Annotation]:
    """Annotations of a member declaration: the leading ones and those on its declarator chain.

    The walk stops at struct/union/enum specifiers: annotations there belong to
    the type, not to this member.
    """
    # Most members carry no attribute at all: look before building anything.
    node = decl.type
    while node is not None and not isinstance(node, _SPECIFIERS):
        if getattr(node, "attributes", None):
            break
        node = getattr(node, "type", None)
    else:
        if not getattr(decl, "attributes", None):
            return []
    attrs = _attributes(decl)
    for node in _declarators(decl.type):
        attrs.extend(_attributes(node))
    return _read(attrs)


def attributes_of(node: c_ast.Node) -> list[Annotation]:
    """The vmgen annotations attached directly to `node`."""
    return _read(_attributes(node))


def on_type(node: c_ast.Struct | c_ast.Union | c_ast.Enum) -> list[Annotation]:
    """Annotations written after ``struct``/``union``/``enum``."""
    return _read(_attributes(node))


def on_typedef(node: c_ast.Typedef) -> list[Annotation]:
    """Annotations of a typedef's declarator (``typedef struct T T VMGEN_EXTERNAL(int64);``)."""
    attrs = _attributes(node)
    for n in _declarators(node.type):
        attrs.extend(_attributes(n))
    return _read(attrs)


_SPECIFIERS = (c_ast.Struct, c_ast.Union, c_ast.Enum, c_ast.IdentifierType)


def _declarators(node: c_ast.Node | None) -> list[c_ast.Node]:
    found = []
    while node is not None and not isinstance(node, _SPECIFIERS):
        found.append(node)
        node = getattr(node, "type", None)
    return found


def identifier_arg(ann: Annotation, what: str, index: int = 0) -> str:
    """Argument `index` of `ann`, which must be a plain C identifier (a field name, or
    for VMGEN_SUBSECTION's `needed` a field or function name)."""
    arg = ann.args[index]
    if not isinstance(arg, c_ast.ID):
        kind = "a field or function name" if ann.kind == "subsection" else "a field name"
        raise VmgenError.at(ann.location, f"{KNOWN[ann.kind][1]}: {what} must be {kind}")
    return str(arg.name)


def string_arg(ann: Annotation, what: str) -> str:
    """The argument of `ann` that must be a string literal of printable ASCII (a
    VMState name: 1 to 255 bytes, as the stream's one-byte lengths allow)."""
    arg = ann.args[0]
    text = arg.value if isinstance(arg, c_ast.Constant) and arg.type == "string" else None
    if text is None or not (text.startswith('"') and text.endswith('"')):
        raise VmgenError.at(ann.location, f"{KNOWN[ann.kind][1]}: {what} must be a string "
                            "literal")
    body = str(text[1:-1])
    if "\\" in body or not 1 <= len(body) <= 255 or not all(" " <= c <= "~" for c in body):
        raise VmgenError.at(ann.location, f"{KNOWN[ann.kind][1]}: {what} must be 1 to 255 "
                            "printable ASCII characters without escapes")
    return body
