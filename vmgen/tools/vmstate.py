"""QEMU's own description of a device's VMState, and the check that a generated legacy
layout still equals it (``vmgen check --vmstate``).

QEMU describes its tables in two places: ``-dump-vmstate`` (every VMState the binary
knows: each field's name, size, version and whether a test decides if it is sent,
nested descriptions, all subsections; no types and no array lengths) and the JSON
description at the end of a migration stream (what one section holds: names, types,
sizes, array lengths; only the subsections that were sent).  Both become a
:class:`Desc`; given both, :func:`merged` keeps the table's rows and versions and the
stream's types and lengths.

:func:`compare` walks a struct's layout (``Struct.layout``: members, member paths,
padding, subsections) beside a :class:`Desc` and reports, at the member's file:line,
the first place where name, order, size, type, version or a subsection differ: the
check a hand-kept VMState table never had.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

from vmgen.diagnostics import Diagnostic, Location
from vmgen.lowering import ir
from vmgen.runtime.qevm import FieldDesc, StructDesc

# QEMU's integer field types and their widths.
INT_TYPES = {f"{s}int{b}": (b // 8, s == "") for s in ("", "u") for b in (8, 16, 32, 64)}


class DescError(Exception):
    """A file that is not QEMU's description (the message says why)."""


@dataclass(frozen=True)
class Field:
    """One row of a VMState table."""

    name: str  # as QEMU names it: "timer", "channels[0].irq_disabled", "unused"
    size: int  # bytes of one element (a struct's: its C size in QEMU's build, or 0)
    type: str | None = None  # "uint8", "timer", "pci config", ...; None: not known (dump)
    count: int | None = None  # elements the stream held (array_len); None: not known
    array: bool = False  # the stream gave an array_len
    version: int = 0  # the version it came in (0: always there)
    exists: bool = False  # a test decides whether it is sent (field_exists)
    struct: Desc | None = None


@dataclass(frozen=True)
class Desc:
    """A VMState: name, versions, table rows, subsections."""

    name: str
    version: int
    minimum: int | None  # None: not known (a stream's description does not say)
    fields: tuple[Field, ...]
    subsections: tuple[Desc, ...]
    complete: bool  # the subsections are all there are (a dump), not only those sent


# ---- reading ----------------------------------------------------------------------------


def _dump_desc(obj: object, where: str) -> Desc:
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise DescError(f"{where}: a description without a name")
    name = obj["name"]
    version, minimum = obj.get("version_id"), obj.get("minimum_version_id")
    rows, subs = obj.get("Fields", []), obj.get("Subsections", [])
    if not isinstance(version, int) or not isinstance(minimum, int) or \
            not isinstance(rows, list) or not isinstance(subs, list):
        raise DescError(f"{where}: VMState '{name}' lacks version_id, minimum_version_id "
                        "or Fields")
    fields = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("field"), str) or \
                not isinstance(row.get("size", 0), int):
            raise DescError(f"{where}: VMState '{name}' has a field without a name or size")
        nested = (_dump_desc(row["Description"], f"{where}: {name}")
                  if "Description" in row else None)
        fields.append(Field(row["field"], int(row.get("size", 0)),
                            version=int(row.get("version_id", 0)),
                            exists=bool(row.get("field_exists", False)), struct=nested))
    return Desc(name, version, minimum, tuple(fields),
                tuple(_dump_desc(s, f"{where}: {name}") for s in subs), True)


def from_dump(text: bytes, source: str) -> dict[str, Desc]:
    """VMState name -> its Desc, from ``-dump-vmstate`` output."""
    try:
        value = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise DescError(f"{source}: not -dump-vmstate output (not JSON: {exc})") from None
    if not isinstance(value, dict):
        raise DescError(f"{source}: not -dump-vmstate output (not an object)")
    found: dict[str, Desc] = {}
    for entry in value.values():
        if isinstance(entry, dict) and isinstance(entry.get("Description"), dict):
            d = _dump_desc(entry["Description"], source)
            found.setdefault(d.name, d)
    return found


