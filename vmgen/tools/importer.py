"""``vmgen import``: a device's VMState layout, as QEMU describes it, as an annotated C
header in wire layout.

QEMU describes every device section it writes: the JSON description at the end of a
migration stream gives each field's name, type, size and array length, nested structs
(VMSTATE_STRUCT, VMSTATE_WITH_TMP) with their own VMState names and versions, and the
subsections the stream holds.  Each device becomes a header whose structs hold exactly
the section's fields, in the stream's order, annotated so that vmgen's generated legacy
codec reads and writes that section byte for byte:

* ``intN``/``uintN``/``bool`` -> the C type of that width; ``X equal`` and ``int32 le``
  (checks QEMU makes against the device's own value) -> the plain type, noted;
* ``buffer``, ``pci config``, ``msix state`` and any other opaque type -> a byte array
  of its size; ``pci irq state`` -> ``int32_t[4]``; ``timer`` -> its expiry (int64);
* ``unused_buffer`` -> a VMGEN_UNUSED byte array;
* ``struct``/``tmp`` -> a member struct with VMGEN_VMSD (array_len: an array; ``index``
  entries: one array);
* a subsection -> a member struct with VMGEN_VMSD and VMGEN_SUBSECTION, and a ``has_X``
  bool that says whether the stream held it (set on load, read on save).

What the stream's description cannot tell is taken from QEMU's ``-dump-vmstate`` output
when given (`Versions`): the minimum version of each device, and the version each of its
fields came in (VMGEN_SINCE), so that the header also reads older streams.  Without it,
the minimum version is the stream's version.  Counts that size variable arrays are not
in either: arrays are as long as the stream shows them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from vmgen.runtime.qevm import DeviceDesc, FieldDesc, StructDesc

_INTS = {"int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "int64": "int64_t",
         "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t", "uint64": "uint64_t",
         "bool": "bool"}
_WIDTH = {"int8_t": 1, "uint8_t": 1, "bool": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4,
          "uint32_t": 4, "int64_t": 8, "uint64_t": 8}
# QEMU types whose wire form is an integer of another name: type -> (C type, note).
_CHECKED = {
    "int32 le": ("int32_t", "QEMU loads it only if 0 <= value <= the device's own"),
    "uint8 equal": ("uint8_t", "QEMU loads it only if it equals the device's own"),
    "uint16 equal": ("uint16_t", "QEMU loads it only if it equals the device's own"),
    "int32 equal": ("int32_t", "QEMU loads it only if it equals the device's own"),
    "uint32 equal": ("uint32_t", "QEMU loads it only if it equals the device's own"),
    "int64 equal": ("uint64_t", "QEMU loads it only if it equals the device's own"),
    "timer": ("int64_t", "a QEMUTimer: its expiry time in ns, -1 when not pending"),
}
_C_KEYWORDS = frozenset("""auto break case char const continue default do double else enum
extern float for goto if inline int long register restrict return short signed sizeof
static struct switch typedef union unsigned void volatile while bool true false""".split())


class ImportFailure(Exception):
    """A description vmgen cannot turn into a header (the message says why)."""


def identifier(text: str) -> str:
    """A C identifier for a QEMU name: 'channels[0].irq_disabled' -> 'channels_0_irq_disabled'."""
    out = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_") or "field"
    if out[0].isdigit():
        out = "f_" + out
    return out + "_" if out in _C_KEYWORDS else out


def file_stem(vmsd_name: str) -> str:
    return identifier(vmsd_name).lower()


@dataclass
class _Struct:
    name: str  # the C type
    vmsd: str
    lines: list[str]


@dataclass
class _Header:
    structs: list[_Struct] = field(default_factory=list)
    by_key: dict[str, str] = field(default_factory=dict)  # key -> C type
    taken: set[str] = field(default_factory=set)

    def type_name(self, vmsd: str) -> str:
        base = "VMState_" + identifier(vmsd)
        name, n = base, 2
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        return name


def _key(s: StructDesc) -> str:
    def plain(d: StructDesc) -> object:
        return [d.vmsd_name, d.version,
                [[f.name, f.type, f.size, f.count, f.array, plain(f.struct) if f.struct else None]
                 for f in d.fields],
                [plain(sub) for sub in d.subsections]]
    return json.dumps(plain(s))


def _merge_elements(entries: list[FieldDesc], where: str) -> StructDesc:
    """The element struct of `index` entries: the same fields; each element's
    subsections (which differ with what each element needed) together, in order."""
    first = entries[0].struct
    assert first is not None
    subs: list[StructDesc] = list(first.subsections)
    for e in entries[1:]:
        s = e.struct
        assert s is not None
        if (s.vmsd_name, s.version, _key(StructDesc(None, None, s.fields, ()))) != (
                first.vmsd_name, first.version, _key(StructDesc(None, None, first.fields, ()))):
            raise ImportFailure(f"{where}: the elements of '{e.name}' have different fields")
        for sub in s.subsections:
            if all(sub.vmsd_name != x.vmsd_name for x in subs):
                subs.append(sub)
    return StructDesc(first.vmsd_name, first.version, first.fields, tuple(subs))


def _vmsd_name(name: str | None, where: str) -> str:
    """A VMState name as VMGEN_VMSD takes it (1 to 255 printable ASCII bytes, no quote or
    backslash: what QEMU's names are)."""
    if (name is None or not 1 <= len(name) <= 255
            or not all(" " <= c <= "~" and c not in '"\\' for c in name)):
        raise ImportFailure(f"{where}: VMState name {name!r} is not 1 to 255 printable "
                            "ASCII characters without quotes or backslashes")
    return name


def _struct(h: _Header, s: StructDesc, where: str,
            since: dict[int, int] | None = None) -> str:
    """The C type of the struct for `s` (defined once per distinct layout); `since`:
    field index -> VMGEN_SINCE (the device state's own fields only)."""
    _vmsd_name(s.vmsd_name, where)
    assert s.vmsd_name is not None
    since = since or {}
    key = _key(s) + json.dumps(sorted(since.items()))
    known = h.by_key.get(key)
    if known is not None:
        return known
    name = h.type_name(s.vmsd_name)
    h.by_key[key] = name
    lines: list[str] = []
    used: set[str] = set()

    def member(text: str) -> str:
        base, out, n = identifier(text), identifier(text), 2
        while out in used:
            out, n = f"{base}_{n}", n + 1
        used.add(out)
        return out

    fields = list(s.fields)
    i = 0
    migrated = 0
    marks: list[tuple[int, int]] = []  # (line, VMGEN_SINCE version)
    while i < len(fields):
        f = fields[i]
        fw = f"{where}.{f.name}"
        if i in since:
            marks.append((len(lines), since[i]))  # the line this field is about to get
        if f.index is not None:
            # VMSTATE_STRUCT_ARRAY whose elements differ (subsections): one entry each
            run = [f]
            while (i + len(run) < len(fields) and fields[i + len(run)].name == f.name
                   and fields[i + len(run)].index == f.index + len(run)):
                run.append(fields[i + len(run)])
            if f.index != 0 or f.struct is None:
                raise ImportFailure(f"{fw}: indexed entries must be structs starting at 0")
            element = _struct(h, _merge_elements(run, fw), fw)
            lines.append(f"    {element} {member(f.name)}[{len(run)}];")
            migrated += 1
            i += len(run)
            continue
        i += 1
        count = f"[{f.count}]" if f.array else ""
        note = "" if identifier(f.name) == f.name else f"  /* {f.name} */"
        if f.struct is not None:
            inner = _struct(h, f.struct, fw)
            lines.append(f"    {inner} {member(f.name)}{count};{note}")
            migrated += 1
        elif f.type in _INTS:
            c_type = _INTS[f.type]
            if _WIDTH[c_type] != f.size:
                raise ImportFailure(f"{fw}: a {f.type} of size {f.size}")
            if c_type == "uint8_t" and f.array:
                lines.append(f"    uint8_t {member(f.name)}{count};{note}")
            else:
                lines.append(f"    {c_type} {member(f.name)}{count};{note}")
            migrated += 1
        elif f.type in _CHECKED:
            c_type, why = _CHECKED[f.type]
            if _WIDTH[c_type] != f.size:
                raise ImportFailure(f"{fw}: a {f.type} of size {f.size}")
            label = f"{f.name}: " if note else ""
            lines.append(f"    {c_type} {member(f.name)}{count};  /* {label}{f.type}: {why} */")
            migrated += 1
        elif f.type == "unused_buffer":
            if f.array:
                raise ImportFailure(f"{fw}: an array of unused buffers")
            lines.append(f"    uint8_t {member(f.name)}[{f.size}] VMGEN_UNUSED;")
        elif f.type == "pci irq state" and f.size == 16 and not f.array:
            lines.append(f"    int32_t {member(f.name)}[4];  /* {f.name}: pci irq state */")
            migrated += 1
        else:
            if f.size == 0:
                raise ImportFailure(f"{fw}: a {f.type} of size 0")
            dims = f"[{f.count}]" if f.array else ""
            lines.append(f"    uint8_t {member(f.name)}{dims}[{f.size}];  /* {f.name}: "
                         f"{f.type}, carried as its bytes */")
            migrated += 1
    for sub in s.subsections:
        assert sub.vmsd_name is not None
        short = sub.vmsd_name.rsplit("/", 1)[-1]
        inner = _struct(h, sub, f"{where} subsection '{sub.vmsd_name}'")
        flag = member(f"has_{short}")
        version = sub.version or 0
        lines.append(f"    bool {flag};")
        lines.append(f"    {inner} {member(short)} VMGEN_SUBSECTION({version}, {version}, "
                     f"{flag});")
        migrated += 1
    for at, version in marks:
        decl, semicolon, rest = lines[at].partition(";")
        lines[at] = f"{decl} VMGEN_SINCE({version}){semicolon}{rest}"
    if migrated == 0:
        raise ImportFailure(f"{where}: nothing but padding (vmgen needs one migrated field)")
    h.structs.append(_Struct(name, s.vmsd_name, lines))
    return name


@dataclass(frozen=True)
class Versions:
    """What ``-dump-vmstate`` says of one VMState: its minimum version and, in table
    order, each field's name and the version it came in (0: always there)."""

    minimum: int
    fields: tuple[tuple[str, int, bool], ...]  # (name, version_id, has a field_exists test)


def dump_versions(text: bytes, source: str) -> dict[str, Versions]:
    """VMState name -> its `Versions`, from ``-dump-vmstate`` output (ImportFailure if it
    is not that)."""
    from vmgen.tools.vmstate import DescError, from_dump

    try:
        descs = from_dump(text, source)
    except DescError as exc:
        raise ImportFailure(str(exc)) from None
    return {name: Versions(d.minimum if d.minimum is not None else d.version,
                           tuple((f.name, f.version, f.exists) for f in d.fields))
            for name, d in descs.items()}


def _row_name(name: str) -> tuple[str, int]:
    """(table name, which occurrence of it): the stream's description names the n-th
    table entry of a repeated name 'NAME[n]' (counting entries it did not send)."""
    m = re.fullmatch(r"(.*)\[(\d+)\]", name)
    return (m.group(1), int(m.group(2))) if m else (name, 0)


def _since(fields: tuple[FieldDesc, ...], versions: Versions,
           version: int) -> tuple[int, dict[int, int]]:
    """(minimum version, field index -> the version it came in) for the stream's
    top-level fields, found in order in the dump's table (entries of one array of
    structs share its row).  Where the stream left out a table entry that data of an
    older version could hold (one with a field_exists test, or one old enough that only
    such a test can have kept it out), older data cannot be read from the stream's
    layout: then the minimum stays the stream's version."""
    since: dict[int, int] = {}
    rows = versions.fields
    used: list[int] = []
    previous: tuple[str, int] | None = None
    for i, f in enumerate(fields):
        name, occurrence = _row_name(f.name)
        if f.index is not None and f.index > 0 and previous is not None and \
                previous[0] == f.name:
            if previous[1] > versions.minimum:
                since[i] = previous[1]
            continue
        same = [r for r, row in enumerate(rows) if row[0] == name]
        if len(same) <= occurrence or (used and same[occurrence] <= used[-1]):
            return version, {}  # not in the table as the dump has it
        row = same[occurrence]
        used.append(row)
        previous = (f.name, rows[row][1])
        if versions.minimum < rows[row][1] <= version:
            since[i] = rows[row][1]
    for r, (_, v, exists) in enumerate(rows):
        if r not in used and (exists or v <= version):
            return version, {}
    return versions.minimum, since


@dataclass(frozen=True)
class Imported:
    device: str  # the VMState name the header serves
    stem: str  # the header is STEM.h
    state: str  # its device state's C type
    version: int
    text: str


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def header(device: DeviceDesc, source: str, versions: Versions | None = None) -> Imported:
    """The header of one device description (ImportFailure if it has no VMState or a
    field vmgen cannot carry); `versions`: what -dump-vmstate says of its VMState."""
    layout = device.layout
    if layout.vmsd_name is None:
        raise ImportFailure(f"section '{device.name}' has no VMState (an old-style "
                           "section: its bytes are its own format)")
    version = layout.version or 0
    h = _Header()
    where = layout.vmsd_name
    top = StructDesc(layout.vmsd_name, version, layout.fields, layout.subsections)
    minimum = version
    since: dict[int, int] = {}
    if versions is not None and versions.minimum <= version:
        minimum, since = _since(layout.fields, versions, version)
    state = _struct(h, top, where, since)
    last = h.structs.pop()  # the device state, defined after the structs it holds
    assert last.name == state
    stem = file_stem(layout.vmsd_name)
    guard = f"VMGEN_IMPORTED_{identifier(layout.vmsd_name).upper()}_H"
    out = [
        f"/* The VMState \"{layout.vmsd_name}\" (version {version}) in wire layout, imported",
        f" * by `vmgen import` from {source}.  Each struct holds its section's fields in",
        " * the stream's order; vmgen's legacy codec reads and writes such sections byte",
        " * for byte. */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "#include <stdbool.h>",
        "#include <stdint.h>",
        "",
        '#include "vmgen.h"',
    ]
    for s in h.structs:
        out += ["", f"typedef struct VMGEN_VMSD({_c_string(s.vmsd)}) {s.name} {{", *s.lines,
                f"}} {s.name};"]
    out += ["", f"typedef struct VMGEN_STATE({version}, {minimum}) "
                f"VMGEN_VMSD({_c_string(last.vmsd)}) {state} {{", *last.lines, f"}} {state};",
            "", f"#endif /* {guard} */", ""]
    return Imported(layout.vmsd_name, stem, state, version, "\n".join(out))


@dataclass(frozen=True)
class Outcome:
    headers: dict[str, Imported]  # file name -> header
    skipped: list[str]  # "NAME: why", for devices left out


def import_devices(devices: list[DeviceDesc], source: str, wanted: list[str],
                   versions: dict[str, Versions] | None = None) -> Outcome:
    """The headers of the described devices (every one with a VMState, or those named
    in `wanted`, by VMState name or section idstr).  A device named in `wanted` that
    cannot be imported is an ImportFailure; others are listed in `skipped`."""
    headers: dict[str, Imported] = {}
    skipped: list[str] = []
    found: set[str] = set()
    for d in devices:
        vmsd = d.layout.vmsd_name
        names = {d.name} | ({vmsd} if vmsd else set())
        if wanted and not names & set(wanted):
            continue
        found |= names & set(wanted)
        if vmsd is not None and any(h.device == vmsd for h in headers.values()):
            continue  # one header per VMState (instances and copies share it)
        try:
            imported = header(d, source, (versions or {}).get(vmsd or ""))
        except ImportFailure as exc:
            if wanted:
                raise
            skipped.append(f"{d.name}: {exc}")
            continue
        name = f"{imported.stem}.h"
        n = 2
        while name in headers:
            name, n = f"{imported.stem}_{n}.h", n + 1
        headers[name] = imported
    missing = [w for w in wanted if w not in found]
    if missing:
        raise ImportFailure(f"no section or VMState named '{missing[0]}' in {source}")
    return Outcome(headers, skipped)
