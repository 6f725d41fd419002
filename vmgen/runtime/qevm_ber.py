"""A whole QEMU migration stream as one DER value (module QEVM-Stream, shipped as
``templates/asn1/qevm-stream.asn``), and back.

:func:`to_der` yields the DER encoding of a parsed :class:`~vmgen.runtime.qevm.Stream`
as chunks: lengths are computed first, then bodies (RAM included) are handed out as
views of the input, never copied.  :func:`from_ber` reads such a value (definite
lengths; unknown trailing members of the extensible SEQUENCEs are skipped) and yields
the stream's bytes as chunks.  Tags (AUTOMATIC TAGS)::

    Stream   30 { [0] file-version, [1] SEQUENCE OF Record }
    Record   [0] configuration | [1] section | [2] eof | [3] description
    Section  { [0] kind, [1] section-id, [2] header OPTIONAL, [3] body,
               [4] footer DEFAULT TRUE }
    Header   { [0] idstr, [1] instance-id, [2] version-id }
    Body     [0] opaque | [1] device { [0] vmsd, [1] EXPLICIT record (a module's DER),
                                       [2] subsections OPTIONAL (SEQUENCE OF IA5String) }

Writing goes through a :class:`~vmgen.runtime.qevm.Window` (one page-aligned buffer):
:func:`write` writes chunks, :func:`write_checked` writes a stream's chunks and checks
the stream on the way (from-ber), and :func:`write_file_stream` converts a stream in a
file reading it once (to-ber).

Standard library only.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping

from vmgen.runtime import qevm
from vmgen.runtime.qevm import Buffer, Kind, StreamError

TYPE_CHECKING = False  # (typing is not imported at start-up: see qevm._Value)
if TYPE_CHECKING:
    from typing import BinaryIO


class Span(tuple[int, int]):
    """Bytes [start, end) of the input, handed out without being read: a writer reads
    them from the input file into its buffer (:func:`write`)."""

    __slots__ = ()

    def __new__(cls, start: int, end: int) -> Span:
        return tuple.__new__(cls, (start, end))

    @property
    def start(self) -> int:
        return self[0]

    @property
    def end(self) -> int:
        return self[1]


Chunk = bytes | Span


class _Node:
    """A DER value: identifier octets and either primitive contents or children."""

    __slots__ = ("content", "size", "tag")

    def __init__(self, tag: int, content: Chunk | list[_Node]) -> None:
        self.tag = tag
        self.content = content
        self.size = 0  # contents length, once computed


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _uint(n: int) -> bytes:
    return n.to_bytes(n.bit_length() // 8 + 1, "big")  # minimal, with a 00 pad when needed


def _measure(node: _Node) -> int:
    if isinstance(node.content, list):
        node.size = sum(_measure(c) for c in node.content)
    elif isinstance(node.content, Span):
        node.size = node.content.end - node.content.start
    else:
        node.size = len(node.content)
    return 1 + len(_length(node.size)) + node.size


def _emit(node: _Node) -> Iterator[Chunk]:
    yield bytes([node.tag]) + _length(node.size)
    if isinstance(node.content, list):
        for c in node.content:
            yield from _emit(c)
    elif node.content:
        yield node.content


Device = tuple[str, bytes, tuple[str, ...]]
"""A device section as a generated module's record: (VMState name, the record's DER, the
subsections it held among those a C function decides: empty, the field is left out)."""

Listed = tuple[tuple[str, int], ...] | None
"""A device record's subsections: (VMState name, offset of its value), or None when the
record has no such field."""

DeviceReader = Callable[[str, bytes, int, int, Listed], bytes]
"""(VMState name, record DER, section version, offset, subsections) -> the section body
it stands for (StreamError when it cannot)."""


def _record(r: qevm.Record, device: Device | None = None) -> _Node:
    if isinstance(r, qevm.Configuration):
        return _Node(0x80, Span(r.body, r.end))
    if isinstance(r, qevm.Eof):
        return _Node(0x82, b"")
    if isinstance(r, qevm.Description):
        return _Node(0x83, Span(r.text, r.end))
    members = [_Node(0x80, _uint(r.kind)), _Node(0x81, _uint(r.section_id))]
    if r.kind in (Kind.START, Kind.FULL):
        members.append(_Node(0xA2, [_Node(0x80, r.idstr), _Node(0x81, _uint(r.instance_id)),
                                    _Node(0x82, _uint(r.version_id))]))
    if device is None:
        members.append(_Node(0xA3, [_Node(0x80, Span(r.body, r.body_end))]))
    else:
        vmsd, record, subsections = device
        fields = [_Node(0x80, vmsd.encode("ascii")), _Node(0xA1, record)]
        if subsections:  # OPTIONAL, an extension addition: a record without, as before
            fields.append(_Node(0xA2, [_Node(0x16, s.encode("ascii")) for s in subsections]))
        members.append(_Node(0xA3, [_Node(0xA1, fields)]))
    if not r.footer:  # DEFAULT TRUE: only FALSE is encoded
        members.append(_Node(0x84, b"\x00"))
    return _Node(0xA1, members)


def to_der(stream: qevm.Stream, devices: Mapping[int, Device] | None = None
           ) -> Iterator[Chunk]:
    """The DER encoding of `stream` (a QEVM-Stream.Stream value), in chunks (spans of
    the stream's input); `devices`: record index -> the device record its body travels
    as (else its bytes)."""
    devices = devices or {}
    top = _Node(0x30, [_Node(0x80, _uint(stream.version)),
                       _Node(0xA1, [_record(r, devices.get(i))
                                    for i, r in enumerate(stream.records)])])
    _measure(top)
    return _emit(top)


# ---- output -----------------------------------------------------------------------------


class _Source:
    """The bytes of `chunks`, a Window's fill: spans are read from the file `fd` (the
    one `data` maps) into the window's buffer, or copied from `data` in memory."""

    def __init__(self, chunks: list[Chunk], data: Buffer, fd: int | None) -> None:
        self.chunks = chunks
        self.data = data
        self.fd = fd
        self.starts: list[int] = []  # stream offset of each chunk
        n = 0
        for c in chunks:
            self.starts.append(n)
            n += c.end - c.start if isinstance(c, Span) else len(c)
        self.n = n

    def fill(self, view: memoryview, at: int) -> None:
        i = bisect_right(self.starts, at) - 1
        done = 0
        while done < len(view):
            c = self.chunks[i]
            skip = at + done - self.starts[i]
            if isinstance(c, Span):
                start = c.start + skip
                m = min(c.end - start, len(view) - done)
                self._read(view[done:done + m], start)
            else:
                m = min(len(c) - skip, len(view) - done)
                view[done:done + m] = c[skip:skip + m]
            done += m
            i += 1

    def _read(self, view: memoryview, start: int) -> None:
        if self.fd is None:
            view[:] = memoryview(self.data)[start:start + len(view)]
            return
        while len(view):
            got = os.preadv(self.fd, [view], start)
            if got <= 0:
                raise OSError(f"the input ended at byte {start} while it was read (was it "
                              "changed?)")
            view, start = view[got:], start + got

    def read(self, start: int, end: int) -> bytes:
        """Bytes [start, end) of the chunks."""
        out = bytearray(end - start)
        self.fill(memoryview(out), start)
        return bytes(out)


