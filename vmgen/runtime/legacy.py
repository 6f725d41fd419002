"""The legacy VMState stream, and the offers and negotiation of the two formats.

What VMState writes for the equivalent field list (`vmgen explain`): integers big-endian
at their C width, bool one byte, enums int32, floats their IEEE bits, byte arrays raw, a
string its whole char array (NUL-padded), arrays element by element, structs inline, a
sized array's count field (at its C width) right before it, a union its selected member;
VMGEN_SINCE(v) fields only when the version is >= v.  No header: the migration's section
says the version.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from vmgen.runtime.cview import selector_value, to_asn1
from vmgen.runtime.floats import float32_bits, float32_value, float64_bits, float64_value
from vmgen.runtime.tables import NEWEST, Descriptor, Error, Tables, settle_aliases

LEGACY = 1
BER = 2

Offer = tuple[int, int, int]
"""(formats, minimum version, version): what one peer reads and writes."""


def put(t: Tables, desc: Descriptor, value: Any, out: bytearray, version: int) -> None:
    """Append the stream of a value (already checked) of `desc`."""
    kind = desc[0]
    if kind == "int":
        out += value.to_bytes(desc[3], "big", signed=desc[4])
    elif kind == "bool":
        out.append(1 if value else 0)
    elif kind == "float":
        out += float32_bits(float(value), "") if desc[1] == 32 else float64_bits(value)
    elif kind == "enum":
        out += t.enum_value[desc[1]][value].to_bytes(4, "big", signed=True)
    elif kind == "bytes":
        out += value
    elif kind == "string":
        out += value.encode("ascii").ljust(desc[1] + 1, b"\0")
    elif kind == "list":
        for v in value:
            put(t, desc[3], v, out, version)
    elif kind == "struct":
        # a member struct with its own VMState is at its own (current) version
        put_struct(t, desc[1], value, out, NEWEST if desc[1] in t.layouts else version)
    else:  # a union: its selected member, inline
        ((member, inner),) = value.items()
        for c_name, _, d, _ in t.unions[desc[1]]:
            if c_name == member:
                put(t, d, inner, out, version)


def put_struct(t: Tables, type_name: str, value: dict[str, Any], out: bytearray,
               version: int) -> None:
    if type_name in t.layouts:
        _put_layout(t, type_name, value, out, version)
        return
    counts = t.counts[type_name]
    for c_name, _, desc, since, role in t.structs[type_name]:
        if (since is not None and since > version) or (role is not None and
                                                        role[0] == "count"):
            continue
        if c_name in counts:  # the count field travels right before its array
            put(t, counts[c_name][2], len(value[c_name]), out, version)
        put(t, desc, value[c_name], out, version)


class Reader:
    """Stream data and the position read up to."""

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.pos = 0

    def take(self, n: int, path: str) -> bytes:
        if n > len(self.data) - self.pos:
            raise Error(f"{path}: truncated data: {n} bytes needed, "
                        f"{len(self.data) - self.pos} left")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk


def get(t: Tables, desc: Descriptor, r: Reader, path: str, version: int,
        count: int | None = None) -> Any:
    """The C view of the next value of `desc` in the stream (a sized array: `count`
    elements)."""
    kind = desc[0]
    if kind == "int":
        value = int.from_bytes(r.take(desc[3], path), "big", signed=desc[4])
        if not desc[1] <= value <= desc[2]:
            raise Error(f"{path}: {value} is out of range {desc[1]}..{desc[2]}")
        return value
    if kind == "bool":
        byte = r.take(1, path)[0]
        if byte > 1:
            raise Error(f"{path}: {byte} is not a bool (0 or 1)")
        return byte == 1
    if kind == "float":
        raw = r.take(desc[1] // 8, path)
        return float32_value(raw) if desc[1] == 32 else float64_value(raw)
    if kind == "enum":
        value = int.from_bytes(r.take(4, path), "big", signed=True)
        names = t.enum_by_value[desc[1]]
        if value not in names:
            raise Error(f"{path}: {value} is not an enumerator of {desc[1]}")
        return names[value]
    if kind == "bytes":
        return r.take(desc[1] if count is None else count, path)
    if kind == "string":
        raw = r.take(desc[1] + 1, path)
        text, nul, _ = raw.partition(b"\0")
        if not nul or not all(0x20 <= b <= 0x7E for b in text):
            raise Error(f"{path}: not a NUL-terminated printable string of at most "
                        f"{desc[1]} characters")
        return text.decode("ascii")
    if kind == "list":
        n = desc[1] if count is None else count
        return [get(t, desc[3], r, f"{path}[{i}]", version) for i in range(n)]
    if kind == "struct":
        # a member struct with its own VMState is at its own (current) version
        return get_struct(t, desc[1], r, path, NEWEST if desc[1] in t.layouts else version)
    raise AssertionError(kind)  # unions are read by their struct


def _get_union(t: Tables, type_name: str, union: str, selector_field: str,
               out: dict[str, Any], r: Reader, where: str, version: int) -> dict[str, Any]:
    """A union's member, the one its discriminator (already read into `out`) selects."""
    selector = selector_value(t, type_name, selector_field, out[selector_field])
    for m_name, _, d, cases in t.unions[union]:
        if selector in cases:
            return {m_name: get(t, d, r, f"{where}.{m_name}", version)}
    raise Error(f"{where}: '{selector_field}' = {selector} selects no member")


