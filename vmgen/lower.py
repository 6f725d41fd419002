"""Stage 3: lower the parsed C (pycparser AST) into the IR.

Finds the device states (structs annotated ``VMGEN_STATE``), walks every type
reachable from them, resolves typedef chains, folds array sizes and enumerator
values, takes integer widths from the target compiler, and turns each member
into an IR :class:`~vmgen.ir.Field`.  Everything the IR cannot express is
reported as a ``FILE:LINE:COL: error:`` naming the struct, the field and the
reason; all problems of a header are reported together.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from pycparser import c_ast

from vmgen import ir
from vmgen.annotations import Annotation, location_of, on_declaration, on_type
from vmgen.cconst import Folder
from vmgen.diagnostics import Diagnostic, DiagnosticSink, Location, VmgenError
from vmgen.frontend import Options, Parsed

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
_TARGET_ENUM = "__vmgen_target"
_RESERVED_FOR_LATER = {
    "since": "versioned fields",
    "size_is": "variable-size arrays",
    "range": "ranged integers",
}


class _FieldError(Exception):
    """A field cannot be lowered; the message names the reason."""

    def __init__(self, location: Location, message: str) -> None:
        super().__init__(message)
        self.location = location
        self.message = message


@dataclass
class _Tables:
    typedefs: dict[str, c_ast.Node] = field(default_factory=dict)  # name -> Typedef.type
    structs: dict[str, c_ast.Struct] = field(default_factory=dict)  # tag -> definition
    enums: dict[str, c_ast.Enum] = field(default_factory=dict)  # tag -> definition
    typedef_of: dict[int, str] = field(default_factory=dict)  # id(definition) -> typedef name
    constants: dict[str, int] = field(default_factory=dict)  # enumerator -> value
    enum_errors: dict[int, VmgenError] = field(default_factory=dict)
    definitions: list[c_ast.Struct | c_ast.Enum] = field(default_factory=list)


def _type_chain(node: c_ast.Node | None) -> Iterator[c_ast.Node]:
    while node is not None:
        yield node
        node = getattr(node, "type", None)


class Lowerer:
    def __init__(self, parsed: Parsed, options: Options) -> None:
        self.parsed = parsed
        self.options = options
        self.t = _Tables()
        self.sink = DiagnosticSink()
        self.target = ir.Target(8, True, 2, 4, 8, 8)
        self.folder = Folder(self.t.constants, self._sizeof)
        self.structs: dict[int, ir.Struct] = {}  # id(definition) -> lowered
        self.order: list[ir.Struct] = []
        self.enums: dict[int, ir.Enum] = {}
        self.in_progress: set[int] = set()

    # ---- collecting definitions -------------------------------------------------

    def collect(self) -> None:
        for ext in self.parsed.ast.ext:
            if isinstance(ext, c_ast.Typedef):
                self.t.typedefs[ext.name] = ext.type
                self._collect_type(ext.type, typedef=ext.name)
            elif isinstance(ext, c_ast.Decl):
                self._collect_type(ext.type, typedef=None)
        self._read_target()

    def _collect_type(self, node: c_ast.Node | None, typedef: str | None) -> None:
        for n in _type_chain(node):
            if isinstance(n, (c_ast.Struct, c_ast.Union)):
                if n.decls is not None:
                    if isinstance(n, c_ast.Struct):
                        if n.name is not None:
                            self.t.structs[n.name] = n
                        self.t.definitions.append(n)
                    for member in n.decls:
                        if isinstance(member, c_ast.Decl):
                            self._collect_type(member.type, typedef=None)
                target = self._struct_def(n) if isinstance(n, c_ast.Struct) else None
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

    def _sizeof(self, node: c_ast.Node) -> int | None:
        if isinstance(node, c_ast.Typename):
            try:
                t = self._resolve(node.type, set())
            except _FieldError:
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
                anns = on_type(definition)
            except VmgenError as exc:
                self.sink.extend(exc)
                continue
            for a in anns:
                if a.kind == "state":
                    states.append((definition, a))
                else:
                    self.sink.error(a.location, f"{a.macro} belongs on a field, not on a struct")
        if not states and not self.sink.items:
            self.sink.error(
                Location(self.parsed.header, 0, 0),
                "no device state: mark a struct with VMGEN_STATE(version, minimum_version)",
            )
        for definition, ann in states:
            self._lower_struct(definition, ann)
        used_enums = {id(e): e for e in self.enums.values()}
        return ir.Module(
            source=self.parsed.header,
            include=include_name(self.parsed.header, self.options.include_dirs),
            stem=Path(self.parsed.header).stem,
            structs=tuple(self.order),
            enums=tuple(used_enums.values()),
            dependencies=self.parsed.dependencies,
            target=self.target,
        )

    def _struct_name(self, definition: c_ast.Struct) -> tuple[str, str]:
        typedef = self.t.typedef_of.get(id(definition))
        if typedef is not None:
            return typedef, typedef
        if definition.name is not None:
            return definition.name, f"struct {definition.name}"
        raise _FieldError(
            location_of(definition),
            "anonymous struct type: give it a tag or a typedef name",
        )

    def _lower_struct(self, definition: c_ast.Struct, state: Annotation | None) -> str:
        """Lower `definition` (once) and return its IR name."""
        key = id(definition)
        if key in self.structs:
            return self.structs[key].name
        name, c_type = self._struct_name(definition)
        self.in_progress.add(key)
        context = f"In struct '{name}':"
        fields: list[ir.Field] = []
        errors = len(self.sink.items)
        for member in definition.decls:
            if not isinstance(member, c_ast.Decl):
                continue
            try:
                fields.append(self._lower_field(member, name))
            except _FieldError as exc:
                self.sink.error(exc.location, exc.message, context)
            except VmgenError as exc:
                for d in exc.diagnostics:
                    self.sink.error(d.location, d.message, d.context or context)
        state_info = None
        if state is not None:
            state_info = self._state_info(state, name)
        lowered = ir.Struct(name, c_type, tuple(fields), location_of(definition), state_info)
        if len(self.sink.items) == errors and not lowered.migrated:
            self.sink.error(
                lowered.location,
                f"struct '{name}' has no migrated fields (every field is VMGEN_SKIP)",
            )
        self.in_progress.discard(key)
        self.structs[key] = lowered
        self.order.append(lowered)
        return name

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

    def _lower_field(self, decl: c_ast.Decl, struct: str) -> ir.Field:
        # Point at the member's name, as a compiler does (the Decl points at a '*').
        names = [n for n in _type_chain(decl.type) if isinstance(n, c_ast.TypeDecl)]
        loc = location_of(names[0] if names and decl.name else decl)
        anns = on_declaration(decl)
        label = f"field '{decl.name}'" if decl.name else "anonymous member"
        for a in anns:
            if a.kind == "state":
                raise _FieldError(a.location, f"VMGEN_STATE belongs after 'struct', not on {label}")
            if a.kind in _RESERVED_FOR_LATER:
                raise _FieldError(
                    a.location,
                    f"{a.macro} on {label}: {_RESERVED_FOR_LATER[a.kind]} are not supported yet",
                )
        skip = any(a.kind == "skip" for a in anns)
        if decl.name is None:
            raise _FieldError(
                loc, "anonymous struct/union members are not supported: name the member"
            )
        spelled = self._spell(decl.type)
        if skip:
            return ir.Field(decl.name, spelled, None, loc)
        if any("const" in getattr(n, "quals", ()) for n in _type_chain(decl.type)):
            raise _FieldError(
                loc, f"{label}: const fields are not supported yet: mark it VMGEN_SKIP"
            )
        if decl.bitsize is not None:
            raise _FieldError(
                loc, f"{label}: bit-fields are not supported yet: mark it VMGEN_SKIP"
            )
        try:
            wire = self._resolve(decl.type, set())
        except _FieldError as exc:
            raise _FieldError(exc.location, f"{label} ({spelled}): {exc.message}") from None
        return ir.Field(decl.name, spelled, wire, loc)

    def _resolve(self, node: c_ast.Node, seen: set[str]) -> ir.WireType:
        loc = location_of(node)
        if isinstance(node, c_ast.TypeDecl):
            return self._resolve_specifier(node.type, seen)
        if isinstance(node, c_ast.Typename):
            return self._resolve(node.type, seen)
        if isinstance(node, c_ast.ArrayDecl):
            if node.dim is None:
                raise _FieldError(loc, "flexible array members are not supported yet")
            length = self.folder.fold(node.dim, "the array size")
            if length <= 0:
                raise _FieldError(location_of(node.dim), f"array size {length} is not positive")
            element = self._resolve(node.type, seen)
            if isinstance(element, ir.IntType) and element.visitor in _BYTE_VISITORS:
                return ir.BytesType(length)
            return ir.ArrayType(element, length)
        if isinstance(node, (c_ast.PtrDecl, c_ast.FuncDecl)):
            # Point at the declared name, not at the '*' or '('.
            declared = [n for n in _type_chain(node) if isinstance(n, c_ast.TypeDecl)]
            where = location_of(declared[0]) if declared else loc
            what = "pointers" if isinstance(node, c_ast.PtrDecl) else "functions"
            raise _FieldError(where, f"{what} cannot be migrated: mark the field VMGEN_SKIP")
        raise _FieldError(loc, f"unsupported declarator ({type(node).__name__})")

    def _resolve_specifier(self, spec: c_ast.Node, seen: set[str]) -> ir.WireType:
        loc = location_of(spec)
        if isinstance(spec, c_ast.IdentifierType):
            return self._resolve_names(spec.names, loc, seen)
        if isinstance(spec, c_ast.Struct):
            definition = self._struct_def(spec)
            if definition is None:
                raise _FieldError(
                    loc,
                    f"'struct {spec.name}' is an opaque type: mark the field VMGEN_SKIP",
                )
            if id(definition) in self.in_progress:
                raise _FieldError(loc, f"'struct {spec.name}' contains itself")
            return ir.StructRef(self._lower_struct(definition, None))
        if isinstance(spec, c_ast.Enum):
            definition_e = self._enum_def(spec)
            if definition_e is None:
                raise _FieldError(loc, f"'enum {spec.name}' is not defined")
            return ir.EnumRef(self._lower_enum(definition_e))
        if isinstance(spec, c_ast.Union):
            raise _FieldError(
                loc, "unions are not supported yet: mark the field VMGEN_SKIP"
            )
        raise _FieldError(loc, f"unsupported type ({type(spec).__name__})")

    def _resolve_names(self, names: list[str], loc: Location, seen: set[str]) -> ir.WireType:
        if len(names) == 1:
            name = names[0]
            if name in _STDINT:
                return _STDINT[name]
            if name in self.t.typedefs:
                if name in seen:
                    raise _FieldError(loc, f"typedef '{name}' refers to itself")
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
        if spelled in self.t.typedefs or spelled in ("void",):
            raise _FieldError(loc, f"'{spelled}' cannot be migrated")
        if "double" in names or "float" in names:
            raise _FieldError(loc, f"'{spelled}' is not supported (only float and double)")
        # pycparser refuses undeclared type names, so what reaches here is a
        # type the compiler knows (__int128, _Float128, ...) that vmgen does not.
        raise _FieldError(loc, f"'{spelled}' is not supported")

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
            raise _FieldError(
                location_of(definition), "anonymous enum type: give it a tag or a typedef name"
            )
        enumerators = tuple(
            ir.Enumerator(e.name, self.t.constants[e.name], location_of(e))
            for e in definition.values.enumerators
        )
        lowered = ir.Enum(name, c_type, enumerators, location_of(definition))
        self.enums[key] = lowered
        return name

    # ---- spelling C types for messages ----------------------------------------

    def _spell(self, node: c_ast.Node) -> str:
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


def lower(parsed: Parsed, options: Options) -> tuple[ir.Module, list[Diagnostic]]:
    """The IR of a parsed header, and the problems found (the module then lacks
    the fields and structs that could not be lowered)."""
    lowerer = Lowerer(parsed, options)
    module = lowerer.run()
    return module, lowerer.sink.items
