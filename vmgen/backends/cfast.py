"""Plans the specialized DER writer and BER reader of each device state.

Beside the generic visitors, the C backend emits for every struct it can a
straight-line ``vmgen_der_put_S`` (DER contents of S) and ``vmgen_ber_get_S``
(the reverse, in a checking and a storing pass), and for each device state
``vmgen_der_save_S`` / ``vmgen_der_load_S`` on top of them.  They cover the
common case: values that fit their declarations, and records of the reader's
own version in DER form.  Anything else makes them return false, and the
visitors (which produce every error message) take over; so they may accept
only bytes the visitors accept, and must store exactly what the visitors
store.

This module decides which structs get such code (plain integers, ranged
integers, bit-fields, bool, enums, floats, fixed byte arrays, fixed arrays,
nested and anonymous structs, VMGEN_SINCE members, strings, const scalars,
VMGEN_SIZE_IS arrays of fixed capacity, unions and their discriminators,
VMGEN_POSITIVE_LE) and
computes the identifier octets, the largest possible encodings and the record
header; ``templates/c/fast_ops.c.j2`` and ``fast.c.j2`` only substitute.
Members it does not handle (external types, const arrays and structs, arrays
sized by their destination or inside another array, const or VMGEN_POSITIVE_LE
discriminators, tag numbers above 2^21) leave the struct, and every struct or
state containing it, to the visitors.

Members of equal types are planned once, as one shape with marks where their
identifier octets and lvalues go (`Placed`); ``plan(module, shapes=False)``
plans each on its own, and tests/test_cbackend_fastpaths.py checks both agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from vmgen.lowering import ir

# Universal identifier octets of list elements (ASN.1 SEQUENCE OF keeps them).
_INTEGER, _BOOLEAN, _OCTET_STRING, _ENUMERATED, _SEQUENCE = 0x02, 0x01, 0x04, 0x0A, 0x30
_VISIBLE_STRING = 0x1A

# C type of each integer visitor's value (the cast when storing; c.py uses it too).
C_INT_TYPES = {
    "int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "int64": "int64_t",
    "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t", "uint64": "uint64_t",
    "char": "char", "schar": "signed char", "uchar": "unsigned char", "short": "short",
    "ushort": "unsigned short", "int": "int", "uint": "unsigned int", "long": "long",
    "ulong": "unsigned long", "llong": "long long", "ullong": "unsigned long long",
}


class Unsupported(Exception):
    """A member the specialized code does not handle (the visitors do)."""


def len_size(n: int) -> int:
    """Octets of the minimal DER length form of n."""
    if n < 0x80:
        return 1
    return 1 + (n.bit_length() + 7) // 8


def context_id(index: int, constructed: bool) -> bytes:
    """Identifier octets of the context-specific tag [index]."""
    first = 0x80 | (0x20 if constructed else 0)
    if index < 31:
        return bytes([first | index])
    groups = []
    while True:
        groups.append(index & 0x7F)
        index >>= 7
        if not index:
            break
    tail = [g | 0x80 for g in reversed(groups[1:])] + [groups[0]]
    return bytes([first | 0x1F, *tail])


def _der_int(value: int) -> bytes:
    return value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True)


def _tlv(identifier: bytes, content: bytes) -> bytes:
    n = len(content)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | (len_size(n) - 1)]) + n.to_bytes(
        len_size(n) - 1, "big")
    return identifier + length + content


def record_head(name: str, version: int, minimum_version: int) -> bytes:
    """The record's members before the state: device, version, minimum version
    (what vmgen_save_record writes for this writer's own version)."""
    return (_tlv(context_id(0, False), name.encode("ascii"))
            + _tlv(context_id(1, False), _der_int(version))
            + _tlv(context_id(2, False), _der_int(minimum_version)))


def c_bytes(data: bytes) -> str:
    return ", ".join(f"0x{b:02x}" for b in data)


def c_literal(value: int, signed: bool) -> str:
    """An int64_t (signed) or uint64_t constant; c.py uses it too."""
    if signed:
        return "INT64_MIN" if value == -(1 << 63) else f"INT64_C({value})"
    return f"UINT64_C({value})"


@dataclass(frozen=True)
class Op:
    """One member (or list element) in the specialized code.

    `kind` picks the template macros (put_KIND, get_KIND): uint, int, enum,
    bool, float, double, bytes, string, struct, inline (an anonymous struct's
    members), list; const_uint, const_int, const_enum (written like the plain
    kinds, compared on load); positive_le (written like int; a load takes 0..the
    value in place); sized_bytes, sized_list (VMGEN_SIZE_IS arrays of
    fixed capacity: `count` is the count field, `min`..`length` the counts
    the wire allows); union (a CHOICE: its `members` are cases, each a `case`
    op with the discriminator values in `labels` and the member's op in
    `element`; `count` is the discriminator's lvalue, `local` where a load
    keeps its value).  A discriminator's op keeps the value it reads in the
    locals of `keeps`."""

    kind: str
    id: str  # identifier octets as a C constant, big-endian
    idlen: int
    expr: str  # the C lvalue of the member
    depth: int  # nesting of lists and inline structs (names loop variables)
    c_type: str = ""  # for stores: the member's C type
    lo: str = ""
    hi: str = ""
    length: int = 0  # bytes, list: element count
    name: str = ""  # struct: its name; enum: its name
    lensize: int = 0  # constructed: length octets reserved
    members: tuple[Op, ...] = ()  # inline: the members
    element: tuple[Op, ...] = ()  # list: the one element op
    min: int = 0  # sized: fewest elements
    count: str = ""  # sized: the count field's lvalue
    count_c_type: str = ""  # sized: its C type
    count_sign: str = ""  # sized: "int" or "uint" (how it is compared)
    labels: tuple[str, ...] = ()  # case: the discriminator values, as C constants
    local: str = ""  # union: the local holding its discriminator's value
    keeps: tuple[str, ...] = ()  # a discriminator: the local its value goes to (0 or 1)

    @property
    def inner_end(self) -> str:
        return f"e{self.depth}"

    @property
    def index(self) -> str:
        return f"i{self.depth}"

    @property
    def count_temp(self) -> str:
        return "int64_t" if self.count_sign == "int" else "uint64_t"

    @property
    def count_lo(self) -> str:
        return c_literal(self.min, self.count_sign == "int")

    @property
    def count_hi(self) -> str:
        return c_literal(self.length, self.count_sign == "int")


# What a shape has where its op has its identifier octets, its C lvalue and (for a
# named struct) the struct's name.  The marks never occur in C text; they pass
# through the templates as they are.
ID_MARK, EXPR_MARK, NAME_MARK = "\x01id\x01", "\x01expr\x01", "\x01name\x01"


@dataclass(frozen=True)
class Placed:
    """The members of a struct: each one's op shape and where it is.  A shape is the
    op with the `id` and `expr` marks (nested ops' lvalues built on the mark) and, for a
    named struct, the `name` mark, shared by members of equal types (and by named
    structs whose contents have equal largest lengths); a shape without marks is the
    op itself."""

    shapes: tuple[Op, ...]
    ids: tuple[str, ...]  # identifier octets
    exprs: tuple[str, ...]  # C lvalues
    names: tuple[str, ...]  # named structs' names ("": the shape has no name mark)

    def ops(self) -> tuple[Op, ...]:
        return tuple(_located(shape, expr, id_c, name) for shape, id_c, expr, name
                     in zip(self.shapes, self.ids, self.exprs, self.names, strict=True))


def _located(op: Op, expr: str, id_c: str | None = None, name: str = "") -> Op:
    """`op` with its marks replaced (`id_c`: this op's identifier octets; `name`:
    its struct's name)."""
    return replace(op, id=op.id if id_c is None else op.id.replace(ID_MARK, id_c),
                   name=op.name.replace(NAME_MARK, name) if name else op.name,
                   expr=op.expr.replace(EXPR_MARK, expr),
                   count=op.count.replace(EXPR_MARK, expr),
                   members=tuple(_located(m, expr) for m in op.members),
                   element=tuple(_located(m, expr) for m in op.element))


@dataclass(frozen=True)
class FastStruct:
    name: str
    c_type: str
    placed: Placed
    locals: tuple[str, ...]  # the reader's temporaries

    @property
    def ops(self) -> tuple[Op, ...]:
        """The ops of the members, in wire order."""
        return self.placed.ops()


@dataclass(frozen=True)
class FastEnum:
    name: str
    values: tuple[str, ...]  # distinct, as C constants


@dataclass(frozen=True)
class FastState:
    name: str
    c_type: str
    head: str  # the record header bytes, as a C initializer
    head_len: int
    max_size: int  # largest record the writer can produce
    outer_lensize: int
    state_lensize: int
    copy_max: int  # load into a stack copy up to this struct size (else check + store)
    reason: str  # why there is no specialized code ("" when there is)


def _hex_id(ident: bytes) -> str:
    """Identifier octets as a C constant, big-endian."""
    return f"0x{int.from_bytes(ident, 'big'):02x}u"


@cache
def _tag(index: int, constructed: bool) -> str:
    """The identifier octets of member [index] as a C constant."""
    return _hex_id(context_id(index, constructed))


@dataclass
class _Planner:
    module: ir.Module
    # Plan the members of one type once, as a shape (else every member on its own).
    shapes: bool = True
    # struct name -> (members, largest contents); None: not supported, with the reason
    done: dict[str, tuple[Placed, int] | None] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    # (member type, identifier length, const) -> its shape, largest TLV, whether it is
    # constructed and the name its shape leaves out; `found` has the same by the
    # type's identity (the module keeps the types alive)
    by_value: dict[tuple[ir.WireType, int, bool], tuple[Op, int, bool, str]] = field(
        default_factory=dict)
    found: dict[tuple[int, int, bool], tuple[Op, int, bool, str]] = field(
        default_factory=dict)
    # the shapes of named struct members (their name marked), each its own key
    named: dict[Op, Op] = field(default_factory=dict)
    values: dict[str, int] = field(default_factory=dict)  # struct name -> _struct_values

    def struct(self, name: str) -> tuple[Placed, int]:
        if name in self.done:
            result = self.done[name]
            if result is None:
                raise Unsupported(self.reasons[name])
            return result
        s = self.module.struct(name)
        try:
            result = self.placed(s)
        except Unsupported as e:
            self.done[name] = None
            self.reasons[name] = str(e)
            raise
        self.done[name] = result
        if not s.anonymous:
            self.order.append(name)
        return result

    def placed(self, s: ir.Struct) -> tuple[Placed, int]:
        """The members of a struct the code reaches through `obj`."""
        exprs = tuple(f"obj->{f.name}" for f in s.wire)
        if not self.shapes:
            ops, ids, total = [], [], 0
            for index, f in enumerate(s.wire):
                assert f.type is not None
                id_c = _tag(index, _constructed(f.type))
                op, size = self.member(s, f, id_c, len(context_id(index, False)),
                                       exprs[index], "obj->", 0)
                ops.append(op)
                ids.append(id_c)
                total += size
            return Placed(tuple(ops), tuple(ids), exprs, ("",) * len(ops)), total
        found = self.found
        hits = []
        selectors = _selectors(s)
        for index, f in enumerate(s.wire):
            idlen = 1 if index < 31 else len(context_id(index, False))
            if f.selector is not None or f.name in selectors or f.positive_le:  # not shared
                assert f.type is not None
                op, size = self.member(s, f, _tag(index, _constructed(f.type)), idlen,
                                       exprs[index], "obj->", 0, selectors)
                hits.append((op, size, _constructed(f.type), ""))
                continue
            hits.append(found.get((id(f.type), idlen, f.const)) or self.shape(s, f, idlen))
        if not hits:
            return Placed((), (), (), ()), 0
        shapes, sizes, constructed, names = zip(*hits, strict=True)
        return (Placed(shapes, tuple(map(_tag, range(len(hits)), constructed)), exprs, names),
                sum(sizes))

    def shape(self, s: ir.Struct, f: ir.Field, idlen: int) -> tuple[Op, int, bool, str]:
        """Member f's shape, largest TLV, whether it is constructed and the name its
        shape leaves out: planned once for equal types (but for sized arrays: their
        count is another member of s)."""
        t = f.type
        assert t is not None
        key = (t, idlen, f.const)
        hit = self.by_value.get(key)
        if hit is None:
            op, size = self.member(s, f, ID_MARK, idlen, EXPR_MARK, "obj->", 0)
            name = ""
            if op.kind == "struct":  # one shape for the structs of one largest length
                name = op.name
                op = replace(op, name=NAME_MARK)
                op = self.named.setdefault(op, op)
            hit = (op, size, _constructed(t), name)
            if _sized(t):
                return hit
            self.by_value[key] = hit
        self.found[(id(t), idlen, f.const)] = hit
        return hit

    def members(self, s: ir.Struct, base: str, depth: int) -> tuple[tuple[Op, ...], int]:
        """The ops of an anonymous struct's members (`base`: how C reaches them)."""
        ops = []
        total = 0
        selectors = _selectors(s)
        for index, f in enumerate(s.wire):
            assert f.type is not None
            id_c = _tag(index, _constructed(f.type))
            op, size = self.member(s, f, id_c, len(context_id(index, False)),
                                   f"{base}{f.name}", base, depth, selectors)
            ops.append(op)
            total += size
        return tuple(ops), total

    def member(self, s: ir.Struct, f: ir.Field, id_c: str, idlen: int, expr: str, base: str,
               depth: int, selectors: frozenset[str] | None = None) -> tuple[Op, int]:
        """The op for member f of s and the largest TLV it can take (`selectors`: the
        discriminators of s's unions)."""
        t = f.type
        assert t is not None
        where = f"{s.name}.{f.name}"
        if selectors is None:
            selectors = _selectors(s)
        if isinstance(t, ir.UnionRef):
            assert f.selector is not None
            return self.union(t, id_c, idlen, expr, f"{base}{f.selector}", depth, where)
        if f.name in selectors:
            if f.const or f.positive_le:
                raise Unsupported(f"{where} is a const or VMGEN_POSITIVE_LE discriminator")
            op, size = self.value(t, id_c, idlen, expr, depth, where)
            if op.kind not in ("uint", "int", "enum"):
                raise Unsupported(f"{where}: a discriminator of an unknown type")
            return replace(op, keeps=(_selector_local(expr),)), size
        if f.positive_le:  # a load takes 0..the value in place
            op, size = self.value(t, id_c, idlen, expr, depth, where)
            if op.kind != "int" or f.const:
                raise Unsupported(f"{where}: VMGEN_POSITIVE_LE on an unknown type")
            return replace(op, kind="positive_le"), size
        if isinstance(t, (ir.ArrayType, ir.BytesType)) and t.count is not None:
            op, size = self.sized(s, t, id_c, idlen, expr, base, depth, where)
        else:
            op, size = self.value(t, id_c, idlen, expr, depth, where)
        if f.const:
            if op.kind not in ("uint", "int", "enum"):
                raise Unsupported(f"{where} is a const array or struct")
            op = replace(op, kind=f"const_{op.kind}")
        return op, size

    def sized(self, s: ir.Struct, t: ir.ArrayType | ir.BytesType, id_c: str, idlen: int,
              expr: str, base: str, depth: int, where: str) -> tuple[Op, int]:
        """A VMGEN_SIZE_IS array of fixed capacity: as many elements as its count says."""
        assert t.count is not None
        if not t.count.fixed:
            raise Unsupported(f"{where} is sized by its destination")
        if idlen > 4:
            raise Unsupported(f"{where} has a tag number above 2^21")
        count = s.field(t.count.field)
        assert isinstance(count.type, ir.IntType)
        common: dict[str, Any] = dict(
            min=t.count.min, length=t.count.max, count=f"{base}{count.name}",
            count_c_type=C_INT_TYPES[count.type.visitor],
            count_sign="int" if count.type.signed else "uint")
        if isinstance(t, ir.BytesType):
            return (Op("sized_bytes", id_c, idlen, expr, depth, **common),
                    idlen + len_size(t.count.max) + t.count.max)
        element, size = self.value(t.element, _hex_id(bytes([_universal(t.element)])), 1,
                                   f"{expr}[i{depth}]", depth + 1, where)
        content = size * t.count.max
        return (Op("sized_list", id_c, idlen, expr, depth, lensize=len_size(content),
                   element=(element,), **common),
                idlen + len_size(content) + content)

    def union(self, t: ir.UnionRef, id_c: str, idlen: int, expr: str, selector: str,
              depth: int, where: str) -> tuple[Op, int]:
        """A union: [index] holding the one alternative [alt] its discriminator selects."""
        if idlen > 4:
            raise Unsupported(f"{where} has a tag number above 2^21")
        u = self.module.union(t.name)
        cases = []
        content = 0
        for alt, m in enumerate(u.members):
            if not m.cases:
                continue
            op, size = self.value(m.type, _tag(alt, _constructed(m.type)),
                                  len(context_id(alt, False)), f"{expr}.{m.name}", depth + 1,
                                  f"{where}.{m.name}")
            cases.append(Op("case", "", 0, "", depth, element=(op,),
                            labels=tuple(c_literal(c, True) for c in m.cases)))
            content = max(content, size)
        return (Op("union", id_c, idlen, expr, depth, lensize=len_size(content),
                   members=tuple(cases), count=selector, local=_selector_local(selector)),
                idlen + len_size(content) + content)

    def value(self, t: ir.WireType, id_c: str, idlen: int, expr: str, depth: int,
              where: str) -> tuple[Op, int]:
        """The op for one value and the largest TLV it can take."""
        if idlen > 4:
            raise Unsupported(f"{where} has a tag number above 2^21")
        head = idlen + 1

        def op(kind: str, **more: Any) -> Op:
            return Op(kind, id_c, idlen, expr, depth, **more)

        if isinstance(t, ir.IntType):
            c_type = C_INT_TYPES[t.visitor]
            if _signed(t):
                return (op("int", c_type=c_type, lo=c_literal(t.min, True),
                           hi=c_literal(t.max, True)), head + t.bits // 8)
            return (op("uint", c_type=c_type, lo=c_literal(t.min, False),
                       hi=c_literal(t.max, False)), head + t.bits // 8 + 1)
        if isinstance(t, ir.BoolType):
            return op("bool"), head + 1
        if isinstance(t, ir.FloatType):
            return op(t.visitor), head + t.bits // 8
        if isinstance(t, ir.EnumRef):
            e = self.module.enum(t.name)
            return op("enum", c_type=e.c_type, name=e.name), head + 8
        if isinstance(t, ir.BytesType):
            if t.count is not None:
                raise Unsupported(f"{where} is a sized array inside an array")
            return op("bytes", length=t.length), idlen + len_size(t.length) + t.length
        if isinstance(t, ir.ArrayType):
            if t.count is not None:
                raise Unsupported(f"{where} is a sized array inside an array")
            element, size = self.value(t.element, _hex_id(bytes([_universal(t.element)])), 1,
                                       f"{expr}[i{depth}]", depth + 1, where)
            content = size * t.length
            return (op("list", length=t.length, lensize=len_size(content), element=(element,)),
                    idlen + len_size(content) + content)
        if isinstance(t, ir.StructRef):
            s = self.module.struct(t.name)
            if s.anonymous:
                members, content = self.members(s, f"{expr}.", depth + 1)
                return (op("inline", lensize=len_size(content), members=members),
                        idlen + len_size(content) + content)
            _, content = self.struct(t.name)
            return (op("struct", name=s.name, lensize=len_size(content)),
                    idlen + len_size(content) + content)
        if isinstance(t, ir.StringType):
            n = t.capacity - 1
            return op("string", length=n), idlen + len_size(n) + n
        if isinstance(t, ir.ExternalType):
            raise Unsupported(f"{where} is a VMGEN_EXTERNAL type")
        raise Unsupported(f"{where} is a union inside a union or an array")


def _selectors(s: ir.Struct) -> frozenset[str]:
    """The discriminators of s's unions."""
    return frozenset(f.selector for f in s.wire if f.selector is not None)


def _selector_local(expr: str) -> str:
    """The local a load keeps the value of the discriminator `expr` in."""
    return "vmgen_sel_" + re.sub(r"[^A-Za-z0-9]", "_", expr.replace("obj->", "", 1))


def _sized(t: ir.WireType | None) -> bool:
    return isinstance(t, (ir.ArrayType, ir.BytesType)) and t.count is not None


def _signed(t: ir.IntType) -> bool:
    """Carried in an int64_t (else a uint64_t), as the visitors do."""
    return t.max < (1 << 63) and t.signed


def _constructed(t: ir.WireType) -> bool:
    # a union (CHOICE) member of a SEQUENCE: its AUTOMATIC tag is explicit (constructed)
    return isinstance(t, (ir.StructRef, ir.ArrayType, ir.UnionRef))


def _universal(t: ir.WireType) -> int:
    if isinstance(t, ir.IntType):
        return _INTEGER
    if isinstance(t, ir.BoolType):
        return _BOOLEAN
    if isinstance(t, ir.EnumRef):
        return _ENUMERATED
    if isinstance(t, (ir.FloatType, ir.BytesType)):
        return _OCTET_STRING
    if isinstance(t, ir.StringType):
        return _VISIBLE_STRING
    return _SEQUENCE


@dataclass(frozen=True)
class Plan:
    structs: tuple[FastStruct, ...]  # in dependency order (callees first)
    states: tuple[FastState, ...]  # states with specialized code
    visited: tuple[FastState, ...]  # states without (reason set)
    enums: tuple[FastEnum, ...]  # enums whose membership the specialized code checks


# The reader's temporaries each kind of op needs.
_TEMPS = {"uint": ("uint64_t u = 0",), "int": ("int64_t s = 0",), "enum": ("int64_t s = 0",),
          "const_uint": ("uint64_t u = 0",), "const_int": ("int64_t s = 0",),
          "const_enum": ("int64_t s = 0",), "positive_le": ("int64_t s = 0",),
          "bool": ("bool b = false",),
          "bytes": ("const uint8_t *q = NULL",),
          "sized_bytes": ("const uint8_t *q = NULL", "size_t n = 0")}


def plan(module: ir.Module, shapes: bool = True) -> Plan:
    """`shapes`: plan the members of one type once (False: each on its own; same plan)."""
    planner = _Planner(module, shapes)
    states = []
    visited = []
    for s in module.states:
        assert s.state is not None
        head = record_head(s.name, s.state.version, s.state.minimum_version)
        try:
            _, content = planner.struct(s.name)
        except Unsupported as why:
            visited.append(FastState(s.name, s.c_type, "", 0, 0, 0, 0, 0, str(why)))
            continue
        state_tlv = 1 + len_size(content) + content
        outer = len(head) + state_tlv
        states.append(FastState(
            s.name, s.c_type, c_bytes(head), len(head), 1 + len_size(outer) + outer,
            len_size(outer), len_size(content),
            _COPY_BASE + _COPY_PER_VALUE * _struct_values(s.name, planner), ""))
    structs = []
    enums: dict[str, None] = {}
    # shape -> (the reader's temporaries, the enums it checks), for each distinct shape
    uses: dict[int, tuple[dict[str, None], dict[str, None]]] = {}
    for name in planner.order:
        placed, _ = planner.struct(name)
        s = module.struct(name)
        temps: dict[str, None] = {}
        for shape in {id(shape): shape for shape in placed.shapes}.values():
            use = uses.get(id(shape))
            if use is None:
                used = list(_walk((shape,)))
                use = uses[id(shape)] = (
                    dict.fromkeys(t for op in used for t in (
                        *_TEMPS.get(op.kind, ()), *(f"int64_t {k} = 0" for k in op.keeps))),
                    dict.fromkeys(op.name for op in used if op.kind in ("enum", "const_enum")))
            temps.update(use[0])
            enums.update(use[1])
        structs.append(FastStruct(s.name, s.c_type, placed, tuple(temps)))
    fast_enums = []
    for name in enums:
        enum = module.enum(name)
        values = sorted({en.value for en in enum.enumerators})
        fast_enums.append(FastEnum(enum.name, tuple(c_literal(v, True) for v in values)))
    return Plan(tuple(structs), tuple(states), tuple(visited), tuple(fast_enums))


# A load copies the state (twice) instead of reading the record twice (check, then
# store) when the state is at most this big: a second read costs a few ns per value,
# copying ~0.1 ns per byte (and VMGEN_DER_COPY_MAX bounds the stack used).
_COPY_BASE, _COPY_PER_VALUE = 2048, 32


def _values(ops: tuple[Op, ...], planner: _Planner) -> int:
    """How many values (byte strings count once) the ops read."""
    total = 0
    for op in ops:
        if op.kind in ("list", "sized_list"):
            total += op.length * _values(op.element, planner)
        elif op.kind == "inline":
            total += _values(op.members, planner)
        elif op.kind == "union":
            total += max((_values(c.element, planner) for c in op.members), default=0)
        elif op.kind == "struct":
            total += _struct_values(op.name, planner)
        else:
            total += 1
    return total


def _struct_values(name: str, planner: _Planner) -> int:
    """How many values the named struct's ops read."""
    total = planner.values.get(name)
    if total is None:
        placed = planner.struct(name)[0]
        total = planner.values[name] = sum(
            _struct_values(struct, planner) if struct else _values((shape,), planner)
            for shape, struct in zip(placed.shapes, placed.names, strict=True))
    return total


def _walk(ops: tuple[Op, ...]) -> Iterator[Op]:
    """Every op, nested ones included."""
    for op in ops:
        yield op
        yield from _walk(op.members)
        yield from _walk(op.element)