def get_struct(t: Tables, type_name: str, r: Reader, path: str, version: int) -> dict[str, Any]:
    if type_name in t.layouts:
        return _get_layout(t, type_name, r, path, version)
    counts = t.counts[type_name]
    out: dict[str, Any] = {}
    for c_name, _, desc, since, role in t.structs[type_name]:
        if (since is not None and since > version) or (role is not None and
                                                        role[0] == "count"):
            continue
        where = f"{path}.{c_name}"
        count = None
        if c_name in counts:  # the count, read and checked before its array
            cdesc = counts[c_name][2]
            count = get(t, cdesc, r, f"{path}.{counts[c_name][0]}", version)
            assert count is not None
            if not desc[1] <= count <= desc[2]:
                raise Error(f"{where}: count {count} is outside {desc[1]}..{desc[2]}")
            out[counts[c_name][0]] = count
        if desc[0] == "union":
            assert role is not None
            out[c_name] = _get_union(t, type_name, desc[1], role[1], out, r, where, version)
            continue
        out[c_name] = get(t, desc, r, where, version, count)
    return out


# ---- VMState layouts (VMGEN_VMSD) --------------------------------------------------------

SUBSECTION = 0x05

# During one save_legacy/load_legacy call: which subsections decided by a C function
# (`needed(opaque)`, which Python cannot call) to send, by name; the names of the
# subsections a load found.
_NEEDED: ContextVar[Mapping[str, bool] | None] = ContextVar("vmgen_needed", default=None)
_PRESENT: ContextVar[set[str] | None] = ContextVar("vmgen_present", default=None)


@contextmanager
def subsections(needed: Mapping[str, bool] | None = None,
                present: set[str] | None = None) -> Iterator[None]:
    """Within it, saves send a subsection a C function decides when `needed[name]`
    says so, and loads add the name of each subsection they find to `present`."""
    a, b = _NEEDED.set(needed), _PRESENT.set(present)
    try:
        yield
    finally:
        _NEEDED.reset(a)
        _PRESENT.reset(b)


def _decided(type_name: str, name: str) -> bool:
    needed = _NEEDED.get()
    if needed is None or name not in needed:
        raise Error(f"{type_name}: a C function decides whether subsection '{name}' is "
                    "sent; Python cannot (say it with save_legacy(..., needed={name: bool}))")
    return bool(needed[name])


def decided_subsections(t: Tables, type_name: str) -> tuple[str, ...]:
    """The subsections a struct's legacy stream may hold (its own, and those of the
    structs it holds) whose presence a C function decides, by VMState name, in stream
    order, once each."""
    names: dict[str, None] = {}
    seen: set[str] = set()

    def desc(d: Descriptor) -> None:
        if d[0] == "struct":
            visit(d[1])
        elif d[0] == "list":
            desc(d[3])
        elif d[0] == "union":
            for _, _, inner, _ in t.unions[d[1]]:
                desc(inner)

    def items(type_name: str, layout: tuple[tuple[Any, ...], ...]) -> None:
        members = t.members[type_name]
        for item in layout:
            if item[0] == "group":
                if item[5] is None:
                    names.setdefault(item[2])
                items(type_name, item[6])
            elif item[0] == "subsection":
                if item[5] is None:
                    names.setdefault(item[2])
                visit(members[item[1]][2][1])
            elif item[0] == "field":
                desc(members[item[1]][2])

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        if name in t.layouts:
            items(name, t.layouts[name][1])
        else:
            for _, _, d, _, _ in t.structs[name]:
                desc(d)

    visit(type_name)
    return tuple(names)


def _found(name: str) -> None:
    present = _PRESENT.get()
    if present is not None:
        present.add(name)


def _subsection_at(r: Reader) -> bytes | None:
    """The name of the subsection header at the read position, if there is one."""
    return _subsection_name(r.data, r.pos)


def _subsection_name(data: bytes, p: int) -> bytes | None:
    """The name of the subsection header at offset p of data, if there is one."""
    if len(data) - p < 2 or data[p] != SUBSECTION or len(data) - p - 2 < data[p + 1] + 4:
        return None
    return data[p + 2:p + 2 + data[p + 1]]


def _get_layout(t: Tables, type_name: str, r: Reader, path: str,
                version: int) -> dict[str, Any]:
    """A struct in its VMState layout: its items in order, each count checked when read
    (before its array), then its subsections."""
    vmsd, items = t.layouts[type_name]
    out: dict[str, Any] = {}
    _get_items(t, type_name, items, r, path, version, out)
    if type_name in t.aliases:
        settle_aliases(t, type_name, out, _stored(items))
    name = _subsection_at(r)
    if name is not None and name.startswith(vmsd.encode()):
        raise Error(f"{path}: subsection '{name.decode('ascii', 'replace')}' at offset "
                    f"{r.pos} is not one of '{vmsd}' (unknown, or out of order)")
    return out


def _subsection_version(r: Reader, name: str, newest: int, minimum: int, where: str) -> int:
    """Past the header of subsection `name` (found at the read position): its version."""
    r.pos += 2 + len(name)
    v = int.from_bytes(r.take(4, where), "big")
    if not minimum <= v <= newest:
        raise Error(f"{where}: subsection version {v}, this reader takes {minimum}..{newest}")
    return v


