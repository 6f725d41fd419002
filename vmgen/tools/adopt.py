"""``vmgen import --struct FILE:STRUCT``: the annotations file that maps a device's own
C struct onto QEMU's description of its VMState.

A device keeps its state in its own struct (``HPETState``), with host-only members,
in an order unlike its VMState table.  Given QEMU's description (a stream's JSON
description and/or ``-dump-vmstate`` output, merged by :mod:`vmgen.tools.vmstate`) and
the struct as the compiler sees it, this writes the TOML that makes vmgen's legacy
codec for that struct produce the described layout:

* each described field -> the member of that name (or a member path such as
  ``channels[0].irq_disabled``), checked to have a compatible C type and size; the
  table's order becomes ``layout``; every other member is ``skip``;
* ``unused_buffer`` -> ``{ unused = N }`` padding; ``timer`` -> the member's pointee
  type as ``[types] T = { external = "int64" }``; ``X equal`` / ``int32 le`` ->
  ``equal`` / ``positive_le``; other VMStateInfo types (``pci config``) -> a
  ``visitor`` of that name carrying the described bytes; an array of bytes on a pointer
  member (``VMSTATE_VARRAY_*`` counted by a member the stream does not carry: fdc's
  ``fifo``) -> a visitor ``STRUCT_MEMBER`` of as many bytes as the stream holds;
* a nested VMState -> the member's struct type, mapped the same way (a struct array a
  stream describes element by element, ``index`` entries, arrives as one array); an array the
  stream shows shorter than its capacity -> ``size_is`` its count, the described
  integer whose value in the stream is the array's length (or ``--count A=F``);
* a subsection -> ``[[S.subsections]]`` over the struct's own members, its ``needed``
  the one ``bool f(void *)`` of the file whose name holds the subsection's name (or
  ``--needed NAME=FUNC``); versions from the dump.

What cannot be mapped is an :class:`AdoptError` naming the member's file:line.  The
result is then generated and compared with the description (``vmgen check
--vmstate``) before anything is written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pycparser import c_ast

from vmgen.diagnostics import Diagnostic, Location
from vmgen.frontend.annotations import location_of
from vmgen.frontend.source import Options
from vmgen.tools.vmstate import INT_TYPES, Desc, Field, row_name

# C integer types by name on the LP64 targets QEMU's x86 builds use: (bytes, signed).
_C_INTS: dict[tuple[str, ...], tuple[int, bool]] = {
    **{(f"{s}int{b}_t",): (b // 8, s == "") for s in ("", "u") for b in (8, 16, 32, 64)},
    ("char",): (1, True), ("signed", "char"): (1, True), ("unsigned", "char"): (1, False),
    ("short",): (2, True), ("short", "int"): (2, True), ("signed", "short"): (2, True),
    ("unsigned", "short"): (2, False), ("unsigned", "short", "int"): (2, False),
    ("int",): (4, True), ("signed",): (4, True), ("signed", "int"): (4, True),
    ("unsigned",): (4, False), ("unsigned", "int"): (4, False),
    ("long",): (8, True), ("long", "int"): (8, True), ("unsigned", "long"): (8, False),
    ("long", "long"): (8, True), ("unsigned", "long", "long"): (8, False),
    ("size_t",): (8, False), ("ssize_t",): (8, True), ("intptr_t",): (8, True),
    ("uintptr_t",): (8, False), ("hwaddr",): (8, False),
}
_BOOLS = {("bool",), ("_Bool",)}


class AdoptError(Exception):
    """What cannot be mapped, as compiler-style diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("\n".join(d.format() for d in diagnostics))
        self.diagnostics = diagnostics


# ---- the C side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CType:
    """What a member's type is, as far as mapping needs: kind "int" (size, signed),
    "bool", "enum", "float", "struct" (name: its typedef name or tag), "pointer" (name:
    the pointee's type name), "array" (length, element), or "other"."""

    kind: str
    size: int = 0
    signed: bool = False
    name: str = ""
    length: int = 0
    element: CType | None = None
    spelled: str = ""


@dataclass
class CStruct:
    name: str  # how the annotations file names it (typedef name, else tag)
    node: c_ast.Struct
    location: Location
    members: dict[str, tuple[CType, Location]] = field(default_factory=dict)