def _sink(out: BinaryIO) -> Callable[[memoryview, int], None]:
    fd = out.fileno()

    def write(view: memoryview, at: int) -> None:
        while len(view):
            view = view[os.write(fd, view):]
    return write


def write(out: BinaryIO, chunks: Iterable[Chunk], source: Buffer,
          source_fd: int | None = None) -> None:
    """Write `chunks` to `out` (unbuffered, at its offset 0), spans taken from `source`
    (read from `source_fd`, the file it maps, when given): through one page-aligned
    buffer, each byte at the buffer index congruent to its output offset, so that every
    write(2) copies memory aligned as the page cache it goes to (the reads from the
    input are the unaligned copies, since a converted stream's bodies shift)."""
    src = _Source(list(chunks), source, source_fd)
    qevm.Window(src.n, src.fill, _sink(out)).stream(0, src.n)


def _body(r: qevm.Record) -> tuple[int, int] | None:
    """The input bytes [start, end) a record's BER value holds verbatim (end -1: not
    known yet), if any."""
    if isinstance(r, qevm.Section):
        return r.body, r.body_end
    if isinstance(r, qevm.Configuration):
        return r.body, r.end
    if isinstance(r, qevm.Description):
        return r.text, r.end
    return None


def _layout(r: qevm.Record) -> tuple[int, int]:
    """(size of r's BER value, offset of its body in it) with its body as bytes."""
    node = _record(r)
    size = _measure(node)
    head = 0
    for chunk in _emit(node):
        if isinstance(chunk, Span):
            break
        head += len(chunk)
    return size, head