def _get_items(t: Tables, type_name: str, items: tuple[tuple[Any, ...], ...], r: Reader,
               path: str, version: int, out: dict[str, Any]) -> None:
    members = t.members[type_name]
    for item in items:
        kind, c_name = item[0], item[1]
        where = f"{path}.{c_name}"
        if kind == "unused":
            if item[3] is None or item[3] <= version:
                r.take(item[2], where)
            continue
        if kind == "group":  # a subsection of the struct's own members
            _, _, name, newest, minimum, presence, inner = item
            found = _subsection_at(r) == name.encode()
            if found:
                _found(name)
                v = _subsection_version(r, name, newest, minimum, f"{path}.{name}")
                _get_items(t, type_name, inner, r, path, v, out)
            else:  # not sent: as a fresh device
                for g in _group_fields(inner):
                    out[g] = zero(t, members[g][2])
            if presence is not None:
                out[presence] = found
            continue
        if kind == "subsection":
            _, _, name, newest, minimum, presence = item
            found = _subsection_at(r) == name.encode()
            if found:
                _found(name)
                v = _subsection_version(r, name, newest, minimum, where)
                out[c_name] = get_struct(t, members[c_name][2][1], r, where, v)
            else:
                out[c_name] = zero(t, members[c_name][2])  # not sent: as a fresh device
            if presence is not None:
                out[presence] = found
            continue
        _, _, desc, since, role = members[c_name]
        if since is not None and since > version:
            continue
        if role is not None and role[0] == "count":
            value = get(t, desc, r, where, version)
            array = members[role[1]][2]
            if not array[1] <= value <= array[2]:
                raise Error(f"{path}.{role[1]}: count {value} is outside "
                            f"{array[1]}..{array[2]}")
            out[c_name] = value
            continue
        if desc[0] == "union":
            assert role is not None
            out[c_name] = _get_union(t, type_name, desc[1], role[1], out, r, where, version)
            continue
        count = None
        if c_name in t.counts[type_name]:
            count_name = t.counts[type_name][c_name][0]
            if count_name not in out:  # data older than its count: the device's own
                raise Error(f"{where}: its count '{count_name}' is not in data of version "
                            f"{version}, and Python has no device to take it from")
            count = out[count_name]
        out[c_name] = get(t, desc, r, where, version, count)


def _stored(items: tuple[tuple[Any, ...], ...]) -> list[str]:
    """The members a layout stores, in the order it stores them."""
    return [n for item in items for n in (_stored(item[6]) if item[0] == "group"
                                          else [item[1]])]


def _group_fields(items: tuple[tuple[Any, ...], ...]) -> list[str]:
    return [item[1] for item in items if item[0] == "field"]


def _put_layout(t: Tables, type_name: str, value: dict[str, Any], out: bytearray,
                version: int) -> None:
    _put_items(t, type_name, t.layouts[type_name][1], value, out, version)


def _put_items(t: Tables, type_name: str, items: tuple[tuple[Any, ...], ...],
               value: dict[str, Any], out: bytearray, version: int) -> None:
    members = t.members[type_name]
    for item in items:
        kind, c_name = item[0], item[1]
        if kind == "unused":
            if item[3] is None or item[3] <= version:
                out += bytes(item[2])
            continue
        if kind == "group":
            _, _, name, newest, _, presence, inner = item
            if _decided(type_name, name) if presence is None else value[presence]:
                raw = name.encode()
                out += bytes([SUBSECTION, len(raw)]) + raw + newest.to_bytes(4, "big")
                _put_items(t, type_name, inner, value, out, newest)
            continue
        if kind == "subsection":
            _, _, name, newest, _, presence = item
            if _decided(f"{type_name}.{c_name}", name) if presence is None else value[presence]:
                raw = name.encode()
                out += bytes([SUBSECTION, len(raw)]) + raw + newest.to_bytes(4, "big")
                put_struct(t, members[c_name][2][1], value[c_name], out, newest)
            continue
        _, _, desc, since, role = members[c_name]
        if since is not None and since > version:
            continue
        if role is not None and role[0] == "count":
            put(t, desc, len(value[role[1]]), out, version)
            continue
        put(t, desc, value[c_name], out, version)


def zero(t: Tables, desc: Descriptor) -> Any:
    """The C view of a value of `desc` with every byte zero (what a fresh device holds);
    an enum without a zero enumerator takes its first."""
    kind = desc[0]
    if kind == "int":
        return 0 if desc[1] <= 0 <= desc[2] else desc[1]
    if kind == "bool":
        return False
    if kind == "float":
        return 0.0
    if kind == "bytes":
        return bytes(desc[1])
    if kind == "string":
        return ""
    if kind == "enum":
        names = t.enum_by_value[desc[1]]
        return names.get(0, next(iter(names.values())))
    if kind == "list":
        return [zero(t, desc[3]) for _ in range(desc[1])]
    if kind == "union":
        c_name, _, d, _ = t.unions[desc[1]][0]
        return {c_name: zero(t, d)}
    out: dict[str, Any] = {}
    for c_name, _, d, _, _ in t.structs[desc[1]]:
        out[c_name] = zero(t, d)
    for array, member in t.counts[desc[1]].items():  # a count: its array's length
        out[member[0]] = len(out[array])
    return out