class CModel:
    """The structs, typedefs and functions of a parsed file."""

    def __init__(self, ast: c_ast.FileAST, fold: Any) -> None:
        self.typedefs: dict[str, c_ast.Node] = {}
        self.tags: dict[str, c_ast.Struct] = {}
        self.typedef_of: dict[int, str] = {}  # id(struct definition) -> its typedef name
        self.tag_typedef: dict[str, str] = {}  # struct tag -> a typedef name of it
        self.functions: list[tuple[str, bool]] = []  # (name, is bool f(void *))
        self.fold = fold
        self.structs: dict[int, CStruct] = {}
        for ext in ast.ext:
            self._collect(ext)

    def _collect(self, ext: c_ast.Node) -> None:
        if isinstance(ext, c_ast.FuncDef):
            ext = ext.decl
        if isinstance(ext, c_ast.Typedef):
            self.typedefs[ext.name] = ext.type
            inner = ext.type.type if isinstance(ext.type, c_ast.TypeDecl) else None
            if isinstance(inner, c_ast.Struct):
                self._tag(inner)
                if inner.decls is not None:
                    self.typedef_of.setdefault(id(inner), ext.name)
                elif inner.name is not None:  # typedef struct T T; before or after struct T {...}
                    self.tag_typedef.setdefault(inner.name, ext.name)
            return
        if isinstance(ext, c_ast.Decl):
            t = ext.type
            if isinstance(t, c_ast.FuncDecl) and ext.name is not None:
                self.functions.append((ext.name, _is_predicate(t)))
            elif isinstance(t, c_ast.Struct):
                self._tag(t)
            elif isinstance(t, c_ast.TypeDecl) and isinstance(t.type, c_ast.Struct):
                self._tag(t.type)

    def _tag(self, node: c_ast.Struct) -> None:
        if node.decls is not None and node.name is not None:
            self.tags.setdefault(node.name, node)

    def struct_named(self, name: str) -> c_ast.Struct | None:
        t = self.typedefs.get(name)
        if isinstance(t, c_ast.TypeDecl) and isinstance(t.type, c_ast.Struct):
            return self._definition(t.type)
        return self.tags.get(name)

    def _definition(self, node: c_ast.Struct) -> c_ast.Struct | None:
        if node.decls is not None:
            return node
        return self.tags.get(node.name) if node.name else None

    def name_of(self, node: c_ast.Struct) -> str:
        named = self.typedef_of.get(id(node))
        if named is None and node.name is not None:
            named = self.tag_typedef.get(node.name)
        return named or node.name or "<anonymous>"

    def struct(self, node: c_ast.Struct) -> CStruct:
        known = self.structs.get(id(node))
        if known is not None:
            return known
        s = CStruct(self.name_of(node), node, location_of(node))
        self.structs[id(node)] = s
        for d in node.decls or ():
            if isinstance(d, c_ast.Decl) and d.name is not None:
                s.members[d.name] = (self.ctype(d.type), _member_location(d))
        return s

    def ctype(self, node: c_ast.Node, depth: int = 0) -> CType:
        if depth > 64:
            return CType("other", spelled="?")
        if isinstance(node, c_ast.ArrayDecl):
            element = self.ctype(node.type, depth + 1)
            try:
                length = int(self.fold(node.dim)) if node.dim is not None else 0
            except Exception:
                length = 0
            return CType("array", length=length, element=element,
                         size=element.size * length)
        if isinstance(node, c_ast.PtrDecl):
            inner = node.type
            name = ""
            if isinstance(inner, c_ast.TypeDecl):
                spec = inner.type
                if isinstance(spec, c_ast.IdentifierType):
                    name = " ".join(spec.names)
                elif isinstance(spec, c_ast.Struct) and spec.name:
                    name = spec.name
            return CType("pointer", size=8, name=name, spelled=f"{name or 'void'} *")
        if isinstance(node, c_ast.TypeDecl):
            spec = node.type
            if isinstance(spec, c_ast.Struct):
                definition = self._definition(spec)
                if definition is None:
                    return CType("other", spelled=f"struct {spec.name}")
                return CType("struct", name=self.name_of(definition), spelled=f"struct {spec.name}")
            if isinstance(spec, c_ast.Enum):
                return CType("enum", size=4, signed=True, spelled="enum")
            if isinstance(spec, c_ast.IdentifierType):
                names = tuple(n for n in spec.names if n not in ("const", "volatile"))
                if names in _BOOLS:
                    return CType("bool", size=1, spelled=" ".join(names))
                if names in _C_INTS:
                    size, signed = _C_INTS[names]
                    return CType("int", size=size, signed=signed, spelled=" ".join(names))
                if names in (("float",), ("double",)):
                    return CType("float", size=4 if names == ("float",) else 8,
                                 spelled=names[0])
                if len(names) == 1 and names[0] in self.typedefs:
                    target = self.ctype(self.typedefs[names[0]], depth + 1)
                    if target.kind == "struct":
                        return CType("struct", name=names[0], spelled=names[0])
                    return CType(target.kind, target.size, target.signed, target.name,
                                 target.length, target.element, names[0])
                return CType("other", spelled=" ".join(names))
        return CType("other", spelled=type(node).__name__)


