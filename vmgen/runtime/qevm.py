"""Whole QEMU migration streams (QEVM version 3): read into typed records, write back.

A stream is::

    "QEVM" be32(3)
    0x07 configuration                    be32 len, machine name, optional subsections
    0x01 START / 0x04 FULL section        be32 id, u8 len + idstr, be32 instance, be32 version,
    0x02 PART  / 0x03 END  section        be32 id,
                                          then the body, then the footer 0x7e be32 id
                                          (machine types before 2.4: no configuration
                                          section, no footers)
    0x00 EOF
    0x06 be32 len + JSON description      every FULL section's fields, in stream order

A device body carries no length: only the JSON description at the end of the stream
says where it ends (each field's size per element, ``array_len`` elements, nested
``struct``s with their own subsections, then the section's sent subsections, each on
the wire as 0x05, u8 len + name, be32 version, fields).  FULL sections are matched to
the description's entries by position ((idstr, instance) is not unique: every
``-netdev user`` adds a ``slirp`` section with instance 0).  RAM (section ``ram``,
version 4) is walked record by record (be64 offset | flags in the low bits) without
copying a page.

:func:`parse` returns a :class:`Stream` whose records hold spans of the input, never
copies; :func:`encode` re-emits records from their fields, byte for byte.  Every
error is a :class:`StreamError` naming the section and the byte offset.
:func:`check` makes the same checks (the same code) on a stream read once, in order,
through a :class:`Window`, a buffer that slides forward and hands every byte it has
passed to a sink: ``vmgen stream from-ber`` writes the stream as it checks it.

Standard library only: this module is part of vmgen's light runtime.
"""

from __future__ import annotations

import json
import mmap
import struct
import sys
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from enum import IntEnum
from functools import cache

TYPE_CHECKING = False  # (typing itself is not imported at start-up: see _Value)
if TYPE_CHECKING:
    from typing import Any

MAGIC = b"QEVM"
FILE_VERSION = 3

EOF = 0x00
SECTION_START = 0x01
SECTION_PART = 0x02
SECTION_END = 0x03
SECTION_FULL = 0x04
SUBSECTION = 0x05
VMDESCRIPTION = 0x06
CONFIGURATION = 0x07
COMMAND = 0x08
FOOTER = 0x7E

# migration/ram.c (QEMU 7.2): flags in the low bits of each be64 record header.
RAM_FLAG_ZERO = 0x02
RAM_FLAG_MEM_SIZE = 0x04
RAM_FLAG_PAGE = 0x08
RAM_FLAG_EOS = 0x10
RAM_FLAG_CONTINUE = 0x20
RAM_FLAG_XBZRLE = 0x40
RAM_FLAG_HOOK = 0x80
RAM_FLAG_COMPRESS_PAGE = 0x100
RAM_VERSION = 4
XBZRLE_ENCODING = 0x01

# A whole stream in memory or mapped (anything with rfind and the buffer protocol).
Buffer = bytes | bytearray | mmap.mmap

_BE32 = struct.Struct(">I")
_BE64 = struct.Struct(">Q")

# Field types whose size is fixed by the type (checked against the description).
SCALAR_SIZES = {
    "bool": 1, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4,
    "int64": 8, "uint64": 8, "int32 le": 4, "uint8 equal": 1, "uint16 equal": 2,
    "int32 equal": 4, "uint32 equal": 4, "int64 equal": 8, "float64": 8, "timer": 8,
}

# The configuration section's subsections in QEMU 7.2 (its JSON description has no
# entry for the configuration section): name -> (version, layout).
CONFIG_SUBSECTIONS = {
    "configuration/target-page-bits": 1,
    "configuration/capabilities": 1,
    "configuration/uuid": 1,
}


class Kind(IntEnum):
    START = SECTION_START
    PART = SECTION_PART
    END = SECTION_END
    FULL = SECTION_FULL


class StreamError(Exception):
    """A stream that cannot be read (or written): where, and why."""

    def __init__(self, message: str, offset: int, section: SectionName | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.section = section

    def __str__(self) -> str:
        where = f"at offset {self.offset}"
        if self.section is not None:
            where = f"{self.section} {where}"
        return f"{where}: {self.message}"


class _Value:
    """Plain fields (its __slots__), set once, by which values compare, hash and show:
    what a frozen dataclass is, without the start-up cost of importing dataclasses
    (and inspect) that ``vmgen stream`` pays for nothing else."""

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, _Value) and type(other) is type(self)
                and self._values() == other._values())

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class SectionName(_Value):
    """How an error names a section: 'idstr' (instance N, id M)."""

    __slots__ = ("idstr", "instance_id", "section_id")

    def __init__(self, idstr: str, instance_id: int | None = None,
                 section_id: int | None = None) -> None:
        self.idstr = idstr
        self.instance_id = instance_id
        self.section_id = section_id

    def __str__(self) -> str:
        parts = []
        if self.instance_id is not None:
            parts.append(f"instance {self.instance_id}")
        if self.section_id is not None:
            parts.append(f"id {self.section_id}")
        extra = f" ({', '.join(parts)})" if parts else ""
        return f"section '{self.idstr}'{extra}"


