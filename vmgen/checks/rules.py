"""Stage 4: checks on the IR that no single field can see.

* every C name maps to a usable ASN.1 name (see :mod:`vmgen.checks.names`) and no two
  C names collide after mapping, per scope (module types, members of one
  struct, enumerators of one enum);
* generated C function names (``visit_type_X``) are unique.

A module that passes these checks can be rendered by every backend.
"""

from __future__ import annotations

from vmgen.checks import names
from vmgen.diagnostics import Diagnostic, DiagnosticSink, Location
from vmgen.lowering import ir


def _claim(
    sink: DiagnosticSink,
    scope: dict[str, tuple[str, Location]],
    asn1: str | None,
    c_name: str,
    what: str,
    loc: Location,
    context: str | None = None,
    described: str | None = None,
) -> None:
    if asn1 is not None and asn1 not in scope and (what != "type" or asn1 not in names.RESERVED):
        scope[asn1] = (c_name, loc)  # the common case: a new, usable name
        return
    described = described or f"{what} '{c_name}'"
    if asn1 is None:
        sink.error(loc, f"{what} '{c_name}' has no ASN.1 name (it must contain a letter "
                   "before any digit)", context)
        return
    if what == "type" and asn1 in names.RESERVED:
        sink.error(loc, f"type '{c_name}' maps to the ASN.1 reserved word '{asn1}'", context)
        return
    if asn1 in scope:
        other, other_loc = scope[asn1]
        sink.error(
            loc,
            _escape(f"{described} and '{other}'") + " (at {0}) "
            + _escape(f"both map to the ASN.1 name '{asn1}'"),
            context,
            related=(other_loc,),
        )
        return
    scope[asn1] = (c_name, loc)


def check(module: ir.Module) -> None:
    """Raise a VmgenError if the module has any of the problems above."""
    sink = DiagnosticSink()
    sink.items.extend(diagnose(module))
    sink.raise_if_errors()


def diagnose(module: ir.Module) -> list[Diagnostic]:
    """Every problem of the kinds above (also usable on a partly lowered module)."""
    sink = DiagnosticSink()
    types: dict[str, tuple[str, Location]] = {}
    functions: dict[str, tuple[str, Location]] = {}
    identifier = names.identifier
    for s in module.structs:
        _claim(sink, types, names.type_name(s.name), s.c_type, "type", s.location)
        members: dict[str, tuple[str, Location]] = {}
        context = f"In struct '{s.name}':"
        for f in s.migrated:
            asn1 = identifier(f.name)
            if asn1 is not None and asn1 not in members:  # _claim's common case, inline
                members[asn1] = (f.name, f.location)
            else:
                _claim(sink, members, asn1, f.name, "field", f.location, context)
        _claim_function(sink, functions, s.name, s.c_type, s.location)
    for e in module.enums:
        if all(en.value != 0 for en in e.enumerators):
            sink.warning(e.location, f"enum '{e.c_type}' has no enumerator with the value 0: "
                         "a zero-initialized field of this type cannot be saved")
        _claim(sink, types, names.type_name(e.name), e.c_type, "type", e.location)
        values: dict[str, tuple[str, Location]] = {}
        context = f"In enum '{e.name}':"
        for en in e.enumerators:
            _claim(sink, values, names.identifier(en.name), en.name, "enumerator", en.location,
                   context)
        _claim_function(sink, functions, e.name, e.c_type, e.location)
        for en in e.enumerators:
            if not -(1 << 63) <= en.value < (1 << 63):
                sink.error(en.location, f"enumerator '{en.name}' = {en.value} does not fit "
                           "in 64 bits", f"In enum '{e.name}':")
    depths: dict[str, int] = {}  # per struct: what it holds does not depend on the state
    counts: dict[str, int] = {}
    inside: dict[str, _Inside] = {}  # per struct, for _check_since
    for s in module.states:
        if s.state is not None:
            _check_since(module, s.name, s.state.version, s.name, sink, set(), inside)
            depth = 1 + _depth(module, ir.StructRef(s.name), depths)  # the record, then the state
            if depth > MAX_DEPTH:
                sink.error(s.location, f"device state '{s.name}' nests {depth} levels deep "
                           f"(structs, arrays, unions); the C loader reads at most {MAX_DEPTH}")
            total = _values(module, ir.StructRef(s.name), counts)
            if total > MAX_VALUES:
                sink.error(s.location, f"device state '{s.name}' holds {total} values in all; "
                           f"vmgen migrates at most {MAX_VALUES}")
        tn = names.type_name(s.name)
        if tn is not None:
            _claim(sink, types, names.record_name(tn), f"record of {s.c_type}", "type",
                   s.location, described=f"the record type of '{s.c_type}'")
    return sink.items