def row_name(name: str) -> tuple[str, int]:
    """(table name, which occurrence of it): a stream's description calls the n-th
    entry of a repeated name 'NAME[n]'."""
    m = re.fullmatch(r"(.*)\[(\d+)\]", name)
    return (m.group(1), int(m.group(2))) if m and "." not in m.group(1) and \
        "[" not in m.group(1) else (name, 0)


def from_stream(s: StructDesc) -> Desc:
    """The Desc of a section (or nested VMState) as a stream's description gives it."""
    fields = []
    rows = list(s.fields)
    i = 0
    while i < len(rows):
        f = rows[i]
        if f.index is not None:
            run = [f]
            while (i + len(run) < len(rows) and rows[i + len(run)].name == f.name
                   and rows[i + len(run)].index == f.index + len(run)):
                run.append(rows[i + len(run)])
            fields.append(_elements(s, run))
            i += len(run)
            continue
        fields.append(Field(f.name, f.size, f.type, f.count, f.array,
                            struct=from_stream(f.struct) if f.struct is not None else None))
        i += 1
    return Desc(s.vmsd_name or "", s.version or 0, None, tuple(fields),
                tuple(from_stream(sub) for sub in s.subsections), False)


def _elements(s: StructDesc, run: list[FieldDesc]) -> Field:
    """A struct array QEMU describes element by element (`index` entries: its element
    VMState has subsections, so QEMU never folds the elements into one entry): one
    array field of `len(run)` elements, whose element VMState has the elements' fields
    and every subsection some element sent, in the order they came."""
    f = run[0]
    where = f"'{s.vmsd_name}': field '{f.name}'"
    if f.index != 0 or any(e.struct is None for e in run):
        raise DescError(f"{where}: index entries must be struct elements counted from 0")
    elements = [from_stream(e.struct) for e in run if e.struct is not None]
    first = elements[0]
    subs: list[Desc] = []
    for e in elements:
        if (e.name, e.version, e.fields) != (first.name, first.version, first.fields):
            raise DescError(f"{where}: element {elements.index(e)} is VMState '{e.name}' "
                            f"version {e.version} with other fields than element 0 "
                            f"('{first.name}' version {first.version})")
        for sub in e.subsections:
            known = next((x for x in subs if x.name == sub.name), None)
            if known is None:
                subs.append(sub)
            elif known != sub:
                raise DescError(f"{where}: the elements send subsection '{sub.name}' with "
                                "different fields")
    return Field(f.name, f.size, f.type, len(run), True,
                 struct=replace(first, subsections=tuple(subs)))


def merged(stream: Desc, dump: Desc) -> Desc:
    """The dump's table (rows, versions, every subsection) with the stream's types and
    array lengths where the stream sent the row; rows the stream left out (a test
    said no) are dropped when the dump marks them conditional."""
    by_row: dict[tuple[str, int], Field] = {}
    for f in stream.fields:
        by_row[row_name(f.name)] = f
    seen: dict[str, int] = {}
    fields = []
    for row in dump.fields:
        n = seen.get(row.name, 0)
        seen[row.name] = n + 1
        sent = by_row.get((row.name, n))
        if sent is None:
            if row.exists:
                continue
            fields.append(row)
            continue
        nested = row.struct
        if sent.struct is not None and nested is not None:
            nested = merged(sent.struct, nested)
        elif sent.struct is not None:
            nested = sent.struct
        fields.append(replace(row, size=sent.size if row.struct is None else row.size,
                              type=sent.type, count=sent.count, array=sent.array,
                              struct=nested))
    sent_subs = {s.name: s for s in stream.subsections}
    subs = tuple(merged(sent_subs[s.name], s) if s.name in sent_subs else s
                 for s in dump.subsections)
    return Desc(dump.name, dump.version, dump.minimum, tuple(fields), subs, True)