# ---- the JSON description ---------------------------------------------------------------


class FieldDesc(_Value):
    """One field of a description: `count` elements of `size` bytes (`struct` for a
    nested VMState, whose size the description also states)."""

    __slots__ = ("array", "count", "index", "name", "size", "struct", "type")

    def __init__(self, name: str, type: str, size: int,
                 count: int,  # array_len, 1 when absent
                 array: bool,  # array_len present
                 index: int | None, struct: StructDesc | None) -> None:
        self.name = name
        self.type = type
        self.size = size
        self.count = count
        self.array = array
        self.index = index
        self.struct = struct


class StructDesc(_Value):
    __slots__ = ("fields", "subsections", "version", "vmsd_name")

    def __init__(self,
                 vmsd_name: str | None,  # None: a section without VMState (e.g. slirp)
                 version: int | None, fields: tuple[FieldDesc, ...],
                 subsections: tuple[StructDesc, ...]) -> None:
        self.vmsd_name = vmsd_name
        self.version = version
        self.fields = fields
        self.subsections = subsections


class DeviceDesc(_Value):
    """A description entry: one FULL section's layout."""

    __slots__ = ("instance_id", "layout", "name", "size")

    def __init__(self, name: str, instance_id: int, layout: StructDesc,
                 size: int) -> None:  # size: body bytes the layout implies
        self.name = name
        self.instance_id = instance_id
        self.layout = layout
        self.size = size


class _DescError(Exception):
    pass


def _get(obj: Any, key: str, kind: type, where: str, default: Any = ...) -> Any:
    if not isinstance(obj, dict):
        raise _DescError(f"{where} is not an object")
    if key not in obj:
        if default is not ...:
            return default
        raise _DescError(f"{where} has no '{key}'")
    value = obj[key]
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**32:
            raise _DescError(f"{where}.{key} is not an integer in 0..4294967295")
    elif not isinstance(value, kind):
        raise _DescError(f"{where}.{key} is not a {kind.__name__}")
    return value


def _struct_desc(obj: Any, where: str, depth: int, top: bool = False) -> StructDesc:
    if depth > 32:
        raise _DescError(f"{where}: nested more than 32 deep")
    fields = []
    for i, f in enumerate(_get(obj, "fields", list, where)):
        fw = f"{where}.fields[{i}]"
        name = _get(f, "name", str, fw)
        ftype = _get(f, "type", str, fw)
        size = _get(f, "size", int, fw)
        count = _get(f, "array_len", int, fw, 1)
        index = _get(f, "index", int, fw, None)
        nested = None
        if ftype == "struct":
            nested = _struct_desc(_get(f, "struct", dict, fw), f"{fw}.struct", depth + 1)
            implied = _struct_size(nested)
            if implied != size:
                raise _DescError(f"{fw} ('{name}'): struct size {size}, its fields and "
                                 f"subsections add up to {implied}")
        elif ftype == "tmp" and isinstance(f, dict) and "fields" in f:
            # VMSTATE_WITH_TMP: the fields of a temporary VMState, inline in the field
            nested = _struct_desc(f, fw, depth + 1)
            implied = _struct_size(nested)
            if implied != size:
                raise _DescError(f"{fw} ('{name}'): tmp size {size}, its fields add up to "
                                 f"{implied}")
        elif ftype in SCALAR_SIZES and SCALAR_SIZES[ftype] != size:
            raise _DescError(f"{fw} ('{name}'): a {ftype} of size {size}")
        fields.append(FieldDesc(name, ftype, size, count, "array_len" in f, index, nested))
    subs = tuple(_struct_desc(s, f"{where}.subsections[{i}]", depth + 1)
                 for i, s in enumerate(_get(obj, "subsections", list, where, [])))
    # A device without VMState (old-style save handlers) has neither.
    missing = None if top else ...
    return StructDesc(_get(obj, "vmsd_name", str, where, missing),
                      _get(obj, "version", int, where, missing), tuple(fields), subs)


def _struct_size(s: StructDesc) -> int:
    size = sum(f.size * f.count for f in s.fields)
    for sub in s.subsections:
        size += 1 + 1 + len(_name(sub)) + 4 + _struct_size(sub)
    return size


def _elements(s: StructDesc) -> int:
    """How many values a decode of `s` makes."""
    return (sum(f.count * (1 + (_elements(f.struct) if f.struct is not None else 0))
                for f in s.fields)
            + sum(1 + _elements(sub) for sub in s.subsections))


def _name(s: StructDesc) -> bytes:
    return (s.vmsd_name or "").encode()


