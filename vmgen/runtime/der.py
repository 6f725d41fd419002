"""The direct DER reader and writer, and the check of a newer writer's record.

load() of a record of exactly the module's version of a state, and save(), walk the bytes
themselves, driven by the tables (compiled at first use into a "plan" per struct type and
version).  The reader takes only DER that the generic path (asn1tools' BER decoder, the
checks of save(), the DER re-encoding) accepts, and builds the same value: identifiers of
AUTOMATIC TAGS, definite minimal lengths, minimal INTEGERs, BOOLEAN 0x00/0xff, exact sizes,
ranges, enumerators, counts, union members, no trailing bytes.  The writer takes only
values save() accepts and writes the bytes asn1tools' DER encoder writes.  Anything else
goes to the generic path, which decides (and words the error): `Direct.load` and
`Direct.save` answer None, or raise.

A plan (`Plan`): (entries, counts, unions, order, required, known)

- entries: ((C name, tag, tag length, code, a, b, item), ...), the members on the wire;
- counts: ((count field, array field, min, max), ...);
- unions: ((union field, discriminator, enumerator values or None,
  {case: the member it selects}), ...);
- order: the C view's keys in order when counts must be placed, else None;
- required: how many fields data of this version has;
- known: every migrated field when data of this version lacks some, else None.

An entry's (code, a, b, item): (UINT|INT, min, max, None), (BOOL|F32|F64, None, None,
None), (BYTES|STRING|LIST, min len, max len, None | element entry), (ENUM, None, None,
({value: C name}, {C name: value})), (STRUCT, None, None, plan), (UNION, None, None,
((alternative entry, ...), {C member: alternative entry})).

The hot loops are plain functions over plain tuples (unpacked, not attribute look-ups).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vmgen.runtime.floats import float32_bits, float32_value, float64_bits, float64_value
from vmgen.runtime.tables import Descriptor, Error, Tables

UINT, INT, BOOL, F32, F64, BYTES, STRING, ENUM, STRUCT, LIST, UNION = range(11)
_UNIVERSAL = {UINT: 0x02, INT: 0x02, BOOL: 0x01, F32: 0x04, F64: 0x04, BYTES: 0x04,
              STRING: 0x1A, ENUM: 0x0A, STRUCT: 0x30, LIST: 0x30}
_CONSTRUCTED = (STRUCT, LIST, UNION)

Entry = tuple[Any, bytes, int, int, Any, Any, Any]
Count = tuple[str, str, int, int]
UnionCheck = tuple[str, str, dict[str, int] | None, dict[Any, str]]
Plan = tuple[tuple[Entry, ...], tuple[Count, ...], tuple[UnionCheck, ...],
             tuple[str, ...] | None, int, frozenset[str] | None]


class Irregular(Exception):
    """Input (or a value) the direct codec leaves to the generic path."""


# ---- plans --------------------------------------------------------------------------------


def tag(number: int, constructed: bool) -> bytes:
    """The identifier octets of context tag [number]."""
    first = 0xA0 if constructed else 0x80
    if number < 31:
        return bytes((first | number,))
    tail = [number & 0x7F]
    number >>= 7
    while number:
        tail.append(0x80 | (number & 0x7F))
        number >>= 7
    return bytes((first | 0x1F, *reversed(tail)))


class Direct:
    """The direct codec of one module's tables: its plans, built at first use."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.plans: dict[tuple[str, int], Plan] = {}
        self.state_plans: dict[tuple[str, int], Plan | None] = {}
        # state -> (its plan at the newest version, the record's device and version
        # members, the newest version)
        self.loads: dict[str, tuple[Plan | None, bytes, int]] = {}
        self.save_heads: dict[tuple[str, int], bytes] = {}

    def _asn1_type(self, type_name: str) -> Any:
        """The parse of an ASN.1 type of SPEC (whose tags must be AUTOMATIC)."""
        module: Any
        (module,) = self.tables.parsed.values()
        if module["tags"] != "AUTOMATIC":
            raise Irregular
        return module["types"][type_name]

    def _asn1_numbers(self, type_name: str) -> dict[str, int]:
        """The AUTOMATIC TAGS number of each member of a SEQUENCE or CHOICE, as asn1tools
        numbers them (extension additions included, in order)."""
        members: list[dict[str, Any]] = []
        for m in self._asn1_type(type_name)["members"]:
            if isinstance(m, list):
                members += m
            elif m is not None:
                members.append(m)
        if any("tag" in m for m in members):
            raise Irregular
        return {m["name"]: i for i, m in enumerate(members)}

    def _enum_tables(self, type_name: str) -> tuple[dict[int, str], dict[str, int]]:
        """asn1tools' ENUMERATED mapping, through the C names."""
        values = self._asn1_type(type_name)["values"]
        if any(v is None or not isinstance(v[1], int) for v in values):
            raise Irregular
        value_to_name = {v: a for a, v in values}
        name_to_value = {a: v for v, a in value_to_name.items()}
        to_c = self.tables.enum_to_c[type_name]
        by_value = {v: to_c[a] for v, a in value_to_name.items() if a in to_c}
        by_name = {c: name_to_value[a] for c, a in self.tables.enum_to_asn1[type_name].items()
                   if a in name_to_value}
        return by_value, by_name

    def _item(self, desc: Descriptor, version: int) -> tuple[int, Any, Any, Any]:
        kind = desc[0]
        if kind == "int":  # (UINT: an INTEGER whose range has no negative value)
            return (UINT if desc[1] >= 0 else INT, desc[1], desc[2], None)
        if kind == "bool":
            return (BOOL, None, None, None)
        if kind == "float" and desc[1] in (32, 64):
            return (F32 if desc[1] == 32 else F64, None, None, None)
        if kind == "bytes":
            return (BYTES, desc[1], desc[2], None)
        if kind == "string":
            return (STRING, 0, desc[1], None)
        if kind == "enum":
            return (ENUM, None, None, self._enum_tables(desc[1]))
        if kind == "struct":
            return (STRUCT, None, None, self.plan(desc[1], version))
        if kind == "list":
            code, a, b, item = self._item(desc[3], version)
            element_tag = bytes((_UNIVERSAL[code],))  # (no list of unions)
            return (LIST, desc[1], desc[2], (None, element_tag, 1, code, a, b, item))
        if kind == "union":
            numbers = self._asn1_numbers(desc[1])
            alternatives = []
            for c_name, asn1_name, d, _ in self.tables.unions[desc[1]]:
                code, a, b, item = self._item(d, version)
                if code == UNION:
                    raise Irregular
                t = tag(numbers[asn1_name], code in _CONSTRUCTED)
                alternatives.append((c_name, t, len(t), code, a, b, item))
            return (UNION, None, None, (tuple(alternatives), {e[0]: e for e in alternatives}))
        raise Irregular

    def plan(self, type_name: str, version: int) -> Plan:
        """The plan of struct `type_name` for data of `version` (raises Irregular for a
        shape the direct codec does not take)."""
        plan = self.plans.get((type_name, version))
        if plan is None:
            plan = self.plans[(type_name, version)] = self._build_plan(type_name, version)
        return plan

    def _build_plan(self, type_name: str, version: int) -> Plan:
        numbers = self._asn1_numbers(type_name)
        members = self.tables.structs[type_name]
        kept = [m for m in members if m[3] is None or m[3] <= version]
        names = {m[0] for m in kept}
        entries: list[Entry] = []
        counts: list[Count] = []
        unions: list[UnionCheck] = []
        for c_name, asn1_name, desc, _, role in kept:
            if role is not None and role[0] == "count":
                if desc[0] != "int" or role[1] not in names:
                    raise Irregular
                counts.append((c_name, role[1], desc[1], desc[2]))
                continue
            assert asn1_name is not None
            code, a, b, item = self._item(desc, version)
            t = tag(numbers[asn1_name], code in _CONSTRUCTED)
            entries.append((c_name, t, len(t), code, a, b, item))
            if role is not None and role[0] == "union":
                if code != UNION or role[1] not in names:
                    raise Irregular
                selector = next(m[2] for m in members if m[0] == role[1])
                first: dict[Any, str] = {}
                for m_name, _, _, cases in self.tables.unions[desc[1]]:
                    for case in cases:
                        first.setdefault(case, m_name)
                unions.append((c_name, role[1], self.tables.enum_value[selector[1]]
                               if selector[0] == "enum" else None, first))
            elif code == UNION:
                raise Irregular
        return (tuple(entries), tuple(counts), tuple(unions),
                tuple(m[0] for m in kept) if counts else None, len(kept),
                None if len(kept) == len(members) else frozenset(m[0] for m in members))

    def state_plan(self, struct_name: str, version: int) -> Plan | None:
        """The plan of a state's struct for `version`, or None: the generic path only."""
        key = (struct_name, version)
        if key not in self.state_plans:
            try:
                self.state_plans[key] = self.plan(self.tables.states[struct_name][1], version)
            except (Irregular, KeyError, IndexError, TypeError, ValueError):
                self.state_plans[key] = None
        return self.state_plans[key]

    # ---- records ------------------------------------------------------------------------

    def load(self, struct_name: str, data: Any) -> dict[str, Any] | None:
        """load() of a DER record of exactly this module's version of the state, or None:
        the generic path decides."""
        if type(data) is not bytes:
            if type(data) is not bytearray:
                return None
            data = bytes(data)
        reading = self.loads.get(struct_name)
        if reading is None:
            newest = self.tables.states[struct_name][2]
            reading = self.loads[struct_name] = (self.state_plan(struct_name, newest),
                                                 record_head(struct_name, newest), newest)
        plan, head, newest = reading
        if plan is None:
            return None
        try:
            size = len(data)
            if data[0] != 0x30:
                return None
            n = data[1]
            p = 2
            if n > 0x7F:
                n, p = _long_length(data, p, n)
            if p + n != size or not data.startswith(head, p):
                return None
            p += len(head)
            # minimum-version [2]: any version this reader reads data of its version with
            n = data[p + 1]
            if data[p] != 0x82 or n > 5:
                return None
            p += 2
            minimum = int.from_bytes(data[p:p + n], "big", signed=True)
            if not 0 <= minimum <= newest or n != (minimum.bit_length() + 8) >> 3:
                return None
            p += n
            # state [3]
            n = data[p + 1]
            if data[p] != 0xA3:
                return None
            p += 2
            if n > 0x7F:
                n, p = _long_length(data, p, n)
            if p + n != size:
                return None
            return read_struct(plan, data, p, size)
        except (Irregular, IndexError):
            return None

    def save(self, struct_name: str, state: Any, version: Any) -> bytes | None:
        """save() of a valid state at a valid version, or None: the generic path decides
        (raises for a value the direct writer does not take)."""
        if type(version) is not int:
            return None
        key = (struct_name, version)
        plan = self.state_plans.get(key) if key in self.state_plans else \
            self.state_plan(struct_name, version)
        if plan is None:
            return None
        body = bytearray()
        write_struct(plan, state, body)
        head = self.save_heads.get(key)
        if head is None:  # device [0], version [1], minimum-version [2], the state's tag [3]
            start = bytearray(record_head(struct_name, version))
            _put_int(start, b"\x82", self.tables.states[struct_name][3])
            start += b"\xa3"
            head = self.save_heads[key] = bytes(start)
        n = len(body)
        out = bytearray(b"\x30")
        if n < 0x80:
            _put_length(out, len(head) + 1 + n)
            out += head
            out.append(n)
        else:
            length = bytearray()
            _put_length(length, n)
            _put_length(out, len(head) + len(length) + n)
            out += head
            out += length
        out += body
        return bytes(out)

    # ---- a newer writer's record --------------------------------------------------------

    def refuse_loose_integers(self, struct_name: str, data: bytes) -> None:
        """For a record of a newer version than this reader's, which the BER decoder took:
        the C loader reads the members this reader knows strictly, and refuses an empty
        INTEGER (or ENUMERATED), which the BER decoder reads as 0, a non-minimal one,
        which it reads as its value, the constructed form of a primitive value and an
        indefinite length.  Walks the known members as the C loader does (the ones a
        newer writer added follow them) and refuses the first such one; stops at
        anything else it does not expect."""
        record, _, newest, _ = self.tables.states[struct_name]
        plan = self.state_plan(struct_name, newest)
        if plan is None:
            return
        data = bytes(data)
        tlv = _ber_tlv(data, 0, len(data))
        if tlv is None or tlv[0] != b"\x30":
            return
        _, p, end = tlv
        for i, name in enumerate(("device", "version", "minimum_version")):
            tlv = _ber_tlv(data, p, end)
            if tlv is None or tlv[0] != bytes((0x80 | i,)):
                return
            if i:
                _refuse_loose(data, tlv[1], tlv[2], f"{record}.{name}", "INTEGER")
            p = tlv[2]
        tlv = _ber_tlv(data, p, end)
        if tlv is not None and tlv[0] == b"\xa3":
            _scan_struct(plan, data, tlv[1], tlv[2], f"{record}.state")


