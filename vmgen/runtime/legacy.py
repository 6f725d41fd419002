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
from typing import Any

from vmgen.runtime.cview import selector_value
from vmgen.runtime.floats import float32_bits, float32_value, float64_bits, float64_value
from vmgen.runtime.tables import Descriptor, Error, Tables

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
        put_struct(t, desc[1], value, out, version)
    else:  # a union: its selected member, inline
        ((member, inner),) = value.items()
        for c_name, _, d, _ in t.unions[desc[1]]:
            if c_name == member:
                put(t, d, inner, out, version)


def put_struct(t: Tables, type_name: str, value: dict[str, Any], out: bytearray,
               version: int) -> None:
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
        return get_struct(t, desc[1], r, path, version)
    raise AssertionError(kind)  # unions are read by their struct


def get_struct(t: Tables, type_name: str, r: Reader, path: str, version: int) -> dict[str, Any]:
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
            selector = selector_value(t, type_name, role[1], out[role[1]])
            for m_name, _, d, cases in t.unions[desc[1]]:
                if selector in cases:
                    out[c_name] = {m_name: get(t, d, r, f"{where}.{m_name}", version)}
                    break
            else:
                raise Error(f"{where}: '{role[1]}' = {selector} selects no member")
            continue
        out[c_name] = get(t, desc, r, where, version, count)
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
