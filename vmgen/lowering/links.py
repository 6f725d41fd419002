"""Linking a struct's fields to each other, after each was lowered on its own.

A field's annotations can name a sibling: ``VMGEN_SIZE_IS(n)`` makes ``n`` the
count of an array, ``VMGEN_UNION(sel)`` makes ``sel`` the discriminator of a
union.  This pass checks each such pair (the sibling exists, is migrated, is wide
enough, has the same ``VMGEN_SINCE``; a union's cases fit its discriminator), links
them in the IR, and puts the fields in wire order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from operator import attrgetter, itemgetter
from typing import NamedTuple

from vmgen.diagnostics import DiagnosticSink, Location
from vmgen.frontend.annotations import Annotation, identifier_arg
from vmgen.lowering import ir


class FieldError(Exception):
    """A field cannot be lowered; the message names the reason."""

    def __init__(self, location: Location, message: str) -> None:
        super().__init__(message)
        self.location = location
        self.message = message


class RawField(NamedTuple):
    """A lowered field and the annotations that speak of its siblings."""

    field: ir.Field
    anns: Mapping[str, Annotation]


_FIELD, _ANNS, _NAME = itemgetter(0), itemgetter(1), attrgetter("name")


def wire_order(fields: list[ir.Field]) -> list[ir.Field]:
    """Root fields in C order, a union right after its discriminator; then the
    fields of each VMGEN_SINCE version, ascending, each group in C order."""
    for f in fields:
        if f.selector is not None or f.since is not None:
            break
    else:
        return fields  # no union, no version: C order (the common case)
    unions = {f.selector: f for f in fields if f.selector is not None}
    ordered: list[ir.Field] = []
    for f in fields:
        if f.selector is not None:
            continue  # placed after its discriminator
        ordered.append(f)
        if f.name in unions:
            ordered.append(unions[f.name])
    placed = {f.name for f in ordered}
    ordered += [f for f in fields if f.name not in placed]  # a selector that is missing
    versions = sorted({f.since for f in ordered if f.since is not None})
    root = [f for f in ordered if f.since is None]
    return root + [f for v in versions for f in ordered if f.since == v]




def link(struct: str, context: str, raw: list[RawField], sink: DiagnosticSink,
         union_named: Callable[[str], ir.Union], enums: Mapping[str, ir.Enum],
         vmstate: bool = False) -> list[ir.Field]:
    """Resolve what annotations say about siblings (counts, selectors), check
    it, and put the fields in wire order."""
    in_order = list(map(_FIELD, raw))
    annotated = [anns for anns in map(_ANNS, raw) if anns]
    if len(set(map(_NAME, in_order))) == len(raw) and not any(
            "size_is" in anns or "union" in anns for anns in annotated):
        # Nothing to link; without annotations, no version and no union: C order.
        return wire_order(in_order) if annotated else in_order
    fields = {f.name: f for f in in_order}
    counts: dict[str, str] = {}  # count field -> array
    selectors: dict[str, str] = {}  # union field -> selector
    for r in raw:
        f = r.field
        try:
            if "size_is" in r.anns:
                count, array = _link_count(f, r.anns["size_is"], fields, counts, vmstate)
                fields[count.name] = count
                fields[array.name] = array
            if "union" in r.anns:
                selectors[f.name] = _link_selector(f, r.anns["union"], fields, union_named,
                                                   enums)
        except FieldError as exc:
            sink.error(exc.location, exc.message, context)
    linked = []
    for r in raw:
        f = fields[r.field.name]
        if f.name in selectors:
            f = replace(f, selector=selectors[f.name])
        linked.append(f)
    return wire_order(linked)

def _link_count(
    array: ir.Field, ann: Annotation, fields: dict[str, ir.Field],
    counts: dict[str, str], vmstate: bool = False) -> tuple[ir.Field, ir.Field]:
    """The count field and the array, linked."""
    name = identifier_arg(ann, "the count")
    label = f"VMGEN_SIZE_IS({name}) on '{array.name}'"
    count = fields.get(name)
    if count is None:
        raise FieldError(ann.location, f"{label}: no field '{name}' in this struct")
    if count.type is None:
        raise FieldError(ann.location, f"{label}: the count field '{name}' is VMGEN_SKIP; "
                          "a sized array needs its count migrated")
    if name in counts:
        raise FieldError(ann.location, f"{label}: '{name}' already counts "
                          f"'{counts[name]}'; one count field sizes one array")
    if not isinstance(count.type, ir.IntType):
        raise FieldError(ann.location, f"{label}: the count field '{name}' is not an integer")
    if count.const:
        raise FieldError(ann.location, f"{label}: the count field '{name}' is const")
    # In a VMState layout the count travels on its own: an array older than its count
    # uses the count in place when the data is older than the count (VMState's rule).
    if count.since != array.since and not (vmstate and (count.since or 0) >= (array.since or 0)):
        raise FieldError(ann.location, f"{label}: the count field '{name}' and the array "
                          "must have the same VMGEN_SINCE")
    sized = array.type
    assert isinstance(sized, (ir.ArrayType, ir.BytesType)) and sized.count is not None
    t = count.type
    if sized.count.fixed:
        # A count narrower than the capacity must say so with VMGEN_RANGE.
        if not t.ranged and t.max < sized.length:
            raise FieldError(ann.location, f"{label}: '{name}' ({count.c_type}) cannot "
                              f"count up to the capacity {sized.length}: widen it, or bound "
                              f"it with VMGEN_RANGE")
        high = min(sized.length, t.max)
    else:
        # A flexible array member or a pointer: exactly as many elements as
        # the destination holds; the count field's range bounds the wire.
        high = t.max
    low = max(0, t.min)
    if low > high:
        raise FieldError(ann.location, f"{label}: the count's range {t.min}..{t.max} "
                          f"leaves no valid element count")
    sizing = replace(sized.count, min=low, max=high)
    array = replace(array, type=replace(sized, count=sizing))
    counts[name] = array.name
    return replace(count, count_of=array.name), array

def _link_selector(union: ir.Field, ann: Annotation, fields: dict[str, ir.Field],
                   union_named: Callable[[str], ir.Union],
                   enums: Mapping[str, ir.Enum]) -> str:
    name = identifier_arg(ann, "the discriminator")
    label = f"VMGEN_UNION({name}) on '{union.name}'"
    sel = fields.get(name)
    if sel is None:
        raise FieldError(ann.location, f"{label}: no field '{name}' in this struct")
    if sel.type is None or sel.count_of is not None:
        raise FieldError(ann.location, f"{label}: the discriminator '{name}' must be "
                          "migrated")
    t = sel.type
    if not (isinstance(t, ir.EnumRef) or (isinstance(t, ir.IntType) and t.max < (1 << 63))):
        raise FieldError(ann.location, f"{label}: the discriminator '{name}' must be an "
                          "enum or an integer that fits int64_t")
    if sel.since != union.since:
        raise FieldError(ann.location, f"{label}: the discriminator and the union must "
                          "have the same VMGEN_SINCE")
    assert isinstance(union.type, ir.UnionRef)
    u = union_named(union.type.name)
    for m in u.members:
        for case in m.cases:
            if isinstance(t, ir.IntType) and not t.min <= case <= t.max:
                raise FieldError(ann.location, f"{label}: case {case} of member "
                                  f"'{m.name}' is outside the range {t.min}..{t.max} of "
                                  f"the discriminator '{name}'")
            if isinstance(t, ir.EnumRef):
                values = {e.value for e in enums[t.name].enumerators}
                if case not in values:
                    raise FieldError(ann.location, f"{label}: case {case} of member "
                                      f"'{m.name}' is not a value of enum '{t.name}'")
    return name