# ---- the check ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    """One entry of a generated layout, as QEMU's table would show it."""

    name: str
    size: int | None  # None: not comparable (a struct's C size)
    types: tuple[str, ...]  # the QEMU types that describe it (empty: any)
    version: int
    location: Location
    struct: ir.Struct | None = None
    count: int | None = None  # a fixed array's length
    buffer: bool = False  # a user's visitor moving `size` bytes (VMGEN_VISITOR, bytes(N))


def _int_name(t: ir.IntType) -> str:
    return f"{'' if t.signed else 'u'}int{t.bits}"


def _rows(module: ir.Module, s: ir.Struct) -> tuple[list[_Row], list[ir.Field]]:
    """(the fields section's rows, the subsection entries) of a struct's layout."""
    items = s.layout if s.layout is not None else s.wire
    rows: list[_Row] = []
    subs: list[ir.Field] = []
    for f in items:
        if f.subsection is not None:
            subs.append(f)
            continue
        version = f.since or 0
        if f.unused is not None:
            rows.append(_Row("unused", f.unused, ("unused_buffer",), version, f.location))
            continue
        t = f.type
        assert t is not None
        count = None
        if isinstance(t, ir.ArrayType):
            count = t.length if t.count is None else None
            t = t.element
        if isinstance(t, ir.StructRef):
            rows.append(_Row(f.name, None, ("struct",), version, f.location,
                             module.struct(t.name), count))
            continue
        buffer = isinstance(t, ir.ExternalType) and t.c_type is not None and \
            isinstance(t.wire, ir.BytesType)
        rows.append(_Row(f.name, *_scalar(t, f), version, f.location, None, count, buffer))
    return rows, subs


def _scalar(t: ir.WireType, f: ir.Field) -> tuple[int | None, tuple[str, ...]]:
    if isinstance(t, ir.ExternalType):
        if t.c_type is not None:  # VMGEN_VISITOR: QEMU's VMStateInfo of that name
            size = t.wire.length if isinstance(t.wire, ir.BytesType) else _width(t.wire)
            return size, (t.name.replace("_", " "),)
        return _width(t.wire), ("timer", *_types(t.wire, f))
    if isinstance(t, ir.BytesType):
        return (t.length if t.count is None else None), ("buffer", "uint8")
    if isinstance(t, ir.StringType):
        return t.capacity, ("buffer",)
    if isinstance(t, ir.EnumRef):
        return 4, ("int32", "uint32")
    return _width(t), _types(t, f)


def _width(t: ir.WireType) -> int | None:
    if isinstance(t, ir.IntType):
        return t.bits // 8
    if isinstance(t, ir.BoolType):
        return 1
    if isinstance(t, ir.FloatType):
        return t.bits // 8
    return None


def _types(t: ir.WireType, f: ir.Field) -> tuple[str, ...]:
    if isinstance(t, ir.IntType):
        name = _int_name(t)
        if f.const:
            return (f"{name} equal",)
        if f.positive_le:
            return (f"{name} le",)
        return (name,)
    if isinstance(t, ir.BoolType):
        return ("bool",)
    if isinstance(t, ir.FloatType):
        return ("float64", "uint64") if t.bits == 64 else ("uint32",)
    return ()


def _same_version(a: int, b: int, minimum: int) -> bool:
    """Versions a field came in, equal for every stream a reader of `minimum` takes."""
    return max(a, minimum) == max(b, minimum) or a == b