def encode_offer(o: Offer) -> bytes:
    """The 16 bytes of an offer: ``VMGo`` and three big-endian 32-bit numbers."""
    return b"VMGo" + struct.pack(">III", *o)


def decode_offer(data: bytes) -> Offer:
    if len(data) != 16 or data[:4] != b"VMGo":
        raise Error("not a vmgen offer")
    formats, minimum, newest = struct.unpack(">III", data[4:])
    if minimum > newest:
        raise Error(f"invalid offer: versions {minimum}..{newest}")
    return (formats, minimum, newest)


def negotiate(mine: Offer, theirs: Offer) -> tuple[int, int]:
    """(format, version) both sides agree on: BER when both speak it, else legacy;
    the newest version both know.  The C runtime's vmgen_negotiate twin."""
    common = mine[0] & theirs[0]
    if common & BER:
        chosen = BER
    elif common & LEGACY:
        chosen = LEGACY
    else:
        raise Error(f"no common migration format (formats {mine[0]} and {theirs[0]})")
    low, high = max(mine[1], theirs[1]), min(mine[2], theirs[2])
    if low > high:
        raise Error(f"no common version: {mine[1]}..{mine[2]} and {theirs[1]}..{theirs[2]}")
    return chosen, high


# ---- the compiled stream codec -----------------------------------------------------------
#
# The functions above are the reference: they word every error.  `Plans` compiles, per
# struct type and version, a reader and a writer of the same stream from closures over
# precomputed layouts: consecutive fixed-width values (integers, bools, enums, doubles,
# fixed byte arrays, strings, floats' bits, fixed arrays of these) are one struct.Struct
# each.  The reader makes every check `get` and the load checks make, and gives up
# (_Fallback, or any other exception) on anything else: then the reference decides.  The
# writer writes values the checks of save() have already accepted.  Structs with a
# VMState layout are compiled in the layout's order (`Plans._layout`).

_INT_FORMATS = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h",
                (4, False): "I", (4, True): "i", (8, False): "Q", (8, True): "q"}

Read = Callable[[bytes, int], tuple[Any, int]]
Write = Callable[[Any, bytearray], None]
ReadStep = Callable[[bytes, int, dict[str, Any]], int]
WriteStep = Callable[[dict[str, Any], bytearray], None]
# A value of a run: (C name read, how many values it takes in the Struct, the conversion
# of each value read, the C name written, the conversion of what is written): the same
# name both ways but for a layout's count, which is written as its array's length
RunField = tuple[str, int, Callable[[Any], Any] | None, str, Callable[[Any], Any] | None]


class _Fallback(Exception):
    """Stream data the compiled reader leaves to the reference."""


def _in_range(lo: int, hi: int) -> Callable[[int], int]:
    def check(v: int) -> int:
        if v < lo or v > hi:
            raise _Fallback
        return v
    return check


def _bool(v: int) -> bool:
    if v > 1:
        raise _Fallback
    return v == 1


def _string(n: int) -> Callable[[bytes], str]:
    def text(raw: bytes) -> str:
        body, nul, _ = raw.partition(b"\0")
        if not nul or not all(0x20 <= b <= 0x7E for b in body):
            raise _Fallback
        return body.decode("ascii")
    return text


def _encode_ascii(v: str) -> bytes:
    return v.encode("ascii")


def _float32_bits(v: Any) -> bytes:
    return float32_bits(float(v), "")