def _prefix(version: int, records: int) -> int:
    """Bytes before the first record: Stream's identifier and length, file-version, and
    records' identifier and length (`records`: the records' total size)."""
    head = 2 + len(_uint(version))
    inner = head + 1 + len(_length(records)) + records
    return 1 + len(_length(inner)) + head + 1 + len(_length(records))


def _pwrite(fd: int, view: memoryview, offset: int) -> None:
    while len(view):
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done


class _Placer:
    """The sink of to-ber's single pass over a stream (a Window's): each record's body,
    the only bytes of the stream its BER value holds verbatim, is written where the DER
    encoding will put it, computed from the records read before it; the sizes of the
    lengths that depend on what is not known yet are guessed (the records' total, in
    the header of the whole: the input's size; a section's own length while its body is
    still being read: the larger of the previous section's and what has been read of
    it).  :meth:`finish` compares each body's place with the encoding's, and writes
    everything else."""

    def __init__(self, fd: int, window: qevm.Window, version: int) -> None:
        self.fd = fd
        self.window = window
        self.prefix = _prefix(version, window.n)
        self.placed: dict[int, tuple[int, int]] = {}  # record -> (output offset, input start)
        self.first = 0  # the first record not yet wholly released
        self.counted = 0  # how many records `before` adds up
        self.before = 0
        self.previous = 0  # the body length of the last section among them

    def sink(self, view: memoryview, at: int) -> None:
        w = self.window
        base, end = at, at + len(view)
        while at < end:
            i = self.first
            r = w.records[i] if i < len(w.records) else w.pending
            if r is None:
                return  # the header of a record not begun yet
            body = _body(r)
            if body is None or 0 <= body[1] <= at:
                self.first += 1
                continue
            start, stop = body
            if at < start:
                at = min(start, end)
                continue
            stop = end if stop < 0 else min(stop, end)
            offset = self._place(i, r, start, end)
            _pwrite(self.fd, view[at - base:stop - base], offset + at - start)
            at = stop

    def _place(self, i: int, r: qevm.Record, start: int, seen: int) -> int:
        """Where record i's body goes (decided at its first bytes: all go there)."""
        if i in self.placed:
            return self.placed[i][0]
        records = self.window.records
        while self.counted < i:
            counted = records[self.counted]
            self.before += _layout(counted)[0]
            if isinstance(counted, qevm.Section):
                self.previous = counted.body_end - counted.body
            self.counted += 1
        guess = r
        if isinstance(r, qevm.Section) and r.body_end < 0:
            end = r.body + max(self.previous, seen - start)
            guess = qevm.Section(r.offset, r.kind, r.section_id, r.idstr, r.instance_id,
                                 r.version_id, r.body, end, end, r.device, r.footer)
        elif isinstance(r, qevm.Configuration) and r.end < 0:
            guess = qevm.Configuration(r.offset, r.body, seen, "", (), ())
        offset = self.prefix + self.before + _layout(guess)[1]
        self.placed[i] = (offset, start)
        # the window keeps the rest of this body aligned as its place in the output
        self.window.shift = (offset - start) % 4096
        return offset

    def finish(self, chunks: list[Chunk], data: Buffer, fd: int) -> None:
        """Write what the single pass did not put in its place: every header, and every
        body placed elsewhere (or written over by one placed wrong); then cut the output
        to its size."""
        where: dict[int, int] = {}  # input start of a body -> its offset in the output
        pos = 0
        for c in chunks:
            if isinstance(c, Span):
                where[c.start] = pos
                pos += c.end - c.start
            else:
                pos += len(c)
        total = pos
        records = self.window.records
        right: dict[int, int] = {}  # input start -> length, of bodies in their place
        wrong: list[tuple[int, int]] = []  # [start, end) in the output of the others
        for i, (offset, start) in self.placed.items():
            body = _body(records[i])
            assert body is not None
            if where.get(start) == offset:
                right[start] = body[1] - body[0]
            else:
                wrong.append((offset, offset + body[1] - body[0]))
        # a body in its place that a misplaced one was written over goes again
        wrong.sort()
        merged: list[tuple[int, int]] = []
        for a, b in wrong:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
            else:
                merged.append((a, b))
        ends = [b for _, b in merged]
        for start, size in list(right.items()):
            at = where[start]
            k = bisect_right(ends, at)
            if k < len(merged) and merged[k][0] < at + size:
                del right[start]
        pending = bytearray()
        pending_at = pos = 0
        for c in chunks:
            if isinstance(c, Span):
                if c.start not in right:
                    self._copy(c, pos, data, fd)
                pos += c.end - c.start
                continue
            if pending and pending_at + len(pending) != pos:
                _pwrite(self.fd, memoryview(pending), pending_at)
                pending.clear()
            if not pending:
                pending_at = pos
            pending += c
            pos += len(c)
        if pending:
            _pwrite(self.fd, memoryview(pending), pending_at)
        os.ftruncate(self.fd, total)

    def _copy(self, span: Span, offset: int, data: Buffer, fd: int) -> None:
        size = span.end - span.start
        src = _Source([span], data, fd)
        buf = memoryview(bytearray(min(size, 1 << 20)))
        done = 0
        while done < size:
            k = min(len(buf), size - done)
            src.fill(buf[:k], done)
            _pwrite(self.fd, buf[:k], offset + done)
            done += k