def compare(module: ir.Module, s: ir.Struct, desc: Desc, minimum: int | None = None
            ) -> list[Diagnostic]:
    """Where the legacy layout of `s` differs from QEMU's `desc` (empty: equal)."""
    out: list[Diagnostic] = []
    where = f"VMState '{desc.name}'"
    if s.vmsd is not None and s.vmsd != desc.name:
        return [Diagnostic(s.location, f"'{s.name}' serves VMState '{s.vmsd}', QEMU's table "
                           f"is '{desc.name}'")]
    if s.state is not None:
        ours = (s.state.version, s.state.minimum_version)
        if ours[0] != desc.version or (desc.minimum is not None and ours[1] != desc.minimum):
            theirs = f"{desc.version}" + (f" (minimum {desc.minimum})"
                                           if desc.minimum is not None else "")
            out.append(Diagnostic(s.state.location, f"{where}: QEMU's version is {theirs}, "
                                  f"'{s.name}' says {ours[0]} (minimum {ours[1]})"))
    low = desc.minimum if desc.minimum is not None else (
        minimum if minimum is not None else desc.version)
    rows, subs = _rows(module, s)
    _compare_rows(module, s, rows, desc, low, out)
    _compare_subsections(module, s, subs, desc, out)
    return out


def _describe(f: Field) -> str:
    what = f"'{f.name}'"
    details = []
    if f.type is not None:
        details.append(f.type)
    if f.struct is None:
        details.append(f"{f.size} byte{'s' if f.size != 1 else ''}")
    if f.version:
        details.append(f"from version {f.version}")
    return what + (f" ({', '.join(details)})" if details else "")


def _compare_rows(module: ir.Module, s: ir.Struct, rows: list[_Row], desc: Desc, low: int,
                  out: list[Diagnostic]) -> None:
    where = f"VMState '{desc.name}'"
    theirs = list(desc.fields)
    i = 0
    previous: _Row | None = None
    for row in rows:
        while i < len(theirs) and theirs[i].exists and row_name(theirs[i].name)[0] != row.name:
            i += 1  # a row a test may leave out, which this layout does not have
        if i >= len(theirs):
            out.append(Diagnostic(row.location, f"{where}: '{row.name}' is in the layout of "
                                  f"'{s.name}' but not in QEMU's table (which ends "
                                  f"{'after ' + repr(theirs[-1].name) if theirs else 'empty'})"))
            return
        f = theirs[i]
        name = row_name(f.name)[0] if f.type is not None else f.name
        if name != row.name:
            out.append(Diagnostic(row.location, f"{where}: QEMU's table has {_describe(f)} "
                                  f"where the layout of '{s.name}' has '{row.name}'"))
            return
        i += 1
        previous = row
        problems = []
        if row.buffer and f.size == 1 and f.type in (None, "uint8", "int8") and \
                (f.array or f.type is None):
            # QEMU's array of bytes behind a pointer (VMSTATE_VARRAY_*), which a visitor
            # moves: as many bytes as the stream holds (a dump does not say how many)
            if f.array and f.count != row.size:
                problems.append(f"{f.count} bytes in the stream, {row.size} here")
            row = replace(row, size=None, types=())
        if row.size is not None and f.size != row.size and f.struct is None:
            problems.append(f"size {f.size} in QEMU's table, {row.size} here")
        if f.type is not None and row.types and f.type not in row.types:
            problems.append(f"type '{f.type}' in QEMU's table, {row.types[0]} here")
        if not _same_version(f.version, row.version, low):
            problems.append(f"from version {f.version} in QEMU's table, "
                            f"{row.version or 'always'} here")
        if f.array and row.count is not None and f.count != row.count:
            problems.append(f"{f.count} elements in the stream, {row.count} here")
        if (f.struct is None) != (row.struct is None):
            problems.append("a struct in QEMU's table, not here" if f.struct is not None
                            else "a struct here, not in QEMU's table")
        if problems:
            out.append(Diagnostic(row.location, f"{where}: '{row.name}': "
                                  + "; ".join(problems)))
            continue
        if f.struct is not None and row.struct is not None:
            out.extend(compare(module, row.struct, f.struct))
    rest = [f for f in theirs[i:] if not f.exists]
    if rest:
        at = previous.location if previous is not None else s.location
        out.append(Diagnostic(at, f"{where}: QEMU's table has {_describe(rest[0])} after "
                              f"{repr(previous.name) if previous else 'nothing'}, which the "
                              f"layout of '{s.name}' lacks"))


