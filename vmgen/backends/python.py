"""Python backend: ``MOD_asn1.py``, the tables of a device's types, bound to vmgen's
Python runtime (`vmgen.runtime`: the codec that speaks the C view of the structs)."""

from __future__ import annotations

from typing import Any

from vmgen import __version__
from vmgen.backends import PerObject, asn1, banner, render
from vmgen.checks import names
from vmgen.lowering import ir
from vmgen.runtime import VERSION as RUNTIME_VERSION


def module_file(module: ir.Module) -> str:
    return f"{names.python_module(module.stem)}_asn1.py"


def _descriptor(t: ir.WireType) -> tuple[Any, ...]:
    if isinstance(t, ir.IntType):
        return ("int", t.min, t.max, t.bits // 8, t.signed)
    if isinstance(t, ir.BoolType):
        return ("bool",)
    if isinstance(t, ir.FloatType):
        return ("float", t.bits)
    if isinstance(t, ir.ExternalType):
        return _descriptor(t.wire)
    if isinstance(t, ir.StringType):
        return ("string", t.capacity - 1)
    if isinstance(t, ir.BytesType):
        lo, hi = (t.length, t.length) if t.count is None else (t.count.min, t.count.max)
        return ("bytes", lo, hi)
    if isinstance(t, ir.ArrayType):
        lo, hi = (t.length, t.length) if t.count is None else (t.count.min, t.count.max)
        return ("list", lo, hi, _descriptor(t.element))
    kind = {ir.EnumRef: "enum", ir.StructRef: "struct", ir.UnionRef: "union"}[type(t)]
    return (kind, asn1.asn1_type(t.name))


def _member(f: ir.Field) -> tuple[Any, ...]:
    """(C name, ASN.1 name or None, descriptor, since, role) of a migrated field."""
    assert f.type is not None
    role: tuple[str, str] | None = None
    if f.count_of is not None:
        role = ("count", f.count_of)
    elif f.selector is not None:
        role = ("union", f.selector)
    asn1_name = None if f.count_of is not None else asn1.asn1_identifier(f.name)
    return (f.name, asn1_name, _descriptor(f.type), f.since, role)


class _Literal(str):
    """A value already written as its repr()."""


class _Pieces:
    """The repr() of what repeats between members, for one module: each wire type
    object's descriptor, by identity (kept with it, so its id is not reused), and
    each C name with its ASN.1 identifier."""

    def __init__(self) -> None:
        self.descriptors = PerObject[ir.WireType, str](lambda t: repr(_descriptor(t)))
        self.names: dict[str, str] = {}


def _members(s: ir.Struct, pieces: _Pieces) -> str:
    """`repr(tuple(_member(f) for f in s.migrated))`, from pieces: one member per
    field is most of the module."""
    descriptors, found, names = pieces.descriptors, pieces.descriptors.found, pieces.names
    members = []
    for f in s.migrated:
        assert f.type is not None
        if f.count_of is not None or f.selector is not None:
            members.append(repr(_member(f)))
            continue
        hit = found.get(id(f.type))  # the common case
        descriptor = descriptors(f.type) if hit is None else hit[1]
        name = names.get(f.name)
        if name is None:
            name = names[f.name] = f"{f.name!r}, {asn1.asn1_identifier(f.name)!r}"
        members.append(f"({name}, {descriptor}, {f.since!r}, None)")
    return "(" + ", ".join(members) + ("," if len(members) == 1 else "") + ")"


def _known(value: object) -> str | None:
    """The repr() of a value that already knows it (a struct's members, a type of
    the ASN.1 parse), or None."""
    if type(value) is _Literal:
        return value
    if type(value) is asn1.ParsedType:
        return value.literal
    return None


def _literal(value: object, indent: str = "", depth: int = 3) -> str:
    """A Python literal: dicts one key a line (to `depth` levels), the rest repr().

    (pprint is far slower on the tables of a large header.)"""
    if isinstance(value, dict) and value and depth > 0:
        inner = indent + "    "
        parts = ["{\n"]  # joined once: the outer texts are megabytes long
        for k, v in value.items():
            parts += (inner, repr(k), ": ", _literal(v, inner, depth - 1), ",\n")
        parts += (indent, "}")
        return "".join(parts)
    known = _known(value)
    return repr(value) if known is None else known


def _text_literal(text: str) -> str:
    """A triple-quoted literal for the ASN.1 text, or repr() where that could not hold it."""
    if '"""' in text or "\\" in text or text.endswith('"'):
        return repr(text)
    return "".join(['"""\\\n', text, '"""'])


def _layout(module: ir.Module, s: ir.Struct) -> tuple[str, tuple[tuple[Any, ...], ...]]:
    """LAYOUTS' entry of a struct with a VMState layout (see vmgen.runtime.tables)."""
    assert s.vmsd is not None and s.layout is not None

    def items(fields: tuple[ir.Field, ...]) -> tuple[tuple[Any, ...], ...]:
        out: list[tuple[Any, ...]] = []
        for f in fields:
            sub = f.subsection
            if f.unused is not None:
                out.append(("unused", f.name, f.unused, f.since))
            elif sub is not None and sub.fields is not None:
                out.append(("group", f.name, sub.vmsd, sub.version, sub.minimum_version,
                            sub.needed if sub.by_field else None, items(sub.fields)))
            elif sub is not None:
                assert isinstance(f.type, ir.StructRef)
                out.append(("subsection", f.name, module.struct(f.type.name).vmsd,
                            sub.version, sub.minimum_version,
                            sub.needed if sub.by_field else None))
            else:
                out.append(("field", f.name))
        return tuple(out)

    return (s.vmsd, items(s.layout))


def generate(module: ir.Module, spec: str, parsed: asn1.Parsed) -> str:
    types: dict[str, tuple[Any, ...]] = {}
    structs: dict[str, _Literal] = {}
    pieces = _Pieces()
    unions: dict[str, tuple[tuple[Any, ...], ...]] = {}
    enums: dict[str, tuple[tuple[str, str, int], ...]] = {}
    states: dict[str, tuple[str, str, int, int]] = {}
    for e in module.enums:
        tn = asn1.asn1_type(e.name)
        types[tn] = ("enum", tn)
        enums[tn] = tuple((en.name, asn1.asn1_identifier(en.name), en.value)
                          for en in e.enumerators)
    layouts: dict[str, tuple[str, tuple[tuple[Any, ...], ...]]] = {}
    for s in module.structs:
        tn = asn1.asn1_type(s.name)
        types[tn] = ("struct", tn)
        structs[tn] = _Literal(_members(s, pieces))
        if s.layout is not None:
            layouts[tn] = _layout(module, s)
    sections = {s.vmsd: s.name for s in module.states if s.vmsd is not None}
    for u in module.unions:
        tn = asn1.asn1_type(u.name)
        types[tn] = ("union", tn)
        unions[tn] = tuple((m.name, asn1.asn1_identifier(m.name), _descriptor(m.type), m.cases)
                           for m in u.members)
    for s in module.states:
        assert s.state is not None
        tn = asn1.asn1_type(s.name)
        rn = names.record_name(tn)
        types[rn] = ("record", s.name)
        states[s.name] = (rn, tn, s.state.version, s.state.minimum_version)
    states_doc = ", ".join(
        f"{s.name} (version {s.state.version}, readable from {s.state.minimum_version})"
        for s in module.states
        if s.state is not None
    )
    return render(
        "python/module.py.j2",
        banner=banner(module.include),
        source=module.include,
        runtime_version=RUNTIME_VERSION,
        module_file=repr(module_file(module)),
        generator=repr(__version__),
        states_doc=states_doc,
        spec=_text_literal(spec),
        parsed=_literal(parsed),
        types=_literal(types),
        structs=_literal(structs),
        unions=_literal(unions),
        enums=_literal(enums),
        states=_literal(states),
        layouts=_literal(layouts),
        sections=_literal(sections),
    )
