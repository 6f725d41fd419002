"""Plans the specialized codec of the legacy VMState stream of each device state.

Beside the visitors, the C backend emits for every device state it can a straight-line
writer and reader of its legacy stream (``vmgen_fast_save_S_legacy`` /
``vmgen_fast_load_S_legacy``), which ``vmgen_save_S_legacy`` / ``vmgen_load_S_legacy``
(and the ``_as`` forms) try first.  They follow exactly what the visitors do (the
stream of ``visit_type_S``, or of ``visit_vmstate_S`` for a struct with a VMState
layout): the same bytes, the same checks, the same object; and on anything irregular
(a value outside its declaration, a count out of bounds, a const or EQUAL mismatch, an
unknown subsection, truncated input, trailing bytes) they return false having written
nothing, and the visitors run and word the message.

What the code looks like (``templates/c/lfast.c.j2`` and ``lfast_ops.c.j2`` render it):

* Values of fixed size in a row (integers, bools, enums, floats, byte arrays, strings,
  padding, arrays of them, and nested structs made only of them) form a *run*: one
  room test for the whole run, then each value at a constant offset (``p + 12``).  A
  struct that is one run (no since-version member, nothing whose size depends on the
  data) gets functions without room tests or a version, called at an offset.
* Everything else (``VMGEN_SINCE`` groups, counted arrays, unions, VMState
  subsections, structs that are not one run) advances ``p`` itself.
* A load runs twice: a checking pass that writes nothing (and reads only the values
  that need a check: ranges, enumerators, bools, strings, counts, consts, union
  discriminators), then a storing pass (no value checks; it keeps its room tests).
  Saves write into one ``malloc`` of the largest stream the state can have.

What it does not handle leaves the state to the visitors, with the reason in a
comment of the generated ``.c``: external types, arrays sized by their destination,
and any IR shape it does not explicitly recognise (a layout entry that is not a
member of the struct by its plain C name, an IR attribute it does not know set to
something other than its default): the IR's VMState layouts grow, and a shape this
planner has not been taught must not be guessed at.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, replace

from vmgen.backends.cfast import C_INT_TYPES, Unsupported, c_literal
from vmgen.lowering import ir

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# A member of a member placed by a layout (``channels[0].irq_disabled``): its C lvalue is
# ``obj->`` + the path.
_PATH = re.compile(r"[A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*\Z")

# The IR attributes this planner knows.  A field or struct with another attribute set
# to anything but its default (a later addition to the IR) is left to the visitors.
_FIELD_ATTRS = frozenset({"name", "c_type", "type", "location", "since", "bit_width",
                          "const", "count_of", "selector", "positive_le", "unused",
                          "subsection"})
_STRUCT_ATTRS = frozenset({"name", "c_type", "fields", "location", "state", "vmsd", "layout"})
_SUBSECTION_ATTRS = frozenset({"version", "minimum_version", "needed", "by_field", "vmsd",
                               "fields"})

# The writer mallocs the largest stream a state can have: states that could need more
# are left to the visitors (which grow their buffer as they write).
_MAX_STREAM = 1 << 32

# Where a shape has its lvalue and (for a value in a run) its offset; they never occur
# in C text and pass through the templates as they are.
EXPR_MARK, AT_MARK = "\x02expr\x02", "\x02at\x02"


@dataclass(frozen=True)
class LOp:
    """One step of the legacy codec.

    Fixed ops (`size` > 0) sit in a run (or a list element) at `at`; variable ones
    (`size` == 0) move ``p`` themselves.  `kind` picks the template macros (put_KIND,
    check_KIND, store_KIND in ``templates/c/lfast_ops.c.j2``):

    fixed: uint, int (plain integers: `get` reads them, no check), ranged (checked
    against `lo`..`hi` in `temp`), bool, enum, float, double, bytes, string, unused,
    list (`length` elements of `stride` bytes), fstruct (a struct that is one run),
    const_int, const_enum, positive_le, count (a VMState count: into `local`),
    selector_int, selector_enum (a union's discriminator: into `local`);

    variable: run (`members` at `ats`, `room` bytes), since, sized_bytes / sized_list /
    sized_vlist (a count before its array), after_bytes / after_list / after_vlist (a
    VMState array whose count came before: `local`), vlist (a fixed number of elements
    that are not fixed), union (its `members` are cases), case, vstruct, subsection."""

    kind: str
    expr: str = ""  # the C lvalue (a fixed op's shape: EXPR_MARK)
    at: str = ""  # fixed: where its bytes start (a shape: AT_MARK)
    size: int = 0  # fixed: bytes on the wire
    checked: bool = False  # the checking pass has something to do for it
    width: int = 0  # integers: bytes
    get: str = ""  # integers: the runtime function reading them (as a `temp`)
    temp: str = ""  # integers: "int64_t" or "uint64_t", where they are compared
    c_type: str = ""  # for stores
    lo: str = ""
    hi: str = ""
    name: str = ""  # enum: its name; fstruct, vstruct, subsection: the callee's suffix
    length: int = 0  # bytes, string, unused: bytes; list, vlist: elements
    stride: int = 0  # list, *_list: bytes per element
    depth: int = 0  # names loop variables (i0, q0, n0)
    local: str = ""  # count, selector_*, after_*: the local; union: its discriminator's
    count: str = ""  # sized_*: the count field's lvalue; union: the discriminator's
    version: str = ""  # vstruct, subsection: the version its callee runs at
    room: int = 0  # run: bytes
    most: int = 0  # variable: the most bytes it writes
    members: tuple[LOp, ...] = ()  # run, since, case, union: what is inside
    element: tuple[LOp, ...] = ()  # list, *_list: a run; *_vlist, vlist: ops
    exprs: tuple[str, ...] = ()  # run: each member's lvalue
    ats: tuple[str, ...] = ()  # run: each member's offset
    labels: tuple[str, ...] = ()  # case: the discriminator values
    since: int = 0  # since: the version
    needed: str = ""  # subsection: the C condition under which a save sends it
    vmsd: str = ""  # subsection: its name as a C string, `length` bytes
    minimum: int = 0  # subsection: the versions the reader takes
    maximum: int = 0
    stores: tuple[str, ...] = ()  # subsection: its presence field (none or one)

    @property
    def index(self) -> str:
        return f"i{self.depth}"

    @property
    def base(self) -> str:
        return f"q{self.depth}"

    @property
    def n_var(self) -> str:
        return f"n{self.depth}"

    @property
    def in_range(self) -> str:
        """The range test of `temp`."""
        return "vmgen_legacy_srange" if self.temp == "int64_t" else "vmgen_legacy_urange"

    @property
    def version_at(self) -> int:
        """subsection: where its version is, after 0x05, the name's length and the name."""
        return 2 + self.length

    @property
    def head(self) -> int:
        """subsection: the bytes of its header."""
        return 6 + self.length


@dataclass(frozen=True)
class LForm:
    """One struct's legacy stream as the visitors visit it: ``visit_type_S`` (the wire
    form) or ``visit_vmstate_S`` (`vmstate`: its VMState layout).  `fixed`: the form is
    one run of that many bytes (its functions take no room or version); else 0."""

    name: str  # the functions' suffix: "S" or "vmstate_S"
    c_type: str
    vmstate: bool
    fixed: int
    max_size: int
    checked: bool  # fixed forms: whether there is a checking function
    steps: tuple[LOp, ...]  # variable forms; fixed forms: one run
    locals: tuple[str, ...]  # declarations (selectors', counts')
    foreign: tuple[str, ...]  # vmstate: the VMState name a subsection must not start with
    foreign_len: int


@dataclass(frozen=True)
class LState:
    name: str
    c_type: str
    form: str  # the LForm's name
    fixed: int  # the stream's size when the form is fixed
    max_size: int
    version: int
    minimum_version: int
    reason: str  # why there is no specialized codec ("" when there is)


@dataclass(frozen=True)
class LEnum:
    name: str
    values: tuple[str, ...]  # the enumerators that fit an int32 (the stream's enum)


@dataclass(frozen=True)
class LPlan:
    forms: tuple[LForm, ...]  # callees first
    states: tuple[LState, ...]
    visited: tuple[LState, ...]
    enums: tuple[LEnum, ...]


# class -> its attributes this planner does not know, with their defaults
_UNKNOWN: dict[tuple[type, frozenset[str]], tuple[tuple[str, object], ...]] = {}


def _extra(cls: type, known: frozenset[str]) -> tuple[tuple[str, object], ...]:
    """The attributes of the IR class `cls` this planner does not know, with their
    defaults."""
    key = (cls, known)
    extra = _UNKNOWN.get(key)
    if extra is None:
        extra = _UNKNOWN[key] = tuple(
            (f.name, f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None))
            for f in dataclasses.fields(cls)
            if f.name not in known)
    return extra


