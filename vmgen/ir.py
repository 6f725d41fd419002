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
"""

from __future__ import annotations

from dataclasses import dataclass

from vmgen.diagnostics import Location


@dataclass(frozen=True)
class IntType:
    """An integer.  ``visitor`` names the runtime function: ``visit_type_<visitor>``."""

    visitor: str  # "uint8", "int", "ulong", ...
    bits: int
    signed: bool

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1


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
class BytesType:
    """A fixed array of 8-bit unsigned bytes or plain ``char``: an OCTET STRING."""

    length: int


@dataclass(frozen=True)
class ArrayType:
    element: WireType
    length: int


WireType = IntType | BoolType | FloatType | EnumRef | StructRef | BytesType | ArrayType


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
class Field:
    name: str  # the C member name
    c_type: str  # the C declaration's type, as written (for messages and `explain`)
    type: WireType | None  # None: skipped
    location: Location

    @property
    def skipped(self) -> bool:
        return self.type is None


@dataclass(frozen=True)
class StateInfo:
    version: int
    minimum_version: int
    location: Location


@dataclass(frozen=True)
class Struct:
    name: str  # identifier used in generated names (typedef name or tag)
    c_type: str  # how C spells the type: "RTCState" or "struct rtc"
    fields: tuple[Field, ...]
    location: Location
    state: StateInfo | None  # set for device states (VMGEN_STATE)

    @property
    def migrated(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.type is not None)


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
    dependencies: tuple[str, ...]  # every file the preprocessor read
    target: Target

    @property
    def states(self) -> tuple[Struct, ...]:
        return tuple(s for s in self.structs if s.state is not None)

    def struct(self, name: str) -> Struct:
        for s in self.structs:
            if s.name == name:
                return s
        raise KeyError(name)

    def enum(self, name: str) -> Enum:
        for e in self.enums:
            if e.name == name:
                return e
        raise KeyError(name)
