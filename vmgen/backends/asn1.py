"""ASN.1 backend: the ``STEM.asn`` module text and the equivalent parsed form.

The parsed form is exactly what ``asn1tools.parse_string(text)`` returns for the
text (a test holds the two together), so the generated Python module can call
``asn1tools.compile_dict`` without parsing ASN.1 at import time, and the
generator never imports asn1tools.

Mapping (AUTOMATIC TAGS; every SEQUENCE ends with an extension marker):

=====================  ===============================================
C                      ASN.1
=====================  ===============================================
integer of N bits      ``INTEGER (min..max)`` of the C type's range
bool / _Bool           ``BOOLEAN``
float / double         ``OCTET STRING (SIZE (4))`` / ``(SIZE (8))``:
                       IEEE 754 bits, big-endian (bit-exact)
enum                   ``ENUMERATED`` with the C enumerators and values
struct                 ``SEQUENCE``
uint8_t / char [N]     ``OCTET STRING (SIZE (N))``
T [N]                  ``SEQUENCE (SIZE (N)) OF T``
device state S         ``S-Record ::= SEQUENCE { device, version,
                       minimum-version, state S }``
=====================  ===============================================
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePath
from typing import Any, NamedTuple

from vmgen.backends import PerObject, banner, render
from vmgen.checks import names
from vmgen.diagnostics import Location
from vmgen.lowering import ir

RECORD_MEMBERS = (
    ("device", "VisibleString"),
    ("version", "INTEGER (0..4294967295)"),
    ("minimum-version", "INTEGER (0..4294967295)"),
)

# ASN.1 value of each wire type: (text, parsed form)
Parsed = dict[str, Any]


class ParsedType(dict[str, Any]):
    """A type of the parse: a dict like any other (asn1tools reads it), that also
    carries `literal`, its `repr()`, written from pieces while it is built.  The
    Python backend embeds the parse as a literal, and repr() of the parse of a
    large header was most of that backend's time."""

    __slots__ = ("literal",)

    def __init__(self, items: Parsed, literal: str) -> None:
        super().__init__(items)
        self.literal = literal


def module_name(module: ir.Module) -> str:
    mod = names.python_module(module.stem)
    return names.type_name(mod) or "Vmgen-" + "-".join(p for p in mod.split("_") if p)


def asn1_type(name: str) -> str:
    t = names.type_name(name)
    assert t is not None, "checked by vmgen.checks.rules"
    return t


def asn1_identifier(name: str) -> str:
    f = names.identifier(name)
    assert f is not None, "checked by vmgen.checks.rules"
    return f


def _size(lo: int, hi: int) -> tuple[str, list[Any]]:
    if lo == hi:
        return f"SIZE ({lo})", [lo]
    return f"SIZE ({lo}..{hi})", [(lo, hi)]


def wire_type(t: ir.WireType) -> tuple[str, Parsed]:
    if isinstance(t, ir.IntType):
        return f"INTEGER ({t.min}..{t.max})", {"type": "INTEGER", "restricted-to": [(t.min, t.max)]}
    if isinstance(t, ir.BoolType):
        return "BOOLEAN", {"type": "BOOLEAN"}
    if isinstance(t, ir.FloatType):
        n = t.bits // 8
        return f"OCTET STRING (SIZE ({n}))", {"type": "OCTET STRING", "size": [n]}
    if isinstance(t, ir.ExternalType):
        return wire_type(t.wire)
    if isinstance(t, ir.StringType):
        text, size = _size(0, t.capacity - 1)
        return f"VisibleString ({text})", {"type": "VisibleString", "size": size}
    if isinstance(t, ir.BytesType):
        lo, hi = (t.length, t.length) if t.count is None else (t.count.min, t.count.max)
        text, size = _size(lo, hi)
        return f"OCTET STRING ({text})", {"type": "OCTET STRING", "size": size}
    if isinstance(t, ir.ArrayType):
        element, parsed = wire_type(t.element)
        lo, hi = (t.length, t.length) if t.count is None else (t.count.min, t.count.max)
        text, size = _size(lo, hi)
        return (
            f"SEQUENCE ({text}) OF {element}",
            {"type": "SEQUENCE OF", "element": parsed, "size": size},
        )
    ref = asn1_type(t.name)
    return ref, {"type": ref}


@lru_cache(maxsize=1024)
def _around_name(c_type: str) -> tuple[str, str]:
    """What a C declaration of `c_type` writes before and after the name."""
    base, bracket, dims = c_type.partition("[")
    return (base, "") if base.endswith("*") else (base + " ", bracket + dims)


