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
from pathlib import PurePath
from typing import Any

from vmgen import ir, names
from vmgen.backends import banner, render
from vmgen.diagnostics import Location

RECORD_MEMBERS = (
    ("device", "VisibleString"),
    ("version", "INTEGER (0..4294967295)"),
    ("minimum-version", "INTEGER (0..4294967295)"),
)

# ASN.1 value of each wire type: (text, parsed form)
Parsed = dict[str, Any]


def module_name(module: ir.Module) -> str:
    mod = names.python_module(module.stem)
    return names.type_name(mod) or "Vmgen-" + "-".join(p for p in mod.split("_") if p)


def asn1_type(name: str) -> str:
    t = names.type_name(name)
    assert t is not None, "checked by vmgen.checks"
    return t


def asn1_identifier(name: str) -> str:
    f = names.identifier(name)
    assert f is not None, "checked by vmgen.checks"
    return f


def wire_type(t: ir.WireType) -> tuple[str, Parsed]:
    if isinstance(t, ir.IntType):
        return f"INTEGER ({t.min}..{t.max})", {"type": "INTEGER", "restricted-to": [(t.min, t.max)]}
    if isinstance(t, ir.BoolType):
        return "BOOLEAN", {"type": "BOOLEAN"}
    if isinstance(t, ir.FloatType):
        n = t.bits // 8
        return f"OCTET STRING (SIZE ({n}))", {"type": "OCTET STRING", "size": [n]}
    if isinstance(t, ir.BytesType):
        return f"OCTET STRING (SIZE ({t.length}))", {"type": "OCTET STRING", "size": [t.length]}
    if isinstance(t, ir.ArrayType):
        text, parsed = wire_type(t.element)
        return (
            f"SEQUENCE (SIZE ({t.length})) OF {text}",
            {"type": "SEQUENCE OF", "element": parsed, "size": [t.length]},
        )
    ref = asn1_type(t.name)
    return ref, {"type": ref}


def _c_comment(f: ir.Field, t: ir.WireType) -> str:
    extra = {32: " (IEEE 754 binary32 bits)", 64: " (IEEE 754 binary64 bits)"}
    note = extra[t.bits] if isinstance(t, ir.FloatType) else ""
    base, bracket, dims = f.c_type.partition("[")
    return f"{base} {f.name}{bracket}{dims}{note}"


def _where(loc: Location) -> str:
    """A location that does not depend on how the header was named (output is deterministic)."""
    return f"{PurePath(loc.file).name}:{loc.line}"


@dataclass(frozen=True)
class _Member:
    name: str  # padded to the widest name
    rest: str  # "TYPE," and, where there is one, the aligned "-- comment"


@dataclass(frozen=True)
class _Sequence:
    name: str
    comment: str
    members: list[_Member]


@dataclass(frozen=True)
class _Enumerated:
    name: str
    comment: str
    values: str


def _pad(members: list[tuple[str, str, str]]) -> list[_Member]:
    width = max(len(n) for n, _, _ in members)
    twidth = max(len(t) for _, t, _ in members)
    return [
        _Member(n.ljust(width), f"{(t + ','):<{twidth + 1}}  -- {c}" if c else t + ",")
        for n, t, c in members
    ]


def generate(module: ir.Module) -> tuple[str, Parsed]:
    """The ASN.1 module text and its asn1tools parse."""
    types: dict[str, Parsed] = {}
    enums: list[_Enumerated] = []
    for e in module.enums:
        tn = asn1_type(e.name)
        values = [(asn1_identifier(en.name), en.value) for en in e.enumerators]
        types[tn] = {"type": "ENUMERATED", "values": values}
        enums.append(
            _Enumerated(tn, f"{e.c_type} ({_where(e.location)})",
                        ", ".join(f"{n}({v})" for n, v in values))
        )
    sequences: list[_Sequence] = []
    for s in module.structs:
        tn = asn1_type(s.name)
        rows: list[tuple[str, str, str]] = []
        parsed_members: list[Parsed | None] = []
        for f in s.migrated:
            assert f.type is not None
            text, parsed = wire_type(f.type)
            fname = asn1_identifier(f.name)
            rows.append((fname, text, _c_comment(f, f.type)))
            parsed_members.append({"name": fname, **parsed})
        parsed_members.append(None)
        types[tn] = {"type": "SEQUENCE", "members": parsed_members}
        sequences.append(_Sequence(tn, f"{s.c_type} ({_where(s.location)})", _pad(rows)))
    for s in module.states:
        assert s.state is not None
        tn = asn1_type(s.name)
        rn = names.record_name(tn)
        rows = [(n, t, "") for n, t in RECORD_MEMBERS]
        rows.append(("state", tn, ""))
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
        sequences.append(
            _Sequence(
                rn,
                f"record of {s.c_type}: data version {s.state.version}, "
                f"readable from version {s.state.minimum_version}",
                _pad(rows),
            )
        )
    name = module_name(module)
    text = render(
        "asn1/module.asn.j2",
        banner=banner(module.include),
        module=name,
        enums=enums,
        sequences=sequences,
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