def _is_predicate(t: c_ast.FuncDecl) -> bool:
    """``bool f(void *)``: what a subsection's needed is."""
    ret = t.type
    if not (isinstance(ret, c_ast.TypeDecl) and isinstance(ret.type, c_ast.IdentifierType)
            and tuple(ret.type.names) in _BOOLS):
        return False
    params = t.args.params if t.args is not None else []
    if len(params) != 1:
        return False
    p = params[0]
    pt = p.type if isinstance(p, (c_ast.Decl, c_ast.Typename)) else None
    return (isinstance(pt, c_ast.PtrDecl) and isinstance(pt.type, c_ast.TypeDecl)
            and isinstance(pt.type.type, c_ast.IdentifierType)
            and pt.type.type.names == ["void"])


def _member_location(d: c_ast.Decl) -> Location:
    node: c_ast.Node | None = d.type
    while node is not None:
        if isinstance(node, c_ast.TypeDecl):
            return location_of(node)
        node = getattr(node, "type", None)
    return location_of(d)


# ---- the mapping -----------------------------------------------------------------------------


@dataclass
class _Table:
    """What the annotations file says of one struct."""

    struct: CStruct
    vmsd: str
    state: tuple[int, int] | None = None
    layout: list[Any] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)  # member or path -> TOML value
    groups: list[dict[str, Any]] = field(default_factory=list)
    placed: set[str] = field(default_factory=set)