def write_file_stream(out: BinaryIO, fd: int, data: Buffer,
                      devices: Callable[[qevm.Stream], Mapping[int, Device]],
                      window_size: int = 1 << 20) -> qevm.Stream:
    """to-ber of a whole stream in a file (`fd`; `data` maps it), in one pass: the
    stream is read once through a Window, checked as :func:`qevm.parse` checks it, and
    each record's body written to `out` where the DER encoding puts it (the rest, and
    what a guess put elsewhere, afterwards); `devices(stream)`: the device records, as
    for :func:`to_der`.  The stream, or StreamError (and `out` holds garbage)."""
    n = len(data)

    def read(start: int, end: int) -> bytes:
        out = bytearray(end - start)
        _Source([Span(start, end)], data, fd).fill(memoryview(out), 0)
        return bytes(out)

    def fill(view: memoryview, at: int) -> None:
        _Source([Span(at, at + len(view))], data, fd).fill(view, 0)

    window = qevm.Window(n, fill, size=window_size)
    placer = _Placer(out.fileno(), window, qevm.FILE_VERSION)
    window.sink = placer.sink
    stream = qevm.check(window, read, data)
    placer.finish(list(to_der(stream, devices(stream))), data, fd)
    return stream


def write_checked(out: BinaryIO, chunks: Iterable[Chunk], source: Buffer,
                  source_fd: int | None = None) -> list[qevm.Record]:
    """:func:`write`, the written stream checked as it goes (as :func:`qevm.parse` would
    check it, with every diagnostic at its offset in the stream): its records, or
    StreamError, and then what was written is incomplete."""
    src = _Source(list(chunks), source, source_fd)
    return qevm.check(qevm.Window(src.n, src.fill, _sink(out)), src.read).records


def join(chunks: Iterable[Chunk], source: Buffer) -> bytes:
    """The bytes of `chunks`, spans taken from `source`."""
    view = memoryview(source)
    out = b"".join(view[c.start:c.end] if isinstance(c, Span) else c for c in chunks)
    view.release()
    return out


