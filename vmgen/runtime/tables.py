"""The tables a generated module holds, their derived look-ups, and the runtime's error.

A generated ``MOD_asn1.py`` is its device's tables (literals written by
``vmgen/backends/python.py``) and a `Codec` built from them.  The tables:

``SPEC``
    the ASN.1 module's text (the same as ``STEM.asn``);
``PARSED``
    its asn1tools parse (``asn1tools.parse_string(SPEC)``), so nothing parses ASN.1 text;
``TYPES``
    ASN.1 type -> descriptor of its C view, for every type of SPEC;
``STRUCTS``
    ASN.1 struct type -> ``((C field, ASN.1 member or None, descriptor, since, role), ...)``
    in wire order; ``since``: the version that added the field, or None; ``role``: None,
    ``("count", array)`` (the field is the array's length, not on the wire; its ASN.1
    member is None) or ``("union", discriminator field)``;
``UNIONS``
    ASN.1 union type -> ``((C member, ASN.1 alternative, descriptor, cases), ...)``,
    ``cases`` the discriminator values that select the member;
``ENUMS``
    ASN.1 enum type -> ``((C enumerator, ASN.1 identifier, value), ...)``;
``STATES``
    device state (its C name) -> ``(ASN.1 record type, ASN.1 state type, version,
    minimum version)``.
``LAYOUTS`` (runtime version 2)
    ASN.1 struct type -> ``(VMState name, items)`` for a struct with a VMState layout
    (VMGEN_VMSD): its legacy stream's own order.  Items: ``("field", C field)`` (a count
    field travels there), ``("unused", C field, bytes, since)`` (padding: zeros out,
    skipped in), ``("subsection", C field, VMState name, version, minimum version,
    presence field or None)`` (a member struct sent as a subsection after the fields,
    when the presence bool is true; None: a C function decides).
``SECTIONS`` (runtime version 2)
    VMState name -> the device state (C name) whose legacy stream is that section.

Descriptors (`Descriptor`)::

    ("int", min, max, C bytes, signed)  ("bool",)  ("float", bits)
    ("bytes", min len, max len)  ("string", max len)
    ("enum", T)  ("struct", T)  ("union", T)  (T: an ASN.1 type of ENUMS, STRUCTS, UNIONS)
    ("list", min len, max len, element descriptor)  ("record", C state name)
"""

from __future__ import annotations

import re
from typing import Any

Descriptor = tuple[Any, ...]
Role = tuple[str, str] | None
Member = tuple[str, str | None, Descriptor, int | None, Role]
Alternative = tuple[str, str, Descriptor, tuple[int, ...]]
Enumerator = tuple[str, str, int]
State = tuple[str, str, int, int]
LayoutItem = tuple[Any, ...]
Layout = tuple[str, tuple[LayoutItem, ...]]

NEWEST = 0xFFFFFFFF
"""The version a value without a record is checked at: every field is in it."""


class Error(ValueError):
    """A value that does not fit its C type, or bytes that are not a valid record."""


class Tables:
    """A generated module's tables, and look-ups derived from them (built once)."""

    def __init__(self, spec: str, parsed: dict[str, Any], types: dict[str, Descriptor],
                 structs: dict[str, tuple[Member, ...]], unions: dict[str, tuple[Alternative, ...]],
                 enums: dict[str, tuple[Enumerator, ...]], states: dict[str, State],
                 layouts: dict[str, Layout] | None = None,
                 sections: dict[str, str] | None = None) -> None:
        self.spec = spec
        self.layouts = layouts or {}
        self.sections = sections or {}
        self.parsed = parsed
        self.types = types
        self.structs = structs
        self.unions = unions
        self.enums = enums
        self.states = states
        self.enum_to_asn1 = {t: {c: a for c, a, _ in e} for t, e in enums.items()}
        self.enum_to_c = {t: {a: c for c, a, _ in e} for t, e in enums.items()}
        self.enum_value = {t: {c: v for c, _, v in e} for t, e in enums.items()}
        # value -> C enumerator (the last one of a value, as a dict built in order keeps it)
        self.enum_by_value = {t: {v: c for c, _, v in e} for t, e in enums.items()}
        # struct -> {array field: its count field's member}
        self.counts = {t: {m[4][1]: m for m in members if m[4] is not None and m[4][0] == "count"}
                       for t, members in structs.items()}
        # struct -> {C field: its member}
        self.members = {t: {m[0]: m for m in members} for t, members in structs.items()}
        # Member paths of a layout ('channels[0].irq_disabled'): a C member reached
        # through another, so one memory location the record may carry twice.
        self.aliases = {t: tuple((m[0], _steps(m[0])) for m in members
                                 if "." in m[0] or "[" in m[0])
                        for t, members in structs.items()}
        self.aliases = {t: a for t, a in self.aliases.items() if a}

    def type(self, type_name: str) -> Descriptor:
        """The descriptor of an ASN.1 type of SPEC (KeyError naming the module's types)."""
        if type_name not in self.types:
            raise KeyError(f"no ASN.1 type {type_name!r} in this module "
                           f"(have: {', '.join(self.types)})")
        return self.types[type_name]

    def state(self, struct_name: str) -> State:
        """The STATES entry of a device state (KeyError naming the module's states)."""
        if struct_name not in self.states:
            raise KeyError(f"{struct_name!r} is not a device state of this module "
                           f"(have: {', '.join(self.states)})")
        return self.states[struct_name]


def _steps(path: str) -> tuple[str | int, ...]:
    """'channels[0].irq_disabled' -> ('channels', 0, 'irq_disabled')."""
    return tuple(int(index) if index else member
                 for member, index in re.findall(r"\.?([A-Za-z_]\w*)|\[(\d+)\]", path))


def settle_aliases(t: Tables, type_name: str, value: dict[str, Any],
                   order: list[str]) -> None:
    """Make a member path and the member it reaches hold one value, as C's one memory
    location does: the one written last in `order` (the names in the order a load
    stores them) wins."""
    position = {name: i for i, name in enumerate(order)}
    for path, steps in t.aliases.get(type_name, ()):
        if path not in value or steps[0] not in position or path not in position:
            continue
        target: Any = value
        for step in steps[:-1]:
            if isinstance(step, int):
                if not isinstance(target, list) or step >= len(target):
                    break
            elif not isinstance(target, dict) or step not in target:
                break
            target = target[step]
        else:
            last = steps[-1]
            if not isinstance(target, dict) or last not in target:
                continue
            if position[path] > position[str(steps[0])]:
                target[last] = value[path]
            else:
                value[path] = target[last]