@dataclass
class Adopter:
    model: CModel
    file: str
    counts: dict[str, str] = field(default_factory=dict)  # array -> count (--count)
    needed: dict[str, str] = field(default_factory=dict)  # subsection -> function
    tables: dict[str, _Table] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)  # [types] T -> external kind
    errors: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, where: Location, message: str) -> None:
        self.errors.append(Diagnostic(where, message))

    # -- structs

    def map_struct(self, s: CStruct, desc: Desc, values: dict[str, Any] | None,
                   state: tuple[int, int] | None) -> None:
        known = self.tables.get(s.name)
        if known is not None:
            if known.vmsd != desc.name:
                self.fail(s.location, f"'{s.name}' would serve VMState '{known.vmsd}' and "
                          f"'{desc.name}': one struct type has one VMState layout")
            return
        table = _Table(s, desc.name, state)
        self.tables[s.name] = table
        low = desc.minimum if desc.minimum is not None else desc.version
        table.layout = self._entries(table, desc.fields, values, low)
        for sub in desc.subsections:
            self._group(table, sub, values)
        for name in s.members:
            if name not in table.placed and name not in table.fields:
                table.fields[name] = "skip"
        self.order.append(s.name)  # after the structs it holds

    def _group(self, table: _Table, sub: Desc, values: dict[str, Any] | None) -> None:
        s = table.struct
        fn = self.needed.get(sub.name) or self._predicate(sub.name, s)
        if fn is None:
            return
        inner_values = values.get(sub.name) if values is not None else None
        entries = self._entries(table, sub.fields,
                                inner_values if isinstance(inner_values, dict) else None,
                                sub.minimum if sub.minimum is not None else sub.version)
        minimum = sub.minimum if sub.minimum is not None else sub.version
        table.groups.append({"vmsd": sub.name, "version": sub.version, "minimum": minimum,
                             "needed": fn, "layout": entries})

    def _predicate(self, name: str, s: CStruct) -> str | None:
        words = set(re.findall(r"[a-z0-9]+", name.rsplit("/", 1)[-1].lower()))
        found = [f for f, ok in self.model.functions
                 if ok and words <= set(re.findall(r"[a-z0-9]+", f.lower()))]
        found = list(dict.fromkeys(found))
        if len(found) == 1:
            return found[0]
        self.fail(s.location, f"subsection '{name}' of '{s.name}': "
                  + ("no function bool f(void *) in " + self.file + " has its name in its own"
                     if not found else "several functions could decide it (" +
                     ", ".join(found) + ")")
                  + f"; say which with --needed '{name}=FUNCTION'")
        return None

    # -- fields

    def _entries(self, table: _Table, rows: tuple[Field, ...], values: dict[str, Any] | None,
                 low: int) -> list[Any]:
        out: list[Any] = []
        s = table.struct
        for f in rows:
            since = f.version if f.version > low else None
            if f.type == "unused_buffer" or (f.type is None and f.name == "unused"):
                out.append({"unused": f.size, **({"since": since} if since else {})})
                continue
            name = row_name(f.name)[0] if f.type is not None else f.name
            member = self._member(s, name)
            if member is None:
                continue
            ctype, loc = member
            spec = self._field(table, name, f, ctype, loc, values)
            if spec is None:
                continue
            if since is not None:
                spec["since"] = since
            if name in table.placed:
                self.fail(loc, f"'{name}' of '{s.name}' is described twice in VMState "
                          f"'{table.vmsd}'")
                continue
            table.placed.add(name)
            if spec:
                table.fields[name] = spec
            out.append(name)
        return out

    def _member(self, s: CStruct, name: str) -> tuple[CType, Location] | None:
        """The member (or member path) QEMU's field names."""
        steps = re.findall(r"\.?([A-Za-z_]\w*)|\[(\d+)\]", name)
        if not steps or "".join(f".{m}" if m else f"[{i}]" for m, i in steps).lstrip(".") != name:
            self.fail(s.location, f"'{s.name}': QEMU's field '{name}' is not a member name "
                      "or path")
            return None
        current: CStruct | None = s
        ctype: CType | None = None
        loc = s.location
        for member, index in steps:
            if member:
                if ctype is not None:
                    current = self._struct_of(ctype)
                if current is None:
                    self.fail(loc, f"QEMU's field '{name}': '{member}' follows a member that "
                              "is not a struct")
                    return None
                found = current.members.get(member)
                if found is None:
                    self.fail(current.location, f"QEMU's field '{name}': '{current.name}' "
                              f"has no member '{member}'")
                    return None
                ctype, loc = found
            else:
                if ctype is None or ctype.kind != "array" or ctype.element is None:
                    self.fail(loc, f"QEMU's field '{name}': [{index}] indexes a member that "
                              "is not an array")
                    return None
                ctype = ctype.element
        assert ctype is not None
        return ctype, loc

    def _struct_of(self, t: CType) -> CStruct | None:
        if t.kind != "struct":
            return None
        node = self.model.struct_named(t.name)
        return self.model.struct(node) if node is not None else None

    def _field(self, table: _Table, name: str, f: Field, t: CType, loc: Location,
               values: dict[str, Any] | None) -> dict[str, Any] | None:
        """The member's annotations (a TOML table, empty when plain), or None after an
        error."""
        what = f"'{name}' of '{table.struct.name}'"
        said = f"QEMU's {f.type or 'field'} of {f.size} byte{'s' if f.size != 1 else ''}"
        qtype = f.type
        if f.struct is not None:
            element = t.element if t.kind == "array" and t.element is not None else t
            inner = self._struct_of(element)
            if inner is None:
                self.fail(loc, f"{what} is {t.spelled or t.kind}: QEMU's VMState "
                          f"'{f.struct.name}' needs a struct member")
                return None
            element_values = values.get(name) if values is not None else None
            if isinstance(element_values, list):
                element_values = element_values[0] if element_values else None
            self.map_struct(inner, f.struct,
                            element_values if isinstance(element_values, dict) else None, None)
            if t.kind == "array":
                return self._array(table, name, f, t, loc, values)
            return {}
        if qtype is None and t.kind == "pointer" and t.name == "QEMUTimer" and f.size == 8:
            qtype = "timer"  # a dump gives no types: QEMU's timer type says it
        if qtype == "timer":
            pointee = t.name if t.kind == "pointer" else t.spelled if t.kind == "struct" else ""
            if not pointee:
                self.fail(loc, f"{what} is {t.spelled or t.kind}: a QEMU timer is a member of "
                          "a timer type or a pointer to one")
                return None
            self.types[pointee] = "int64"
            return {}
        if qtype is not None and qtype not in INT_TYPES and qtype != "bool" and \
                qtype != "buffer" and not qtype.endswith((" equal", " le")):
            # a VMStateInfo of its own (pci config, pci irq state, ...): the user's visitor
            return {"visitor": [re.sub(r"\W+", "_", qtype).strip("_"), f"bytes({f.size})"]}
        if t.kind == "pointer" and (f.array or qtype is None) and f.size == 1 \
                and qtype in (None, "uint8", "int8") \
                and _C_INTS.get(tuple(t.name.split()), (0, False))[0] == 1:
            # VMSTATE_VARRAY_*(member, count): the bytes a host-kept pointer points to,
            # their number a member the stream does not carry (fdc's fifo, fifo_size)
            if not f.count:
                self.fail(loc, f"{what} is {t.spelled}: QEMU's array of {f.type or 'bytes'} "
                          "needs a stream to say how many bytes it points to")
                return None
            visitor = f"{table.struct.name}_{name}"
            self.notes.append(f"{what} points to the {f.count} bytes QEMU's description "
                              f"holds: visit_type_{visitor}() moves them")
            return {"visitor": [visitor, f"bytes({f.count})"]}
        if t.kind == "array":
            item = t.element
            assert item is not None
            if item.kind in ("int", "bool") and item.size == 1 and \
                    (qtype in (None, "buffer") or f.size == t.length) and not f.array:
                if t.length != f.size:
                    self.fail(loc, f"{what} is {t.length} bytes, {said}")
                    return None
                return {}
            if item.kind not in ("int", "bool", "enum") or item.size != f.size:
                self.fail(loc, f"{what} has {item.size}-byte elements, {said}")
                return None
            return self._array(table, name, f, t, loc, values)
        if t.kind not in ("int", "bool", "enum"):
            self.fail(loc, f"{what} is {t.spelled or t.kind}, {said}: no compatible member")
            return None
        if t.size != f.size:
            self.fail(loc, f"{what} is {t.size} byte{'s' if t.size != 1 else ''} "
                      f"({t.spelled}), {said}")
            return None
        if qtype is not None and qtype.endswith(" equal"):
            return {"equal": True}
        if qtype is not None and qtype.endswith(" le"):
            if t.kind != "int" or not t.signed:
                self.fail(loc, f"{what} is {t.spelled}: QEMU's '{qtype}' needs a signed "
                          "integer")
                return None
            return {"positive_le": True}
        return {}

    def _array(self, table: _Table, name: str, f: Field, t: CType, loc: Location,
               values: dict[str, Any] | None) -> dict[str, Any] | None:
        """A fixed array, or one sized by a count (the stream shows fewer elements than
        the capacity, or --count says so)."""
        what = f"'{name}' of '{table.struct.name}'"
        count = self.counts.get(name)
        if count is None and f.count is not None and f.count < t.length:
            count = self._count_of(table, name, f.count, values, loc)
            if count is None:
                return None
        if count is None:
            if f.count is not None and f.count != t.length:
                self.fail(loc, f"{what} holds {t.length} elements, the stream {f.count}")
                return None
            return {}
        return {"size_is": count}

    def _count_of(self, table: _Table, name: str, n: int, values: dict[str, Any] | None,
                  loc: Location) -> str | None:
        """The described integer before `name` whose value is the array's length."""
        found = [m for m in table.placed if values is not None and values.get(m) == n
                 and isinstance(values.get(m), int) and not isinstance(values.get(m), bool)]
        if len(found) > 1:
            words = set(re.findall(r"[a-z0-9]+", name.lower()))
            near = [m for m in found if words & set(re.findall(r"[a-z0-9]+", m.lower()))]
            found = near if near else found
        if len(found) == 1:
            self.notes.append(f"'{name}' of '{table.struct.name}': {n} of its elements "
                              f"travel; sized by '{found[0]}', which holds {n}")
            return found[0]
        self.fail(loc, f"'{name}' of '{table.struct.name}' holds {n} elements in the stream, "
                  "fewer than its capacity: "
                  + ("no described integer before it holds that count"
                     if not found else f"{', '.join(sorted(found))} could be its count")
                  + f"; say which with --count '{name}=FIELD'")
        return None

    # -- output

    def toml(self, header: str) -> str:
        lines = [f"# {header}", ""]
        if self.types:
            lines.append("[types]")
            lines += [f"{_key(t)} = {{ external = {_value(k)} }}"
                      for t, k in sorted(self.types.items())]
            lines.append("")
        for name in self.order:
            table = self.tables[name]
            lines.append(f"[{_key(name)}]")
            if table.state is not None:
                lines.append(f"state = {_value(list(table.state))}")
            lines.append(f"vmsd = {_value(table.vmsd)}")
            lines.append(f"layout = {_value(table.layout)}")
            lines.append("")
            for g in table.groups:
                lines.append(f"[[{_key(name)}.subsections]]")
                lines += [f"{k} = {_value(v)}" for k, v in g.items()]
                lines.append("")
            lines.append(f"[{_key(name)}.fields]")
            members = list(table.struct.members)
            for member in [*members, *(k for k in table.fields if k not in members)]:
                spec = table.fields.get(member)
                if spec is not None:
                    lines.append(f"{_key(member)} = {_value(spec)}")
            lines.append("")
        return "\n".join(lines).rstrip("\n") + "\n"


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def _value(v: Any) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v)