# ---- reading ----------------------------------------------------------------------------


class _Ber:
    def __init__(self, data: Buffer) -> None:
        self.data = data

    def fail(self, message: str, offset: int) -> StreamError:
        return StreamError(message, offset)

    def tlv(self, pos: int, end: int, what: str) -> tuple[int, int, int]:
        """(identifier octet, contents start, contents end) of the value at `pos`."""
        if pos + 2 > end:
            raise self.fail(f"truncated: {what} expected", pos)
        tag = self.data[pos]
        if tag & 0x1F == 0x1F:
            raise self.fail(f"{what}: tag 0x{tag:02x} with a long tag number", pos)
        first = self.data[pos + 1]
        p = pos + 2
        if first < 0x80:
            length = first
        elif first == 0x80:
            raise self.fail(f"{what}: indefinite length (only definite lengths are read)", pos)
        else:
            count = first & 0x7F
            if count > 8 or p + count > end:
                raise self.fail(f"{what}: bad length", pos)
            length = int.from_bytes(self.data[p:p + count], "big")
            p += count
        if p + length > end:
            raise self.fail(f"{what}: {length} bytes of contents, only {end - p} left", pos)
        return tag, p, p + length

    def expect(self, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
        got, start, stop = self.tlv(pos, end, what)
        if got != tag:
            raise self.fail(f"{what} expected (tag 0x{tag:02x}), found tag 0x{got:02x}", pos)
        return start, stop

    def uint(self, pos: int, end: int, tag: int, what: str, limit: int = 2**32 - 1) -> tuple[
            int, int]:
        start, stop = self.expect(pos, end, tag, what)
        raw = self.data[start:stop]
        if not raw or raw[0] & 0x80:
            raise self.fail(f"{what}: not a non-negative INTEGER", pos)
        value = int.from_bytes(raw, "big")
        if value > limit:
            raise self.fail(f"{what}: {value} is out of range (0..{limit})", pos)
        return value, stop

    def skip_extensions(self, pos: int, end: int, what: str) -> None:
        """Skip extension additions a newer writer may have put at the end."""
        while pos < end:
            _, _, pos = self.tlv(pos, end, f"{what} extension")


def from_ber(data: Buffer, device: DeviceReader | None = None) -> Iterator[Chunk]:
    """The stream bytes of a QEVM-Stream.Stream value, in chunks (spans of the BER
    input); StreamError (with the offset in the BER input) if it is not one.  A device
    record's body comes from `device` (None: such a record is an error)."""
    b = _Ber(data)
    start, end = b.expect(0, len(data), 0x30, "Stream (SEQUENCE)")
    if end != len(data):
        raise b.fail(f"{len(data) - end} bytes after the Stream value", end)
    version, pos = b.uint(start, end, 0x80, "file-version")
    rstart, rend = b.expect(pos, end, 0xA1, "records")
    b.skip_extensions(rend, end, "Stream")
    yield qevm.header_bytes(version)
    pos = rstart
    index = 0
    while pos < rend:
        tag, cstart, cend = b.tlv(pos, rend, f"record {index}")
        if tag == 0x80:
            yield bytes([qevm.CONFIGURATION])
            yield Span(cstart, cend)
        elif tag == 0x82:
            if cend != cstart:
                raise b.fail(f"record {index}: eof is NULL, not {cend - cstart} bytes", pos)
            yield bytes([qevm.EOF])
        elif tag == 0x83:
            yield qevm.description_header(cend - cstart)
            yield Span(cstart, cend)
        elif tag == 0xA1:
            yield from _section(b, cstart, cend, index, device)
        else:
            raise b.fail(f"record {index}: unknown alternative (tag 0x{tag:02x})", pos)
        pos = cend
        index += 1


def _subsections(b: _Ber, pos: int, end: int, what: str) -> tuple[Listed, int]:
    """The names a device record's subsections field lists (each with its offset), and
    the position after the field."""
    start, stop = b.expect(pos, end, 0xA2, what)
    names: list[tuple[str, int]] = []
    p = start
    while p < stop:
        vstart, vend = b.expect(p, stop, 0x16, f"{what} (IA5String)")
        raw = bytes(b.data[vstart:vend])
        if not 1 <= len(raw) <= 255 or not all(0x20 <= c <= 0x7E for c in raw):
            raise b.fail(f"{what}: a name that is not 1 to 255 printable characters", p)
        names.append((raw.decode("ascii"), p))
        p = vend
    return tuple(names), stop


def _section(b: _Ber, start: int, end: int, index: int,
             device: DeviceReader | None) -> Iterator[Chunk]:
    what = f"record {index} (section)"
    kind_start, kind_end = b.expect(start, end, 0x80, f"{what} kind")
    raw = b.data[kind_start:kind_end]
    kinds = {k.value: k for k in Kind}
    if len(raw) != 1 or raw[0] not in kinds:
        raise b.fail(f"{what}: kind {int.from_bytes(raw, 'big', signed=True)} is not "
                     "start(1), part(2), end(3) or full(4)", start)
    kind = kinds[raw[0]]
    section_id, pos = b.uint(kind_end, end, 0x81, f"{what} section-id")
    idstr: bytes | None = None
    instance_id = version_id = 0
    tag, hstart, hend = b.tlv(pos, end, f"{what} header or body")
    if tag == 0xA2:
        istart, iend = b.expect(hstart, hend, 0x80, f"{what} idstr")
        if iend - istart > 255:
            raise b.fail(f"{what}: idstr of {iend - istart} bytes (at most 255)", hstart)
        idstr = bytes(b.data[istart:iend])
        instance_id, p = b.uint(iend, hend, 0x81, f"{what} instance-id")
        version_id, p = b.uint(p, hend, 0x82, f"{what} version-id")
        b.skip_extensions(p, hend, f"{what} header")
        pos = hend
    if (idstr is not None) != (kind in (Kind.START, Kind.FULL)):
        raise b.fail(f"{what}: a {kind.name} section "
                     f"{'needs' if idstr is None else 'has no'} header", pos)
    bstart, bend = b.expect(pos, end, 0xA3, f"{what} body")
    footer = True
    pos = bend
    if pos < end and b.data[pos] == 0x84:
        fstart, fend = b.expect(pos, end, 0x84, f"{what} footer")
        if fend - fstart != 1:
            raise b.fail(f"{what}: footer is a BOOLEAN of {fend - fstart} bytes", pos)
        footer = b.data[fstart] != 0
        pos = fend
    b.skip_extensions(pos, end, what)
    tag, ostart, oend = b.tlv(bstart, bend, f"{what} body")
    if tag not in (0x80, 0xA1):
        raise b.fail(f"{what}: body alternative (tag 0x{tag:02x}) this version cannot "
                     "read", bstart)
    if oend != bend:
        raise b.fail(f"{what}: {bend - oend} bytes after the body", oend)
    body: Chunk = Span(ostart, oend)
    if tag == 0xA1:
        vstart, vend = b.expect(ostart, oend, 0x80, f"{what} device vmsd")
        raw = bytes(b.data[vstart:vend])
        if not 1 <= len(raw) <= 255 or not all(0x20 <= c <= 0x7E for c in raw):
            raise b.fail(f"{what}: device vmsd is not 1 to 255 printable characters", vstart)
        rstart, rend = b.expect(vend, oend, 0xA1, f"{what} device record")
        listed: Listed = None
        pos = rend
        if pos < oend and b.data[pos] == 0xA2:
            listed, pos = _subsections(b, pos, oend, f"{what} device subsections")
        b.skip_extensions(pos, oend, f"{what} device")
        if device is None:
            raise b.fail(f"{what}: a device record of VMState '{raw.decode()}' (give the "
                         "--module that serves it)", ostart)
        body = device(raw.decode(), bytes(b.data[rstart:rend]), version_id, ostart, listed)
    yield qevm.section_header(kind, section_id, idstr, instance_id, version_id)
    yield body
    if footer:
        yield qevm.footer_bytes(section_id)
