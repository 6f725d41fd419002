"""The intermediate representation: what travels, independent of C syntax and of any backend.

The frontend lowers the parsed C into these frozen dataclasses; the checks stage
validates them; backends only read them.  Every node that comes from the user's
source carries its :class:`~vmgen.diagnostics.Location`.

Invariants (established by the frontend, relied on by every backend):

* ``Module.structs`` holds exactly the structs reachable from a device state,
  each struct after every struct it contains (dependency order), each once.
* ``Module.enums`` holds exactly the enums those structs use.
* A migrated field has a ``type``; a skipped field has ``type is None``.
* Array lengths are folded, positive integers; byte arrays are :class:`BytesType`.
* Every struct has at least one migrated field.
* ``Struct.fields`` is in *wire order*: root fields in C order (a union right
  after its discriminator), then the fields of each ``since`` version in
  ascending version order, each group in C order.  Anonymous struct members
  are flattened into their parent.
* A count field (``count_of`` set) is not on the wire: the array's length is.
  It sizes exactly one array of the same struct, and its type holds the
  array's capacity.
* ``Struct.layout`` (set with ``vmsd``) is the legacy stream's own order: every
  migrated field once and the VMGEN_UNUSED padding, in declaration order, then the
  subsection members in declaration order; a count comes before its array, a
  discriminator before its union; a subsection's presence field is not in it.
  Padding fields have no wire type (they are not in the BER record) and ``unused``
  set.  An annotations file may give the order itself (``layout``): then it is that
  list, the struct's VMGEN_SUBSECTION members and subsection groups last.  A
  subsection group (``Subsection.fields`` set) is a layout entry without a type
  whose subsection carries members of the struct itself.
* A field whose name is a path (``channels[0].irq_disabled``) is a member of a
  member, placed by a layout: it is in ``fields`` (the BER record carries it) and
  its C lvalue is ``obj->`` + its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

from vmgen.diagnostics import Location

_new = object.__new__
_set = object.__setattr__


@dataclass(frozen=True)
class IntType:
    """An integer.  ``visitor`` names the runtime function: ``visit_type_<visitor>``.

    ``lo``/``hi`` narrow the C type's range (VMGEN_RANGE, bit-field widths);
    ``min``/``max`` are the range that travels."""

    visitor: str  # "uint8", "int", "ulong", ...
    bits: int
    signed: bool
    lo: int | None = None
    hi: int | None = None

    @property
    def type_min(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def type_max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def min(self) -> int:
        return self.type_min if self.lo is None else self.lo

    @property
    def max(self) -> int:
        return self.type_max if self.hi is None else self.hi

    @property
    def ranged(self) -> bool:
        return self.lo is not None or self.hi is not None


@dataclass(frozen=True)
class BoolType:
    visitor: str = "bool"


@dataclass(frozen=True)
class FloatType:
    """An IEEE 754 binary32/binary64 value; travels as its raw big-endian bits."""

    visitor: str  # "float" or "double"
    bits: int


@dataclass(frozen=True)
class EnumRef:
    name: str  # key into Module.enums

    @property
    def visitor(self) -> str:
        return self.name


@dataclass(frozen=True)
class StructRef:
    name: str  # key into Module.structs

    @property
    def visitor(self) -> str:
        return self.name


@dataclass(frozen=True)
class UnionRef:
    name: str  # key into Module.unions

    @property
    def visitor(self) -> str:
        return self.name


@dataclass(frozen=True)
class ExternalType:
    """A host type visited by the user's ``visit_type_<name>``, which visits one
    value of the scalar `wire` (VMGEN_EXTERNAL).  `pointer`: the field is a
    ``T *`` and the function gets the pointer itself."""

    name: str
    wire: IntType | BoolType | FloatType | BytesType
    pointer: bool
    # VMGEN_VISITOR on a member: the member's C type (the visitor gets its address);
    # None for a typedef's VMGEN_EXTERNAL (the typedef names the type).
    c_type: str | None = None

    @property
    def visitor(self) -> str:
        return self.name


@dataclass(frozen=True)
class Sizing:
    """How many elements of an array travel (VMGEN_SIZE_IS).

    `field` is the count field (a sibling).  `fixed`: the array has its
    declared capacity; else (flexible array member or pointer) the data must
    have exactly as many elements as the destination holds before the load.
    `min`..`max`: the element counts the wire allows (the capacity and the
    count field's range)."""

    field: str
    fixed: bool
    min: int = 0
    max: int = 0
    pointer: bool = False  # the array is a pointer to the elements (may be NULL)


@dataclass(frozen=True)
class BytesType:
    """An array of 8-bit unsigned bytes or plain ``char``: an OCTET STRING.

    `length` is the capacity; `count` is set for a sized array."""

    length: int
    count: Sizing | None = None


@dataclass(frozen=True)
class StringType:
    """A ``char`` array holding a NUL-terminated string (VMGEN_STRING): a
    VisibleString of at most ``capacity - 1`` characters."""

    capacity: int


@dataclass(frozen=True)
class ArrayType:
    element: WireType
    length: int  # the capacity
    count: Sizing | None = None


WireType = (
    IntType | BoolType | FloatType | EnumRef | StructRef | UnionRef | ExternalType | BytesType
    | StringType | ArrayType
)


@dataclass(frozen=True)
class Enumerator:
    name: str
    value: int
    location: Location


@dataclass(frozen=True)
class Enum:
    name: str  # identifier used in generated names (typedef name or tag)
    c_type: str  # how C spells the type: "Mode" or "enum mode"
    enumerators: tuple[Enumerator, ...]
    location: Location


@dataclass(frozen=True)
class Subsection:
    """VMGEN_SUBSECTION on a member struct with its own VMGEN_VMSD: in the legacy stream
    the member travels as a VMState subsection of that name, after the parent's fields,
    when `needed` says so: a bool field of the parent (`by_field`: set on load to
    whether the subsection came) or a function ``bool needed(void *opaque)`` given the
    parent."""

    version: int
    minimum_version: int
    needed: str
    by_field: bool = False
    # A group over the parent's own members (an annotations file's [[S.subsections]]):
    # the subsection's name and its layout entries.  None for a member struct.
    vmsd: str | None = None
    fields: tuple[Field, ...] | None = None


@dataclass(frozen=True)
class Field:
    name: str  # the C member name
    c_type: str  # the C declaration's type, as written (for messages and `explain`)
    type: WireType | None  # None: skipped
    location: Location
    since: int | None = None  # VMGEN_SINCE: exists from this version on
    bit_width: int | None = None  # a bit-field (no address: visited through a value)
    const: bool = False  # travels, and a load must find the same value in place
    count_of: str | None = None  # the count of this array: derived, not on the wire
    selector: str | None = None  # a union field: its discriminator field
    positive_le: bool = False  # VMGEN_POSITIVE_LE: a load takes 0..the value in place
    unused: int | None = None  # VMGEN_UNUSED: n bytes of padding in the legacy stream only
    subsection: Subsection | None = None  # VMGEN_SUBSECTION: a subsection in the legacy stream

    @property
    def skipped(self) -> bool:
        return self.type is None

    @property
    def on_wire(self) -> bool:
        return self.type is not None and self.count_of is None


def plain_field(name: str, c_type: str, type: WireType, location: Location,
                const: bool) -> Field:
    """`Field(name, c_type, type, location, const=const)`, made without the frozen
    dataclass's `__init__` (one `object.__setattr__` per field): most fields of a
    large header are made here.  `tests/test_speedups.py` holds the two equal."""
    f: Field = _new(Field)
    _set(f, "__dict__", {"name": name, "c_type": c_type, "type": type, "location": location,
                         "since": None, "bit_width": None, "const": const, "count_of": None,
                         "selector": None, "positive_le": False, "unused": None,
                         "subsection": None})
    return f


@dataclass(frozen=True)
class UnionMember:
    name: str
    c_type: str
    type: WireType
    cases: tuple[int, ...]  # the discriminator values that select it (VMGEN_CASE)
    location: Location


@dataclass(frozen=True)
class Union:
    name: str  # identifier used in generated names (typedef name or tag)
    c_type: str
    members: tuple[UnionMember, ...]
    location: Location


@dataclass(frozen=True)
class StateInfo:
    version: int
    minimum_version: int
    location: Location


@dataclass(frozen=True)
class Struct:
    name: str  # identifier used in generated names (typedef name or tag)
    c_type: str  # how C spells the type: "RTCState", "struct rtc"; "" if it has no name
    fields: tuple[Field, ...]
    location: Location
    state: StateInfo | None  # set for device states (VMGEN_STATE)
    # VMGEN_VMSD("name"): the VMStateDescription this struct's legacy stream follows.
    vmsd: str | None = None
    # With `vmsd`: what the legacy stream carries, in declaration order (VMState's
    # field table): migrated fields (count fields where they are declared, each
    # since-version field in place) and VMGEN_UNUSED padding.  None: the legacy
    # stream follows `fields` (wire order, each count right before its array).
    layout: tuple[Field, ...] | None = None

    @property
    def anonymous(self) -> bool:
        """A ``struct { ... } member;`` type: named after its first use
        (``Outer_member``), visited inline (C cannot name its type)."""
        return not self.c_type

    # Derived views, computed once (the dataclass is frozen; cached_property
    # stores into the instance dict without going through __setattr__).

    @cached_property
    def migrated(self) -> tuple[Field, ...]:
        """Fields with a wire type (derived count fields included)."""
        return tuple([f for f in self.fields if f.type is not None])

    @cached_property
    def wire(self) -> tuple[Field, ...]:
        """Fields on the wire, in wire order: these are the SEQUENCE's members."""
        # `f.on_wire`, spelled out: no property call per field of a large header
        return tuple([f for f in self.fields if f.type is not None and f.count_of is None])

    @cached_property
    def _by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def field(self, name: str) -> Field:
        return self._by_name[name]


_Named = TypeVar("_Named", "Struct", "Enum", "Union")


@dataclass(frozen=True)
class Target:
    """Facts about the target compiler, read from its predefined macros."""

    char_bits: int
    char_signed: bool
    sizeof_short: int
    sizeof_int: int
    sizeof_long: int
    sizeof_long_long: int


@dataclass(frozen=True)
class Module:
    source: str  # the header as named on the command line
    include: str  # how generated C includes it ("hw/rtc.h")
    stem: str  # "rtc" for rtc.h
    structs: tuple[Struct, ...]
    enums: tuple[Enum, ...]
    unions: tuple[Union, ...]
    dependencies: tuple[str, ...]  # every file the preprocessor read
    target: Target

    @cached_property
    def states(self) -> tuple[Struct, ...]:
        return tuple(s for s in self.structs if s.state is not None)

    # Lookups by name, built once (the first of equal names wins, as a scan would).

    @cached_property
    def _structs(self) -> dict[str, Struct]:
        return _first_by_name(self.structs)

    @cached_property
    def _enums(self) -> dict[str, Enum]:
        return _first_by_name(self.enums)

    @cached_property
    def _unions(self) -> dict[str, Union]:
        return _first_by_name(self.unions)

    def struct(self, name: str) -> Struct:
        return self._structs[name]

    def enum(self, name: str) -> Enum:
        return self._enums[name]

    def union(self, name: str) -> Union:
        return self._unions[name]


def _first_by_name(items: tuple[_Named, ...]) -> dict[str, _Named]:
    found: dict[str, _Named] = {}
    for item in items:
        found.setdefault(item.name, item)
    return found
