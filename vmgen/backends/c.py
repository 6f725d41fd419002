"""C backend: ``STEM-visit.h`` and ``STEM-visit.c`` (QAPI-style visitors + save/load)."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from vmgen import ir
from vmgen.backends import banner, render

# Generated code refuses to build against a runtime it was not generated for.
RUNTIME_VERSION = 2


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _int64_literal(value: int) -> str:
    if value == -(1 << 63):
        return "INT64_MIN"
    return f"INT64_C({value})"


def _snippet(template: str, **context: object) -> str:
    return render(template, **context).rstrip("\n")


def _member(t: ir.WireType, name: str, path: str, depth: int) -> str:
    """The statement that visits one member (or list element) of type `t`."""
    if isinstance(t, ir.ArrayType):
        index = f"i{depth}"
        element = _member(t.element, "NULL", f"{path}[{index}]", depth + 1)
        return _snippet(
            "c/member_list.c.j2",
            name=name,
            length=t.length,
            count=f"n{depth}",
            index=index,
            element=textwrap.indent(element, " " * 8),
        )
    if isinstance(t, ir.BytesType):
        return _snippet("c/member_bytes.c.j2", name=name, length=t.length, path=path)
    return _snippet("c/member_scalar.c.j2", name=name, visitor=t.visitor, path=path)


@dataclass(frozen=True)
class _StructView:
    name: str
    c_type: str
    members: list[str]


@dataclass(frozen=True)
class _EnumView:
    name: str
    c_type: str
    count: int
    values: str


@dataclass(frozen=True)
class _StateView:
    name: str
    c_type: str
    name_literal: str
    version: int
    minimum_version: int


def visit_header_name(module: ir.Module) -> str:
    return f"{module.stem}-visit.h"


def _guard(module: ir.Module) -> str:
    return "VMGEN_" + re.sub(r"[^A-Za-z0-9]", "_", module.stem).upper() + "_VISIT_H"


def _context(module: ir.Module) -> dict[str, object]:
    structs = [
        _StructView(
            s.name,
            s.c_type,
            [
                textwrap.indent(_member(f.type, _c_string(f.name), f"obj->{f.name}", 0), "    ")
                for f in s.migrated
                if f.type is not None
            ],
        )
        for s in module.structs
    ]
    enums = [
        _EnumView(
            e.name,
            e.c_type,
            len(e.enumerators),
            ", ".join(_int64_literal(en.value) for en in e.enumerators),
        )
        for e in module.enums
    ]
    states = [
        _StateView(s.name, s.c_type, _c_string(s.name), s.state.version, s.state.minimum_version)
        for s in module.states
        if s.state is not None
    ]
    return {
        "banner": banner(module.include),
        "include": module.include,
        "visit_header": visit_header_name(module),
        "guard": _guard(module),
        "runtime_version": RUNTIME_VERSION,
        "structs": structs,
        "enums": enums,
        "states": states,
    }


def generate(module: ir.Module) -> dict[str, str]:
    ctx = _context(module)
    return {
        visit_header_name(module): render("c/visit.h.j2", **ctx),
        f"{module.stem}-visit.c": render("c/visit.c.j2", **ctx),
    }
