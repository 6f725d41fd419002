"""Stage 3: lower the parsed C (pycparser AST) into the IR.

Finds the device states (structs annotated ``VMGEN_STATE``), walks every type
reachable from them, resolves typedef chains, folds array sizes and enumerator
values, takes integer widths from the target compiler, and turns each member
into an IR :class:`~vmgen.lowering.ir.Field`.  Everything the IR cannot express is
reported as a ``FILE:LINE:COL: error:`` naming the struct, the field and the
reason; all problems of a header are reported together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from pycparser import c_ast

from vmgen.diagnostics import Diagnostic, DiagnosticSink, Location, VmgenError
from vmgen.frontend.annotations import (
    Annotation,
    identifier_arg,
    location_of,
    on_declaration,
    on_type,
    on_typedef,
    string_arg,
)
from vmgen.frontend.annotations import (
    attributes_of as _read_attributes,
)
from vmgen.frontend.cconst import Folder
from vmgen.frontend.source import Options, Parsed
from vmgen.lowering import ir
from vmgen.lowering.links import FieldError, RawField, link, wire_order

if TYPE_CHECKING:
    from vmgen.frontend.sidecar import GroupSpec, LayoutEntry, Sidecar

# Exact-width types are recognised by name: the C standard fixes their width.
_STDINT: dict[str, ir.IntType] = {
    f"{'u' if not signed else ''}int{bits}_t": ir.IntType(
        f"{'u' if not signed else ''}int{bits}", bits, signed
    )
    for bits in (8, 16, 32, 64)
    for signed in (True, False)
}

# Plain C integer types: canonical specifier multiset -> (visitor, size key).
_PLAIN: dict[tuple[str, ...], tuple[str, str, bool]] = {}


def _plain(visitor: str, size: str, signed: bool, *spellings: str) -> None:
    for s in spellings:
        _PLAIN[tuple(sorted(s.split()))] = (visitor, size, signed)


_plain("schar", "char", True, "signed char")
_plain("uchar", "char", False, "unsigned char")
_plain("short", "short", True, "short", "short int", "signed short", "signed short int")
_plain("ushort", "short", False, "unsigned short", "unsigned short int")
_plain("int", "int", True, "int", "signed", "signed int")
_plain("uint", "int", False, "unsigned", "unsigned int")
_plain("long", "long", True, "long", "long int", "signed long", "signed long int")
_plain("ulong", "long", False, "unsigned long", "unsigned long int")
_plain("llong", "long_long", True, "long long", "long long int", "signed long long",
       "signed long long int")
_plain("ullong", "long_long", False, "unsigned long long", "unsigned long long int")

_BYTE_VISITORS = ("uint8", "uchar", "char")
# No array migrates more elements (nor, for arrays of arrays, in all): bounds the
# loaders' loops, keeps every count in a size_t, and refuses impossible objects.
_MAX_ELEMENTS = (1 << 31) - 1
_TARGET_ENUM = "__vmgen_target"

# VMGEN_EXTERNAL(kind): the scalar a user-supplied visitor visits.
_EXTERNAL_KINDS: dict[str, ir.IntType | ir.BoolType | ir.FloatType] = {
    **{t.visitor: t for t in _STDINT.values()},
    "bool": ir.BoolType(),
    "float": ir.FloatType("float", 32),
    "double": ir.FloatType("double", 64),
}


_NO_ANNOTATIONS: Mapping[str, Annotation] = MappingProxyType({})
# `_raw(RawField, (field, anns))`: `RawField(field, anns)` without the named
# tuple's Python-level `__new__`.
_raw = tuple.__new__


def _elements(t: ir.WireType) -> int:
    """How many scalar elements one value of `t` holds across its array dimensions."""
    if isinstance(t, ir.ArrayType):
        return t.length * _elements(t.element)
    if isinstance(t, ir.BytesType):
        return t.length
    return 1


class _AlreadyReported(Exception):
    """A field whose problem was reported elsewhere (e.g. at its type's typedef)."""


@dataclass
class _Tables:
    typedefs: dict[str, c_ast.Node] = field(default_factory=dict)  # name -> Typedef.type
    structs: dict[str, c_ast.Struct] = field(default_factory=dict)  # tag -> definition
    unions: dict[str, c_ast.Union] = field(default_factory=dict)  # tag -> definition
    enums: dict[str, c_ast.Enum] = field(default_factory=dict)  # tag -> definition
    typedef_of: dict[int, str] = field(default_factory=dict)  # id(definition) -> typedef name
    constants: dict[str, int] = field(default_factory=dict)  # enumerator -> value
    enum_errors: dict[int, VmgenError] = field(default_factory=dict)
    definitions: list[c_ast.Struct | c_ast.Enum] = field(default_factory=list)
    union_definitions: list[c_ast.Union] = field(default_factory=list)


def _name_location(node: c_ast.Node, default: c_ast.Node | Location) -> Location:
    """Where a declarator chain names its identifier (a compiler points there, not
    at a '*' or '('); `default` when it names none."""
    n: c_ast.Node | None = node
    while n is not None:
        if isinstance(n, c_ast.TypeDecl):
            return location_of(n)
        n = getattr(n, "type", None)
    return default if isinstance(default, Location) else location_of(default)


class Lowerer:
    def __init__(self, parsed: Parsed, options: Options, sidecar: Sidecar | None = None) -> None:
        self.parsed = parsed
        self.options = options
        self.sidecar = sidecar
        self.externals: dict[str, ir.ExternalType] = {}
        self.broken_externals: set[str] = set()
        self.aliases: dict[str, tuple[str, ...]] = {}  # struct/union name -> its tag
        self.enums_by_name: dict[str, ir.Enum] = {}
        self.unions: dict[int, ir.Union] = {}
        self.vmsds: dict[int, str] = {}  # id(struct definition) -> VMGEN_VMSD name (run)
        self.current_struct = ""
        self.current_field = ""
        self.t = _Tables()
        self.sink = DiagnosticSink()
        self.target = ir.Target(8, True, 2, 4, 8, 8)
        self.folder = Folder(self.t.constants, self._sizeof, self._cast)
        self.structs: dict[int, ir.Struct] = {}  # id(definition) -> lowered
        self.order: list[ir.Struct] = []
        self.enums: dict[int, ir.Enum] = {}
        self.in_progress: set[int] = set()
        # After `collect`, what a type name resolves to never changes: the
        # successful resolutions of type names, and which typedefs are unions.
        self.final = False
        self.resolved_names: dict[tuple[str, ...], ir.WireType] = {}
        self.union_typedefs: dict[str, bool] = {}
        # What `_plain_field` found for a type name, and for literal sizes of one.
        self.plain_names: dict[tuple[str, ...], tuple[ir.WireType, str]] = {}
        self.plain_arrays: dict[tuple[str, ...], tuple[ir.WireType, str]] = {}

    def close(self) -> None:
        """Drop the folder, whose callbacks point back here: without that cycle,
        the AST goes as soon as the caller lets go of it, instead of waiting for
        the cyclic collector to trace all of it."""
        del self.folder

    # ---- collecting definitions -------------------------------------------------

    def collect(self) -> None:
        for ext in self.parsed.ast.ext:
            if isinstance(ext, c_ast.Typedef):
                self.t.typedefs[ext.name] = ext.type
                self._collect_type(ext.type, typedef=ext.name)
                self._read_external(ext)
            elif isinstance(ext, c_ast.Decl):
                self._collect_type(ext.type, typedef=None)
        self._read_target()
        # The tables are complete: resolutions from now on may be remembered.
        self.final = True

    def _collect_type(self, node: c_ast.Node | None, typedef: str | None) -> None:
        n = node
        while n is not None:
            if isinstance(n, (c_ast.Struct, c_ast.Union)):
                if n.decls is not None:
                    if isinstance(n, c_ast.Struct):
                        if n.name is not None:
                            self.t.structs[n.name] = n
                        self.t.definitions.append(n)
                    else:
                        if n.name is not None:
                            self.t.unions[n.name] = n
                        self.t.union_definitions.append(n)
                    for member in n.decls:
                        if isinstance(member, c_ast.Decl):
                            inner = member.type
                            while type(inner) is c_ast.ArrayDecl:
                                inner = inner.type
                            # A plain `T name;` or `T name[N];` member defines nothing:
                            # the common case.
                            if (type(inner) is c_ast.TypeDecl
                                    and type(inner.type) is c_ast.IdentifierType):
                                continue
                            self._collect_type(member.type, typedef=None)
                target: c_ast.Node | None = (
                    self._struct_def(n) if isinstance(n, c_ast.Struct)
                    else n if n.decls is not None else self.t.unions.get(n.name or "")
                )
                if typedef is not None and target is not None:
                    self.t.typedef_of.setdefault(id(target), typedef)
                return
            if isinstance(n, c_ast.Enum):
                if n.values is not None:
                    if n.name is not None:
                        self.t.enums[n.name] = n
                    self.t.definitions.append(n)
                    self._fold_enumerators(n)
                target_enum = self._enum_def(n)
                if typedef is not None and target_enum is not None:
                    self.t.typedef_of.setdefault(id(target_enum), typedef)
                return
            if not isinstance(n, c_ast.TypeDecl):
                # pointers, arrays, functions: a typedef of these names no struct
                typedef = None
            n = getattr(n, "type", None)

    def _fold_enumerators(self, enum: c_ast.Enum) -> None:
        value = -1
        for e in enum.values.enumerators:
            try:
                what = f"the value of '{e.name}'"
                value = self.folder.fold(e.value, what) if e.value else value + 1
            except VmgenError as exc:
                # Only an error if a migrated field uses this enum.
                self.t.enum_errors.setdefault(id(enum), exc)
                return
            self.t.constants[e.name] = value

    def _read_target(self) -> None:
        enum = self.t.enums.get(_TARGET_ENUM)
        if enum is None:
            raise VmgenError.at(None, "the target probe header was not read (internal error)")
        c = self.t.constants
        self.target = ir.Target(
            char_bits=c["__vmgen_char_bit"],
            char_signed=bool(c["__vmgen_char_signed"]),
            sizeof_short=c["__vmgen_sizeof_short"],
            sizeof_int=c["__vmgen_sizeof_int"],
            sizeof_long=c["__vmgen_sizeof_long"],
            sizeof_long_long=c["__vmgen_sizeof_long_long"],
        )

    def _struct_def(self, node: c_ast.Struct) -> c_ast.Struct | None:
        if node.decls is not None:
            return node
        return self.t.structs.get(node.name) if node.name else None

    def _enum_def(self, node: c_ast.Enum) -> c_ast.Enum | None:
        if node.values is not None:
            return node
        return self.t.enums.get(node.name) if node.name else None

    def _cast(self, node: c_ast.Node) -> tuple[int, bool] | None:
        if isinstance(node, c_ast.Typename):
            try:
                t = self._resolve(node.type, set())
            except (FieldError, _AlreadyReported):
                return None
            if isinstance(t, ir.IntType):
                return t.bits, t.signed
        return None

    def _sizeof(self, node: c_ast.Node) -> int | None:
        if isinstance(node, c_ast.Typename):
            try:
                t = self._resolve(node.type, set())
            except FieldError:
                return None
            if isinstance(t, (ir.IntType, ir.FloatType)):
                return t.bits // self.target.char_bits
            if isinstance(t, ir.BoolType):
                return 1
        return None

    # ---- lowering ---------------------------------------------------------------

    def run(self) -> ir.Module:
        """The module (partial where fields failed); the problems are in `self.sink`."""
        self.collect()
        states: list[tuple[c_ast.Struct, Annotation]] = []
        for definition in self.t.definitions:
            if not isinstance(definition, c_ast.Struct):
                continue
            try:
                anns = self._struct_annotations(definition)
            except VmgenError as exc:
                self.sink.extend(exc)
                continue
            for a in anns:
                if a.kind == "state":
                    states.append((definition, a))
                elif a.kind == "vmsd":
                    try:
                        self.vmsds[id(definition)] = string_arg(a, "the name")
                    except VmgenError as exc:
                        self.sink.extend(exc)
                else:
                    self.sink.error(a.location, f"{a.macro} belongs on a field, not on a struct")
        for u in self.t.union_definitions:
            for a in on_type(u):
                if a.kind in ("state", "vmsd"):
                    self.sink.error(a.location, f"{a.macro} belongs on a struct, not on a union")
        if not states and not self.sink.items:
            self.sink.error(
                Location(self.parsed.header, 0, 0),
                "no device state: mark a struct with VMGEN_STATE(version, minimum_version)",
            )
        for definition, ann in states:
            self._lower_struct(definition, ann)
        if self.sidecar is not None:
            for loc, message in self.sidecar.unused():
                self.sink.error(loc, message)
        return ir.Module(
            source=self.parsed.header,
            include=include_name(self.parsed.header, self.options.include_dirs),
            stem=Path(self.parsed.header).stem,
            structs=tuple(self.order),
            enums=tuple(self.enums.values()),
            unions=tuple(self.unions.values()),
            dependencies=self.parsed.dependencies,
            target=self.target,
        )

    def _struct_annotations(self, definition: c_ast.Struct) -> list[Annotation]:
        """A struct's own annotations: the header's and the annotations file's (by
        typedef name or by tag)."""
        anns = on_type(definition)
        if self.sidecar is not None:
            names = [n for n in (self.t.typedef_of.get(id(definition)), definition.name) if n]
            for n in names:
                anns = self.sidecar.merge(anns, self.sidecar.struct(n))
        return anns

    def _subsection(self, a: Annotation, wire: ir.WireType, label: str,
                    spelled: str) -> ir.Subsection:
        version = self.folder.fold(a.args[0], "the version of VMGEN_SUBSECTION")
        minimum = self.folder.fold(a.args[1], "the minimum version of VMGEN_SUBSECTION")
        needed = identifier_arg(a, "needed", 2)
        if not 0 <= minimum <= version <= 0xFFFFFFFF:
            raise FieldError(a.location, f"VMGEN_SUBSECTION on {label}: versions {version} "
                              f"(minimum {minimum}) must satisfy 0 <= minimum <= version < 2^32")
        inner = (self._struct_named(wire.name) if isinstance(wire, ir.StructRef) else None)
        if inner is None or inner.vmsd is None:
            raise FieldError(a.location, f"VMGEN_SUBSECTION on {label} ({spelled}): a "
                              "subsection is a member struct with its own VMGEN_VMSD (its name)")
        return ir.Subsection(version, minimum, needed)

    def _struct_named(self, name: str) -> ir.Struct | None:
        return next((s for s in self.order if s.name == name), None)

    def _layout(self, context: str, raw: list[RawField],
                fields: list[ir.Field]) -> tuple[ir.Field, ...]:
        """The legacy stream's order (VMGEN_VMSD): declaration order, each count before
        its array and each discriminator before its union; then the subsections."""
        by_name = {f.name: f for f in fields}
        items = [by_name[r.field.name] for r in raw]
        presence = {f.subsection.needed for f in items if f.subsection is not None}
        for i, f in enumerate(items):
            if f.subsection is None or f.subsection.needed not in by_name:
                continue
            flag = by_name[f.subsection.needed]
            if not isinstance(flag.type, ir.BoolType) or flag.since is not None:
                self.sink.error(f.location, f"VMGEN_SUBSECTION on '{f.name}': '{flag.name}' "
                                "says whether the subsection is there: a bool field without "
                                "VMGEN_SINCE (or name a function bool needed(void *))", context)
            items[i] = replace(f, subsection=replace(f.subsection, by_field=True))
        items = [f for f in items if (f.type is not None or f.unused is not None)
                 and f.name not in presence]
        items = ([f for f in items if f.subsection is None]
                 + [f for f in items if f.subsection is not None])
        self._check_order(context, items)
        return tuple(items)

    def _check_order(self, context: str, items: list[ir.Field]) -> None:
        """With VMGEN_VMSD a count travels where it is placed, before its array, and a
        discriminator before its union."""
        position = {f.name: i for i, f in enumerate(items)}
        for i, f in enumerate(items):
            t = f.type
            if isinstance(t, (ir.ArrayType, ir.BytesType)) and t.count is not None:
                if position.get(t.count.field, -1) > i:
                    self.sink.error(f.location, f"'{f.name}' is sized by '{t.count.field}', "
                                    "which is declared after it: with VMGEN_VMSD the count "
                                    "travels where it is declared, so declare it first",
                                    context)
                elif not t.count.fixed:
                    self.sink.error(f.location, f"'{f.name}': with VMGEN_VMSD a sized array "
                                    "needs a fixed capacity (an array member, not a pointer)",
                                    context)
            if f.selector is not None and position.get(f.selector, -1) > i:
                self.sink.error(f.location, f"the union '{f.name}' is selected by "
                                f"'{f.selector}', which is declared after it: with VMGEN_VMSD "
                                "the discriminator must come first", context)

    def _layout_spec(self, definition: c_ast.Struct, name: str
                     ) -> tuple[tuple[LayoutEntry, ...] | None, tuple[GroupSpec, ...]]:
        """The annotations file's ``layout`` and ``[[S.subsections]]`` of a struct (by
        its typedef name or by its tag)."""
        if self.sidecar is None:
            return None, ()
        spec: tuple[LayoutEntry, ...] | None = None
        groups: tuple[GroupSpec, ...] = ()
        for n in dict.fromkeys(x for x in (name, definition.name) if x):
            spec = spec or self.sidecar.layout(n)
            groups = groups or self.sidecar.subsections(n)
        return spec, groups

    def _spec_layout(self, context: str, definition: c_ast.Struct, struct: str,
                     fields: list[ir.Field], spec: tuple[LayoutEntry, ...] | None,
                     groups: tuple[GroupSpec, ...]
                     ) -> tuple[tuple[ir.Field, ...], list[ir.Field]]:
        """The legacy stream's order as the annotations file lists it: its ``layout``
        (members, member paths, padding), the VMGEN_SUBSECTION members, then the
        subsection groups.  Every migrated member must be placed: a member added to
        the struct and left out of the table is an error, not a silent change."""
        by_name = {f.name: f for f in fields}
        placed: dict[str, Location] = {}
        extra: list[ir.Field] = []

        def entries(items: tuple[LayoutEntry, ...]) -> list[ir.Field]:
            out = []
            for e in items:
                if e.unused is not None:
                    out.append(ir.Field("unused", "", None, e.location, since=e.since,
                                        unused=e.unused))
                    continue
                assert e.name is not None
                if e.name in placed:
                    self.sink.error(e.location, f"'{e.name}' is in the layout of '{struct}' "
                                    "twice", context)
                    continue
                f = by_name.get(e.name)
                if f is None and ("[" in e.name or "." in e.name):
                    try:
                        f = self._path_field(definition, struct, e)
                    except FieldError as exc:
                        self.sink.error(exc.location, exc.message, context)
                        continue
                    except VmgenError as exc:
                        self.sink.extend(exc)
                        continue
                    extra.append(f)
                if f is None:
                    self.sink.error(e.location, f"'{e.name}' in the layout of '{struct}' is "
                                    "not one of its members", context)
                    continue
                if f.type is None and f.unused is None:
                    self.sink.error(e.location, f"'{e.name}' is in the layout of '{struct}' "
                                    "but marked skip", context)
                    continue
                placed[e.name] = e.location
                out.append(f)
            return out

        items = entries(spec or ())
        items = ([f for f in items if f.subsection is None]
                 + [f for f in items if f.subsection is not None])
        for g in groups:
            members = entries(g.layout)
            by_field = g.needed in by_name
            if by_field:
                flag = by_name[g.needed]
                if not isinstance(flag.type, ir.BoolType) or flag.since is not None:
                    self.sink.error(g.location, f"subsection '{g.vmsd}': '{flag.name}' says "
                                    "whether the subsection is there: a bool field without "
                                    "since (or name a function bool needed(void *))", context)
                placed.setdefault(g.needed, g.location)
            sub = ir.Subsection(g.version, g.minimum, g.needed, by_field, g.vmsd,
                                tuple(members))
            items.append(ir.Field(g.vmsd, "", None, g.location, subsection=sub))
        for f in items:
            if f.subsection is not None and f.subsection.fields is None and \
                    f.subsection.needed in by_name:
                flag = by_name[f.subsection.needed]
                placed.setdefault(flag.name, f.location)
                items[items.index(f)] = replace(f, subsection=replace(f.subsection,
                                                                      by_field=True))
        for f in fields:
            if f.type is not None and f.name not in placed:
                self.sink.error(f.location, f"'{f.name}' of '{struct}' is migrated but not in "
                                "its layout: list it in the annotations file's layout (or a "
                                "subsection), or mark it skip", context)
        flat = [g for f in items for g in ((f,) if f.subsection is None
                                           or f.subsection.fields is None
                                           else f.subsection.fields)]
        self._check_order(context, flat)
        return tuple(items), extra

    def _path_field(self, definition: c_ast.Struct, struct: str, e: LayoutEntry) -> ir.Field:
        """The field a layout's member path names (``channels[0].irq_disabled``): the
        member it reaches, lowered with the annotations file's entry for the path (the
        member's own annotations belong to its struct's layout)."""
        assert e.name is not None
        steps = re.findall(r"\.?([A-Za-z_]\w*)|\[(\d+)\]", e.name)
        node: c_ast.Node | None = None
        decl: c_ast.Decl | None = None
        where: c_ast.Struct | None = definition
        for member, index in steps:
            if member:
                if node is not None:
                    where = self._path_struct(node)
                if where is None:
                    raise FieldError(e.location, f"'{e.name}' in the layout of '{struct}': "
                                      f"'{member}' follows something that is not a struct")
                decl = next((d for d in where.decls or () if isinstance(d, c_ast.Decl)
                             and d.name == member), None)
                if decl is None:
                    raise FieldError(e.location, f"'{e.name}' in the layout of '{struct}': "
                                      f"no member '{member}'")
                node = decl.type
            else:
                if not isinstance(node, c_ast.ArrayDecl):
                    raise FieldError(e.location, f"'{e.name}' in the layout of '{struct}': "
                                      f"[{index}] follows something that is not an array")
                length = self.folder.fold(node.dim, "an array length") if node.dim else 0
                if int(index) >= length:
                    raise FieldError(e.location, f"'{e.name}' in the layout of '{struct}': "
                                      f"index {index} is outside the array of {length}")
                node = node.type
        assert decl is not None and node is not None
        leaf = c_ast.Decl(e.name, decl.quals, decl.align, decl.storage, decl.funcspec, node,
                          None, decl.bitsize, coord=decl.coord)
        raw = self._lower_field(leaf, struct, own=False)
        f = raw.field
        if f.type is None or f.unused is not None or f.subsection is not None or \
                any(k in raw.anns for k in ("size_is", "union")):
            raise FieldError(e.location, f"'{e.name}' in the layout of '{struct}': a member "
                              "path names one plain member (not skipped, padding, a subsection, "
                              "a sized array or a union)")
        return f

    def _path_struct(self, node: c_ast.Node) -> c_ast.Struct | None:
        """The struct definition a member's type names, through typedefs."""
        seen: set[str] = set()
        while isinstance(node, c_ast.TypeDecl):
            node = node.type
            if isinstance(node, c_ast.IdentifierType) and len(node.names) == 1:
                name = node.names[0]
                if name in seen or name not in self.t.typedefs:
                    return None
                seen.add(name)
                node = self.t.typedefs[name].type
        return self._struct_def(node) if isinstance(node, c_ast.Struct) else None

    def _struct_name(self, definition: c_ast.Struct) -> tuple[str, str]:
        typedef = self.t.typedef_of.get(id(definition))
        if typedef is not None:
            return typedef, typedef
        if definition.name is not None:
            return definition.name, f"struct {definition.name}"
        return f"{self.current_struct}_{self.current_field}", ""

    def _lower_struct(self, definition: c_ast.Struct, state: Annotation | None) -> str:
        """Lower `definition` (once) and return its IR name."""
        key = id(definition)
        if key in self.structs:
            return self.structs[key].name
        name, c_type = self._struct_name(definition)
        if definition.name is not None:
            self.aliases[name] = (definition.name,)
        self.in_progress.add(key)
        context = f"In struct '{name}':"
        errors = len(self.sink.items)
        raw: list[RawField] = []
        vmsd = self.vmsds.get(id(definition))
        self._lower_members(definition, name, context, raw)
        fields = link(name, context, raw, self.sink, self._union_named, self.enums_by_name,
                      vmstate=vmsd is not None)
        state_info = None
        if state is not None:
            state_info = self._state_info(state, name)
        spec, groups = self._layout_spec(definition, name)
        if (spec is not None or groups) and vmsd is None:
            where = spec[0].location if spec else groups[0].location
            self.sink.error(where, f"a layout for '{name}', which has no vmsd (the "
                            "VMStateDescription its legacy stream follows)", context)
            spec, groups = None, ()
        if vmsd is None:
            layout = None
        elif spec is None and not groups:
            layout = self._layout(context, raw, fields)
        else:
            layout, extra = self._spec_layout(context, definition, name, fields, spec, groups)
            fields = wire_order([*fields, *extra]) if extra else fields
        if vmsd is None:
            for f in fields:
                if f.subsection is not None:
                    self.sink.error(f.location, f"VMGEN_SUBSECTION on '{f.name}': the struct "
                                    "needs VMGEN_VMSD (subsections are part of a VMState "
                                    "layout)", context)
        lowered = ir.Struct(name, c_type, tuple(fields), location_of(definition), state_info,
                            vmsd, layout)
        if len(self.sink.items) == errors and not lowered.wire:
            self.sink.error(
                lowered.location,
                f"struct '{name}' has no migrated fields (every field is VMGEN_SKIP)",
            )
        self.in_progress.discard(key)
        self.structs[key] = lowered
        self.order.append(lowered)
        return name

    def _lower_members(
        self, definition: c_ast.Struct, struct: str, context: str, out: list[RawField]
    ) -> None:
        """Lower the members of `definition` into `out`; anonymous struct members
        are flattened (C11 lets their members be named directly)."""
        plain, append = self._plain_field, out.append
        for member in definition.decls or ():
            if not isinstance(member, c_ast.Decl):
                continue
            try:
                found = plain(member, struct)  # None for an anonymous member too
                if found is not None:
                    append(found)
                    continue
                if member.name is None:
                    anonymous = self._anonymous_struct(member)
                    if anonymous is not None:
                        self._lower_members(anonymous, struct, context, out)
                        continue
                append(self._lower_field(member, struct))
            except _AlreadyReported:
                pass
            except FieldError as exc:
                self.sink.error(exc.location, exc.message, context)
            except VmgenError as exc:
                self.sink.items.extend(replace(d, context=d.context or context)
                                       for d in exc.diagnostics)

    def _anonymous_struct(self, decl: c_ast.Decl) -> c_ast.Struct | None:
        if decl.name is not None:
            return None
        spec = decl.type
        anns = self._annotations(decl, None, None)
        if isinstance(spec, c_ast.AttributedType):  # struct { ... } VMGEN_X;
            anns += _read_attributes(spec)
            spec = spec.type
        if isinstance(spec, c_ast.TypeDecl):
            spec = spec.type
        if isinstance(spec, c_ast.Struct) and spec.decls is not None:
            if anns:
                raise FieldError(
                    anns[0].location,
                    f"{anns[0].macro} on an anonymous struct member: annotate its fields",
                )
            return spec
        if isinstance(spec, c_ast.Union):
            raise FieldError(
                location_of(decl),
                "anonymous union members are not supported: name the member and mark it "
                "VMGEN_UNION(discriminator)",
            )
        raise FieldError(location_of(decl), "anonymous members are not supported: name it")

    def _state_info(self, ann: Annotation, name: str) -> ir.StateInfo | None:
        try:
            version = self.folder.fold(ann.args[0], "the version")
            minimum = self.folder.fold(ann.args[1], "the minimum version")
        except VmgenError as exc:
            self.sink.extend(exc)
            return None
        for label, v in (("version", version), ("minimum version", minimum)):
            if not 0 <= v <= 0xFFFFFFFF:
                self.sink.error(ann.location, f"'{name}': {label} {v} is outside 0..4294967295")
                return None
        if minimum > version:
            self.sink.error(
                ann.location,
                f"'{name}': minimum version {minimum} is above the version {version}",
            )
            return None
        return ir.StateInfo(version, minimum, ann.location)

    def _annotations(
        self, decl: c_ast.Decl, struct: str | None, field_name: str | None, own: bool = True
    ) -> list[Annotation]:
        """A member's annotations: the header's and the annotations file's, which
        may name the struct by its typedef name or by its tag."""
        anns = on_declaration(decl) if own else []
        if self.sidecar is not None and struct is not None and field_name is not None:
            for alias in dict.fromkeys((struct, *self.aliases.get(struct, ()))):
                anns = self.sidecar.merge(anns, self.sidecar.field(alias, field_name))
        return anns

    def _lower_field(self, decl: c_ast.Decl, struct: str, own: bool = True) -> RawField:
        """`own`: the header's annotations on `decl` apply (not for a member path, whose
        member's annotations speak of its own struct's layout)."""
        # Point at the member's name, as a compiler does (the Decl points at a '*').
        loc = _name_location(decl.type, decl)
        if decl.name is None:
            raise FieldError(loc, "anonymous members are not supported: name it")
        label = f"field '{decl.name}'"
        anns = self._annotations(decl, struct, decl.name, own)
        by_kind: dict[str, Annotation] = {}
        for a in anns:
            if a.kind in ("state", "external", "vmsd"):
                raise FieldError(a.location, f"{a.macro} does not belong on {label}")
            if a.kind == "case":
                raise FieldError(a.location, f"VMGEN_CASE belongs on a union member, not on "
                                  f"{label} of a struct")
            if a.kind in by_kind:
                raise FieldError(a.location, f"{a.macro} given twice on {label}")
            by_kind[a.kind] = a
        spelled = self._spell(decl.type)
        if "skip" in by_kind:
            others = [a for k, a in by_kind.items() if k != "skip"]
            if others:
                raise FieldError(others[0].location,
                                  f"{others[0].macro} on {label}, which is VMGEN_SKIP")
            return RawField(ir.Field(decl.name, spelled, None, loc), by_kind)
        if "unused" in by_kind:
            others = [a for k, a in by_kind.items() if k not in ("unused", "since")]
            if others:
                raise FieldError(others[0].location,
                                  f"{others[0].macro} on {label}, which is VMGEN_UNUSED")
        if "visitor" in by_kind:
            others = [a for k, a in by_kind.items() if k not in ("visitor", "since")]
            if others:
                raise FieldError(others[0].location,
                                  f"{others[0].macro} on {label}, which has VMGEN_VISITOR")
            ext = self._visitor(by_kind["visitor"], spelled)
            since = None
            if "since" in by_kind:
                since = self._since(by_kind["since"], label)
            return RawField(ir.Field(decl.name, spelled, ext, loc, since=since), by_kind)
        const = False
        node: c_ast.Node | None = decl.type
        while node is not None:
            if "const" in getattr(node, "quals", ()):
                const = True
                break
            node = getattr(node, "type", None)
        bit_width = None
        if decl.bitsize is not None:
            bit_width = self.folder.fold(decl.bitsize, f"the width of bit-field '{decl.name}'")
        self.current_struct, self.current_field = struct, decl.name
        if self._is_union(decl.type, set()) and "union" not in by_kind:
            raise FieldError(
                loc, f"{label} ({spelled}): a union needs VMGEN_UNION(field) naming the field "
                "that selects its member, and VMGEN_CASE(value, ...) on each member; or mark "
                "it VMGEN_SKIP",
            )
        try:
            wire = self._resolve(decl.type, set(), sized="size_is" in by_kind)
            wire = self._apply(wire, by_kind, bit_width, loc)
        except FieldError as exc:
            where = exc.location if exc.location.line > 0 else loc
            raise FieldError(where, f"{label} ({spelled}): {exc.message}") from None
        since = None
        if "since" in by_kind:
            since = self._since(by_kind["since"], label)
        if "unused" in by_kind:
            if not isinstance(wire, ir.BytesType) or wire.count is not None:
                raise FieldError(by_kind["unused"].location,
                                  f"VMGEN_UNUSED on {label} ({spelled}): padding is an array "
                                  "of uint8_t or char")
            return RawField(ir.Field(decl.name, spelled, None, loc, since=since,
                                     unused=wire.length), by_kind)
        if const and not isinstance(wire, (ir.IntType, ir.EnumRef, ir.BoolType)):
            raise FieldError(
                loc, f"{label} ({spelled}): const is supported on integer, enum and bool "
                "fields (a load checks the value in place); mark it VMGEN_SKIP"
            )
        if "equal" in by_kind:
            if not isinstance(wire, (ir.IntType, ir.EnumRef, ir.BoolType)):
                raise FieldError(by_kind["equal"].location,
                                  f"VMGEN_EQUAL on {label} ({spelled}): applies to integer, "
                                  "enum and bool fields")
            const = True
        subsection = None
        if "subsection" in by_kind:
            subsection = self._subsection(by_kind["subsection"], wire, label, spelled)
        positive_le = "positive_le" in by_kind
        if positive_le:
            where = by_kind["positive_le"].location
            if not isinstance(wire, ir.IntType) or not wire.signed or wire.ranged:
                raise FieldError(where, f"VMGEN_POSITIVE_LE on {label} ({spelled}): applies "
                                  "to signed integers without a range or bit width")
            if const:
                raise FieldError(where, f"VMGEN_POSITIVE_LE on {label} ({spelled}), which must "
                                  "equal the value in place already (const or VMGEN_EQUAL)")
        return RawField(
            ir.Field(decl.name, spelled, wire, loc, since=since, bit_width=bit_width,
                     const=const, positive_le=positive_le, subsection=subsection),
            by_kind,
        )

    def _since(self, a: Annotation, label: str) -> int:
        since = self.folder.fold(a.args[0], "the version of VMGEN_SINCE")
        if not 0 <= since <= 0xFFFFFFFF:
            raise FieldError(a.location, f"VMGEN_SINCE({since}) on {label}: outside "
                              "0..4294967295")
        return since

    def _visitor(self, a: Annotation, spelled: str) -> ir.ExternalType:
        """VMGEN_VISITOR(name, kind): the member travels as one value of `kind` (a
        VMGEN_EXTERNAL kind, or bytes(N)) through ``visit_type_<name>``."""
        name, kind = a.args
        wire: ir.IntType | ir.BoolType | ir.FloatType | ir.BytesType | None = None
        if isinstance(kind, c_ast.ID):
            wire = _EXTERNAL_KINDS.get(kind.name)
        elif (isinstance(kind, c_ast.FuncCall) and isinstance(kind.name, c_ast.ID)
              and kind.name.name == "bytes" and kind.args is not None
              and len(kind.args.exprs) == 1):
            n = self.folder.fold(kind.args.exprs[0], "the length of bytes(N)")
            if not 0 < n <= 0xFFFFFFFF:
                raise FieldError(a.location, f"VMGEN_VISITOR: bytes({n}) must be 1 to "
                                  "4294967295 bytes")
            wire = ir.BytesType(n)
        if not isinstance(name, c_ast.ID) or wire is None:
            raise FieldError(a.location, "VMGEN_VISITOR(name, kind): name is the visitor's "
                              "(visit_type_<name>), kind is bytes(N) or one of "
                              + ", ".join(_EXTERNAL_KINDS))
        return ir.ExternalType(name.name, wire, pointer=False, c_type=spelled)

    def _plain_field(self, decl: c_ast.Decl, struct: str) -> RawField | None:
        """`T name;` or `T name[N]...;` of a type name resolved before, without
        annotations or a bit width: what `_lower_field` makes of it, in fewer
        steps; None for anything else and for anything `_lower_field` refuses."""
        if decl.bitsize is not None or decl.attributes or self.sidecar is not None:
            return None
        t = decl.type
        if type(t) is c_ast.TypeDecl:  # `T name;`
            spec = t.type
            if type(spec) is not c_ast.IdentifierType or t.attributes or decl.name is None:
                return None
            plain = self.plain_names.get(tuple(spec.names))
            if plain is None:
                plain = self._plain_name(spec.names, struct, decl.name)
                if plain is None:
                    return None
            else:
                self.current_struct, self.current_field = struct, decl.name
            wire, spelled = plain
        else:
            arrays = self._plain_array(decl, struct)
            if arrays is None:
                return None
            wire, spelled, t = arrays
        const = "const" in t.quals
        if const and not isinstance(wire, (ir.IntType, ir.EnumRef, ir.BoolType)):
            return None
        return _raw(RawField, (ir.plain_field(decl.name, spelled, wire, location_of(t), const),
                                _NO_ANNOTATIONS))

    def _plain_name(self, names: list[str], struct: str,
                    name: str) -> tuple[ir.WireType, str] | None:
        """The wire type and spelling of a plain field's type name, or None where
        `_lower_field` has more to say; remembered once found (`plain_names`)."""
        wire = self.resolved_names.get(tuple(names))
        if wire is None or isinstance(wire, ir.UnionRef):
            return None
        self.current_struct, self.current_field = struct, name
        if (len(names) == 1 and names[0] in self.t.typedefs
                and self.union_typedefs.get(names[0]) is not False):
            return None  # a union (or not known yet): `_lower_field` says what it needs
        # After `collect`, neither the resolution nor the union check changes.
        found = self.plain_names[tuple(names)] = (wire, " ".join(names))
        return found

    def _plain_array(self, decl: c_ast.Decl,
                     struct: str) -> tuple[ir.WireType, str, c_ast.TypeDecl] | None:
        """`T name[N]...;`: its wire type, spelling and innermost declarator, or None;
        remembered (`plain_arrays`) where every size is a literal."""
        t = decl.type
        key: list[str] | None = []
        while type(t) is c_ast.ArrayDecl:
            if t.attributes:
                return None
            if key is not None:
                if type(t.dim) is c_ast.Constant:
                    key.append(t.dim.value)
                else:
                    key = None  # a size to fold each time
            t = t.type
        if type(t) is not c_ast.TypeDecl or t.attributes or decl.name is None:
            return None
        spec = t.type
        if type(spec) is not c_ast.IdentifierType:
            return None
        names = spec.names
        if key is not None:
            key += names
            key.append(str(len(names)))  # sizes, names and how many names: one spelling
            known = self.plain_arrays.get(tuple(key))
            if known is not None:
                self.current_struct, self.current_field = struct, decl.name
                return known[0], known[1], t
        wire = self.resolved_names.get(tuple(names))
        if wire is None or isinstance(wire, ir.UnionRef):
            return None
        # In `_lower_field`'s order: spelling folds the sizes (which may lower a
        # struct, named after the current field) before the field is current.
        spelled = self._spell(decl.type)
        self.current_struct, self.current_field = struct, decl.name
        try:
            wire = self._resolve(decl.type, set())
        except (FieldError, _AlreadyReported, VmgenError):
            return None  # reported by `_lower_field`
        if key is not None:
            # Literal sizes and a resolved type name: the same wire type every time.
            self.plain_arrays[tuple(key)] = (wire, spelled)
        return wire, spelled, t

    def _apply(
        self, wire: ir.WireType, anns: dict[str, Annotation], bit_width: int | None,
        loc: Location,
    ) -> ir.WireType:
        """`wire` with the field's annotations (size, range, string, union) applied."""
        if not anns and bit_width is None and not isinstance(wire, ir.UnionRef):
            return wire
        if "size_is" in anns:
            if not isinstance(wire, (ir.ArrayType, ir.BytesType)):
                raise FieldError(anns["size_is"].location,
                                  "VMGEN_SIZE_IS applies to arrays and pointers")
            name = identifier_arg(anns["size_is"], "the count")
            assert wire.count is not None
            wire = replace(wire, count=replace(wire.count, field=name))
        if bit_width is not None:
            if not isinstance(wire, (ir.IntType, ir.EnumRef, ir.BoolType)):
                raise FieldError(loc, "bit-fields must be integers, enums or bool")
            if isinstance(wire, ir.IntType):
                if not 0 < bit_width <= wire.bits:
                    raise FieldError(loc, f"bit-field width {bit_width} is outside "
                                      f"1..{wire.bits}")
                lo = -(1 << (bit_width - 1)) if wire.signed else 0
                hi = (1 << (bit_width - 1)) - 1 if wire.signed else (1 << bit_width) - 1
                wire = replace(wire, lo=lo, hi=hi)
        if "range" in anns:
            a = anns["range"]
            lo = self.folder.fold(a.args[0], "the low end of VMGEN_RANGE")
            hi = self.folder.fold(a.args[1], "the high end of VMGEN_RANGE")
            wire = self._ranged(wire, lo, hi, a)
        if "string" in anns:
            wire = self._stringed(wire, anns["string"])
        if "union" in anns and not isinstance(wire, ir.UnionRef):
            raise FieldError(anns["union"].location, "VMGEN_UNION belongs on a union field")
        if isinstance(wire, ir.UnionRef) and "union" not in anns:
            raise FieldError(
                loc,
                "a union needs VMGEN_UNION(field) naming the field that selects its member, "
                "and VMGEN_CASE(value, ...) on each member; or mark it VMGEN_SKIP",
            )
        return wire

    def _ranged(self, wire: ir.WireType, lo: int, hi: int, a: Annotation) -> ir.WireType:
        if isinstance(wire, ir.ArrayType):
            return replace(wire, element=self._ranged(wire.element, lo, hi, a))
        if not isinstance(wire, ir.IntType):
            raise FieldError(a.location, "VMGEN_RANGE applies to integers (or arrays of them)")
        if lo > hi:
            raise FieldError(a.location, f"VMGEN_RANGE({lo}, {hi}) is empty")
        if lo < wire.min or hi > wire.max:
            raise FieldError(
                a.location,
                f"VMGEN_RANGE({lo}, {hi}) does not fit the type's range {wire.min}..{wire.max}",
            )
        return replace(wire, lo=lo, hi=hi)

    def _stringed(self, wire: ir.WireType, a: Annotation) -> ir.WireType:
        if isinstance(wire, ir.ArrayType):
            return replace(wire, element=self._stringed(wire.element, a))
        if isinstance(wire, ir.BytesType) and wire.count is not None:
            raise FieldError(a.location, "VMGEN_STRING cannot be combined with VMGEN_SIZE_IS "
                              "(a string ends at its NUL)")
        if isinstance(wire, ir.BytesType) and wire.count is None and wire.length >= 1:
            return ir.StringType(wire.length)
        raise FieldError(a.location, "VMGEN_STRING applies to char arrays")

    def _union_named(self, name: str) -> ir.Union:
        return next(u for u in self.unions.values() if u.name == name)

    # ---- resolving C types -----------------------------------------------------

    def _resolve(
        self, node: c_ast.Node, seen: set[str], sized: bool = False, top: bool = True
    ) -> ir.WireType:
        """The wire type of a declarator chain.  `sized`: VMGEN_SIZE_IS is on it,
        so a flexible array member or a pointer is an array of unknown capacity.
        `top`: `node` is the field's own declarator (not an element's)."""
        if isinstance(node, c_ast.TypeDecl):
            return self._resolve_specifier(node.type, seen)
        if isinstance(node, c_ast.Typename):
            return self._resolve(node.type, seen)
        if isinstance(node, c_ast.ArrayDecl):
            if node.dim is None:
                if not sized:
                    raise FieldError(location_of(node),
                                      "a flexible array member needs VMGEN_SIZE_IS(field)")
                return self._array(self._resolve(node.type, seen, top=False), 0, sized,
                                   fixed=False)
            length = self.folder.fold(node.dim, "the array size")
            if length <= 0:
                raise FieldError(location_of(node.dim), f"array size {length} is not positive")
            if length > _MAX_ELEMENTS:
                raise FieldError(location_of(node.dim), f"array size {length} is too large "
                                  f"(vmgen migrates at most {_MAX_ELEMENTS} elements)")
            return self._array(self._resolve(node.type, seen, top=False), length, sized,
                               fixed=True)
        if isinstance(node, c_ast.PtrDecl):
            external = self._external_pointee(node.type)
            if external is not None:
                return replace(external, pointer=True)
            data = not isinstance(node.type, (c_ast.PtrDecl, c_ast.FuncDecl))
            if sized and data and top:
                return self._array(self._resolve(node.type, seen, top=False), 0, sized,
                                   fixed=False, pointer=True)
            # Point at the declared name, not at the '*'.
            where = _name_location(node, node)
            hint = " (or VMGEN_SIZE_IS(count) for a buffer of count elements)" if (
                data and top) else ""
            raise FieldError(where, "pointers cannot be migrated: mark the field VMGEN_SKIP"
                              + hint)
        if isinstance(node, c_ast.FuncDecl):
            raise FieldError(_name_location(node, node),
                              "functions cannot be migrated: mark the field VMGEN_SKIP")
        raise FieldError(location_of(node), f"unsupported declarator ({type(node).__name__})")

    def _is_union(self, node: c_ast.Node | None, seen: set[str]) -> bool:
        """Whether a declarator chain declares a union (directly or through typedefs)."""
        if isinstance(node, c_ast.TypeDecl):
            spec = node.type
            if isinstance(spec, c_ast.Union):
                return True
            if isinstance(spec, c_ast.IdentifierType) and len(spec.names) == 1:
                name = spec.names[0]
                if name in self.t.typedefs and name not in seen:
                    known = self.union_typedefs.get(name)
                    if known is None:
                        known = self._is_union(self.t.typedefs[name], seen | {name})
                        if not seen:
                            self.union_typedefs[name] = known
                    return known
        return False

    def _array(self, element: ir.WireType, length: int, sized: bool, fixed: bool,
               pointer: bool = False) -> ir.WireType:
        """An array of `element`; the count field is filled in when fields are linked."""
        if isinstance(element, ir.UnionRef):
            raise FieldError(Location(self.parsed.header, 0, 0), "arrays of unions are not "
                              "supported (each element would need its own discriminator)")
        count = ir.Sizing("", fixed, pointer=pointer) if sized else None
        total = length * _elements(element)
        if total > _MAX_ELEMENTS:
            raise FieldError(Location(self.parsed.header, 0, 0), f"the array holds {total} "
                              f"elements in all; vmgen migrates at most {_MAX_ELEMENTS}")
        if isinstance(element, ir.IntType) and element.visitor in _BYTE_VISITORS:
            return ir.BytesType(length, count)
        return ir.ArrayType(element, length, count)

    def _external_pointee(self, node: c_ast.Node) -> ir.ExternalType | None:
        if isinstance(node, c_ast.TypeDecl) and isinstance(node.type, c_ast.IdentifierType):
            names = node.type.names
            if len(names) == 1 and names[0] in self.broken_externals:
                raise _AlreadyReported()
            if len(names) == 1 and names[0] in self.externals:
                return self.externals[names[0]]
        return None

    def _resolve_specifier(self, spec: c_ast.Node, seen: set[str]) -> ir.WireType:
        if isinstance(spec, c_ast.IdentifierType):
            names = spec.names
            known = self.resolved_names.get(tuple(names))
            if known is not None:
                return known
            wire = self._resolve_names(names, spec, seen)
            if self.final:
                self.resolved_names[tuple(names)] = wire
            return wire
        if isinstance(spec, c_ast.Struct):
            definition = self._struct_def(spec)
            if definition is None:
                raise FieldError(
                    location_of(spec),
                    f"'struct {spec.name}' is an opaque type: mark the field VMGEN_SKIP, or "
                    f"declare how it travels with VMGEN_EXTERNAL(kind) on its typedef",
                )
            if id(definition) in self.in_progress:
                raise FieldError(location_of(spec), f"'struct {spec.name}' contains itself")
            return ir.StructRef(self._lower_struct(definition, None))
        if isinstance(spec, c_ast.Enum):
            definition_e = self._enum_def(spec)
            if definition_e is None:
                raise FieldError(location_of(spec), f"'enum {spec.name}' is not defined")
            return ir.EnumRef(self._lower_enum(definition_e))
        if isinstance(spec, c_ast.Union):
            return ir.UnionRef(self._lower_union(spec))
        raise FieldError(location_of(spec), f"unsupported type ({type(spec).__name__})")

    def _resolve_names(self, names: list[str], spec: c_ast.Node, seen: set[str]) -> ir.WireType:
        """The type `names` spell (`spec` locates errors).  A success depends on
        nothing but the tables (`seen` only catches typedef cycles, which fail)."""
        if len(names) == 1:
            name = names[0]
            if name in self.broken_externals:
                raise _AlreadyReported()
            if name in self.externals:
                return self.externals[name]
            if name in _STDINT:
                return _STDINT[name]
            if name in self.t.typedefs:
                if name in seen:
                    raise FieldError(location_of(spec), f"typedef '{name}' refers to itself")
                return self._resolve(self.t.typedefs[name], seen | {name})
            if name in ("bool", "_Bool"):
                return ir.BoolType()
            if name == "char":
                return ir.IntType("char", self.target.char_bits, self.target.char_signed)
            if name == "float":
                return ir.FloatType("float", 32)
            if name == "double":
                return ir.FloatType("double", 64)
        key = tuple(sorted(names))
        if key in _PLAIN:
            visitor, size, signed = _PLAIN[key]
            nbytes = 1 if size == "char" else getattr(self.target, f"sizeof_{size}")
            return ir.IntType(visitor, nbytes * self.target.char_bits, signed)
        spelled = " ".join(names)
        loc = location_of(spec)
        if spelled == "void":
            raise FieldError(loc, "'void' cannot be migrated")
        if "double" in names or "float" in names:
            raise FieldError(loc, f"'{spelled}' is not supported (only float and double)")
        # pycparser refuses undeclared type names, so what reaches here is a
        # type the compiler knows (__int128, _Float128, ...) that vmgen does not.
        raise FieldError(loc, f"'{spelled}' is not supported")

    # ---- unions and external types ----------------------------------------------

    def _lower_union(self, spec: c_ast.Union) -> str:
        definition = spec if spec.decls is not None else self.t.unions.get(spec.name or "")
        if definition is None:
            raise FieldError(location_of(spec), f"'union {spec.name}' is an opaque type: mark "
                              "the field VMGEN_SKIP")
        key = id(definition)
        if key in self.unions:
            return self.unions[key].name
        typedef = self.t.typedef_of.get(key)
        if typedef is not None:
            name, c_type = typedef, typedef
        elif definition.name is not None:
            name, c_type = definition.name, f"union {definition.name}"
        else:
            name, c_type = f"{self.current_struct}_{self.current_field}", ""
        if definition.name is not None:
            self.aliases[name] = (definition.name,)
        context = f"In union '{name}':"
        members: list[ir.UnionMember] = []
        seen_cases: dict[int, str] = {}
        failed = False
        for a in on_type(definition):
            self.sink.error(a.location, f"{a.macro} does not belong on a union", context)
        for decl in definition.decls:
            if not isinstance(decl, c_ast.Decl):
                continue
            mloc = location_of(decl)
            try:
                if decl.name is None:
                    raise FieldError(mloc, "anonymous union members are not supported")
                anns = {a.kind: a for a in self._annotations(decl, name, decl.name)}
                if "skip" in anns:
                    continue
                if "case" not in anns:
                    raise FieldError(mloc, f"member '{decl.name}' needs VMGEN_CASE(value, ...) "
                                      "(the discriminator values that select it) or VMGEN_SKIP")
                if decl.bitsize is not None:
                    raise FieldError(mloc, f"member '{decl.name}': bit-fields in unions are "
                                      "not supported")
                for kind in ("size_is", "since", "union", "state", "external"):
                    if kind in anns:
                        raise FieldError(anns[kind].location, f"{anns[kind].macro} does not "
                                          f"belong on member '{decl.name}' of a union")
                wire = self._resolve(decl.type, set())
                if isinstance(wire, ir.UnionRef):
                    raise FieldError(mloc, f"member '{decl.name}': a union directly inside a "
                                      "union is not supported")
                wire = self._apply(wire, {k: a for k, a in anns.items()
                                          if k in ("range", "string")}, None, mloc)
                cases = tuple(self.folder.fold(arg, "a VMGEN_CASE value")
                              for arg in anns["case"].args)
                for c in cases:
                    if c in seen_cases:
                        raise FieldError(anns["case"].location, f"case {c} selects both "
                                          f"'{seen_cases[c]}' and '{decl.name}'")
                    seen_cases[c] = decl.name
                members.append(ir.UnionMember(decl.name, self._spell(decl.type), wire, cases,
                                              mloc))
            except _AlreadyReported:
                failed = True
            except FieldError as exc:
                failed = True
                self.sink.error(exc.location, exc.message, context)
            except VmgenError as exc:
                failed = True
                self.sink.items.extend(replace(d, context=d.context or context)
                                       for d in exc.diagnostics)
        if not members and not failed:
            self.sink.error(location_of(definition), f"union '{name}' has no member with "
                            "VMGEN_CASE", context)
        lowered = ir.Union(name, c_type, tuple(members), location_of(definition))
        self.unions[key] = lowered
        return name

    def _read_external(self, typedef: c_ast.Typedef) -> None:
        try:
            anns = on_typedef(typedef)
        except VmgenError as exc:
            self.sink.extend(exc)
            return
        if self.sidecar is not None:
            anns = self.sidecar.merge(anns, self.sidecar.type(typedef.name))
        for a in anns:
            if a.kind != "external":
                self.sink.error(a.location, f"{a.macro} does not belong on a typedef")
                continue
            kind = a.args[0]
            wire = _EXTERNAL_KINDS.get(kind.name) if isinstance(kind, c_ast.ID) else None
            if wire is None:
                self.sink.error(a.location, "VMGEN_EXTERNAL(kind): kind is one of "
                                + ", ".join(_EXTERNAL_KINDS))
                self.broken_externals.add(typedef.name)
                continue
            self.externals[typedef.name] = ir.ExternalType(typedef.name, wire, pointer=False)

    def _lower_enum(self, definition: c_ast.Enum) -> str:
        key = id(definition)
        if key in self.enums:
            return self.enums[key].name
        typedef = self.t.typedef_of.get(key)
        if key in self.t.enum_errors:
            label = typedef or definition.name
            errors = self.t.enum_errors[key].diagnostics
            raise VmgenError(replace(d, context=f"In enum '{label}':") for d in errors)
        if typedef is not None:
            name, c_type = typedef, typedef
        elif definition.name is not None:
            name, c_type = definition.name, f"enum {definition.name}"
        else:
            raise FieldError(
                location_of(definition), "anonymous enum type: give it a tag or a typedef name"
            )
        enumerators = tuple(
            ir.Enumerator(e.name, self.t.constants[e.name], location_of(e))
            for e in definition.values.enumerators
        )
        lowered = ir.Enum(name, c_type, enumerators, location_of(definition))
        self.enums[key] = lowered
        self.enums_by_name[name] = lowered
        return name

    # ---- spelling C types for messages ----------------------------------------

    def _spell(self, node: c_ast.Node) -> str:
        if type(node) is c_ast.TypeDecl and type(node.type) is c_ast.IdentifierType:
            return " ".join(node.type.names)  # the common case: `T name`
        dims = ""
        stars = ""
        while not isinstance(node, c_ast.TypeDecl):
            if isinstance(node, c_ast.ArrayDecl):
                try:
                    dims += f"[{self.folder.fold(node.dim, 'size')}]" if node.dim else "[]"
                except VmgenError:
                    dims += "[?]"
            elif isinstance(node, c_ast.PtrDecl):
                stars += "*"
            elif isinstance(node, c_ast.FuncDecl):
                return "function pointer" if stars else "function"
            else:
                break
            node = node.type
        spec = getattr(node, "type", None)
        if isinstance(spec, c_ast.IdentifierType):
            base = " ".join(spec.names)
        elif isinstance(spec, (c_ast.Struct, c_ast.Union, c_ast.Enum)):
            kind = {c_ast.Struct: "struct", c_ast.Union: "union", c_ast.Enum: "enum"}[type(spec)]
            base = f"{kind} {spec.name}" if spec.name else f"anonymous {kind}"
        else:
            base = "?"
        return f"{base}{' ' + stars if stars else ''}{dims}"


def include_name(header: str, include_dirs: tuple[str, ...]) -> str:
    """How generated C includes `header`: relative to the first -I folder holding it."""
    path = Path(header).resolve()
    for d in include_dirs:
        try:
            return path.relative_to(Path(d).resolve()).as_posix()
        except ValueError:
            continue
    return path.name


def lower(
    parsed: Parsed, options: Options, sidecar: Sidecar | None = None
) -> tuple[ir.Module, list[Diagnostic]]:
    """The IR of a parsed header, and the problems found (the module then lacks
    the fields and structs that could not be lowered)."""
    lowerer = Lowerer(parsed, options, sidecar)
    module = lowerer.run()
    lowerer.close()
    return module, lowerer.sink.items