def _c_comment(f: ir.Field | ir.UnionMember, t: ir.WireType) -> str:
    before, after = _around_name(f.c_type)
    if (type(f) is ir.Field and f.bit_width is None and not f.const and f.selector is None
            and type(t) in _PLAIN_TYPES):
        return before + f.name + after  # no notes: the common case
    notes = []
    if isinstance(t, ir.FloatType):
        notes.append(f"IEEE 754 binary{t.bits} bits")
    if isinstance(t, (ir.ArrayType, ir.BytesType)) and t.count is not None:
        notes.append(f"count in '{t.count.field}'")
    if isinstance(f, ir.Field):
        if f.bit_width is not None:
            notes.append(f"bit-field : {f.bit_width}")
        if f.const:
            notes.append("const: must match on load")
        if f.selector is not None:
            notes.append(f"selected by '{f.selector}'")
    if isinstance(f, ir.UnionMember):
        notes.append("when " + ", ".join(str(c) for c in f.cases))
    return before + f.name + after + (f" ({'; '.join(notes)})" if notes else "")


# Wire types whose C comment has no note of their own.
_PLAIN_TYPES = frozenset((ir.IntType, ir.BoolType, ir.EnumRef, ir.StructRef, ir.ExternalType,
                          ir.StringType))


def _where(loc: Location) -> str:
    """A location that does not depend on how the header was named (output is deterministic)."""
    return f"{_file_name(loc.file)}:{loc.line}"


@lru_cache(maxsize=256)
def _file_name(path: str) -> str:
    return PurePath(path).name


def _wire(t: ir.WireType) -> tuple[str, Parsed, str]:
    """`wire_type(t)`, and the repr() of the parsed form without its opening brace."""
    text, parsed = wire_type(t)
    return text, parsed, repr(parsed)[1:]


class _Wire(PerObject[ir.WireType, tuple[str, Parsed, str]]):
    """`_wire` per wire type object, for one module (the parsed forms are then
    shared between fields: they are only read)."""

    def __init__(self) -> None:
        super().__init__(_wire)
        # C name -> its ASN.1 identifier, and how the repr() of a member begins
        self.identifiers: dict[str, tuple[str, str]] = {}


@dataclass(frozen=True)
class _Type:
    name: str
    comment: str
    kind: str  # "SEQUENCE" or "CHOICE"
    lines: list[str]  # the body, laid out

    @property
    def body(self) -> str:
        """The body's lines, indented, each with its newline."""
        return "    " + "\n    ".join(self.lines) + "\n" if self.lines else ""


@dataclass(frozen=True)
class _Enumerated:
    name: str
    comment: str
    values: str


class _Row(NamedTuple):
    name: str
    type: str
    comment: str


def _layout(root: list[_Row], groups: list[tuple[int, list[_Row]]], extensible: bool) -> list[str]:
    """The lines of a SEQUENCE/CHOICE body: aligned members, the extension
    marker, and one [[ ]] group per VMGEN_SINCE version (the version is in a
    comment: asn1c does not read `[[ 2: ... ]]`)."""
    rows = root + [r for _, g in groups for r in g] if groups else root
    width = max([len(r.name) for r in rows], default=0)
    entries: list[tuple[str, str]] = []  # (text before the comment, comment)
    last = len(root) - 1
    for i, (name, wire, comment) in enumerate(root):
        comma = "," if extensible or i < last else ""
        entries.append((f"{name.ljust(width)}  {wire}{comma}", comment))
    if extensible:
        entries.append(("..." + ("," if groups else ""), ""))
    for gi, (version, group) in enumerate(groups):
        entries.append((f"[[ -- version {version}", ""))
        last = len(group) - 1
        for i, (name, wire, comment) in enumerate(group):
            entries.append((f"    {name.ljust(width)}  {wire}{',' if i < last else ''}",
                            comment))
        entries.append(("]]" + ("," if gi < len(groups) - 1 else ""), ""))
    column = max((len(t) for t, c in entries if c), default=0)
    return [f"{t.ljust(column)}  -- {c}" if c else t for t, c in entries]


def _root_lines(names: list[str], types: list[str], comments: list[str]) -> list[str]:
    """`_layout(rows, [], extensible=True)` where every row has a comment (as every
    field's has): the body of most SEQUENCEs, in fewer steps."""
    if not names:
        return ["..."]
    width = max(map(len, names))
    column = width + 2 + max(map(len, types)) + 1  # the longest `name  type,`
    lines = [f"{name.ljust(width)}  {wire},".ljust(column) + "  -- " + comment
             for name, wire, comment in zip(names, types, comments, strict=True)]
    lines.append("...")
    return lines


