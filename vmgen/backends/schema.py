"""Schema backend: ``STEM.vmgen.json``, the wire schema of every device state.

Deterministic, free of vmgen's own version (an upgrade does not change it),
and meant to be committed: ``vmgen compat`` and ``vmgen check``
compare two of them to tell compatible from breaking struct changes.  It
records what travels (wire types, ranges, sizes, since-versions, wire order)
and where each field is declared (file and line) for messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import PurePath
from typing import Any

from vmgen.backends import PerObject
from vmgen.lowering import ir

FORMAT = 1

# json.dumps(value, separators=(", ", ": ")), without building an encoder per call.
_COMPACT = json.JSONEncoder(separators=(", ", ": "))
# json.dumps(a_string): what the encoders above use for strings.
_string: Callable[[str], str] = json.encoder.encode_basestring_ascii


def wire(t: ir.WireType) -> dict[str, Any]:
    if isinstance(t, ir.IntType):
        return {"kind": "int", "bits": t.bits, "signed": t.signed, "min": t.min, "max": t.max}
    if isinstance(t, ir.BoolType):
        return {"kind": "bool"}
    if isinstance(t, ir.FloatType):
        return {"kind": "float", "bits": t.bits}
    if isinstance(t, ir.ExternalType):
        return {**wire(t.wire), "external": t.name}
    if isinstance(t, ir.StringType):
        return {"kind": "string", "max": t.capacity - 1}
    if isinstance(t, (ir.BytesType, ir.ArrayType)):
        out: dict[str, Any] = {"kind": "bytes" if isinstance(t, ir.BytesType) else "list"}
        if t.count is None:
            out.update(min=t.length, max=t.length)
        else:
            out.update(min=t.count.min, max=t.count.max, count=t.count.field)
        if isinstance(t, ir.ArrayType):
            out["element"] = wire(t.element)
        return out
    kind = {ir.EnumRef: "enum", ir.StructRef: "struct", ir.UnionRef: "union"}[type(t)]
    return {"kind": kind, "type": t.name}


def _where(loc: Any) -> str:
    return f"{_file_name(loc.file)}:{loc.line}"


@lru_cache(maxsize=256)
def _file_name(path: str) -> str:
    return PurePath(path).name


def _field(f: ir.Field) -> dict[str, Any]:
    assert f.type is not None
    out: dict[str, Any] = {"name": f.name, "c_type": f.c_type, "wire": wire(f.type),
                           "since": f.since, "at": _where(f.location)}
    if f.const:
        out["const"] = True
    if f.bit_width is not None:
        out["bit_width"] = f.bit_width
    if f.selector is not None:
        out["selector"] = f.selector
    if f.positive_le:
        out["positive_le"] = True
    if f.subsection is not None:
        out["subsection"] = _subsection(f.subsection)
    return out


def _subsection(sub: ir.Subsection) -> dict[str, Any]:
    return {"version": sub.version, "minimum_version": sub.minimum_version,
            "needed": sub.needed}


class _JsonList(list[str]):
    """A list whose items are already written as compact JSON."""


def _wire_json(t: ir.WireType) -> str:
    return _COMPACT.encode(wire(t))


class _Fields:
    """The fields, derived fields and skipped fields of a struct as compact JSON
    texts, `_COMPACT.encode` of what `_schema` lists, from pieces: one field per
    line is most of the file.  Names, spellings and file names repeat: each is
    encoded once."""

    def __init__(self) -> None:
        self.wires = PerObject(_wire_json)  # the compact JSON of each wire type object
        self.strings: dict[str, str] = {}  # a name or C type -> its JSON string
        self.places: dict[str, str] = {}  # file -> the JSON string of "NAME:", open

    def __call__(self, s: ir.Struct) -> tuple[_JsonList, _JsonList, _JsonList]:
        wires, found, strings, places = self.wires, self.wires.found, self.strings, self.places
        fields, derived, skipped = _JsonList(), _JsonList(), _JsonList()
        for f in s.fields:
            name = strings.get(f.name)
            if name is None:
                name = strings[f.name] = _string(f.name)
            c_type = strings.get(f.c_type)
            if c_type is None:
                c_type = strings[f.c_type] = _string(f.c_type)
            loc = f.location
            place = places.get(loc.file)
            if place is None:
                # A line number needs no escape: "NAME:LINE" is this plus digits.
                place = places[loc.file] = _string(f"{_file_name(loc.file)}:")[:-1]
            line = int.__repr__(loc.line)
            if f.type is None:
                unused = "" if f.unused is None else f', "unused": {int.__repr__(f.unused)}'
                skipped.append(f'{{"name": {name}, "c_type": {c_type}, "at": {place}{line}"'
                               f'{unused}}}')
                continue
            if f.count_of is not None:
                derived.append(f'{{"name": {name}, "count_of": {_string(f.count_of)}, '
                               f'"at": {place}{line}"}}')
                continue
            hit = found.get(id(f.type))
            wire = wires(f.type) if hit is None else hit[1]
            since = "null" if f.since is None else int.__repr__(f.since)
            text = (f'{{"name": {name}, "c_type": {c_type}, "wire": {wire}, '
                    f'"since": {since}, "at": {place}{line}"')
            if (not f.const and f.bit_width is None and f.selector is None
                    and not f.positive_le and f.subsection is None):
                fields.append(text + "}")  # the common case
                continue
            if f.const:
                text += ', "const": true'
            if f.bit_width is not None:
                text += f', "bit_width": {int.__repr__(f.bit_width)}'
            if f.selector is not None:
                text += f', "selector": {_string(f.selector)}'
            if f.positive_le:
                text += ', "positive_le": true'
            if f.subsection is not None:
                text += f', "subsection": {_COMPACT.encode(_subsection(f.subsection))}'
            fields.append(text + "}")
        return fields, derived, skipped


def schema(module: ir.Module) -> dict[str, Any]:
    return _schema(module, None)


def _schema(module: ir.Module, fields: _Fields | None) -> dict[str, Any]:
    """The schema; with `fields`, a struct's fields come as their JSON texts
    (`_JsonList`)."""
    types: dict[str, Any] = {}
    for s in module.structs:
        wired: list[Any]
        derived: list[Any]
        skipped: list[Any]
        if fields is not None:
            wired, derived, skipped = fields(s)
        else:
            wired = [_field(f) for f in s.wire]
            derived = [{"name": f.name, "count_of": f.count_of, "at": _where(f.location)}
                       for f in s.fields if f.count_of is not None]
            skipped = [{"name": f.name, "c_type": f.c_type, "at": _where(f.location),
                        **({} if f.unused is None else {"unused": f.unused})}
                       for f in s.fields if f.type is None]
        types[s.name] = {"kind": "struct", "c_type": s.c_type, "at": _where(s.location),
                         "fields": wired, "derived": derived, "skipped": skipped}
        if s.layout is not None:
            # The legacy stream's own order (VMGEN_VMSD): what QEMU's table lists.
            types[s.name]["vmsd"] = s.vmsd
            types[s.name]["legacy"] = [f.name for f in s.layout]
    for e in module.enums:
        types[e.name] = {
            "kind": "enum",
            "c_type": e.c_type,
            "at": _where(e.location),
            "values": {en.name: en.value for en in e.enumerators},
        }
    for u in module.unions:
        types[u.name] = {
            "kind": "union",
            "c_type": u.c_type,
            "at": _where(u.location),
            "members": [{"name": m.name, "c_type": m.c_type, "wire": wire(m.type),
                         "cases": list(m.cases), "at": _where(m.location)} for m in u.members],
        }
    states = {
        s.name: {"version": s.state.version, "minimum_version": s.state.minimum_version,
                 "at": _where(s.location)}
        for s in module.states if s.state is not None
    }
    return {"vmgen-schema": FORMAT, "source": module.include, "states": states,
            "types": types}


def _layout(value: Any, indent: str, depth: int) -> str:
    """JSON with objects and lists broken over lines down to `depth`, and compact
    (C-accelerated) below: one field of a struct per line, for readable diffs."""
    # Each text is joined once (the outer ones are megabytes long).
    if type(value) is _JsonList:
        if depth > 0 and value:
            inner = indent + "  "
            return "".join(["[\n", inner, (",\n" + inner).join(value), "\n", indent, "]"])
        return "".join(["[", ", ".join(value), "]"])
    if depth > 0 and isinstance(value, dict) and value:
        return _object(value, indent, depth)
    if depth > 0 and isinstance(value, list) and value:
        inner = indent + "  "
        parts = ["["]
        for v in value:
            parts += (",\n", inner, _layout(v, inner, depth - 1))
        parts[1] = "\n"
        parts += ("\n", indent, "]")
        return "".join(parts)
    # What the encoder writes for a string, an int and an empty list, without it.
    if type(value) is str:
        return _string(value)
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is list and not value:
        return "[]"
    return _COMPACT.encode(value)


def _object(value: dict[Any, Any], indent: str, depth: int, end: str = "") -> str:
    """`_layout` of a non-empty object at `depth` > 0, followed by `end`."""
    inner = indent + "  "
    parts = ["{"]
    for k, v in value.items():
        parts += (",\n", inner, _key(k), ": ", _layout(v, inner, depth - 1))
    parts[1] = "\n"  # no comma before the first
    parts += ("\n", indent, "}", end)
    return "".join(parts)


def _key(key: Any) -> str:
    return _string(key) if type(key) is str else json.dumps(key)


def generate(module: ir.Module) -> str:
    return _object(_schema(module, _Fields()), "", 4, "\n")  # `_layout(...) + "\n"`