# ---- reading ------------------------------------------------------------------------------


def _long_length(data: bytes, p: int, first: int) -> tuple[int, int]:
    """A long-form length (its first octet `first` read): (length, position after)."""
    k = first & 0x7F
    if k == 0 or k > 8 or data[p] == 0:  # indefinite, absurd, or not minimal
        raise Irregular
    n = int.from_bytes(data[p:p + k], "big")
    if n < 0x80:
        raise Irregular
    return n, p + k


def read_struct(plan: Plan, data: bytes, pos: int, end: int) -> dict[str, Any]:
    """The C view of the members of a struct in data[pos:end] (Irregular: not DER this
    reader takes)."""
    entries, counts, unions, order, _, _ = plan
    out: dict[str, Any] = {}
    startswith = data.startswith
    from_bytes = int.from_bytes
    for name, t, tl, code, a, b, item in entries:
        if not startswith(t, pos):
            raise Irregular
        pos += tl
        n = data[pos]
        pos += 1
        if n > 0x7F:
            n, pos = _long_length(data, pos, n)
        q = pos + n
        if q > end:
            raise Irregular
        if code == UINT:
            v = from_bytes(data[pos:q], "big")
            # in range, and n is the minimal size: not an empty INTEGER (it reads as 0),
            # no leading 0x00 that is not needed, no first bit set (a negative INTEGER)
            if v > b or v < a or n != (v.bit_length() + 8) >> 3:
                raise Irregular
            out[name] = v
        elif code == BOOL:  # (_read_bool, inline)
            if n != 1 or data[pos] not in (0x00, 0xFF):
                raise Irregular
            out[name] = data[pos] == 0xFF
        else:
            out[name] = _READ[code](a, b, item, data, pos, q)
        pos = q
    if pos != end:
        raise Irregular
    if counts:
        for count, array, lo, hi in counts:
            n = len(out[array])
            if n < lo or n > hi:
                raise Irregular
            out[count] = n
        assert order is not None
        out = {k: out[k] for k in order}
    for union, selector, values, first in unions:
        s = out[selector]
        if values is not None:
            s = values.get(s, s)
        if first.get(s) not in out[union]:
            raise Irregular
    return out


