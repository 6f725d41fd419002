"""``vmgen stream``: list, decode and convert whole QEMU migration streams.

The stream container is read by :mod:`vmgen.runtime.qevm` (bodies delimited by the
JSON description QEMU appends); the whole-stream BER file is
:mod:`vmgen.runtime.qevm_ber` (ASN.1 module ``templates/asn1/qevm-stream.asn``,
written by ``vmgen stream schema``).

Device modules plug in through ``--module PATH`` (a generated ``MOD_asn1.py`` or a
folder of them): a module serves a device section when its ``SECTIONS`` mapping
(VMState name -> C struct name) names the section's VMState, and then its
``load_legacy(struct_name, body, version)`` decodes the body (a module declares it for
its ``VMGEN_VMSD`` states, such as those of the headers ``vmgen import`` writes);
``to-ber`` writes such a section as the module's record when the module gives its exact
bytes back from it, and ``from-ber`` writes it back through the module.  Subsections
whose presence a C function decides (a vmgen module's ``CODEC.decided_subsections``)
travel beside the record, in its ``subsections`` field: the ones the section held
(``load_legacy``'s ``present``), given back to ``save_legacy`` as ``needed``.  Any other
device section shows the description's view of its fields in ``decode`` and travels as
its bytes.
"""

from __future__ import annotations

import json
import mmap
import sys
from collections.abc import Container, Iterator
from contextlib import contextmanager, suppress

from vmgen.runtime import qevm, qevm_ber
from vmgen.runtime.qevm import Buffer, Kind, StreamError

# to-ber and from-ber start without typing, pathlib and dataclasses (the start-up is a
# measured part of their time: BENCHMARKS.md)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from os import PathLike
    from types import ModuleType
    from typing import Any, BinaryIO

SCHEMA_FILE = "qevm-stream.asn"


class CommandError(Exception):
    """A failure to report as ``PATH: MESSAGE`` (exit status 1)."""


class Served:
    __slots__ = ("_decided", "module", "state")

    def __init__(self, module: ModuleType,
                 state: str) -> None:  # the C struct name of the module's device state
        self.module = module
        self.state = state
        self._decided: tuple[str, ...] | None = None

    @property
    def decided(self) -> tuple[str, ...]:
        """The subsections of the state's stream whose presence a C function decides
        (the module cannot: load_legacy's `present` and save_legacy's `needed` carry
        them), in stream order; none for a module without a vmgen Codec."""
        if self._decided is None:
            find = getattr(getattr(self.module, "CODEC", None), "decided_subsections", None)
            self._decided = tuple(find(self.state)) if find is not None else ()
        return self._decided

    def save_legacy(self, value: Any, version: int, held: Container[str]) -> bytes:
        """The module's legacy stream of `value`, sending of the subsections a C function
        decides those in `held` (a module without such subsections is called as before:
        a hand-written one may not take `needed`)."""
        if not self.decided:
            out: bytes = self.module.save_legacy(self.state, value, version)
        else:
            out = self.module.save_legacy(self.state, value, version,
                                          {n: n in held for n in self.decided})
        return out


def schema_text() -> str:
    from vmgen.resources import templates_dir

    return (templates_dir() / "asn1" / SCHEMA_FILE).read_text(encoding="utf-8")


class Input:
    __slots__ = ("data", "fd")

    def __init__(self, data: Buffer,
                 fd: int | None) -> None:  # the file `data` maps (None: stdin, in memory)
        self.data = data
        self.fd = fd


@contextmanager
def opened(path: str) -> Iterator[Input]:
    """A whole input: stdin ('-') read in memory, a file mapped read-only."""
    if path == "-":
        yield Input(sys.stdin.buffer.read(), None)
        return
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        if size == 0:
            yield Input(b"", None)
            return
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            yield Input(m, f.fileno())
        finally:
            # Views of the mapping may still be alive (an error's traceback holds them):
            # then the mapping goes when they do.
            with suppress(BufferError):
                m.close()


def display(path: str) -> str:
    return "<stdin>" if path == "-" else path


# ---- device modules ---------------------------------------------------------------------