def _compare_subsections(module: ir.Module, s: ir.Struct, subs: list[ir.Field], desc: Desc,
                         out: list[Diagnostic]) -> None:
    where = f"VMState '{desc.name}'"
    ours = {}
    for f in subs:
        sub = f.subsection
        assert sub is not None
        if sub.fields is not None:
            assert sub.vmsd is not None
            ours[sub.vmsd] = f
        else:
            assert isinstance(f.type, ir.StructRef)
            inner = module.struct(f.type.name)
            assert inner.vmsd is not None
            ours[inner.vmsd] = f
    theirs = {d.name: d for d in desc.subsections}
    for name, f in ours.items():
        sub = f.subsection
        assert sub is not None
        d = theirs.get(name)
        if d is None:
            if desc.complete:
                out.append(Diagnostic(f.location, f"{where}: subsection '{name}' is in the "
                                      f"layout of '{s.name}' but not in QEMU's table"))
            continue
        if sub.version != d.version or (d.minimum is not None
                                        and sub.minimum_version != d.minimum):
            out.append(Diagnostic(f.location, f"{where}: subsection '{name}' is version "
                                  f"{d.version}" + (f" (minimum {d.minimum})"
                                                    if d.minimum is not None else "")
                                  + f" in QEMU's table, {sub.version} (minimum "
                                  f"{sub.minimum_version}) here"))
            continue
        if sub.fields is not None:
            group = ir.Struct(f"{s.name} subsection '{name}'", "", (), f.location, None, None,
                              sub.fields)
            rows, _ = _rows(module, group)
            _compare_rows(module, group, rows, d, d.minimum or 0, out)
        else:
            assert isinstance(f.type, ir.StructRef)
            out.extend(compare(module, module.struct(f.type.name), d))
    missing = [d for d in desc.subsections if d.name not in ours]
    if missing:
        out.append(Diagnostic(s.location, f"{where}: QEMU's table has subsection "
                              f"'{missing[0].name}', which the layout of '{s.name}' lacks"))


def read_descriptions(path: str) -> dict[str, Desc | DescError]:
    """VMState name -> Desc from ``-dump-vmstate`` output or from a migration stream
    (its JSON description: the sections it holds)."""
    from pathlib import Path

    from vmgen.runtime import qevm

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DescError(f"{path}: {exc.strerror}") from None
    if not data.startswith(b"QEVM"):
        return dict(from_dump(data, path))
    try:
        _, text = qevm.find_description(data)
        _, devices = qevm.parse_description(text)
    except (qevm.StreamError, qevm._DescError) as exc:
        raise DescError(f"{path}: {exc}") from None
    found: dict[str, Desc | DescError] = {}
    for d in devices:
        if d.layout.vmsd_name is not None and d.layout.vmsd_name not in found:
            try:
                found[d.layout.vmsd_name] = from_stream(d.layout)
            except DescError as exc:  # reported if a module serves it
                found[d.layout.vmsd_name] = DescError(f"{path}: {exc}")
    return found


def check_module(module: ir.Module, descs: dict[str, Desc | DescError],
                 source: str) -> list[Diagnostic]:
    """Every device state of `module` with a vmsd against QEMU's description of it."""
    out: list[Diagnostic] = []
    for s in module.structs:
        if s.state is None or s.vmsd is None:
            continue
        desc = descs.get(s.vmsd)
        if desc is None:
            out.append(Diagnostic(s.location, f"{source} describes no VMState '{s.vmsd}' "
                                  f"(which '{s.name}' serves)"))
            continue
        if isinstance(desc, DescError):
            out.append(Diagnostic(s.location, str(desc)))
            continue
        out.extend(compare(module, s, desc))
    return out