# The value in the contents data[p:q] of a value of each kind, by code: f(a, b, item,
# data, p, q) with the entry's a, b and item.

def _read_uint(a: int, b: int, item: None, data: bytes, p: int, q: int) -> int:
    v = int.from_bytes(data[p:q], "big")
    if v > b or v < a or q - p != (v.bit_length() + 8) >> 3:
        raise Irregular
    return v


def _read_int(a: int, b: int, item: None, data: bytes, p: int, q: int) -> int:
    v = int.from_bytes(data[p:q], "big", signed=True)
    if v < a or v > b or q - p != ((v if v >= 0 else ~v).bit_length() + 8) >> 3:
        raise Irregular
    return v


def _read_enum(a: None, b: None, item: Any, data: bytes, p: int, q: int) -> str:
    v = int.from_bytes(data[p:q], "big", signed=True)
    name: str | None = item[0].get(v)
    if name is None or q - p != ((v if v >= 0 else ~v).bit_length() + 8) >> 3:
        raise Irregular
    return name


def _read_bool(a: None, b: None, item: None, data: bytes, p: int, q: int) -> bool:
    if q - p != 1 or data[p] not in (0x00, 0xFF):
        raise Irregular
    return data[p] == 0xFF


def _read_f32(a: None, b: None, item: None, data: bytes, p: int, q: int) -> float:
    if q - p != 4:
        raise Irregular
    return float32_value(data[p:q])