def section_modules(paths: list[str]) -> dict[str, Served]:
    """VMState name -> the generated module (among `paths`) that serves it."""
    if not paths:
        return {}
    from pathlib import Path

    from vmgen.diagnostics import VmgenError
    from vmgen.tools.decode import load_module

    served: dict[str, Served] = {}
    for p in paths:
        path = Path(p)
        files = sorted(path.glob("*_asn1.py")) if path.is_dir() else [path]
        if not path.exists():
            raise CommandError(f"{p}: no such module or folder")
        for file in files:
            try:
                module = load_module(file)
            except VmgenError as exc:
                raise CommandError(str(exc)) from None
            sections = getattr(module, "SECTIONS", {})
            if not isinstance(sections, dict):
                raise CommandError(f"{file}: SECTIONS is not a mapping")
            for vmsd, state in sections.items():
                served.setdefault(str(vmsd), Served(module, str(state)))
    return served


def _serving(section: qevm.Section, served: dict[str, Served]) -> Served | None:
    if section.device is None or section.device.layout.vmsd_name is None:
        return None
    return served.get(section.device.layout.vmsd_name)


# ---- list -------------------------------------------------------------------------------


def rows(stream: qevm.Stream) -> list[dict[str, Any]]:
    """One row per section (the configuration section first)."""
    out: list[dict[str, Any]] = []
    for r in stream.records:
        if isinstance(r, qevm.Configuration):
            out.append({"offset": r.offset, "kind": "configuration", "section_id": None,
                        "idstr": "configuration", "instance_id": None, "version_id": None,
                        "body_size": r.end - r.body, "vmsd_name": None})
        elif isinstance(r, qevm.Section):
            vmsd = r.device.layout.vmsd_name if r.device is not None else None
            out.append({"offset": r.offset, "kind": r.kind.name.lower(),
                        "section_id": r.section_id, "idstr": r.name,
                        "instance_id": r.instance_id, "version_id": r.version_id,
                        "body_size": r.body_size, "vmsd_name": vmsd})
    return out


def _cell(v: Any) -> str:
    return "-" if v is None else str(v)


def list_text(stream: qevm.Stream) -> str:
    table = [("OFFSET", "ID", "KIND", "IDSTR", "INSTANCE", "VERSION", "SIZE")]
    for row in rows(stream):
        table.append((str(row["offset"]), _cell(row["section_id"]), row["kind"], row["idstr"],
                      _cell(row["instance_id"]), _cell(row["version_id"]),
                      str(row["body_size"])))
    widths = [max(len(t[i]) for t in table) for i in range(len(table[0]))]
    lines = []
    for t in table:
        cells = [t[i].rjust(widths[i]) if i not in (2, 3) else t[i].ljust(widths[i])
                 for i in range(len(t))]
        lines.append("  ".join(cells).rstrip())
    desc = stream.records[-1]
    assert isinstance(desc, qevm.Description)
    eof = stream.records[-2]
    lines.append(f"EOF at offset {eof.offset}; JSON description at offset {desc.offset}: "
                 f"{desc.end - desc.text} bytes, {len(stream.devices)} device entries, "
                 f"page size {stream.page_size}")
    return "\n".join(lines) + "\n"


def list_json(stream: qevm.Stream) -> str:
    return json.dumps(rows(stream), indent=2) + "\n"


# ---- decode -----------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def decoded(stream: qevm.Stream, served: dict[str, Served],
            with_fields: bool) -> list[dict[str, Any]]:
    """One object per section, in stream order (issue 16's shape, plus "fields": the
    description's view of the body, with `with_fields`)."""
    out: list[dict[str, Any]] = []
    for r in stream.records:
        obj: dict[str, Any]
        if isinstance(r, qevm.Configuration):
            obj = {"idstr": "configuration", "instance_id": None, "version_id": None,
                   "state": None, "value": None}
            if with_fields:
                obj["fields"] = {"machine": r.machine, "subsections": list(r.subsections),
                                 "capabilities": list(r.capabilities)}
        elif isinstance(r, qevm.Section):
            obj = {"idstr": r.name, "instance_id": r.instance_id, "version_id": r.version_id,
                   "state": None, "value": None}
            serving = _serving(r, served)
            if serving is not None:
                obj["state"] = serving.state
                try:
                    value = serving.module.load_legacy(serving.state, bytes(stream.body(r)),
                                                       r.version_id)
                except Exception as exc:  # the module refuses the body: a stream error
                    raise StreamError(f"{serving.state}: {exc}", r.body, r.where()) from None
                obj["value"] = _jsonable(value)
            if with_fields:
                obj["fields"] = (qevm.fields(r.device.layout, stream.body(r))
                                 if r.device is not None else None)
        else:
            continue
        out.append(obj)
    return out