def parse_description(text: bytes) -> tuple[int, list[DeviceDesc]]:
    """(page size, device entries) of a JSON description; _DescError if malformed."""
    try:
        value = json.loads(bytes(text).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _DescError(f"not valid JSON ({exc})") from None
    page_size = _get(value, "page_size", int, "description")
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        raise _DescError(f"description.page_size {page_size} is not a power of two "
                         "in 512..65536")
    devices = []
    for i, d in enumerate(_get(value, "devices", list, "description")):
        where = f"description.devices[{i}]"
        layout = _struct_desc(d, where, 0, top=True)
        size = _struct_size(layout)
        if _elements(layout) > size + 65536:  # zero-size elements by the billion
            raise _DescError(f"{where}: {_elements(layout)} fields and elements for a body "
                             f"of {size} bytes")
        stated = _get(d, "size", int, where, None)
        if stated is not None and stated != size:
            raise _DescError(f"{where}: size {stated}, its fields add up to {size}")
        devices.append(DeviceDesc(_get(d, "name", str, where), _get(d, "instance_id", int, where),
                                  layout, size))
    return page_size, devices


# ---- records ----------------------------------------------------------------------------


class Configuration(_Value):
    """The configuration section (0x07): its body spans [body, end)."""

    __slots__ = ("body", "capabilities", "end", "machine", "offset", "subsections")

    def __init__(self, offset: int, body: int, end: int, machine: str,
                 subsections: tuple[str, ...], capabilities: tuple[str, ...]) -> None:
        self.offset = offset
        self.body = body
        self.end = end
        self.machine = machine
        self.subsections = subsections
        self.capabilities = capabilities


class Section(_Value):
    """A START/PART/END/FULL section: header, body [body, body_end), footer (none in
    streams of machine types before 2.4, which send no footers)."""

    __slots__ = (
        "body",
        "body_end",
        "device",
        "end",
        "footer",
        "idstr",
        "instance_id",
        "kind",
        "offset",
        "section_id",
        "version_id",
    )

    def __init__(self, offset: int, kind: Kind, section_id: int,
                 idstr: bytes,  # from the START/FULL header (PART/END: the one of their id)
                 instance_id: int, version_id: int, body: int, body_end: int, end: int,
                 device: DeviceDesc | None,  # a FULL section's description entry
                 footer: bool = True) -> None:
        self.offset = offset
        self.kind = kind
        self.section_id = section_id
        self.idstr = idstr
        self.instance_id = instance_id
        self.version_id = version_id
        self.body = body
        self.body_end = body_end
        self.end = end
        self.device = device
        self.footer = footer

    @property
    def name(self) -> str:
        return self.idstr.decode("utf-8", "replace")

    @property
    def body_size(self) -> int:
        return self.body_end - self.body

    def where(self) -> SectionName:
        return SectionName(self.name, self.instance_id, self.section_id)


class Eof(_Value):
    __slots__ = ("offset",)

    def __init__(self, offset: int) -> None:
        self.offset = offset


class Description(_Value):
    """The JSON description (0x06): its text spans [text, end)."""

    __slots__ = ("end", "offset", "text")

    def __init__(self, offset: int, text: int, end: int) -> None:
        self.offset = offset
        self.text = text
        self.end = end


Record = Configuration | Section | Eof | Description


class Stream:
    """A parsed stream: its records hold offsets into `data`."""

    def __init__(self, data: Buffer, version: int, records: list[Record], page_size: int,
                 devices: list[DeviceDesc]) -> None:
        self.data = data
        self.version = version
        self.records = records
        self.page_size = page_size
        self.devices = devices

    def view(self, start: int, end: int) -> memoryview:
        return memoryview(self.data)[start:end]

    def body(self, record: Section | Configuration) -> memoryview:
        return self.view(record.body, record.body_end if isinstance(record, Section)
                         else record.end)

    def chunks(self) -> Iterator[bytes | memoryview]:
        """The stream re-emitted from the records' fields."""
        yield header_bytes(self.version)
        for r in self.records:
            if isinstance(r, Section):
                yield section_header(r.kind, r.section_id, r.idstr, r.instance_id, r.version_id)
                yield self.body(r)
                if r.footer:
                    yield footer_bytes(r.section_id)
            elif isinstance(r, Configuration):
                yield bytes([CONFIGURATION])
                yield self.body(r)
            elif isinstance(r, Eof):
                yield bytes([EOF])
            else:
                text = self.view(r.text, r.end)
                yield description_header(len(text))
                yield text


def header_bytes(version: int) -> bytes:
    return MAGIC + _BE32.pack(version)


def section_header(kind: Kind, section_id: int, idstr: bytes | None, instance_id: int,
                   version_id: int) -> bytes:
    out = bytes([kind]) + _BE32.pack(section_id)
    if kind in (Kind.START, Kind.FULL):
        if idstr is None or len(idstr) > 255:
            raise ValueError("START/FULL sections need an idstr of at most 255 bytes")
        out += bytes([len(idstr)]) + idstr + _BE32.pack(instance_id) + _BE32.pack(version_id)
    return out


def footer_bytes(section_id: int) -> bytes:
    return bytes([FOOTER]) + _BE32.pack(section_id)


def description_header(length: int) -> bytes:
    return bytes([VMDESCRIPTION]) + _BE32.pack(length)


def encode(stream: Stream) -> bytes:
    return b"".join(stream.chunks())


# ---- reading ----------------------------------------------------------------------------


def find_description(data: Buffer) -> tuple[int, bytes]:
    """(offset of the 0x06 byte, JSON text) of the description that ends the stream."""
    return _find_description(len(data), lambda start, end: bytes(data[start:end]))


_TAIL_BLOCK = 1 << 18


def _find_description(n: int, read: Callable[[int, int], bytes]) -> tuple[int, bytes]:
    """find_description of a stream of `n` bytes given by `read(start, end)`, read
    backwards in blocks from its end."""
    # JSON text has no raw 0x06 byte: the marker is among the last 0x06 bytes (its own
    # length field may hold more of them).
    block, block_at = b"", n
    pos = n
    for _ in range(5):
        i = block.rfind(b"\x06", 0, pos - block_at)
        while i < 0 and block_at > 0:
            block_at, end = max(0, block_at - _TAIL_BLOCK), block_at
            block = read(block_at, end)
            i = block.rfind(b"\x06", 0, pos - block_at)
        if i < 0:
            break
        pos = block_at + i
        if pos + 5 <= n and _BE32.unpack(read(pos + 1, pos + 5))[0] == n - pos - 5 and n - pos > 5:
            return pos, read(pos + 5, n)
    raise StreamError("no JSON description (0x06, be32 length, JSON) ends the stream: "
                      "device sections cannot be delimited", n)


_ALIGN = 4096  # a window keeps each byte at an index congruent to its offset (+ shift)
_WINDOW = 1 << 20


class Window:
    """Where a windowed read of a stream takes its bytes from and gives them to.

    The stream, `n` bytes, is read once, in order, through one page-aligned buffer of
    about `size` bytes that slides forward as the reader moves on: ``fill(view, at)``
    puts the stream's bytes from offset `at` into all of `view`, and ``sink(view, at)``
    receives every byte the reader has moved past (`at`: the offset of the first), in
    order, each once; so a sink can write the stream out as it is checked, with no
    second pass over it.  A byte at offset p sits at a buffer index congruent to
    p + `shift` modulo 4096: a sink that writes it at offset p + `shift` of a file
    copies from memory aligned as the page cache it goes to (a sink may change `shift`:
    it applies from the next slide on).  `records` are those read so far, and
    `pending` the one being read (its end fields -1), for a sink that places bytes by
    record.
    """

    def __init__(self, n: int, fill: Callable[[memoryview, int], None],
                 sink: Callable[[memoryview, int], None] | None = None, size: int = _WINDOW
                 ) -> None:
        self.n = n
        self.fill = fill
        self.sink = sink
        self.buf = mmap.mmap(-1, size + _ALIGN)
        self.shift = 0
        self.records: list[Record] = []
        self.pending: Section | Configuration | None = None

    def release(self, view: memoryview, at: int) -> None:
        if self.sink is not None and len(view):
            self.sink(view, at)

    def stream(self, at: int, end: int) -> None:
        """Bytes [at, end), which the reader does not look at: through the buffer to the
        sink (without a sink, nowhere)."""
        while at < end and self.sink is not None:
            i = (at + self.shift) % _ALIGN
            size = min(len(self.buf) - i, end - at)
            view = memoryview(self.buf)[i:i + size]
            try:
                self.fill(view, at)
                self.sink(view, at)
            finally:
                view.release()
            at += size


class _Reader:
    """Reads stream bytes [0, n): the byte at offset p is ``data[p - off]``, for p in
    [off, hi).  Over a whole buffer, off is 0 and hi is n; over a :class:`Window`,
    :meth:`fetch` slides the window forward (never back) to the bytes asked for."""

    def __init__(self, data: Buffer | memoryview, window: Window | None = None) -> None:
        self.data = data
        self.window = window
        self.n = len(data) if window is None else window.n
        self.off = 0
        self.hi = self.n if window is None else 0
        self.start = 0  # a window's buffer index of data[0]
        self.section: SectionName | None = None

    def fail(self, message: str, offset: int) -> StreamError:
        return StreamError(message, offset, self.section)

    def need(self, pos: int, size: int, what: str) -> None:
        if pos + size > self.n:
            raise self.fail(f"truncated: {what} needs {size} bytes, {max(self.n - pos, 0)} left",
                            pos)

    def fetch(self, pos: int, size: int) -> int:
        """The index in `data` of the bytes [pos, pos + size) (those below n)."""
        if pos + size > self.hi and self.window is not None:
            self._slide(pos, size)
        return pos - self.off

    def _slide(self, pos: int, size: int) -> None:
        w = self.window
        assert w is not None and pos >= self.off, "a windowed read goes forward only"
        size = max(0, min(size, self.n - pos))
        if pos <= self.hi:
            w.release(memoryview(self.data)[:pos - self.off], self.off)
            tail = self.hi - pos  # bytes already read that stay: moved to the front
            src = self.start + pos - self.off
        else:  # bytes nobody looked at: through the buffer to the sink all the same
            w.release(memoryview(self.data)[:self.hi - self.off], self.off)
            if isinstance(self.data, memoryview):
                self.data.release()
            self.data = b""
            w.stream(self.hi, pos)
            tail = src = 0
        if isinstance(self.data, memoryview):
            self.data.release()
        start = (pos + w.shift) % _ALIGN
        if start + max(size, tail) > len(w.buf):  # a record larger than the buffer
            grown = mmap.mmap(-1, start + max(size, tail) + _ALIGN)
            grown[start:start + tail] = w.buf[src:src + tail]
            w.buf = grown
        else:
            w.buf.move(start, src, tail)
        end = min(self.n, pos + len(w.buf) - start)
        view = memoryview(w.buf)
        w.fill(view[start + tail:start + end - pos], pos + tail)
        self.data = view[start:]
        view.release()
        self.off, self.hi, self.start = pos, end, start

    def begin(self, record: Section | Configuration | None) -> None:
        """A window's sink sees `record` begin (its end fields -1), or none pending."""
        if self.window is not None:
            self.window.pending = record

    def finish(self) -> None:
        """Give the sink the rest of the stream."""
        if self.window is not None:
            self._slide(self.n, 0)
            self.window.release(memoryview(self.data)[:self.hi - self.off], self.off)
            self.off = self.hi = self.n

    def close(self) -> None:
        """Let a window's buffer go."""
        if isinstance(self.data, memoryview):
            self.data.release()
        self.data = b""
        if self.window is not None:
            # a view still held (by a traceback): the buffer goes with it
            with suppress(BufferError):
                self.window.buf.close()

    def u8(self, pos: int, what: str) -> int:
        self.need(pos, 1, what)
        i = self.fetch(pos, 1)  # (first: it may slide the window, changing data)
        return self.data[i]

    def be32(self, pos: int, what: str) -> int:
        self.need(pos, 4, what)
        i = self.fetch(pos, 4)
        return int(_BE32.unpack_from(self.data, i)[0])

    def be64(self, pos: int, what: str) -> int:
        self.need(pos, 8, what)
        i = self.fetch(pos, 8)
        return int(_BE64.unpack_from(self.data, i)[0])

    def take(self, pos: int, size: int) -> bytes:
        """Bytes [pos, pos + size), known to be below n."""
        i = self.fetch(pos, size)
        return bytes(self.data[i:i + size])

    def name(self, pos: int, what: str) -> tuple[bytes, int]:
        length = self.u8(pos, f"{what} length")
        self.need(pos + 1, length, what)
        return self.take(pos + 1, length), pos + 1 + length


def parse(data: Buffer) -> Stream:
    """Every record of a whole stream; StreamError if any byte disagrees."""
    r = _Reader(data)
    version, records, page_size, devices = _parse(
        r, lambda start, end: bytes(data[start:end]))
    return Stream(data, version, records, page_size, devices)


def check(window: Window, read: Callable[[int, int], bytes], data: Buffer = b"") -> Stream:
    """The stream a :class:`Window` gives (its sink receiving every byte, in order),
    checked as :func:`parse` checks it; `read(start, end)` gives any bytes of it (the
    JSON description at its end is read first); `data`: the Stream's data, if the
    stream is also at hand whole (e.g. mapped: for the bodies of a few sections)."""
    r = _Reader(b"", window)
    try:
        version, records, page_size, devices = _parse(r, read)
        r.finish()
    finally:
        r.close()
    return Stream(data, version, records, page_size, devices)


def _parse(r: _Reader, read: Callable[[int, int], bytes]
           ) -> tuple[int, list[Record], int, list[DeviceDesc]]:
    if r.n < 8 or r.take(0, 4) != MAGIC:
        raise StreamError("not a QEMU migration stream (no 'QEVM' magic)", 0)
    version = r.be32(4, "file version")
    if version != FILE_VERSION:
        raise StreamError(f"file version {version}, only version 3 is supported", 4)
    desc_at, text = _find_description(r.n, read)
    try:
        page_size, devices = parse_description(text)
    except _DescError as exc:
        raise StreamError(f"JSON description: {exc}", desc_at + 5) from None
    records: list[Record] = [] if r.window is None else r.window.records
    known: dict[int, Section] = {}
    ram = _Ram(r, page_size)
    next_device = 0
    footers: bool | None = None
    pos = 8
    while True:
        r.section = None
        start = pos
        kind = r.u8(pos, "section type")
        pos += 1
        if kind == EOF:
            records.append(Eof(start))
            break
        if kind == CONFIGURATION:
            if records:
                raise r.fail("configuration section after other sections", start)
            r.begin(Configuration(start, start + 1, -1, "", (), ()))
            config = _configuration(r, start)
            ram.capabilities = set(config.capabilities)
            records.append(config)
            r.begin(None)
            pos = config.end
            continue
        if kind not in (SECTION_START, SECTION_PART, SECTION_END, SECTION_FULL):
            what = {VMDESCRIPTION: " (JSON description before EOF)",
                    COMMAND: " (a command: postcopy streams are not supported)",
                    SUBSECTION: " (a subsection outside a device body)",
                    FOOTER: " (a footer without its section)"}.get(kind, "")
            raise r.fail(f"unknown section type 0x{kind:02x}{what}", start)
        section_id = r.be32(pos, "section id")
        pos += 4
        if kind in (SECTION_START, SECTION_FULL):
            idstr, pos = r.name(pos, "idstr")
            instance_id = r.be32(pos, "instance id")
            version_id = r.be32(pos + 4, "version id")
            pos += 8
            r.section = SectionName(idstr.decode("utf-8", "replace"), instance_id, section_id)
            if section_id in known:
                raise r.fail(f"section id {section_id} is already used by section "
                             f"'{known[section_id].name}'", start + 1)
        else:
            first = known.get(section_id)
            if first is None:
                raise r.fail(f"{Kind(kind).name} section for section id {section_id}, "
                             "which no START section opened", start + 1)
            if first.kind != Kind.START:
                raise r.fail(f"{Kind(kind).name} section for section id {section_id}, a "
                             f"FULL section ('{first.name}')", start + 1)
            idstr, instance_id, version_id = first.idstr, first.instance_id, first.version_id
            r.section = first.where()
        device = None
        if kind == SECTION_FULL:
            if next_device >= len(devices):
                raise r.fail(f"no JSON description entry for this section (the description "
                             f"lists {len(devices)})", start)
            device = devices[next_device]
            name = idstr.decode("utf-8", "replace")
            if (device.name, device.instance_id) != (name, instance_id) or (
                    device.layout.version not in (None, version_id)):
                said = ("" if device.layout.version is None
                        else f", version {device.layout.version}")
                raise r.fail(f"JSON description entry {next_device} is '{device.name}' "
                             f"(instance {device.instance_id}{said}), not this section "
                             f"(version {version_id})", start)
            next_device += 1
            r.begin(Section(start, Kind(kind), section_id, idstr, instance_id, version_id, pos,
                            -1, -1, device, footers is not False))
            body_end = _device_body(r, device, pos)
        else:
            if idstr != b"ram":
                raise r.fail(f"iterative section '{idstr.decode('utf-8', 'replace')}': only "
                             "'ram' can be read", start)
            if version_id != RAM_VERSION:
                raise r.fail(f"ram version {version_id}, only version {RAM_VERSION} can be "
                             "read", start)
            r.begin(Section(start, Kind(kind), section_id, idstr, instance_id, version_id, pos,
                            -1, -1, None, footers is not False))
            body_end = ram.walk(pos)
        # A stream sends a footer after every section or after none (machine types
        # before 2.4): the first section says which (a section type is never 0x7e).
        after = r.u8(body_end, "section footer or next section")
        if footers is None:
            footers = after == FOOTER
        if footers:
            if after != FOOTER:
                raise r.fail(f"no section footer where the body ends (found 0x{after:02x}, "
                             "expected 0x7e)", body_end)
            footer_id = r.be32(body_end + 1, "section footer id")
            if footer_id != section_id:
                raise r.fail(f"section footer names section id {footer_id}", body_end + 1)
        elif after == FOOTER:
            raise r.fail("a section footer, in a stream whose first section has none",
                         body_end)
        end = body_end + 5 if footers else body_end
        section = Section(start, Kind(kind), section_id, idstr, instance_id, version_id, pos,
                          body_end, end, device, footers)
        if kind in (SECTION_START, SECTION_FULL):
            known[section_id] = section
        records.append(section)
        r.begin(None)
        pos = end
    r.section = None
    if next_device != len(devices):
        raise r.fail(f"the JSON description lists {len(devices)} devices, the stream has "
                     f"{next_device} FULL sections", desc_at + 5)
    if pos != desc_at:
        raise r.fail(f"{desc_at - pos} bytes between EOF and the JSON description", pos)
    records.append(Description(desc_at, desc_at + 5, r.n))
    return version, records, page_size, devices


def _configuration(r: _Reader, start: int) -> Configuration:
    r.section = SectionName("configuration")
    pos = start + 1
    length = r.be32(pos, "machine name length")
    r.need(pos + 4, length, "machine name")
    machine = r.take(pos + 4, length).decode("utf-8", "replace")
    pos += 4 + length
    subsections: list[str] = []
    capabilities: list[str] = []
    while pos < r.n and r.u8(pos, "subsection") == SUBSECTION:
        sub_at = pos
        raw, pos = r.name(pos + 1, "subsection name")
        name = raw.decode("utf-8", "replace")
        version = r.be32(pos, "subsection version")
        pos += 4
        if name not in CONFIG_SUBSECTIONS:
            raise r.fail(f"unknown configuration subsection '{name}'", sub_at)
        if version != CONFIG_SUBSECTIONS[name]:
            raise r.fail(f"configuration subsection '{name}' version {version}", sub_at)
        if name == "configuration/target-page-bits":
            r.need(pos, 4, "target page bits")
            pos += 4
        elif name == "configuration/uuid":
            r.need(pos, 16, "uuid")
            pos += 16
        else:
            count = r.be32(pos, "capability count")
            pos += 4
            for _ in range(count):
                cap, pos = r.name(pos, "capability")
                capabilities.append(cap.decode("utf-8", "replace"))
        subsections.append(name)
    return Configuration(start, start + 1, pos, machine, tuple(subsections), tuple(capabilities))


def _device_body(r: _Reader, device: DeviceDesc, pos: int) -> int:
    """The end of a device body laid out as `device` says, checking every subsection
    header on the way."""
    end = pos + device.size
    if end > r.n:
        raise r.fail(f"truncated: the JSON description makes the body {device.size} bytes, "
                     f"{r.n - pos} left", pos)
    _walk_struct(r, device.layout, pos)
    return end


def _walk_struct(r: _Reader, s: StructDesc, pos: int) -> int:
    """Check the subsection headers inside a struct laid out as `s` at `pos` (sizes are
    already known to fit); its end."""
    for f in s.fields:
        if f.struct is not None and _has_subsections(f.struct):
            for _ in range(f.count):
                pos = _walk_struct(r, f.struct, pos)
        else:
            pos += f.size * f.count
    for sub in s.subsections:
        at = pos
        byte = r.u8(pos, "subsection")
        if byte != SUBSECTION:
            raise r.fail(f"subsection '{sub.vmsd_name}' expected (byte 0x{byte:02x}, "
                         "not 0x05)", at)
        name, pos = r.name(pos + 1, "subsection name")
        if name != _name(sub):
            raise r.fail(f"subsection '{name.decode('utf-8', 'replace')}' where the JSON "
                         f"description has '{sub.vmsd_name}'", at)
        version = r.be32(pos, "subsection version")
        if version != sub.version:
            raise r.fail(f"subsection '{sub.vmsd_name}' version {version}, the JSON "
                         f"description says {sub.version}", at)
        pos = _walk_struct(r, sub, pos + 4)
    return pos


def _has_subsections(s: StructDesc) -> bool:
    return bool(s.subsections) or any(
        f.struct is not None and _has_subsections(f.struct) for f in s.fields)


class _Ram:
    """The ram section's walker; blocks and the current block persist across sections."""

    def __init__(self, r: _Reader, page_size: int) -> None:
        self.r = r
        self.page_size = page_size
        self.blocks: dict[bytes, int] = {}
        self.current: bytes | None = None
        self.capabilities: set[str] = set()

    def walk(self, pos: int) -> int:
        """Walk ram records from `pos` to the end of the EOS record; return that end."""
        r = self.r
        data, off, hi = r.data, r.off, r.hi
        n = r.n
        page = self.page_size
        stride = 8 + page
        # the most one record takes (header, block name, a compressed page's length and
        # data): a window holds that much from the record on, so reading it never slides
        reach = 8 + 256 + 4 + 2 * page
        mask = page - 1
        unpack = _BE64.unpack_from
        blocks = self.blocks
        current = self.current
        size = blocks.get(current, 0) if current is not None else 0
        batch = 64
        while True:
            if pos + reach > hi and hi < n:
                r.fetch(pos, reach)
                data, off, hi = r.data, r.off, r.hi
            if pos + 8 > n:
                r.need(pos, 8, "ram record header")
            (word,) = unpack(data, pos - off)
            flags = word & mask
            offset = word - flags
            at = pos
            pos += 8
            if flags == RAM_FLAG_PAGE | RAM_FLAG_CONTINUE:  # the common case first
                if current is not None and size % page == 0:
                    limit = min(batch, (hi - at) // stride)
                    done = self._pages(at, limit, size) if limit > 0 else 0
                    if done:
                        pos = at + done * stride
                        batch = min(batch * 2, 1 << 16) if done == limit else 64
                        continue
                    batch = 64
                if current is None:
                    raise r.fail("ram page continues no block", at)
                if offset >= size:
                    raise r.fail(f"ram page offset 0x{offset:x} outside block "
                                 f"'{current.decode('utf-8', 'replace')}' (0x{size:x} bytes)", at)
                pos += page
                if pos > n:
                    r.need(pos - page, page, "ram page")
                continue
            kind = flags & ~RAM_FLAG_CONTINUE
            if kind in (RAM_FLAG_ZERO, RAM_FLAG_PAGE, RAM_FLAG_XBZRLE, RAM_FLAG_COMPRESS_PAGE):
                if not flags & RAM_FLAG_CONTINUE:
                    name, pos = r.name(pos, "ram block name")
                    if name not in blocks:
                        raise r.fail(f"ram page of unknown block "
                                     f"'{name.decode('utf-8', 'replace')}'", at)
                    current = self.current = name
                    size = blocks[name]
                elif current is None:
                    raise r.fail("ram page continues no block", at)
                if offset >= size:
                    raise r.fail(f"ram page offset 0x{offset:x} outside block "
                                 f"'{current.decode('utf-8', 'replace')}' (0x{size:x} bytes)", at)
                if kind == RAM_FLAG_ZERO:
                    r.need(pos, 1, "zero page fill byte")
                    pos += 1
                elif kind == RAM_FLAG_PAGE:
                    r.need(pos, page, "ram page")
                    pos += page
                elif kind == RAM_FLAG_XBZRLE:
                    encoding = r.u8(pos, "xbzrle encoding")
                    if encoding != XBZRLE_ENCODING:
                        raise r.fail(f"xbzrle encoding 0x{encoding:02x}", pos)
                    length = int.from_bytes(bytes(data[pos + 1 - off:pos + 3 - off]), "big")
                    r.need(pos + 1, 2, "xbzrle length")
                    if length > page:
                        raise r.fail(f"xbzrle data of {length} bytes for a {page}-byte page", pos)
                    r.need(pos + 3, length, "xbzrle data")
                    pos += 3 + length
                else:
                    length = r.be32(pos, "compressed page length")
                    if length > 2 * page:
                        raise r.fail(f"compressed page of {length} bytes", pos)
                    r.need(pos + 4, length, "compressed page")
                    pos += 4 + length
            elif flags == RAM_FLAG_MEM_SIZE:
                pos = self._blocks(pos, offset)  # a list of any length: it may slide
                data, off, hi = r.data, r.off, r.hi
            elif flags == RAM_FLAG_EOS:
                self.current = current
                return pos
            elif flags & RAM_FLAG_HOOK:
                raise r.fail("ram hook record (RDMA streams are not supported)", at)
            else:
                raise r.fail(f"ram record with flags 0x{flags:x}", at)
            self.current = current

    def _pages(self, at: int, count: int, size: int) -> int:
        """How many whole PAGE|CONTINUE records of the current block, offsets below
        `size` (a multiple of the page size), follow one another from `at`, among the
        next `count` at most (all of them in the reader's data): checked with strided
        slices, no Python loop per page."""
        r = self.r
        stride = 8 + self.page_size
        start = at - r.off
        view = memoryview(r.data)[start:start + count * stride]
        try:
            # the low byte of each header is its flags' low byte
            lows = bytes(view[7::stride])
            count -= len(lows.lstrip(bytes([RAM_FLAG_PAGE | RAM_FLAG_CONTINUE])))
            # flag bits above the low byte (page sizes above 256) must be clear
            high = self.page_size - 1 >> 8
            if high and count:
                nibbles = bytes(view[6:count * stride:stride]).translate(_high_bits(high))
                first = nibbles.find(1)
                if first >= 0:
                    count = first
            if count == 0:
                return 0
            words = array("Q", view[:count * stride].cast("Q")[::stride // 8].tobytes())
        finally:
            view.release()
        if sys.byteorder == "little":
            words.byteswap()
        if max(words) >= size:  # some offset is outside the block: let the walk say which
            count = next(i for i, w in enumerate(words) if w >= size)
        return count

    def _blocks(self, pos: int, total: int) -> int:
        r = self.r
        left = total
        while left > 0:
            at = pos
            name, pos = r.name(pos, "ram block name")
            length = r.be64(pos, "ram block length")
            pos += 8
            if "x-ignore-shared" in self.capabilities:
                r.need(pos, 8, "ram block address")
                pos += 8
            if length > left:
                raise r.fail(f"ram block '{name.decode('utf-8', 'replace')}' of 0x{length:x} "
                             f"bytes exceeds the 0x{left:x} left of the total", at)
            if length == 0:
                raise r.fail(f"ram block '{name.decode('utf-8', 'replace')}' of 0 bytes", at)
            self.blocks[name] = length
            left -= length
        return pos


@cache
def _high_bits(mask: int) -> bytes:
    """A translate table: byte -> 1 if it has a bit of `mask`, else 0."""
    return bytes(1 if b & mask else 0 for b in range(256))


# ---- the description's view of a body ---------------------------------------------------


def fields(layout: StructDesc, body: Sequence[int] | memoryview) -> dict[str, Any]:
    """A device body's fields by name, as the description lays them out: integers as
    numbers (big-endian, as every VMState integer: ``int32 le`` is QEMU's
    VMSTATE_INT32_POSITIVE_LE, "less or equal", not little-endian), bools, other types
    as hex; a nested struct as an object, an array as a list, each subsection as an
    object under its name."""
    value, _ = _fields(layout, memoryview(bytes(body)), 0)
    return value


def _fields(s: StructDesc, data: memoryview, pos: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    for f in s.fields:
        items = []
        for _ in range(f.count):
            if f.struct is not None:
                item, pos = _fields(f.struct, data, pos)
            else:
                item = _scalar(f.type, data[pos:pos + f.size])
                pos += f.size
            items.append(item)
        key = f.name if f.index is None else f"{f.name}[{f.index}]"
        while key in out:
            key += "'"
        out[key] = items if f.array else items[0]
    for sub in s.subsections:
        pos += 1 + 1 + len(_name(sub)) + 4
        out[sub.vmsd_name or ""], pos = _fields(sub, data, pos)
    return out, pos


def _scalar(ftype: str, raw: memoryview) -> Any:
    base = ftype.removesuffix(" equal").removesuffix(" le")
    if base in ("int8", "int16", "int32", "int64"):
        return int.from_bytes(raw, "big", signed=True)
    if base in ("uint8", "uint16", "uint32", "uint64"):
        return int.from_bytes(raw, "big")
    if ftype == "bool":
        return raw[0] != 0
    return raw.hex()