def _read_f64(a: None, b: None, item: None, data: bytes, p: int, q: int) -> float:
    if q - p != 8:
        raise Irregular
    return float64_value(data[p:q])


def _read_bytes(a: int, b: int, item: None, data: bytes, p: int, q: int) -> bytes:
    if q - p < a or q - p > b:
        raise Irregular
    return data[p:q]


def _read_string(a: int, b: int, item: None, data: bytes, p: int, q: int) -> str:
    raw = data[p:q]
    if len(raw) > b or not raw.isascii():
        raise Irregular
    text = raw.decode("ascii")
    if not text.isprintable():  # (for ASCII: " " to "~")
        raise Irregular
    return text


def _read_struct_contents(a: None, b: None, item: Any, data: bytes, p: int,
                          q: int) -> dict[str, Any]:
    return read_struct(item, data, p, q)


def _read_list(a: int, b: int, item: Any, data: bytes, p: int, q: int) -> list[Any]:
    _, t, tl, code, ea, eb, eitem = item
    out: list[Any] = []
    append = out.append
    startswith = data.startswith
    from_bytes = int.from_bytes
    while p < q:
        if not startswith(t, p):
            raise Irregular
        p += tl
        n = data[p]
        p += 1
        if n > 0x7F:
            n, p = _long_length(data, p, n)
        e = p + n
        if e > q:
            raise Irregular
        if code == UINT:
            v = from_bytes(data[p:e], "big")
            if v > eb or v < ea or n != (v.bit_length() + 8) >> 3:
                raise Irregular
            append(v)
        elif code == STRUCT:
            append(read_struct(eitem, data, p, e))
        else:
            append(_READ[code](ea, eb, eitem, data, p, e))
        p = e
    if len(out) < a or len(out) > b:
        raise Irregular
    return out