def _sequence(s: ir.Struct, wires: _Wire) -> tuple[list[str], ParsedType]:
    names: list[str] = []  # the root members'
    types: list[str] = []
    comments: list[str] = []
    parsed_root: list[Parsed | None] = []
    literal_root: list[str] = []
    groups: dict[int, list[_Row]] = {}
    parsed_groups: dict[int, list[Parsed]] = {}
    literal_groups: dict[int, list[str]] = {}
    found, identifiers, plain = wires.found, wires.identifiers, _PLAIN_TYPES
    for f in s.wire:
        t = f.type
        assert t is not None
        hit = found.get(id(t))
        text, parsed, tail = wires(t) if hit is None else hit[1]
        known = identifiers.get(f.name)
        if known is None:
            name = asn1_identifier(f.name)
            known = identifiers[f.name] = (name, f"{{'name': {name!r}, ")
        name = known[0]
        if f.bit_width is None and not f.const and f.selector is None and type(t) in plain:
            before, after = _around_name(f.c_type)  # `_c_comment`'s common case
            comment = before + f.name + after
        else:
            comment = _c_comment(f, t)
        member = {"name": name, **parsed}
        literal = known[1] + tail
        if f.since is None:
            names.append(name)
            types.append(text)
            comments.append(comment)
            parsed_root.append(member)
            literal_root.append(literal)
        else:
            groups.setdefault(f.since, []).append(_Row(name, text, comment))
            parsed_groups.setdefault(f.since, []).append(member)
            literal_groups.setdefault(f.since, []).append(literal)
    versions = sorted(groups)
    members: list[Any] = [*parsed_root, None, *(parsed_groups[v] for v in versions)]
    literals = [*literal_root, "None", *("[" + ", ".join(literal_groups[v]) + "]"
                                         for v in versions)]
    if groups:
        lines = _layout([_Row(*row) for row in zip(names, types, comments, strict=True)],
                        [(v, groups[v]) for v in versions], extensible=True)
    else:
        lines = _root_lines(names, types, comments)
    return lines, ParsedType({"type": "SEQUENCE", "members": members},
                             "{'type': 'SEQUENCE', 'members': [" + ", ".join(literals) + "]}")


def _choice(u: ir.Union, wires: _Wire) -> tuple[list[str], ParsedType]:
    rows = []
    parsed = []
    literals = []
    for m in u.members:
        text, p, tail = wires(m.type)
        rows.append(_Row(asn1_identifier(m.name), text, _c_comment(m, m.type)))
        parsed.append({"name": rows[-1].name, **p})
        literals.append(f"{{'name': {rows[-1].name!r}, {tail}")
    return _layout(rows, [], extensible=False), ParsedType(
        {"type": "CHOICE", "members": parsed},
        "{'type': 'CHOICE', 'members': [" + ", ".join(literals) + "]}")


def generate(module: ir.Module) -> tuple[str, Parsed]:
    """The ASN.1 module text and its asn1tools parse."""
    types: dict[str, Parsed] = {}
    wires = _Wire()
    enums: list[_Enumerated] = []
    for e in module.enums:
        tn = asn1_type(e.name)
        values = [(asn1_identifier(en.name), en.value) for en in e.enumerators]
        types[tn] = {"type": "ENUMERATED", "values": values}
        enums.append(
            _Enumerated(tn, f"{e.c_type} ({_where(e.location)})",
                        ", ".join(f"{n}({v})" for n, v in values))
        )
    bodies: list[_Type] = []
    for u in module.unions:
        tn = asn1_type(u.name)
        lines, types[tn] = _choice(u, wires)
        spelled = u.c_type or "anonymous union"
        bodies.append(_Type(tn, f"{spelled} ({_where(u.location)})", "CHOICE", lines))
    for s in module.structs:
        tn = asn1_type(s.name)
        lines, types[tn] = _sequence(s, wires)
        spelled = s.c_type or "anonymous struct"
        bodies.append(_Type(tn, f"{spelled} ({_where(s.location)})", "SEQUENCE", lines))
    for s in module.states:
        assert s.state is not None
        tn = asn1_type(s.name)
        rn = names.record_name(tn)
        rows = [_Row(n, t, "") for n, t in RECORD_MEMBERS] + [_Row("state", tn, "")]
        types[rn] = {
            "type": "SEQUENCE",
            "members": [
                {"name": "device", "type": "VisibleString"},
                {"name": "version", "restricted-to": [(0, 4294967295)], "type": "INTEGER"},
                {"name": "minimum-version", "restricted-to": [(0, 4294967295)],
                 "type": "INTEGER"},
                {"name": "state", "type": tn},
                None,
            ],
        }
        bodies.append(_Type(
            rn,
            f"record of {s.c_type}: data version {s.state.version}, "
            f"readable from version {s.state.minimum_version}",
            "SEQUENCE",
            _layout(rows, [], extensible=True),
        ))
    name = module_name(module)
    text = render(
        "asn1/module.asn.j2",
        banner=banner(module.include),
        module=name,
        enums=enums,
        types=bodies,
    )
    module_parse: Parsed = {
        name: {
            "extensibility-implied": False,
            "imports": {},
            "object-classes": {},
            "object-sets": {},
            "tags": "AUTOMATIC",
            "types": types,
            "values": {},
        }
    }
    return text, module_parse