# The runtime's VMGEN_BER_MAX_DEPTH: open structs and lists, the record included.
MAX_DEPTH = 64


# Scalars and bytes one device state may hold, in all (bounds a record's size).
MAX_VALUES = (1 << 31) - 1


# Wire types that hold one scalar and nest nothing.
_SCALARS = frozenset((ir.IntType, ir.BoolType, ir.FloatType, ir.EnumRef, ir.ExternalType,
                      ir.StringType))


def _values(module: ir.Module, t: ir.WireType | None, memo: dict[str, int]) -> int:
    """How many scalars and bytes one value of `t` holds at most."""
    if type(t) in _SCALARS:
        return 1
    if isinstance(t, ir.ArrayType):
        return t.length * _values(module, t.element, memo)
    if isinstance(t, ir.BytesType):
        return t.length
    if isinstance(t, ir.UnionRef):
        return max((_values(module, m.type, memo) for m in module.union(t.name).members),
                   default=0)
    if isinstance(t, ir.StructRef):
        if t.name not in memo:
            try:
                s = module.struct(t.name)
            except KeyError:
                return 1
            memo[t.name] = sum(1 if type(f.type) in _SCALARS else _values(module, f.type, memo)
                               for f in s.wire)
        return memo[t.name]
    return 1


def _depth(module: ir.Module, t: ir.WireType | None, memo: dict[str, int]) -> int:
    """How many constructed values nest in one value of `t`."""
    if type(t) in _SCALARS:
        return 0
    if isinstance(t, ir.ArrayType):
        return 1 + _depth(module, t.element, memo)
    if isinstance(t, ir.UnionRef):
        return 1 + max((_depth(module, m.type, memo) for m in module.union(t.name).members),
                       default=0)
    if isinstance(t, ir.StructRef):
        if t.name not in memo:
            try:
                s = module.struct(t.name)
            except KeyError:
                return 1
            memo[t.name] = 1 + max((0 if type(f.type) in _SCALARS else _depth(module, f.type, memo)
                                    for f in s.wire), default=0)
        return memo[t.name]
    return 0


def _escape(text: str) -> str:
    """`text` as literal text of a str.format template."""
    return text.replace("{", "{{").replace("}", "}}")


def _reachable(module: ir.Module, t: ir.WireType | None) -> list[str]:
    """Names of the structs a wire type contains (through arrays and unions)."""
    if type(t) in _SCALARS:
        return []
    if isinstance(t, ir.ArrayType):
        return _reachable(module, t.element)
    if isinstance(t, ir.StructRef):
        return [t.name]
    if isinstance(t, ir.UnionRef):
        return [n for m in module.union(t.name).members for n in _reachable(module, m.type)]
    return []


# Of one struct, in field order, each migrated field that has a since-version or
# contains structs: (the field, the names of the structs it contains).
_Inside = tuple[tuple[ir.Field, tuple[str, ...]], ...]


def _inside(module: ir.Module, s: ir.Struct) -> _Inside:
    found = []
    for f in s.migrated:
        structs = () if type(f.type) in _SCALARS else tuple(_reachable(module, f.type))
        if f.since is not None or structs:
            found.append((f, structs))
    return tuple(found)


def _check_since(module: ir.Module, struct: str, version: int, state: str,
                 sink: DiagnosticSink, seen: set[str], memo: dict[str, _Inside]) -> None:
    """No field of a state (at any depth) may exist only after the state's version."""
    if struct in seen:
        return
    seen.add(struct)
    fields = memo.get(struct)
    if fields is None:
        try:
            s = module.struct(struct)
        except KeyError:
            return  # not lowered (an error was reported)
        fields = memo[struct] = _inside(module, s)
    for f, structs in fields:
        if f.since is not None and f.since > version:
            sink.error(f.location, f"field '{f.name}' has VMGEN_SINCE({f.since}), above the "
                       f"version {version} of device state '{state}': it would never be saved",
                       f"In struct '{module.struct(struct).name}':")
        for inner in structs:
            _check_since(module, inner, version, state, sink, seen, memo)


def _claim_function(
    sink: DiagnosticSink, scope: dict[str, tuple[str, Location]], name: str, c_type: str,
    loc: Location,
) -> None:
    fn = f"visit_type_{name}"
    if fn in scope:
        sink.error(loc, _escape(f"'{c_type}'") + " and the type at {0} "
                   + _escape(f"both need the C function '{fn}'"), related=(scope[fn][1],))
    else:
        scope[fn] = (c_type, loc)