def _show(value: Any, indent: str) -> list[str]:
    lines = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict) or (isinstance(v, list) and v and isinstance(v[0], dict)):
                lines.append(f"{indent}{k}:")
                lines += _show(v, indent + "  ")
            else:
                lines.append(f"{indent}{k} = {json.dumps(v)}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            lines.append(f"{indent}[{i}]:")
            lines += _show(v, indent + "  ")
    else:
        lines.append(f"{indent}{json.dumps(value)}")
    return lines


def decode_text(stream: qevm.Stream, served: dict[str, Served]) -> str:
    lines = []
    objs = decoded(stream, served, True)
    sections = [r for r in stream.records if isinstance(r, (qevm.Configuration, qevm.Section))]
    for obj, r in zip(objs, sections, strict=True):
        if isinstance(r, qevm.Configuration):
            lines.append(f"configuration: machine {r.machine}"
                         + "".join(f", {s}" for s in r.subsections))
            continue
        head = (f"[{r.section_id}] {r.kind.name} '{r.name}' instance {r.instance_id} "
                f"version {r.version_id}, {r.body_size} bytes")
        if obj["state"] is not None:
            lines.append(f"{head}, read by {obj['state']}")
            lines += _show(obj["value"], "    ")
        elif r.device is None:
            lines.append(f"{head} (RAM, carried opaque)")
        else:
            vmsd = r.device.layout.vmsd_name
            lines.append(f"{head}" + (f", VMState '{vmsd}'" if vmsd else "")
                         + " (no module: fields as the JSON description lays them out)")
            lines += _show(obj["fields"], "    ")
    return "\n".join(lines) + "\n"


def decode_json(stream: qevm.Stream, served: dict[str, Served], with_fields: bool) -> str:
    return json.dumps(decoded(stream, served, with_fields), indent=2) + "\n"


# ---- conversions ------------------------------------------------------------------------


def check_strict(stream: qevm.Stream, served: dict[str, Served]) -> None:
    """StreamError naming the first device section no module serves."""
    for r in stream.records:
        if isinstance(r, qevm.Section) and r.kind == Kind.FULL and _serving(r, served) is None:
            vmsd = r.device.layout.vmsd_name if r.device is not None else None
            what = f"VMState '{vmsd}'" if vmsd else "this section (it has no VMState)"
            raise StreamError(f"no --module serves {what} (--strict)", r.offset, r.where())


def device_records(stream: qevm.Stream, served: dict[str, Served],
                   strict: bool) -> tuple[dict[int, qevm_ber.Device], list[str]]:
    """The device sections a module serves, as its records (record index -> (VMState,
    DER)), and notes on those carried as bytes instead: a section goes as a record only
    when the module reads it and writes exactly its bytes back from the record."""
    devices: dict[int, qevm_ber.Device] = {}
    notes: list[str] = []
    for i, r in enumerate(stream.records):
        if not isinstance(r, qevm.Section) or r.kind != Kind.FULL:
            continue
        use = _serving(r, served)
        if use is None:
            continue
        assert r.device is not None and r.device.layout.vmsd_name is not None
        body = bytes(stream.body(r))
        decided = use.decided
        held: tuple[str, ...] = ()
        try:
            if decided:  # which of them the section holds goes beside the record
                present: set[str] = set()
                value = use.module.load_legacy(use.state, body, r.version_id, present)
                held = tuple(n for n in decided if n in present)
            else:
                value = use.module.load_legacy(use.state, body, r.version_id)
            record = use.module.save(use.state, value, r.version_id)
            back = use.save_legacy(use.module.load(use.state, record), r.version_id, held)
        except Exception as exc:  # the module's Error, or a version it does not write
            back, why = None, str(exc)
        else:
            why = "its module writes other bytes back"
        if back != body:
            if strict:
                raise StreamError(f"its module cannot carry it ({why}) (--strict)",
                                  r.offset, r.where())
            notes.append(f"{r.where()} at offset {r.offset}: carried as bytes ({why})")
            continue
        devices[i] = (r.device.layout.vmsd_name, record, held)
    return devices, notes


def to_ber(source: str, target: str | PathLike[str], modules: list[str], strict: bool) -> int:
    """The stream in `source` as one BER file; the number of sections.  A stream in a
    file is read once (qevm_ber.write_file_stream), and the BER file replaces `target`
    only if the stream is valid; one from stdin, in memory, is parsed first."""
    served = section_modules(modules)
    from vmgen.driver.output import write_with

    notes: list[str] = []

    def devices(stream: qevm.Stream) -> dict[int, qevm_ber.Device]:
        try:
            if strict:
                check_strict(stream, served)
            found, why = device_records(stream, served, strict)
        except StreamError as exc:
            raise CommandError(f"{display(source)}: {exc}") from None
        notes.extend(why)
        return found

    with opened(source) as given:
        if given.fd is None:
            stream = _parse(source, given.data)
            found = devices(stream)
            write_with(target, lambda out: qevm_ber.write(
                out, qevm_ber.to_der(stream, found), given.data, given.fd))
        else:
            fd = given.fd
            streams: list[qevm.Stream] = []

            def fill(out: BinaryIO) -> None:
                try:
                    streams.append(qevm_ber.write_file_stream(out, fd, given.data, devices))
                except StreamError as exc:
                    raise CommandError(f"{display(source)}: {exc}") from None

            write_with(target, fill)
            stream = streams[0]
    for note in notes:
        print(f"{display(source)}: {note}", file=sys.stderr)
    return sum(1 for r in stream.records if isinstance(r, qevm.Section))


def device_reader(served: dict[str, Served]) -> qevm_ber.DeviceReader:
    """The body a device record stands for, written by the module that serves its
    VMState, with the subsections a C function decides that the record lists
    (StreamError: no such module, a record it does not take, or a listed name that is not
    such a subsection)."""
    def body(vmsd: str, record: bytes, version: int, offset: int,
             listed: qevm_ber.Listed) -> bytes:
        use = served.get(vmsd)
        if use is None:
            raise StreamError(f"a device record of VMState '{vmsd}': no --module serves it",
                              offset)
        decided = use.decided
        held: set[str] = set()
        for name, at in listed or ():
            if name not in decided:
                known = ", ".join(f"'{n}'" for n in decided) or "it has none"
                raise StreamError(f"the device record of VMState '{vmsd}' lists subsection "
                                  f"'{name}', not one of those a C function decides in "
                                  f"{use.state} ({known})", at)
            if name in held:
                raise StreamError(f"the device record of VMState '{vmsd}' lists subsection "
                                  f"'{name}' twice", at)
            held.add(name)
        try:
            value = use.module.load(use.state, record)
            out = use.save_legacy(value, version, held)
        except Exception as exc:  # the module's Error
            raise StreamError(f"the device record of VMState '{vmsd}': {exc}", offset) from None
        return out
    return body


def from_ber(source: str, target: str | PathLike[str], modules: list[str]) -> None:
    """The stream a BER file holds, written to `target` only if it is a valid stream:
    checked as it is written (qevm.check), so the stream is read once."""
    reader = device_reader(section_modules(modules))
    from vmgen.driver.output import write_with

    with opened(source) as given:
        try:
            chunks = list(qevm_ber.from_ber(given.data, reader))
        except StreamError as exc:
            raise CommandError(f"{display(source)}: {exc}") from None

        def fill(out: BinaryIO) -> None:
            qevm_ber.write_checked(out, chunks, given.data, given.fd)

        try:
            write_with(target, fill)
        except StreamError as exc:
            raise CommandError(f"{display(source)}: the stream it holds is not valid: "
                               f"{exc}") from None


def _parse(source: str, data: Buffer) -> qevm.Stream:
    try:
        return qevm.parse(data)
    except StreamError as exc:
        raise CommandError(f"{display(source)}: {exc}") from None


def parse_input(source: str, data: Buffer) -> qevm.Stream:
    return _parse(source, data)