def _read_union(a: None, b: None, item: Any, data: bytes, p: int, q: int) -> dict[str, Any]:
    """An explicit tag around the alternative's TLV."""
    for name, t, tl, code, aa, ab, aitem in item[0]:
        if data.startswith(t, p):
            p += tl
            n = data[p]
            p += 1
            if n > 0x7F:
                n, p = _long_length(data, p, n)
            if p + n != q:
                raise Irregular
            return {name: _READ[code](aa, ab, aitem, data, p, q)}
    raise Irregular


_READ: tuple[Callable[..., Any], ...] = (
    _read_uint, _read_int, _read_bool, _read_f32, _read_f64, _read_bytes, _read_string,
    _read_enum, _read_struct_contents, _read_list, _read_union)


# ---- writing ------------------------------------------------------------------------------


def record_head(struct_name: str, version: int) -> bytes:
    """The record's device [0] and version [1] members."""
    name = struct_name.encode("ascii")
    out = bytearray(b"\x80")
    _put_length(out, len(name))
    out += name
    _put_int(out, b"\x81", version)
    return bytes(out)


def _put_length(out: bytearray, n: int) -> None:
    if n < 0x80:
        out.append(n)
    else:
        body = n.to_bytes((n.bit_length() + 7) // 8, "big")
        out.append(0x80 | len(body))
        out += body


def _put_int(out: bytearray, t: bytes, v: int) -> None:
    n = ((v if v >= 0 else ~v).bit_length() + 8) >> 3
    out += t
    out.append(n)
    out += v.to_bytes(n, "big", signed=True)


def write_struct(plan: Plan, value: Any, out: bytearray) -> None:
    """Append the members of the C view `value` of a struct (Irregular: a value this
    writer does not take)."""
    entries, counts, unions, _, required, known = plan
    if type(value) is not dict:
        raise Irregular
    if known is None:
        if len(value) != required:  # (and each field is looked up below)
            raise Irregular
    elif not known.issuperset(value):
        raise Irregular
    for name, t, _, code, a, b, item in entries:
        v = value[name]
        if code == UINT:
            if type(v) is not int or v < a or v > b:
                raise Irregular
            n = (v.bit_length() + 8) >> 3
            out += t
            out.append(n)
            out += v.to_bytes(n, "big")
        elif code == BOOL:  # (_write_bool, inline)
            if type(v) is not bool:
                raise Irregular
            out += t
            out += b"\x01\xff" if v else b"\x01\x00"
        else:
            _WRITE[code](t, a, b, item, v, out)
    for count, array, lo, hi in counts:
        v = value[count]
        if type(v) is not int or v < lo or v > hi or v != len(value[array]):
            raise Irregular
    for union, selector, values, first in unions:
        s = value[selector]
        if values is not None:
            s = values.get(s, s)
        if first.get(s) not in value[union]:
            raise Irregular


# The TLV of a value of each kind, by code: f(tag, a, b, item, value, out) with the
# entry's tag, a, b and item; each refuses a value save() would refuse.

def _write_int(t: bytes, a: int, b: int, item: None, v: Any, out: bytearray) -> None:
    if type(v) is not int or v < a or v > b:
        raise Irregular
    _put_int(out, t, v)


def _write_enum(t: bytes, a: None, b: None, item: Any, v: Any, out: bytearray) -> None:
    x = item[1].get(v) if type(v) is str else None
    if x is None:
        raise Irregular
    _put_int(out, t, x)


def _write_bool(t: bytes, a: None, b: None, item: None, v: Any, out: bytearray) -> None:
    if type(v) is not bool:
        raise Irregular
    out += t
    out += b"\x01\xff" if v else b"\x01\x00"


def _write_f32(t: bytes, a: None, b: None, item: None, v: Any, out: bytearray) -> None:
    if type(v) is not float and type(v) is not int:
        raise Irregular
    out += t
    out.append(4)
    out += float32_bits(float(v), "")  # (raises for what save() refuses)


def _write_f64(t: bytes, a: None, b: None, item: None, v: Any, out: bytearray) -> None:
    if type(v) is not float and type(v) is not int:
        raise Irregular
    out += t
    out.append(8)
    out += float64_bits(float(v))


def _write_bytes(t: bytes, a: int, b: int, item: None, v: Any, out: bytearray) -> None:
    if (type(v) is not bytes and type(v) is not bytearray) or len(v) < a or len(v) > b:
        raise Irregular
    out += t
    _put_length(out, len(v))
    out += v


def _write_string(t: bytes, a: int, b: int, item: None, v: Any, out: bytearray) -> None:
    if type(v) is not str or len(v) > b or not (v.isascii() and v.isprintable()):
        raise Irregular
    out += t
    _put_length(out, len(v))
    out += v.encode("ascii")


def _write_struct_tlv(t: bytes, a: None, b: None, item: Any, v: Any, out: bytearray) -> None:
    sub = bytearray()
    write_struct(item, v, sub)
    out += t
    _put_length(out, len(sub))
    out += sub


def _write_list(t: bytes, a: int, b: int, item: Any, v: Any, out: bytearray) -> None:
    if (type(v) is not list and type(v) is not tuple) or len(v) < a or len(v) > b:
        raise Irregular
    _, etag, _, code, ea, eb, eitem = item
    sub = bytearray()
    if code == UINT:
        for x in v:
            if type(x) is not int or x < ea or x > eb:
                raise Irregular
            n = (x.bit_length() + 8) >> 3
            sub += etag
            sub.append(n)
            sub += x.to_bytes(n, "big")
    elif code == STRUCT:  # (_write_struct_tlv, inline)
        for x in v:
            element = bytearray()
            write_struct(eitem, x, element)
            sub += etag
            _put_length(sub, len(element))
            sub += element
    else:
        write = _WRITE[code]
        for x in v:
            write(etag, ea, eb, eitem, x, sub)
    out += t
    _put_length(out, len(sub))
    out += sub


def _write_union(t: bytes, a: None, b: None, item: Any, v: Any, out: bytearray) -> None:
    if type(v) is not dict or len(v) != 1:
        raise Irregular
    ((member, inner),) = v.items()
    _, atag, _, code, aa, ab, aitem = item[1][member]
    sub = bytearray()
    _WRITE[code](atag, aa, ab, aitem, inner, sub)
    out += t
    _put_length(out, len(sub))
    out += sub


_WRITE: tuple[Callable[..., None], ...] = (
    _write_int, _write_int, _write_bool, _write_f32, _write_f64, _write_bytes, _write_string,
    _write_enum, _write_struct_tlv, _write_list, _write_union)


# ---- a newer writer's record: the C loader's strictness on the known members ------------


def _ber_tlv(data: bytes, pos: int, end: int) -> tuple[bytes, int, int] | None:
    """(identifier octets, contents start, contents end) of a BER TLV with a definite
    length inside data[pos:end], or None."""
    i = pos + 1
    if pos >= end:
        return None
    if data[pos] & 0x1F == 0x1F:
        while i < end and data[i] & 0x80:
            i += 1
        i += 1
    if i >= end:
        return None
    ident = data[pos:i]
    n = data[i]
    i += 1
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > end - i:
            return None
        n = int.from_bytes(data[i:i + k], "big")
        i += k
    if n > end - i:
        return None
    return ident, i, i + n


def _refuse_loose(data: bytes, p: int, q: int, path: str, what: str) -> None:
    """INTEGER contents data[p:q] as the C loader takes them: not empty, minimal."""
    if p == q:
        raise Error(f"{path}: empty {what}")
    if q - p > 1 and ((data[p] == 0x00 and data[p + 1] < 0x80)
                      or (data[p] == 0xFF and data[p + 1] >= 0x80)):
        raise Error(f"{path}: non-minimal {what} encoding")


def _known_tlv(data: bytes, pos: int, end: int, ident: bytes,
               path: str) -> tuple[bytes, int, int] | None:
    """The TLV at data[pos:end] if it has the identifier `ident`, else None; refuses
    what the C loader refuses there and asn1tools' BER decoder takes: the
    constructed form of a primitive value, an indefinite length."""
    tlv = _ber_tlv(data, pos, end)
    if tlv is not None and tlv[0] == ident:
        return tlv
    head = data[pos:pos + len(ident)]
    if not ident[0] & 0x20 and head == bytes((ident[0] | 0x20,)) + ident[1:]:
        raise Error(f"{path}: constructed encoding of a primitive value")
    if head == ident and data[pos + len(ident):pos + len(ident) + 1] == b"\x80":
        raise Error(f"{path}: indefinite length")
    return None


def _scan_struct(plan: Plan, data: bytes, pos: int, end: int, path: str) -> bool:
    """False: stop the walk."""
    for entry in plan[0]:
        member = f"{path}.{entry[0]}"
        tlv = _known_tlv(data, pos, end, entry[1], member)
        if tlv is None or not _scan_value(entry, data, tlv[1], tlv[2], member):
            return False
        pos = tlv[2]
    return True


def _scan_value(entry: Entry, data: bytes, p: int, q: int, path: str) -> bool:
    _, _, _, code, _, _, item = entry
    if code in (UINT, INT, ENUM):
        _refuse_loose(data, p, q, path, "ENUMERATED" if code == ENUM else "INTEGER")
        return True
    if code == STRUCT:
        return _scan_struct(item, data, p, q, path)
    if code == LIST:
        i = 0
        while p < q:
            tlv = _known_tlv(data, p, q, item[1], f"{path}[{i}]")
            if tlv is None or not _scan_value(item, data, tlv[1], tlv[2], f"{path}[{i}]"):
                return False
            p, i = tlv[2], i + 1
        return True
    if code == UNION:
        tlv = _ber_tlv(data, p, q)
        if tlv is None:
            return False
        for alternative in item[0]:
            if tlv[0] == alternative[1]:
                return _scan_value(alternative, data, tlv[1], tlv[2],
                                   f"{path}.{alternative[0]}")
        return False
    return True