def _check_attrs(obj: object, known: frozenset[str], what: str) -> None:
    """Refuses an IR node with an attribute this planner does not know, set."""
    for name, default in _extra(type(obj), known):
        if getattr(obj, name) != default:
            raise Unsupported(f"{what} has {name} set, which this codec does not know")


def _int_domain(t: ir.IntType) -> str:
    """Where the visitors compare a value of `t` (c.py's _int_args)."""
    return "int64_t" if t.max < (1 << 63) else "uint64_t"


def _getter(width: int, sext: bool, temp: str) -> str:
    """The C function reading `width` bytes as the visitors do: sign-extended for a
    signed C type (a range that goes below 0), as a value of `temp`."""
    if width not in (1, 2, 4, 8):
        raise Unsupported(f"a {8 * width}-bit integer")
    if temp == "uint64_t":
        return f"vmgen_legacy_get{width}"
    if sext or width == 8:
        return f"vmgen_legacy_sget{width}"
    return f"(int64_t)vmgen_legacy_get{width}"


def _literal(value: int, temp: str) -> str:
    return c_literal(value, temp == "int64_t")


def _local_name(prefix: str, expr: str) -> str:
    return prefix + re.sub(r"[^A-Za-z0-9]", "_", expr.replace("obj->", "", 1))