# ---- the command ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Adopted:
    text: str  # the annotations file
    notes: list[str]  # what was inferred, for stderr


def adopt(path: str, struct: str, options: Options, desc: Desc,
          values: dict[str, Any] | None, counts: dict[str, str], needed: dict[str, str],
          described_by: str) -> Adopted:
    """The annotations file mapping `struct` of `path` onto `desc` (AdoptError with
    file:line diagnostics if it cannot), checked by generating from it and comparing the
    layout with `desc`."""
    import os
    import tempfile
    from dataclasses import replace as _replace

    from vmgen.diagnostics import VmgenError
    from vmgen.driver.pipeline import build_module
    from vmgen.frontend.source import parse_source, read
    from vmgen.lowering.lower import Lowerer
    from vmgen.tools.vmstate import check_module

    source = read(path, options)
    parsed = parse_source(path, source, None)
    lowerer = Lowerer(parsed, options)
    lowerer.collect()
    model = CModel(parsed.ast, lambda n: lowerer.folder.fold(n, "an array length"))
    node = model.struct_named(struct)
    if node is None:
        raise AdoptError([Diagnostic(Location(path, 0, 0), f"no struct '{struct}' (by "
                                     "typedef name or tag) is defined in the file")])
    a = Adopter(model, path, counts, needed)
    top = model.struct(node)
    a.map_struct(top, desc, values, (desc.version, desc.minimum if desc.minimum is not None
                                     else desc.version))
    if desc.minimum is None:
        a.notes.append(f"the stream's description gives no minimum version: '{top.name}' "
                       f"reads version {desc.version} only (give --dump-vmstate for older "
                       "streams)")
    if a.errors:
        raise AdoptError([_replace(d, location=source.original_location(d.location))
                          if d.location is not None else d for d in a.errors])
    text = a.toml(f"vmgen import --struct {os.path.basename(path)}:{struct}: {top.name} as "
                  f"VMState '{desc.name}' ({described_by})")
    fd, tmp = tempfile.mkstemp(suffix=".toml", prefix="vmgen-adopt-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        try:
            module = build_module(path, _replace(options, annotations=tmp))
        except VmgenError as exc:
            raise AdoptError(list(exc.diagnostics)) from None
    finally:
        os.unlink(tmp)
    problems = check_module(module, {desc.name: desc}, described_by)
    if problems:
        raise AdoptError(problems)
    return Adopted(text, a.notes)
