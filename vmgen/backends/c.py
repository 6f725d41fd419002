"""C backend: ``STEM-visit.h`` and ``STEM-visit.c`` (QAPI-style visitors + save/load).

Each member is visited by one small template chosen here; the templates only
substitute.  Members are visited in wire order, so the visitor's member
counter gives every member its AUTOMATIC TAGS number.

For speed, members of one shape (equal types visited the same way; codec ops
planned alike) are rendered once, with stand-ins for each member's name, lvalue
and tag put in afterwards.  ``generate(module, shapes=False)`` renders every
member on its own; tests/test_cbackend_fastpaths.py checks both give one text.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, replace

from vmgen.backends import banner, cfast, clegacy, macros, render
from vmgen.lowering import ir

# Generated code refuses to build against a runtime it was not generated for.
RUNTIME_VERSION = 6

# C type of each runtime visitor's value (for casts when visiting through a value).
_C_TYPES = cfast.C_INT_TYPES


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _int64_literal(value: int) -> str:
    return cfast.c_literal(value, signed=True)


def _literal(value: int, temp: str) -> str:
    """`value` as a C literal of the temp type ("int64_t" or "uint64_t")."""
    return _int64_literal(value) if temp == "int64_t" else f"UINT64_C({value})"


def _snippet(template: str, **context: object) -> str:
    return render(template, **context).rstrip("\n")


def _signed(t: ir.IntType) -> bool:
    """Whether values of `t` are carried in an int64_t (else a uint64_t)."""
    return t.max < (1 << 63)


def _int_args(t: ir.IntType) -> tuple[str, str, str, str, str]:
    """(temp type, range function, lo, hi, printf format) for visiting `t` by value."""
    temp, kind, fmt = ("int64_t", "int", "PRId64") if _signed(t) else \
        ("uint64_t", "uint", "PRIu64")
    return (temp, kind, _literal(t.min, temp), _literal(t.max, temp), fmt)


class _Members:
    """Renders the statements that visit members of one struct.

    `vmstate`: for ``visit_vmstate_S``, the legacy stream of a struct with a VMState
    layout (VMGEN_VMSD): its `layout` in order, padding included, each count visited
    where it is declared (into a local its array uses), and member structs that have
    a layout visited by their own ``visit_vmstate_T``."""

    def __init__(self, module: ir.Module, struct: ir.Struct, base: str = "obj->",
                 vmstate: bool = False, depth: int = 0) -> None:
        self.module = module
        self.struct = struct
        self.base = base  # how C reaches the struct's members
        self.vmstate = vmstate
        # loops around these members (an anonymous struct in an array): names loop variables
        self.depth = depth
        # Discriminator field -> the local holding its value.
        self.selectors = {f.selector: f"vmgen_sel_{f.selector}" for f in struct.wire
                          if f.selector is not None}
        # vmstate: count field -> the local holding the count its array uses.
        self.counts = {f.name: f"vmgen_count_{f.name}" for f in _flat(self.items())
                       if f.count_of is not None} if vmstate else {}

    def items(self) -> tuple[ir.Field, ...]:
        """The fields visited, in order."""
        if self.vmstate and self.struct.layout is not None:
            return self.struct.layout
        return self.struct.wire

    def locals(self) -> list[str]:
        """The locals' declarations (without the type): discriminators, and counts, which
        start as the count in place (an array older than its count uses that one)."""
        return [*(f"{local} = 0" for local in self.selectors.values()),
                *(f"{local} = (int64_t){self.base}{name}" for name, local in self.counts.items())]

    def field(self, f: ir.Field) -> str:
        return self.render(self.how(f), f, _c_string(f.name), f"{self.base}{f.name}")

    def how(self, f: ir.Field) -> str:
        """Which way f is visited: its text depends on its type, since-version and this
        (and for "selector", "union", "sized" and "count", on other members too)."""
        t = f.type
        if f.unused is not None:
            return "unused"
        if self.vmstate and f.subsection is not None:
            return "subsection"
        if f.name in self.counts:
            return "count"
        if f.name in self.selectors:
            return "selector"
        if f.const:
            return "const"
        if f.positive_le:
            return "positive_le"
        if f.bit_width is not None:
            return "by_value"
        if isinstance(t, ir.UnionRef):
            return "union"
        if isinstance(t, (ir.ArrayType, ir.BytesType)) and t.count is not None:
            return "sized"
        return "member"

    def render(self, how: str, f: ir.Field, name: str, path: str,
               visitor: str | None = None) -> str:
        """The statement visiting f, as `how` says, under the C name and lvalue given
        (`visitor`: for a member visited by its type's visitor, that visitor's name)."""
        t = f.type
        if how == "unused":
            assert f.unused is not None
            body = _snippet("c/member_unused.c.j2", name=name, size=f.unused)
            return self._since(f, body)
        if how == "subsection":
            return self._since(f, self._subsection(f, t, name, path))
        assert t is not None
        if how == "count":
            body = self._count(f, t, name, path)
        elif how == "positive_le":
            body = self._positive_le(t, name, path)
        elif how == "selector":
            body = self._selector(f, t, name, path)
        elif how == "const":
            body = self._const(t, name, path)
        elif how == "by_value":
            body = self._by_value(t, name, path)
        elif how == "union":
            assert isinstance(t, ir.UnionRef) and f.selector is not None
            body = self._union(t, name, path, f.selector)
        elif how == "sized":
            assert isinstance(t, (ir.ArrayType, ir.BytesType))
            body = self._sized(t, name, path)
        else:
            body = self.member(t, name, path, self.depth, visitor)
        return self._since(f, body)

    @staticmethod
    def _since(f: ir.Field, body: str) -> str:
        if f.since is None:
            return body
        return _snippet("c/member_since.c.j2", since=f.since, body=textwrap.indent(body, "    "))

    def _subsection(self, f: ir.Field, t: ir.WireType | None, name: str, path: str) -> str:
        """A member struct, or a group of the struct's own members, sent as a VMState
        subsection when its `needed` says so."""
        sub = f.subsection
        assert sub is not None
        if sub.by_field:
            needed, stores = f"{self.base}{sub.needed}", [f"{self.base}{sub.needed}"]
        else:
            needed, stores = f"{sub.needed}(obj)", []
        if sub.fields is not None:
            assert sub.vmsd is not None
            return _snippet("c/member_subsection_group.c.j2", needed=needed,
                            vmsd=_c_string(sub.vmsd), minimum=sub.minimum_version,
                            version=sub.version, stores=stores,
                            members=[textwrap.indent(self.field(g), " " * 8)
                                     for g in sub.fields])
        assert isinstance(t, ir.StructRef)
        inner = self.module.struct(t.name)
        assert inner.vmsd is not None
        return _snippet("c/member_subsection.c.j2", needed=needed, vmsd=_c_string(inner.vmsd),
                        minimum=sub.minimum_version, version=sub.version, struct=t.name,
                        name=name, path=path, stores=stores)

    def _count(self, f: ir.Field, t: ir.WireType, name: str, path: str) -> str:
        """A count visited where it is declared (vmstate): into the local its array uses,
        checked against the array's capacity before any element is visited."""
        assert isinstance(t, ir.IntType) and f.count_of is not None
        array = self.struct.field(f.count_of).type
        assert isinstance(array, (ir.ArrayType, ir.BytesType)) and array.count is not None
        temp, sign, _, _, _ = _int_args(t)
        return _snippet("c/member_count_value.c.j2", temp=temp, sign=sign, name=name,
                        path=path, bytes=t.bits // 8, lo=_literal(array.count.min, temp),
                        hi=_literal(array.count.max, temp), local=self.counts[f.name],
                        c_type=_C_TYPES[t.visitor])

    def member(self, t: ir.WireType, name: str, path: str, depth: int,
               visitor: str | None = None) -> str:
        """The statement that visits one addressable member (or list element);
        `visitor`: the name of t's visitor, if visited by it (default: t's own)."""
        if isinstance(t, ir.ArrayType):
            index = f"i{depth}"
            element = self.member(t.element, "NULL", f"{path}[{index}]", depth + 1)
            return _snippet("c/member_list.c.j2", name=name, length=t.length,
                            count=f"n{depth}", index=index,
                            element=textwrap.indent(element, " " * 8))
        if isinstance(t, ir.BytesType):
            return _snippet("c/member_bytes.c.j2", name=name, length=t.length, path=path)
        if isinstance(t, ir.StringType):
            return _snippet("c/member_string.c.j2", name=name, path=path, max=t.capacity - 1)
        if isinstance(t, ir.IntType) and t.ranged:
            return self._by_value(t, name, path)
        if isinstance(t, ir.ExternalType) and t.pointer:
            return _snippet("c/member_external_pointer.c.j2", name=name, path=path,
                            visitor=t.visitor)
        assert not isinstance(t, ir.UnionRef), "unions are visited by _union"
        if isinstance(t, ir.StructRef) and self.module.struct(t.name).anonymous:
            inner = _Members(self.module, self.module.struct(t.name), f"{path}.", self.vmstate,
                             depth)
            return _snippet(
                "c/member_struct_inline.c.j2", name=name, locals=inner.locals(),
                members=[textwrap.indent(inner.field(f), "    ") for f in inner.items()],
            )
        if (self.vmstate and isinstance(t, ir.StructRef)
                and self.module.struct(t.name).layout is not None):
            return _snippet("c/member_vmstate.c.j2", struct=t.name, name=name, path=path)
        return _snippet("c/member_scalar.c.j2", name=name,
                        visitor=t.visitor if visitor is None else visitor, path=path)

    def _by_value(self, t: ir.WireType, name: str, path: str) -> str:
        """Visit through a local value: bit-fields and ranged integers."""
        if isinstance(t, ir.IntType):
            temp, kind, lo, hi, _ = _int_args(t)
            return _snippet("c/member_ranged.c.j2", temp=temp,
                            function=f"visit_type_{kind}_sized", name=name, path=path,
                            bytes=t.bits // 8, lo=lo, hi=hi, c_type=_C_TYPES[t.visitor])
        if isinstance(t, ir.EnumRef):
            e = self.module.enum(t.name)
            return _snippet("c/member_enum_value.c.j2", name=name, path=path, enum=e.name,
                            count=len(e.enumerators), c_type=e.c_type)
        assert isinstance(t, ir.BoolType)
        return _snippet("c/member_bool_value.c.j2", name=name, path=path)

    def _value_call(self, t: ir.WireType) -> tuple[str, str, str, str]:
        """(temp type, function, extra arguments, format) for reading a value that the
        generated code keeps (discriminators, const fields)."""
        if isinstance(t, ir.EnumRef):
            e = self.module.enum(t.name)
            return ("int64_t", "visit_value_enum",
                    f"vmgen_values_{e.name}, {len(e.enumerators)}", "PRId64")
        assert isinstance(t, ir.IntType)
        temp, kind, lo, hi, fmt = _int_args(t)
        return (temp, f"visit_value_{kind}", f"{t.bits // 8}, {lo}, {hi}", fmt)

    def _selector(self, f: ir.Field, t: ir.WireType, name: str, path: str) -> str:
        _, function, args, _ = self._value_call(t)
        # a discriminator is an enum or an integer (checked when fields are linked)
        if isinstance(t, ir.EnumRef):
            c_type = self.module.enum(t.name).c_type
        else:
            assert isinstance(t, ir.IntType)
            c_type = _C_TYPES[t.visitor]
        return _snippet("c/member_selector.c.j2", name=name, path=path, function=function,
                        args=args, c_type=c_type, local=self.selectors[f.name])

    def _positive_le(self, t: ir.WireType, name: str, path: str) -> str:
        """VMGEN_POSITIVE_LE: a load takes 0..the value in place (a signed integer)."""
        assert isinstance(t, ir.IntType)
        temp, function, args, fmt = self._value_call(t)
        return _snippet("c/member_positive_le.c.j2", name=name, path=path, temp=temp,
                        function=function, args=args, format=fmt, c_type=_C_TYPES[t.visitor])

    def _const(self, t: ir.WireType, name: str, path: str) -> str:
        temp, function, args, fmt = self._value_call(t)
        return _snippet("c/member_const.c.j2", name=name, path=path, temp=temp,
                        function=function, args=args, format=fmt)

    def _sized(self, t: ir.ArrayType | ir.BytesType, name: str, path: str) -> str:
        assert t.count is not None
        count = self.struct.field(t.count.field)
        assert isinstance(count.type, ir.IntType)
        # the count travels at its C width and signedness (a positional format)
        temp, sign = ("int64_t", "int") if count.type.signed else ("uint64_t", "uint")
        d = self.depth
        index = f"i{d}"
        common = dict(name=name, path=path, count=count.name,
                      count_path=f"{self.base}{count.name}", temp=temp, sign=sign,
                      count_c_type=_C_TYPES[count.type.visitor],
                      count_bytes=count.type.bits // 8,
                      min=t.count.min, max=t.count.max)
        null_check = (_snippet("c/null_check.c.j2", path=path, name=name)
                      if t.count.pointer else "")
        if count.name in self.counts:
            # vmstate: the count was visited where it is declared (a fixed capacity)
            local = self.counts[count.name]
            if isinstance(t, ir.BytesType):
                return _snippet("c/member_bytes_counted_before.c.j2", local=local, **common)
            element = textwrap.indent(self.member(t.element, "NULL", f"{path}[{index}]",
                                                  d + 1), " " * 8)
            return _snippet("c/member_list_counted_before.c.j2", local=local,
                            count_var=f"n{d}", index=index, element=element, **common)
        if isinstance(t, ir.BytesType):
            if t.count.fixed:
                return _snippet("c/member_bytes_counted.c.j2", **common)
            return _snippet("c/member_bytes_room.c.j2", null_check=null_check, **common)
        element = self.member(t.element, "NULL", f"{path}[{index}]", d + 1)
        element = textwrap.indent(element, " " * 8)
        if t.count.fixed:
            return _snippet("c/member_list_counted.c.j2", count_var=f"n{d}", index=index,
                            element=element, **common)
        return _snippet("c/member_list_room.c.j2", index=index, element=element,
                        null_check=null_check, **common)

    def _union(self, t: ir.UnionRef, name: str, path: str, selector: str) -> str:
        u = self.module.union(t.name)
        members = [
            textwrap.indent(self.member(m.type, _c_string(m.name), f"{path}.{m.name}",
                                        self.depth),
                            " " * 8)
            for m in u.members
        ]
        return _snippet("c/member_union.c.j2", name=name, selector=selector,
                        local=self.selectors[selector], union=u.name,
                        ncases=sum(len(m.cases) for m in u.members), nmembers=len(u.members),
                        members=members)


@dataclass(frozen=True)
class _StructView:
    name: str
    c_type: str
    locals: list[str]
    members: list[str]


@dataclass(frozen=True)
class _EnumView:
    name: str
    c_type: str
    count: int
    values: str


@dataclass(frozen=True)
class _UnionView:
    name: str
    ncases: int
    cases: str
    alts: str
    nmembers: int
    members: str


@dataclass(frozen=True)
class _StateView:
    name: str
    c_type: str
    name_literal: str
    version: int
    minimum_version: int
    legacy_info: str  # the VmgenStateInfo the legacy stream is visited through
    vmsd: list[str]  # the VMState it serves, as a C string (none or one)


@dataclass(frozen=True)
class _ExternalView:
    name: str
    c_type: str


def _is_c_file(module: ir.Module) -> bool:
    return module.source.endswith(".c")


def visit_header_name(module: ir.Module) -> str:
    return f"{module.stem}-visit.h"


def _guard(module: ir.Module) -> str:
    return "VMGEN_" + re.sub(r"[^A-Za-z0-9]", "_", module.stem).upper() + "_VISIT_H"


def _flat(items: tuple[ir.Field, ...]) -> list[ir.Field]:
    """Layout entries with each subsection group's members in its place."""
    return [g for f in items for g in ((f,) if f.subsection is None or f.subsection.fields
                                       is None else f.subsection.fields)]


def _externals(module: ir.Module) -> list[_ExternalView]:
    found: dict[str, _ExternalView] = {}

    def walk(t: ir.WireType | None) -> None:
        if isinstance(t, ir.ExternalType):
            found.setdefault(t.name, _ExternalView(t.name, t.c_type or t.name))
        elif isinstance(t, ir.ArrayType):
            walk(t.element)

    # each type object once, in order of first use (members share type objects)
    for t in {id(f.type): f.type for s in module.structs for f in s.fields}.values():
        walk(t)
    for u in module.unions:
        for m in u.members:
            walk(m.type)
    return list(found.values())


# Stand-ins for a member's C name and lvalue in the text of a shape (see _visitors);
# they never occur in C text, and the templates only substitute them.
_NAME, _PATH = "\x01member name\x01", "\x01member path\x01"


def _visitors(module: ir.Module, shapes: bool) -> list[_StructView]:
    """The visitor of each named struct.  `shapes`: render the members visited the same
    way (equal types, same way, same since-version) once, with stand-ins for the name
    and lvalue (and a named struct's visitor); else render every member on its own (the
    same text)."""
    structs = []
    # (type's identity, const, not a bit-field, since) -> the text with stand-ins, or
    # None when the text depends on other members (the module keeps the types alive);
    # by_value: the texts by the type itself (equal types are equal), or _NAMED
    found: dict[tuple[int, bool, bool, int | None], str | None] = {}
    by_value: dict[tuple[object, bool, bool, int | None], str] = {}
    for s in module.structs:
        if s.anonymous:
            continue  # visited inline where it is used
        members = _Members(module, s)
        selectors = members.selectors
        texts = []
        for f in s.wire:
            text = None
            if shapes and f.name not in selectors and not f.positive_le:
                key = (id(f.type), f.const, f.bit_width is None, f.since)
                text = found.get(key, "")  # "": not seen yet (no rendering is empty)
                if text == "":
                    text = found[key] = _shape(members, f, key, by_value)
            if text is None:
                texts.append(textwrap.indent(members.field(f), "    "))
                continue
            # (a C identifier needs no escapes in a string literal)
            text = text.replace(_PATH, "obj->" + f.name).replace(_NAME, '"' + f.name + '"')
            if isinstance(f.type, ir.StructRef):
                text = text.replace(_VISITOR, f.type.visitor)
            texts.append(text)
        structs.append(_StructView(s.name, s.c_type, list(selectors.values()), texts))
    return structs


def _vmstate_visitors(module: ir.Module) -> list[_StructView]:
    """``visit_vmstate_S`` of each named struct with a VMState layout (VMGEN_VMSD)."""
    views = []
    for s in module.structs:
        if s.layout is None or s.anonymous:
            continue
        members = _Members(module, s, vmstate=True)
        assert s.vmsd is not None
        end = _snippet("c/member_end_subsections.c.j2", vmsd=_c_string(s.vmsd))
        views.append(_StructView(s.name, s.c_type, members.locals(),
                                 [*(textwrap.indent(members.field(f), "    ")
                                    for f in members.items()),
                                  textwrap.indent(end, "    ")]))
    return views


# A named struct's visitor in a shape's text; the by_value key of such members.
_VISITOR, _NAMED = "\x01visitor\x01", "named struct"


def _shape(members: _Members, f: ir.Field, key: tuple[int, bool, bool, int | None],
           by_value: dict[tuple[object, bool, bool, int | None], str]) -> str | None:
    """The text visiting f with stand-ins, or None when it depends on other members."""
    how = members.how(f)
    if how in _OWN:
        return None
    t = f.type
    named = (how == "member" and isinstance(t, ir.StructRef)
             and not members.module.struct(t.name).anonymous)
    value_key = (_NAMED if named else t, *key[1:])
    text = by_value.get(value_key)
    if text is None:
        text = by_value[value_key] = textwrap.indent(
            members.render(how, f, _NAME, _PATH, _VISITOR if named else None), "    ")
    return text


# Ways of visiting whose text depends on other members (their rendering is not shared).
_OWN = frozenset(("selector", "union", "sized"))


@dataclass(frozen=True)
class _FastStructView:
    name: str
    c_type: str
    locals: tuple[str, ...]
    put: list[str]  # each member's statements in vmgen_der_put_S, indented
    get: list[str]  # and in vmgen_ber_get_S


@dataclass(frozen=True)
class _FastView:
    structs: list[_FastStructView]
    states: tuple[cfast.FastState, ...]
    visited: tuple[cfast.FastState, ...]
    enums: tuple[cfast.FastEnum, ...]


def _fast(module: ir.Module, shapes: bool) -> _FastView:
    """The specialized codec.  `shapes`: render each distinct op shape once and put in
    the identifier octets and lvalue of each member; else plan and render every member
    on its own (the same text)."""
    plan = cfast.plan(module, shapes)
    ops = macros("c/fast_ops.c.j2")
    found: dict[int, tuple[str, str]] = {}
    structs = []
    id_mark, expr_mark, name_mark = cfast.ID_MARK, cfast.EXPR_MARK, cfast.NAME_MARK
    for fs in plan.structs:
        if shapes:
            put, get = [], []
            p = fs.placed
            for shape, id_c, expr, name in zip(p.shapes, p.ids, p.exprs, p.names, strict=True):
                texts = found.get(id(shape))
                if texts is None:
                    texts = found[id(shape)] = (ops.put_op(shape), ops.get_op(shape))
                put_text = texts[0].replace(id_mark, id_c).replace(expr_mark, expr)
                get_text = texts[1].replace(id_mark, id_c).replace(expr_mark, expr)
                if name:
                    put_text = put_text.replace(name_mark, name)
                    get_text = get_text.replace(name_mark, name)
                put.append(put_text)
                get.append(get_text)
        else:
            located = fs.ops
            put = [ops.put_op(op) for op in located]
            get = [ops.get_op(op) for op in located]
        structs.append(_FastStructView(fs.name, fs.c_type, fs.locals, put, get))
    return _FastView(structs, plan.states, plan.visited, plan.enums)


@dataclass(frozen=True)
class _LFormView:
    name: str
    c_type: str
    size: int  # fixed forms: their bytes
    locals: tuple[str, ...]
    used: tuple[str, ...]  # the locals' names
    blank: tuple[str, ...]  # a blank line after the locals, if there are any
    foreign: tuple[str, ...]
    foreign_len: int
    put: str
    check: list[str]  # fixed forms: the checking function's body, if there is one
    store: str


@dataclass(frozen=True)
class _LStateView:
    name: str
    c_type: str
    form: str
    fixed: int
    max_size: int
    version: int
    minimum_version: int
    checks: list[str]  # fixed forms: the checking function, if there is one


@dataclass(frozen=True)
class _LFastView:
    enums: tuple[clegacy.LEnum, ...]
    fixed: list[_LFormView]
    variable: list[_LFormView]
    fixed_states: list[_LStateView]
    variable_states: list[_LStateView]
    visited: tuple[clegacy.LState, ...]


def _indent(text: str, n: int = 4) -> str:
    """textwrap.indent's result (blank lines stay blank), several times faster."""
    prefix = " " * n
    return "\n".join([prefix + line if line else line for line in text.split("\n")])


class _LegacyText:
    """Renders the legacy codec's ops (c/lfast_ops.c.j2) in one of its three functions:
    "put", "check" or "store".  A fixed op's text is rendered once per shape and mode,
    with its lvalue and offset put in where it sits."""

    def __init__(self) -> None:
        m = macros("c/lfast_ops.c.j2")
        self.macros: dict[str, dict[str, object]] = m.modes
        # (id of a fixed op, mode) -> (the op, kept alive; its text with the marks)
        self.texts: dict[tuple[int, str], tuple[clegacy.LOp, str]] = {}

    def call(self, mode: str, op: clegacy.LOp, *body: str) -> str:
        macro = self.macros[mode][op.kind]
        return str(macro(op, *body)).strip("\n")  # type: ignore[operator]

    def fixed(self, op: clegacy.LOp, mode: str) -> str:
        key = (id(op), mode)
        hit = self.texts.get(key)
        if hit is None:
            if op.kind == "list":
                text = self.call(mode, op, _indent(self.members(op.element[0], mode)))
            else:
                text = self.call(mode, op)
            hit = self.texts[key] = (op, text)
        return hit[1]

    def members(self, run: clegacy.LOp, mode: str) -> str:
        """A run's members, each at its place (the checking pass: those with checks)."""
        check = mode == "check"
        if check and not run.checked:
            return ""
        texts = []
        texts_get = self.texts.get
        expr_mark, at_mark = clegacy.EXPR_MARK, clegacy.AT_MARK
        for op, expr, at in zip(run.members, run.exprs, run.ats, strict=True):
            if check and not op.checked:
                continue
            hit = texts_get((id(op), mode))
            text = hit[1] if hit is not None else self.fixed(op, mode)
            if text:
                texts.append(text.replace(expr_mark, expr).replace(at_mark, at))
        return "\n".join(texts)

    def steps(self, ops: tuple[clegacy.LOp, ...], mode: str) -> str:
        return "\n".join(self.step(op, mode) for op in ops)

    def step(self, op: clegacy.LOp, mode: str) -> str:
        k = op.kind
        if k == "run":
            body = self.members(op, mode)
            return self.call(mode, op, body) if body else self.call(mode, replace(op, kind="skip"))
        if k in ("since", "union", "case"):
            inner = (self.steps(op.members, mode) if k != "union" else
                     "\n".join(self.step(c, mode) for c in op.members))
            return self.call(mode, op, _indent(inner) if k != "union" else inner)
        if k == "group":  # its body is inside an `if`, and in store_group one deeper
            return self.call(mode, op, _indent(self.steps(op.members, mode),
                                               8 if mode == "store" else 4))
        if k in ("vlist",):
            return self.call(mode, op, _indent(self.steps(op.element, mode)))
        if k.endswith("_list"):
            run = op.element[0]
            if mode == "check" and not run.checked:  # only the count and the room
                return self.call(mode, replace(op, kind=k.replace("_list", "_skip")))
            loop = self.call(mode, replace(op, kind="loop"), _indent(self.members(run, mode)))
            return self.call(mode, op, _indent(loop))
        if k.endswith("_vlist"):
            loop = self.call(mode, replace(op, kind="vloop"),
                             _indent(self.steps(op.element, mode)))
            return self.call(mode, op, _indent(loop))
        return self.call(mode, op)

    def form(self, f: clegacy.LForm) -> _LFormView:
        if f.fixed:
            (run,) = f.steps
            check = [_indent(self.members(run, "check"))] if f.checked else []
            return _LFormView(f.name, f.c_type, f.fixed, (), (), (), (), 0,
                              _indent(self.members(run, "put")), check,
                              _indent(self.members(run, "store")))
        used = tuple(d.split()[1] for d in f.locals)
        return _LFormView(f.name, f.c_type, 0, f.locals, used, ("",) if used else (),
                          f.foreign, f.foreign_len,
                          _indent(self.steps(f.steps, "put")),
                          [_indent(self.steps(f.steps, "check"))],
                          _indent(self.steps(f.steps, "store")))


def _lfast(module: ir.Module) -> _LFastView:
    """The specialized legacy stream codec (clegacy.py plans it)."""
    plan = clegacy.plan(module)
    text = _LegacyText()
    forms = {f.name: f for f in plan.forms}
    views = [text.form(f) for f in plan.forms]
    states = [_LStateView(st.name, st.c_type, st.form, st.fixed, st.max_size, st.version,
                          st.minimum_version,
                          [st.form] if st.fixed and forms[st.form].checked else [])
              for st in plan.states]
    return _LFastView(plan.enums, [v for v in views if v.size],
                      [v for v in views if not v.size],
                      [st for st in states if st.fixed], [st for st in states if not st.fixed],
                      plan.visited)


def _context(module: ir.Module, shapes: bool = True) -> dict[str, object]:
    structs = _visitors(module, shapes)
    enums = [
        _EnumView(e.name, e.c_type, len(e.enumerators),
                  ", ".join(_int64_literal(en.value) for en in e.enumerators))
        for e in module.enums
    ]
    unions = [
        _UnionView(
            u.name,
            sum(len(m.cases) for m in u.members),
            ", ".join(_int64_literal(c) for m in u.members for c in m.cases),
            ", ".join(str(i) for i, m in enumerate(u.members) for _ in m.cases),
            len(u.members),
            ", ".join(_c_string(m.name) for m in u.members),
        )
        for u in module.unions
    ]
    states = [
        _StateView(s.name, s.c_type, _c_string(s.name), s.state.version, s.state.minimum_version,
                   f"vmgen_{'vmstate_' if s.layout is not None else ''}info_{s.name}",
                   [_c_string(s.vmsd)] if s.vmsd is not None else [])
        for s in module.states
        if s.state is not None
    ]
    return {
        "banner": banner(module.include),
        # A header is included; a .c device file is not (it defines functions):
        # it includes the generated code itself, after the state's definition.
        "includes": [] if _is_c_file(module) else [module.include],
        "source_notes": [f"{module.include} defines the device state: #include "
                         f"\"{module.stem}-visit.c\" in it after the definition."]
        if _is_c_file(module) else [],
        "visit_header": visit_header_name(module),
        "guard": _guard(module),
        "runtime_version": RUNTIME_VERSION,
        "structs": structs,
        "vmstates": _vmstate_visitors(module),
        "vmstate_states": [d for d in states if d.legacy_info != f"vmgen_info_{d.name}"],
        "enums": enums,
        "unions": unions,
        "states": states,
        "externals": _externals(module),
        "fast": _fast(module, shapes),
        "lfast": _lfast(module),
    }


def generate(module: ir.Module, shapes: bool = True) -> dict[str, str]:
    """`shapes`: render members of the same shape once (False: each on its own; the
    texts are the same)."""
    ctx = _context(module, shapes)
    return {
        visit_header_name(module): render("c/visit.h.j2", **ctx),
        f"{module.stem}-visit.c": render("c/visit.c.j2", **ctx),
    }