@dataclass
class _Planner:
    module: ir.Module
    forms: dict[tuple[str, bool], LForm | None] = field(default_factory=dict)
    reasons: dict[tuple[str, bool], str] = field(default_factory=dict)
    order: list[tuple[str, bool]] = field(default_factory=list)
    enums: dict[str, None] = field(default_factory=dict)
    # a scalar type's shape (by the type's identity: the module keeps the types alive)
    shapes: dict[int, LOp] = field(default_factory=dict)
    # an array's shape (by the type's identity, depth and kind of visit), or None when
    # its elements are not all of fixed size; a one-run struct's shape (by its name)
    lists: dict[tuple[int, int, bool], LOp | None] = field(default_factory=dict)
    fstructs: dict[str, LOp] = field(default_factory=dict)
    in_progress: set[tuple[str, bool]] = field(default_factory=set)

    # ---- struct forms -----------------------------------------------------------------

    def form(self, name: str, vmstate: bool) -> LForm:
        key = (name, vmstate)
        if key in self.forms:
            found = self.forms[key]
            if found is None:
                raise Unsupported(self.reasons[key])
            return found
        if key in self.in_progress:
            raise Unsupported(f"{name} contains itself")
        self.in_progress.add(key)
        try:
            form = self._form(self.module.struct(name), vmstate)
        except Unsupported as e:
            self.forms[key] = None
            self.reasons[key] = str(e)
            raise
        finally:
            self.in_progress.discard(key)
        self.forms[key] = form
        self.order.append(key)
        return form

    def _form(self, s: ir.Struct, vmstate: bool) -> LForm:
        _check_attrs(s, _STRUCT_ATTRS, s.name)
        if s.anonymous:
            raise Unsupported(f"{s.name} is anonymous")
        items = self._items(s, vmstate)
        scope = _Scope(s, vmstate, "obj->", items)
        ops = self.fields(scope, items, "obj->", 0)
        suffix = f"vmstate_{s.name}" if vmstate else s.name
        declarations = tuple(scope.declarations())
        if not vmstate and not declarations and all(op.size for op, _ in ops):
            run = _run(ops)
            return LForm(suffix, s.c_type, False, run.room, run.room, run.checked, (run,),
                         (), (), 0)
        steps = _assemble(ops)
        total = sum(_most(op) for op in steps)
        if total > _MAX_STREAM:
            raise Unsupported(f"{s.name}'s legacy stream can take more than 4 GiB")
        foreign: tuple[str, ...] = ()
        length = 0
        if vmstate:
            assert s.vmsd is not None
            prefix = s.vmsd.encode("utf-8")
            foreign, length = (_c_string(prefix),), len(prefix)
        return LForm(suffix, s.c_type, vmstate, 0, total, True, tuple(steps), declarations,
                     foreign, length)

    def _items(self, s: ir.Struct, vmstate: bool) -> tuple[ir.Field, ...]:
        """The fields the visitor visits, in order, each one recognised."""
        if not vmstate:
            plain = not _extra(ir.Field, _FIELD_ATTRS)  # the IR's Field: nothing to check
            for f in s.fields:
                if not plain or type(f) is not ir.Field:
                    _check_attrs(f, _FIELD_ATTRS, f"{s.name}.{f.name}")
                if not f.name.isidentifier() and not _plain_path(s, f):
                    raise Unsupported(f"{s.name}'s member '{f.name}' is not a plain name "
                                      "or a path to a plain value")
            return s.wire
        if s.layout is None or s.vmsd is None:
            raise Unsupported(f"{s.name} has no VMState layout")
        for f in s.layout:
            self._recognise(s, f)
        return s.layout

    def _recognise(self, s: ir.Struct, f: ir.Field, group: bool = False) -> None:
        """A layout entry this planner knows: padding (with or without a member behind
        it), a group of the struct's own members sent as a subsection (not within a
        group), or one of the struct's members by its plain C name (a count, a
        subsection member, any other migrated field) or by the path of a plain value in a
        member of it."""
        where = f"{s.name}'s layout entry '{f.name}'"
        _check_attrs(f, _FIELD_ATTRS, where)
        if f.unused is not None:
            member = s._by_name.get(f.name)
            if (f.type is not None or f.unused <= 0 or f.subsection is not None
                    or f.count_of is not None or f.selector is not None or f.const
                    or f.positive_le or f.bit_width is not None
                    or member not in (None, f)):
                raise Unsupported(f"{where}: padding of an unknown shape")
            return
        sub = f.subsection
        if f.type is None and sub is not None and sub.fields is not None:
            _check_attrs(sub, _SUBSECTION_ATTRS, where)
            name = (sub.vmsd or "").encode("utf-8")
            if group or not 1 <= len(name) <= 255 or f.count_of is not None:
                raise Unsupported(f"{where}: a subsection group of an unknown shape")
            self._needed(s, sub, where)
            for g in sub.fields:
                self._recognise(s, g, group=True)
            return
        if f.type is None:
            raise Unsupported(f"{where} has no wire type")
        member = s._by_name.get(f.name)
        if member is None:
            raise Unsupported(f"{where} names no member")
        if not _IDENT.match(f.name):
            if not _plain_path(s, f) or f != member:
                raise Unsupported(f"{where} is not a member's plain name or a path to a "
                                  "plain value")
            return
        if sub is not None:
            _check_attrs(sub, _SUBSECTION_ATTRS, where)
            if (group or member.subsection is None or sub.fields is not None
                    or replace(f, subsection=member.subsection) != member
                    or not isinstance(f.type, ir.StructRef)):
                raise Unsupported(f"{where}: a subsection of an unknown shape")
            self._needed(s, sub, where)
            return
        if f != member:
            raise Unsupported(f"{where} differs from the member")

    @staticmethod
    def _needed(s: ir.Struct, sub: ir.Subsection, where: str) -> None:
        """A subsection's presence: a bool member, or a function bool needed(void *)."""
        if sub.by_field:
            flag = s._by_name.get(sub.needed)
            if (flag is None or not isinstance(flag.type, ir.BoolType)
                    or flag.since is not None or flag.bit_width is not None
                    or not _IDENT.match(sub.needed)):
                raise Unsupported(f"{where}: its presence field is not a bool")
        elif not _IDENT.match(sub.needed):
            raise Unsupported(f"{where}: its 'needed' is not a function name")

    # ---- members ------------------------------------------------------------------------

    def fields(self, scope: _Scope, items: tuple[ir.Field, ...], base: str,
               depth: int) -> list[_Item]:
        """The ops of `items`, in order; consecutive fields of one since-version in one
        `since` op."""
        out: list[_Item] = []
        group: list[_Item] = []
        since: int | None = None
        shapes = self.shapes
        special = scope.counts.keys() | scope.selectors.keys()
        for f in items:
            t = f.type
            op = shapes.get(id(t))
            if (op is not None and f.since is None and f.unused is None and not f.const
                    and not f.positive_le and f.subsection is None and f.name not in special
                    and since is None):
                out.append((op, base + f.name))  # a plain value (what field() makes of it)
                continue
            ops = self.field(scope, f, base, depth)
            if f.since != since:
                if since is not None:
                    out.append((_since(since, group), ""))
                group = []
                since = f.since
            (out if since is None else group).extend(ops)
        if since is not None:
            out.append((_since(since, group), ""))
        return out

    def field(self, scope: _Scope, f: ir.Field, base: str, depth: int) -> list[_Item]:
        """How the visitor visits f (c.py's _Members.how, in the same order)."""
        s, expr = scope.struct, f"{base}{f.name}"
        where = f"{s.name}.{f.name}"
        if f.unused is not None:
            return [_here(LOp("unused", EXPR_MARK, AT_MARK, f.unused, length=f.unused),
                          expr)]
        if scope.vmstate and f.subsection is not None and f.subsection.fields is not None:
            return [(self.group(scope, f.subsection, base, depth), "")]
        t = f.type
        assert t is not None
        if scope.vmstate and f.subsection is not None:
            return [(self.subsection(scope, f, t, expr, where), "")]
        if f.name in scope.counts:
            return [self.count(scope, f, t, expr, where)]
        if f.name in scope.selectors:
            return [self.selector(scope, f, t, expr, where)]
        if f.const:
            return [self.const(t, expr, where)]
        if f.positive_le:
            if not isinstance(t, ir.IntType) or t.min >= 0 or t.ranged:
                raise Unsupported(f"{where}: VMGEN_POSITIVE_LE on an unknown type")
            return [_here(self.integer(t, "positive_le"), expr)]
        if f.bit_width is not None:
            if not isinstance(t, (ir.IntType, ir.EnumRef, ir.BoolType)):
                raise Unsupported(f"{where}: a bit-field of an unknown type")
            return [_here(self.scalar(t, where), expr)]
        if isinstance(t, ir.UnionRef):
            return [(self.union(scope, f, t, expr, depth, where), "")]
        if isinstance(t, (ir.ArrayType, ir.BytesType)) and t.count is not None:
            return [(self.sized(scope, t, expr, base, depth, where), "")]
        return self.value(t, expr, depth, scope.vmstate, where)

    def value(self, t: ir.WireType, expr: str, depth: int, vmstate: bool,
              where: str) -> list[_Item]:
        """One addressable value visited by its type (c.py's _Members.member)."""
        if isinstance(t, ir.StructRef):
            inner = self.module.struct(t.name)
            if inner.anonymous:
                return self.inline(inner, expr, depth, vmstate, where)
            if vmstate and inner.layout is not None:
                form = self.form(t.name, True)
                return [(LOp("vstruct", expr, name=form.name, version="UINT32_MAX",
                             most=form.max_size), "")]
            form = self.form(t.name, False)
            if form.fixed:
                shape = self.fstructs.get(form.name)
                if shape is None:
                    shape = self.fstructs[form.name] = LOp(
                        "fstruct", EXPR_MARK, AT_MARK, form.fixed, form.checked,
                        name=form.name)
                return [_here(shape, expr)]
            return [(LOp("vstruct", expr, name=form.name, version="version",
                         most=form.max_size), "")]
        if isinstance(t, ir.ArrayType):
            if t.count is not None:
                raise Unsupported(f"{where}: a sized array inside an array")
            key = (id(t), depth, vmstate)
            if key not in self.lists:  # a shape: the elements' lvalues built on the mark
                element = self.value(t.element, f"{EXPR_MARK}[i{depth}]", depth + 1, vmstate,
                                     where)
                self.lists[key] = None
                if all(op.size for op, _ in element):
                    run = _run(element, f"q{depth}")
                    self.lists[key] = LOp("list", EXPR_MARK, AT_MARK, run.room * t.length,
                                          run.checked, length=t.length, stride=run.room,
                                          depth=depth, element=(run,))
            shape = self.lists[key]
            if shape is not None:
                return [_here(shape, expr)]
            element = self.value(t.element, f"{expr}[i{depth}]", depth + 1, vmstate, where)
            steps = tuple(_assemble(element))
            return [(LOp("vlist", expr, length=t.length, depth=depth, element=steps,
                         most=t.length * sum(_most(op) for op in steps)), "")]
        return [_here(self.scalar(t, where), expr)]

    def inline(self, inner: ir.Struct, expr: str, depth: int, vmstate: bool,
               where: str) -> list[_Item]:
        """An anonymous struct's members, in place (it has no framing on the wire)."""
        _check_attrs(inner, _STRUCT_ATTRS, inner.name)
        if inner.layout is not None or inner.vmsd is not None:
            raise Unsupported(f"{where}: an anonymous struct with a VMState layout")
        for g in inner.fields:
            _check_attrs(g, _FIELD_ATTRS, f"{inner.name}.{g.name}")
            if not _IDENT.match(g.name):
                raise Unsupported(f"{inner.name}'s member '{g.name}' is not a plain name")
        scope = _Scope(inner, vmstate, f"{expr}.", inner.wire)
        if scope.declarations():
            raise Unsupported(f"{where}: a union inside an anonymous struct")
        return self.fields(scope, inner.wire, f"{expr}.", depth)

    def scalar(self, t: ir.WireType, where: str) -> LOp:
        """A fixed-size value's shape (made once per type)."""
        op = self.shapes.get(id(t))
        if op is not None:
            return op
        if isinstance(t, ir.IntType):
            op = self.integer(t, "int")
        elif isinstance(t, ir.BoolType):
            op = LOp("bool", EXPR_MARK, AT_MARK, 1, True)
        elif isinstance(t, ir.FloatType):
            op = LOp(t.visitor, EXPR_MARK, AT_MARK, t.bits // 8)
        elif isinstance(t, ir.EnumRef):
            op = self.enum(t)
        elif isinstance(t, ir.BytesType) and t.count is None:
            op = LOp("bytes", EXPR_MARK, AT_MARK, t.length, length=t.length)
        elif isinstance(t, ir.StringType):
            op = LOp("string", EXPR_MARK, AT_MARK, t.capacity, True, length=t.capacity)
        elif isinstance(t, ir.ExternalType):
            raise Unsupported(f"{where} is a VMGEN_EXTERNAL type")
        else:
            raise Unsupported(f"{where}: a value of an unknown type")
        self.shapes[id(t)] = op
        return op

    def integer(self, t: ir.IntType, kind: str) -> LOp:
        """An integer read as the visitors read it: at its C width, sign-extended when its
        range goes below 0, compared where c.py's _int_args compares it.  Kind "int"
        (a member): "ranged" when its range is narrower than its C type's, else "int" or
        "uint" (nothing to check); or positive_le, const_int, selector_int."""
        width = t.bits // 8
        sext = t.min < 0
        temp = _int_domain(t)
        if kind == "int":
            if t.min > t.type_min or t.max < t.type_max:
                kind = "ranged"
            else:
                kind, temp = ("int", "int64_t") if sext else ("uint", "uint64_t")
        checked = kind not in ("int", "uint")
        return LOp(kind, EXPR_MARK, AT_MARK, width, checked, width, _getter(width, sext, temp),
                   temp, C_INT_TYPES[t.visitor], _literal(t.min, temp), _literal(t.max, temp))

    def enum(self, t: ir.EnumRef) -> LOp:
        e = self.module.enum(t.name)
        self.enums[e.name] = None
        return LOp("enum", EXPR_MARK, AT_MARK, 4, True, 4, "vmgen_legacy_sget4", "int64_t",
                   e.c_type, name=e.name)

    def const(self, t: ir.WireType, expr: str, where: str) -> _Item:
        if isinstance(t, ir.EnumRef):
            return _here(replace(self.enum(t), kind="const_enum"), expr)
        if isinstance(t, ir.IntType):
            return _here(self.integer(t, "const_int"), expr)
        raise Unsupported(f"{where} is a const of an unknown type")

    def selector(self, scope: _Scope, f: ir.Field, t: ir.WireType, expr: str,
                 where: str) -> _Item:
        local = scope.selectors[f.name]
        if f.const or f.positive_le:
            raise Unsupported(f"{where}: a const or VMGEN_POSITIVE_LE discriminator")
        if isinstance(t, ir.EnumRef):
            op = replace(self.enum(t), kind="selector_enum")
        elif isinstance(t, ir.IntType) and t.max < (1 << 63):
            op = self.integer(t, "selector_int")
        else:
            raise Unsupported(f"{where}: a discriminator of an unknown type")
        return _here(replace(op, local=local), expr)

    def count(self, scope: _Scope, f: ir.Field, t: ir.WireType, expr: str,
              where: str) -> _Item:
        """A VMState count where it is declared (member_count_value): checked against its
        array's bounds, never sign-extended (its lower bound is 0 or more)."""
        array = scope.struct._by_name.get(f.count_of or "")
        at = None if array is None else array.type
        if (not isinstance(t, ir.IntType) or not isinstance(at, (ir.ArrayType, ir.BytesType))
                or at.count is None or at.count.field != f.name or not at.count.fixed):
            raise Unsupported(f"{where}: a count of an unknown shape")
        temp = _int_domain(t)
        width = t.bits // 8
        return _here(LOp("count", EXPR_MARK, AT_MARK, width, True, width,
                         _getter(width, False, temp), temp, C_INT_TYPES[t.visitor],
                         _literal(at.count.min, temp), _literal(at.count.max, temp),
                         local=scope.counts[f.name]), expr)

    def sized(self, scope: _Scope, t: ir.ArrayType | ir.BytesType, expr: str, base: str,
              depth: int, where: str) -> LOp:
        """A VMGEN_SIZE_IS array: its count travels right before it (visit_count_*), or,
        in a VMState layout, came where it is declared (its local)."""
        assert t.count is not None
        if not t.count.fixed:
            raise Unsupported(f"{where} is sized by its destination")
        count = scope.struct._by_name.get(t.count.field)
        ct = None if count is None else count.type
        if count is None or not isinstance(ct, ir.IntType):
            raise Unsupported(f"{where}: a count of an unknown type")
        if count.name in scope.counts:
            return self.elements("after", t, expr, depth, scope.vmstate, where, 0,
                                 local=scope.counts[count.name], lo=f"{t.count.min}u",
                                 hi=f"{t.count.max}u")
        temp = "int64_t" if ct.signed else "uint64_t"  # visit_count_int / _uint
        width = ct.bits // 8
        return self.elements("sized", t, expr, depth, scope.vmstate, where, width,
                             width=width, get=_getter(width, ct.signed, temp), temp=temp,
                             count=f"{base}{count.name}", c_type=C_INT_TYPES[ct.visitor],
                             lo=_literal(t.count.min, temp), hi=_literal(t.count.max, temp))

    def elements(self, prefix: str, t: ir.ArrayType | ir.BytesType, expr: str, depth: int,
                 vmstate: bool, where: str, head: int, **more: object) -> LOp:
        """A counted array: `prefix`_bytes, _list (elements of fixed size) or _vlist;
        `head`: the bytes of its count before it."""
        assert t.count is not None
        if isinstance(t, ir.BytesType):
            return LOp(f"{prefix}_bytes", expr, depth=depth, most=head + t.count.max,
                       **more)  # type: ignore[arg-type]
        element = self.value(t.element, f"{expr}[i{depth}]", depth + 1, vmstate, where)
        if all(op.size for op, _ in element):
            run = _run(element, f"q{depth}")
            return LOp(f"{prefix}_list", expr, checked=run.checked, depth=depth,
                       stride=run.room, element=(run,), most=head + t.count.max * run.room,
                       **more)  # type: ignore[arg-type]
        steps = tuple(_assemble(element))
        return LOp(f"{prefix}_vlist", expr, depth=depth, element=steps,
                   most=head + t.count.max * sum(_most(op) for op in steps),
                   **more)  # type: ignore[arg-type]

    def union(self, scope: _Scope, f: ir.Field, t: ir.UnionRef, expr: str, depth: int,
              where: str) -> LOp:
        """The selected member only (c.py's _union; positional: chosen by the value of
        the discriminator, visited before)."""
        assert f.selector is not None
        if f.selector not in scope.before(f.name):
            raise Unsupported(f"{where}: the union comes before its discriminator")
        u = self.module.union(t.name)
        cases = []
        for m in u.members:
            if isinstance(m.type, ir.UnionRef):
                raise Unsupported(f"{where}.{m.name}: a union in a union")
            steps = tuple(_assemble(self.value(m.type, f"{expr}.{m.name}", depth,
                                               scope.vmstate, f"{where}.{m.name}")))
            cases.append(LOp("case", labels=tuple(c_literal(c, True) for c in m.cases),
                             members=steps, most=sum(_most(op) for op in steps)))
        return LOp("union", expr, local=scope.selectors[f.selector],
                   count=f"{scope.base}{f.selector}", members=tuple(cases),
                   most=max((c.most for c in cases), default=0))

    def group(self, scope: _Scope, sub: ir.Subsection, base: str, depth: int) -> LOp:
        """The struct's own members sent as a VMState subsection, at its version (c.py's
        _subsection of a group)."""
        assert sub.vmsd is not None and sub.fields is not None
        name = sub.vmsd.encode("utf-8")
        steps = tuple(_assemble(self.fields(scope, sub.fields, base, depth)))
        return LOp("group", "", name="", needed=self._presence(scope, sub)[0],
                   vmsd=_c_string(name), length=len(name), minimum=sub.minimum_version,
                   maximum=sub.version, stores=self._presence(scope, sub)[1],
                   members=steps, most=6 + len(name) + sum(_most(op) for op in steps))

    @staticmethod
    def _presence(scope: _Scope, sub: ir.Subsection) -> tuple[str, tuple[str, ...]]:
        """When a save sends the subsection, and where a load notes that it came."""
        if sub.by_field:
            needed = f"{scope.base}{sub.needed}"
            return needed, (needed,)
        return f"{sub.needed}((void *)obj)", ()

    def subsection(self, scope: _Scope, f: ir.Field, t: ir.WireType, expr: str,
                   where: str) -> LOp:
        """A member struct sent as a VMState subsection (c.py's _subsection)."""
        sub = f.subsection
        assert sub is not None
        if not isinstance(t, ir.StructRef):
            raise Unsupported(f"{where}: a subsection of an unknown type")
        inner = self.module.struct(t.name)
        if inner.vmsd is None or inner.layout is None:
            raise Unsupported(f"{where}: a subsection without a layout")
        name = inner.vmsd.encode("utf-8")
        if not 1 <= len(name) <= 255:
            raise Unsupported(f"{where}: a subsection name of {len(name)} bytes")
        form = self.form(t.name, True)
        needed, stores = self._presence(scope, sub)
        return LOp("subsection", expr, name=form.name, needed=needed, vmsd=_c_string(name),
                   length=len(name), minimum=sub.minimum_version, maximum=sub.version,
                   version=f"{sub.version}u", stores=stores, most=6 + len(name) + form.max_size)


@dataclass
class _Scope:
    """One struct's visit: its locals (discriminators, VMState counts)."""

    struct: ir.Struct
    vmstate: bool
    base: str
    items: tuple[ir.Field, ...]
    selectors: dict[str, str] = field(default_factory=dict)
    counts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.selectors = {f.selector: _local_name("vmgen_sel_", f"{self.base}{f.selector}")
                          for f in self.struct.wire if f.selector is not None}
        if self.vmstate:
            self.counts = {f.name: _local_name("vmgen_count_", f"{self.base}{f.name}")
                           for f in _flat(self.items) if f.count_of is not None}

    def before(self, name: str) -> set[str]:
        """The names visited before `name`."""
        found = set()
        for f in _flat(self.items):
            if f.name == name:
                break
            found.add(f.name)
        return found

    def declarations(self) -> list[str]:
        return [*(f"int64_t {local} = 0" for local in self.selectors.values()),
                *(f"int64_t {local} = (int64_t){self.base}{name}"
                  for name, local in self.counts.items())]


def _flat(items: tuple[ir.Field, ...]) -> list[ir.Field]:
    """Layout entries with each subsection group's members in its place."""
    return [g for f in items for g in ((f,) if f.subsection is None or f.subsection.fields
                                       is None else f.subsection.fields)]


def _plain_path(s: ir.Struct, f: ir.Field) -> bool:
    """Whether f is a member of a member placed by a layout, holding a plain value."""
    return (_PATH.match(f.name) is not None and f.count_of is None and f.selector is None
            and f.subsection is None and f.unused is None
            and not isinstance(f.type, ir.UnionRef)
            and not (isinstance(f.type, (ir.ArrayType, ir.BytesType))
                     and f.type.count is not None)
            and all(g.selector != f.name for g in s.wire))


def _c_string(data: bytes) -> str:
    out = []
    for b in data:
        ch = chr(b)
        out.append(ch if 0x20 <= b < 0x7F and ch not in '"\\?' else f"\\{b:03o}")
    return '"' + "".join(out) + '"'


# An op and, for a fixed one, its lvalue where it sits (its shape is shared by every
# member of its type: the run keeps the lvalues beside the shapes).
_Item = tuple[LOp, str]


def _here(op: LOp, expr: str) -> _Item:
    return (op, expr)


# (base, offset) -> where a value at that offset is, as C ("p + 12")
_AT: dict[tuple[str, int], str] = {}


def _run(items: list[_Item], base: str = "p") -> LOp:
    """Fixed ops in a row: each at its offset from `base`."""
    ats = []
    offset = 0
    for op, _ in items:
        assert op.size
        at = _AT.get((base, offset))
        if at is None:
            at = _AT[(base, offset)] = base if offset == 0 else f"{base} + {offset}"
        ats.append(at)
        offset += op.size
    shapes = tuple(op for op, _ in items)
    return LOp("run", checked=any(op.checked for op in shapes), room=offset, members=shapes,
               exprs=tuple(expr for _, expr in items), ats=tuple(ats), most=offset)


def _assemble(items: list[_Item]) -> list[LOp]:
    """Runs of the fixed ops in a row, between the variable ones."""
    out: list[LOp] = []
    pending: list[_Item] = []
    for item in items:
        if item[0].size:
            pending.append(item)
            continue
        if pending:
            out.append(_run(pending))
            pending = []
        out.append(item[0])
    if pending:
        out.append(_run(pending))
    return out


def _since(since: int, ops: list[_Item]) -> LOp:
    steps = tuple(_assemble(ops))
    return LOp("since", since=since, members=steps, most=sum(_most(op) for op in steps))


def _most(op: LOp) -> int:
    """The most bytes a step (not a fixed op) writes."""
    assert not op.size
    return op.most


def plan(module: ir.Module) -> LPlan:
    planner = _Planner(module)
    states, visited = [], []
    for s in module.states:
        assert s.state is not None
        try:
            form = planner.form(s.name, s.layout is not None)
        except Unsupported as why:
            visited.append(LState(s.name, s.c_type, "", 0, 0, s.state.version,
                                  s.state.minimum_version, str(why)))
            continue
        states.append(LState(s.name, s.c_type, form.name, form.fixed, form.max_size,
                             s.state.version, s.state.minimum_version, ""))
    forms = [planner.forms[key] for key in planner.order]
    enums = []
    for name in planner.enums:
        e = module.enum(name)
        values = sorted({en.value for en in e.enumerators
                         if -(1 << 31) <= en.value < (1 << 31)})
        enums.append(LEnum(e.name, tuple(c_literal(v, True) for v in values)))
    return LPlan(tuple(f for f in forms if f is not None), tuple(states), tuple(visited),
                 tuple(enums))