class Plans:
    """The compiled stream reader and writer of one module's tables, per struct type and
    version, built at first use (None: a shape it does not compile, the reference only).

    A struct with a VMState layout is compiled in its layout's order: its fields and its
    padding (``Nx``: skipped in, zeros out) in runs, a count in the run where the layout
    puts it (checked against its array when read, written as the array's length), its
    subsections and groups at their place, read at the version their header says (their
    readers built at first use per version), its member paths settled as the reference
    settles them.  Declined, for the reference to decide: what a read at one version
    leaves out of a struct that the check of the load's version asks for (a field added
    after a subsection's version, say), a missing subsection or group whose zero value that
    check refuses, a union in a layout, a group of anything but plain members and padding,
    a member path that is or reaches a count, a discriminator or a member of another type,
    a layout naming a member twice."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.compiled: dict[tuple[str, int], tuple[Read, Write] | None] = {}
        # (struct, version read, version checked) -> its reader and writer, or None
        self.inner: dict[tuple[str, int, int], tuple[Read, Write] | None] = {}
        # (struct, group, version read, version checked) -> a group's read steps, or None
        self.groups: dict[tuple[str, str, int, int], tuple[ReadStep, ...] | None] = {}

    def _compiled(self, type_name: str, version: int) -> tuple[Read, Write] | None:
        key = (type_name, version)
        if key not in self.compiled:
            try:
                self.compiled[key] = self._struct(type_name, version, version)
            except _DECLINED:
                self.compiled[key] = None
        return self.compiled[key]

    def _nested(self, type_name: str, version: int, check: int) -> tuple[Read, Write] | None:
        """The reader and writer of a struct read at `version` in data checked at `check`
        (a subsection's struct at the version its header says), or None."""
        key = (type_name, version, check)
        if key not in self.inner:
            try:
                self.inner[key] = self._struct(type_name, version, check)
            except _DECLINED:
                self.inner[key] = None
        return self.inner[key]

    def reader(self, type_name: str, version: int) -> Read | None:
        """The compiled reader of struct `type_name` at `version`, or None."""
        compiled = self._compiled(type_name, version)
        return None if compiled is None else compiled[0]

    def writer(self, type_name: str, version: int) -> Write | None:
        """The compiled writer of struct `type_name` at `version`, or None."""
        compiled = self._compiled(type_name, version)
        return None if compiled is None else compiled[1]

    def _scalar(self, desc: Descriptor) -> tuple[str, Callable[[Any], Any] | None,
                                                 Callable[[Any], Any] | None] | None:
        """(Struct format, conversion read, conversion written) of a fixed-width value,
        or None."""
        kind = desc[0]
        if kind == "int":
            fmt = _INT_FORMATS.get((desc[3], desc[4]))
            if fmt is None:
                return None
            bits = desc[3] * 8
            full = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if desc[4] else (0, (1 << bits) - 1)
            return fmt, None if (desc[1], desc[2]) == full else _in_range(desc[1], desc[2]), None
        if kind == "bool":
            return "B", _bool, None
        if kind == "enum":
            return "i", self.tables.enum_by_value[desc[1]].__getitem__, \
                self.tables.enum_value[desc[1]].__getitem__
        if kind == "float":
            if desc[1] == 64:
                return "d", None, None
            return "4s", float32_value, _float32_bits
        if kind == "bytes" and desc[1] == desc[2]:
            return f"{desc[1]}s", None, None
        if kind == "string":
            return f"{desc[1] + 1}s", _string(desc[1]), _encode_ascii
        return None

    def _value(self, desc: Descriptor, version: int, check: int) -> tuple[Read, Write]:
        """The reader and writer of one value (outside a struct's runs)."""
        kind = desc[0]
        if kind == "struct":
            # a member struct with its own VMState is at its own (current) version
            return self._struct(desc[1], NEWEST if desc[1] in self.tables.layouts else version,
                                check)
        if kind == "list":
            return self._list(desc[3], desc[1], version, check)
        scalar = self._scalar(desc)
        if scalar is None:
            raise _Fallback
        fmt, conv, enc = scalar
        s = struct.Struct(">" + fmt)
        size, unpack_from, pack = s.size, s.unpack_from, s.pack

        def read(data: bytes, p: int) -> tuple[Any, int]:
            v = unpack_from(data, p)[0]
            return (v if conv is None else conv(v)), p + size

        def write(v: Any, out: bytearray) -> None:
            out += pack(v if enc is None else enc(v))

        return read, write

    def _list(self, element: Descriptor, n: int, version: int,
              check: int) -> tuple[Read, Write]:
        """n elements of a fixed-length array."""
        read_one, write_one = self._value(element, version, check)

        def read(data: bytes, p: int) -> tuple[Any, int]:
            out = []
            for _ in range(n):
                v, p = read_one(data, p)
                out.append(v)
            return out, p

        def write(value: Any, out: bytearray) -> None:
            for v in value:
                write_one(v, out)

        return read, write

    def _struct(self, type_name: str, version: int, check: int) -> tuple[Read, Write]:
        """A struct read at `version`, in data whose load checks `check` (a field left out
        at `version` that `check` asks for: declined, as the reference's check refuses)."""
        if type_name in self.tables.layouts:
            return self._layout(type_name, version, check)
        t = self.tables
        counts = t.counts[type_name]
        members = t.structs[type_name]
        steps = _Steps()
        for c_name, _, desc, since, role in members:
            if since is not None and since > version:
                if since <= check:
                    raise _Fallback
                continue
            if role is not None and role[0] == "count":
                continue
            kind = desc[0]
            scalar = None if c_name in counts else self._scalar(desc)
            if scalar is None and kind == "list" and c_name not in counts:
                scalar = self._scalar(desc[3])
                if scalar is not None:  # a fixed array of fixed-width values: in the run
                    steps.value((c_name, desc[1], scalar[1], c_name, scalar[2]),
                                _repeat(scalar[0], desc[1]))
                    continue
            if scalar is not None:
                steps.value((c_name, 1, scalar[1], c_name, scalar[2]), scalar[0])
                continue
            if c_name in counts:
                count = counts[c_name]
                steps.step(*self._sized(c_name, count[0], count[2], desc, version, check))
            elif kind == "union":
                assert role is not None
                steps.step(*self._union(type_name, c_name, role[1], desc[1], version, check))
            else:
                steps.step(*_member(c_name, *self._value(desc, version, check)))
        return _steps(*steps.done())

    def _sized(self, name: str, count_name: str, count_desc: Descriptor, desc: Descriptor,
               version: int, check: int) -> tuple[ReadStep, WriteStep]:
        """A sized array: its count (at its C width) first, then that many elements (read
        and written as a layout's array whose count travels apart)."""
        read_count, write_count = self._value(count_desc, version, check)
        read_elements, write_elements = self._counted(name, count_name, desc, version, check)
        lo, hi = desc[1], desc[2]

        def read(data: bytes, p: int, out: dict[str, Any]) -> int:
            n, p = read_count(data, p)
            if n < lo or n > hi:
                raise _Fallback
            out[count_name] = n
            return read_elements(data, p, out)

        def write(value: dict[str, Any], out: bytearray) -> None:
            write_count(len(value[name]), out)
            write_elements(value, out)

        return read, write

    def _union(self, type_name: str, name: str, selector: str, union: str,
               version: int, check: int) -> tuple[ReadStep, WriteStep]:
        """A union: the member its discriminator (read before it) selects."""
        t = self.tables
        sel_desc = next(m[2] for m in t.structs[type_name] if m[0] == selector)
        to_case = t.enum_value[sel_desc[1]] if sel_desc[0] == "enum" else None
        first: dict[Any, tuple[str, Read]] = {}
        writers: dict[str, Write] = {}
        for m_name, _, d, cases in t.unions[union]:
            r, w = self._value(d, version, check)
            writers.setdefault(m_name, w)
            for case in cases:
                first.setdefault(case, (m_name, r))

        def read(data: bytes, p: int, out: dict[str, Any]) -> int:
            s = out[selector]
            if to_case is not None:
                s = to_case.get(s, s)
            m_name, r = first[s]
            v, p = r(data, p)
            out[name] = {m_name: v}
            return p

        def write(value: dict[str, Any], out: bytearray) -> None:
            ((member, inner),) = value[name].items()
            writers[member](inner, out)

        return read, write

    # ---- VMState layouts ------------------------------------------------------------------

    def _layout(self, type_name: str, version: int, check: int) -> tuple[Read, Write]:
        """A struct in its VMState layout (what _get_layout and _put_layout do)."""
        t = self.tables
        vmsd, items = t.layouts[type_name]
        if any(m[2][0] == "union" for m in t.structs[type_name]):
            raise _Fallback  # a union in a layout: the reference reads it
        # Every member the load's check asks for must be one the layout stores, once.
        order = _stored(items)
        named = [i[1] for item in items for i in (item[6] if item[0] == "group" else (item,))
                 if i[0] != "unused"]
        if len(set(named)) != len(named):
            raise _Fallback
        stored = set(order)
        stored |= {item[5] for item in items if item[0] in ("subsection", "group")}
        for c_name, _, _, since, _ in t.structs[type_name]:
            if (since is None or since <= check) and c_name not in stored:
                raise _Fallback
        aliases = type_name in t.aliases
        if aliases:
            self._check_aliases(type_name)
        read_steps, write_steps = self._items(type_name, items, version, check, False)
        raw = vmsd.encode()

        def read(data: bytes, p: int) -> tuple[Any, int]:
            out: dict[str, Any] = {}
            for step in read_steps:
                p = step(data, p, out)
            if aliases:
                settle_aliases(t, type_name, out, order)
            if p < len(data) and data[p] == SUBSECTION:
                name = _subsection_name(data, p)
                if name is not None and name.startswith(raw):
                    raise _Fallback  # one of this struct's, unknown or out of order
            return out, p

        def write(value: Any, out: bytearray) -> None:
            for step in write_steps:
                step(value, out)

        return read, write

    def _check_aliases(self, type_name: str) -> None:
        """Decline member paths whose value settle_aliases would copy into a member of
        another type (the reference's check of the copy might refuse it)."""
        t = self.tables
        members = t.members[type_name]
        for path, steps in t.aliases[type_name]:
            first = steps[0]
            if members[path][4] is not None or _selects(t, type_name, path):
                raise _Fallback  # a count or a discriminator: the check compares it
            if not isinstance(first, str) or first not in members:
                continue
            desc: Descriptor | None = members[first][2]
            for step in steps[1:]:
                if desc is None:
                    break
                if isinstance(step, int):
                    desc = desc[3] if desc[0] == "list" else None
                elif desc[0] == "struct" and step in t.members[desc[1]]:
                    if t.members[desc[1]][step][4] is not None or _selects(t, desc[1], step):
                        raise _Fallback
                    desc = t.members[desc[1]][step][2]
                else:
                    desc = None
            if desc is not None and desc != members[path][2]:
                raise _Fallback

    def _items(self, type_name: str, items: tuple[tuple[Any, ...], ...], version: int,
               check: int, in_group: bool) -> tuple[tuple[ReadStep, ...], tuple[WriteStep, ...]]:
        """The read and write steps of a layout's items (a group's: `in_group`)."""
        t = self.tables
        members = t.members[type_name]
        counts = t.counts[type_name]
        steps = _Steps()
        step = steps.step
        for item in items:
            kind = item[0]
            if kind == "unused":
                if item[3] is None or item[3] <= version:
                    steps.pad(f"{int(item[2])}x")  # zeros out, anything in
                continue
            if kind in ("group", "subsection") and not in_group:
                step(*(self._group(type_name, item, check) if kind == "group"
                       else self._subsection(type_name, item, check)))
                continue
            if kind != "field":
                raise _Fallback
            c_name = item[1]
            _, _, desc, since, role = members[c_name]
            if since is not None and since > version:
                if since <= check:
                    raise _Fallback  # left out here, asked for by the load's check
                continue
            if role is not None:
                if role[0] != "count" or in_group:
                    raise _Fallback
                array = members[role[1]][2]
                fmt = _INT_FORMATS.get((desc[3], desc[4])) if desc[0] == "int" else None
                if fmt is None:
                    raise _Fallback
                # checked against its array's sizes when read; its array's length written
                steps.value((c_name, 1, _in_range(max(desc[1], array[1]),
                                                  min(desc[2], array[2])), role[1], len), fmt)
                continue
            if c_name in counts:
                if in_group:
                    raise _Fallback
                step(*self._counted(c_name, counts[c_name][0], desc, version, check))
                continue
            scalar = self._scalar(desc)
            if scalar is not None:
                steps.value((c_name, 1, scalar[1], c_name, scalar[2]), scalar[0])
                continue
            if desc[0] == "list":
                scalar = self._scalar(desc[3])
                if scalar is not None:  # a fixed array of fixed-width values: in the run
                    steps.value((c_name, desc[1], scalar[1], c_name, scalar[2]),
                                _repeat(scalar[0], desc[1]))
                    continue
            step(*_member(c_name, *self._value(desc, version, check)))
        return steps.done()

    def _counted(self, name: str, count_name: str, desc: Descriptor, version: int,
                 check: int) -> tuple[ReadStep, WriteStep]:
        """An array whose count the layout carries apart (read before it, into `out`)."""
        if desc[0] == "bytes":
            def read_bytes(data: bytes, p: int, out: dict[str, Any]) -> int:
                end: int = p + out[count_name]
                if end > len(data):
                    raise _Fallback
                out[name] = data[p:end]
                return end

            def write_bytes(value: dict[str, Any], out: bytearray) -> None:
                out += value[name]

            return read_bytes, write_bytes
        if desc[0] != "list":
            raise _Fallback
        scalar = self._scalar(desc[3])
        if scalar is None:
            read_one, write_one = self._value(desc[3], version, check)

            def read_list(data: bytes, p: int, out: dict[str, Any]) -> int:
                elements = []
                for _ in range(out[count_name]):
                    v, p = read_one(data, p)
                    elements.append(v)
                out[name] = elements
                return p

            def write_list(value: dict[str, Any], out: bytearray) -> None:
                for x in value[name]:
                    write_one(x, out)

            return read_list, write_list
        fmt, conv, enc = scalar
        runs: dict[int, struct.Struct] = {}

        def of(n: int) -> struct.Struct:
            s = runs.get(n)
            if s is None:
                s = runs[n] = struct.Struct(">" + _repeat(fmt, n))
            return s

        def read_run(data: bytes, p: int, out: dict[str, Any]) -> int:
            s = of(out[count_name])
            vals = s.unpack_from(data, p)
            out[name] = list(vals) if conv is None else [conv(x) for x in vals]
            return p + s.size

        def write_run(value: dict[str, Any], out: bytearray) -> None:
            v = value[name]
            out += of(len(v)).pack(*(v if enc is None else map(enc, v)))

        return read_run, write_run

    def _zero_ok(self, desc: Descriptor, check: int) -> bool:
        """Whether the value a missing subsection or group leaves (zero) passes the
        load's check."""
        try:
            to_asn1(self.tables, desc, zero(self.tables, desc), "", check)
        except Error:
            return False
        return True

    def _subsection(self, type_name: str, item: tuple[Any, ...],
                    check: int) -> tuple[ReadStep, WriteStep]:
        """A member struct sent as a subsection (when its presence member or a C function
        says so), read at the version its header says."""
        t = self.tables
        _, c_name, name, newest, minimum, presence = item
        desc = t.members[type_name][c_name][2]
        if desc[0] != "struct":
            raise _Fallback
        sub = desc[1]
        zero_ok = self._zero_ok(desc, check)
        raw = name.encode()
        head = bytes([SUBSECTION, len(raw)]) + raw
        size = len(head) + 4
        newest_bytes = int(newest).to_bytes(4, "big")
        write_sub = self._struct(sub, newest, newest)[1]
        where = f"{type_name}.{c_name}"

        def read(data: bytes, p: int, out: dict[str, Any]) -> int:
            found = data.startswith(head, p) and len(data) - p >= size
            if found:
                _found(name)
                v = int.from_bytes(data[p + size - 4:p + size], "big")
                if v < minimum or v > newest:
                    raise _Fallback
                compiled = self._nested(sub, v, check)
                if compiled is None:
                    raise _Fallback
                out[c_name], p = compiled[0](data, p + size)
            else:
                if not zero_ok:
                    raise _Fallback
                out[c_name] = zero(t, desc)  # not sent: as a fresh device
            if presence is not None:
                out[presence] = found
            return p

        def write(value: dict[str, Any], out: bytearray) -> None:
            if _decided(where, name) if presence is None else value[presence]:
                out += head
                out += newest_bytes
                write_sub(value[c_name], out)

        return read, write

    def _group(self, type_name: str, item: tuple[Any, ...],
               check: int) -> tuple[ReadStep, WriteStep]:
        """A subsection of the struct's own members (plain fields and padding only), read
        at the version its header says."""
        t = self.tables
        members = t.members[type_name]
        _, _, name, newest, minimum, presence, inner = item
        fields = _group_fields(inner)
        for f in fields:
            if members[f][4] is not None or f in t.counts[type_name]:
                raise _Fallback
        zero_ok = all(self._zero_ok(members[f][2], check) for f in fields)
        zeros = tuple((f, members[f][2]) for f in fields)
        write_steps = self._items(type_name, inner, newest, newest, True)[1]
        raw = name.encode()
        head = bytes([SUBSECTION, len(raw)]) + raw
        size = len(head) + 4
        newest_bytes = int(newest).to_bytes(4, "big")

        def steps(v: int) -> tuple[ReadStep, ...] | None:
            key = (type_name, name, v, check)
            if key not in self.groups:
                try:
                    self.groups[key] = self._items(type_name, inner, v, check, True)[0]
                except _DECLINED:
                    self.groups[key] = None
            return self.groups[key]

        def read(data: bytes, p: int, out: dict[str, Any]) -> int:
            found = data.startswith(head, p) and len(data) - p >= size
            if found:
                _found(name)
                v = int.from_bytes(data[p + size - 4:p + size], "big")
                if v < minimum or v > newest:
                    raise _Fallback
                read_steps = steps(v)
                if read_steps is None:
                    raise _Fallback
                p += size
                for step in read_steps:
                    p = step(data, p, out)
            else:
                if not zero_ok:
                    raise _Fallback
                for f, d in zeros:  # not sent: as a fresh device
                    out[f] = zero(t, d)
            if presence is not None:
                out[presence] = found
            return p

        def write(value: dict[str, Any], out: bytearray) -> None:
            if _decided(type_name, name) if presence is None else value[presence]:
                out += head
                out += newest_bytes
                for step in write_steps:
                    step(value, out)

        return read, write


_DECLINED = (_Fallback, KeyError, IndexError, TypeError, ValueError, OverflowError,
             struct.error)


def _selects(t: Tables, type_name: str, name: str) -> bool:
    """Whether member `name` of struct `type_name` is a union's discriminator."""
    return any(m[4] == ("union", name) for m in t.structs[type_name])


def _repeat(fmt: str, n: int) -> str:
    """The Struct format of n values of format `fmt` ('4s' repeats, 'I' takes a count)."""
    return f"{n}{fmt}" if fmt[0].isalpha() else fmt * n


def _steps(reads: tuple[ReadStep, ...], writes: tuple[WriteStep, ...]) -> tuple[Read, Write]:
    """A struct's reader and writer: its steps in order."""
    def read(data: bytes, p: int) -> tuple[Any, int]:
        out: dict[str, Any] = {}
        for step in reads:
            p = step(data, p, out)
        return out, p

    def write(value: Any, out: bytearray) -> None:
        for step in writes:
            step(value, out)

    return read, write


def _member(name: str, read_one: Read, write_one: Write) -> tuple[ReadStep, WriteStep]:
    def read(data: bytes, p: int, out: dict[str, Any]) -> int:
        v, q = read_one(data, p)
        out[name] = v
        return q

    def write(value: dict[str, Any], out: bytearray) -> None:
        write_one(value[name], out)

    return read, write


class _Steps:
    """The read and write steps of a struct or a layout being compiled: consecutive
    fixed-width values (and a layout's padding among them) gathered into one run."""

    def __init__(self) -> None:
        self.reads: list[ReadStep] = []
        self.writes: list[WriteStep] = []
        self.run: list[RunField] = []
        self.fmts: list[str] = []

    def value(self, field: RunField, fmt: str) -> None:
        """A fixed-width value (or a fixed array of them) of the current run."""
        self.run.append(field)
        self.fmts.append(fmt)

    def pad(self, fmt: str) -> None:
        """Padding in the current run ('Nx')."""
        self.fmts.append(fmt)

    def flush(self) -> None:
        if self.fmts:
            r, w = _run(tuple(self.run), ">" + "".join(self.fmts))
            self.reads.append(r)
            self.writes.append(w)
            self.run.clear()
            self.fmts.clear()

    def step(self, r: ReadStep, w: WriteStep) -> None:
        """A step of its own, after the run so far."""
        self.flush()
        self.reads.append(r)
        self.writes.append(w)

    def done(self) -> tuple[tuple[ReadStep, ...], tuple[WriteStep, ...]]:
        self.flush()
        return tuple(self.reads), tuple(self.writes)


def _run(fields: tuple[RunField, ...], fmt: str) -> tuple[ReadStep, WriteStep]:
    """Consecutive fixed-width values (padding among them), one Struct."""
    s = struct.Struct(fmt)
    size, unpack_from, pack = s.size, s.unpack_from, s.pack
    names = tuple(f[0] for f in fields)
    if all(k == 1 and conv is None and w == r and enc is None for r, k, conv, w, enc in fields):
        def read_plain(data: bytes, p: int, out: dict[str, Any]) -> int:
            out.update(zip(names, unpack_from(data, p), strict=True))
            return p + size

        def write_plain(value: dict[str, Any], out: bytearray) -> None:
            out += pack(*[value[n] for n in names])

        return read_plain, write_plain

    def read(data: bytes, p: int, out: dict[str, Any]) -> int:
        vals = unpack_from(data, p)
        i = 0
        for name, k, conv, _, _ in fields:
            if k == 1:
                v = vals[i]
                out[name] = v if conv is None else conv(v)
            else:
                chunk = vals[i:i + k]
                out[name] = list(chunk) if conv is None else [conv(x) for x in chunk]
            i += k
        return p + size

    def write(value: dict[str, Any], out: bytearray) -> None:
        vals: list[Any] = []
        for _, k, _, name, enc in fields:
            v = value[name]
            if k == 1:
                vals.append(v if enc is None else enc(v))
            else:
                vals.extend(v if enc is None else map(enc, v))
        out += pack(*vals)

    return read, write
