"""Source locations, diagnostics and the error type every stage raises.

A diagnostic prints like a compiler's: ``FILE:LINE:COL: error: MESSAGE``,
optionally preceded by an ``In struct 'X':`` context line.  Stages collect
diagnostics and raise one :class:`VmgenError` carrying all of them, so a user
sees every problem of a header in one run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Location:
    """A place in the user's original source (not the preprocessed text)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        if self.column <= 0:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


_new = object.__new__
_set = object.__setattr__


def location(file: str, line: int, column: int) -> Location:
    """`Location(file, line, column)`, made without the frozen dataclass's
    `__init__` (one `object.__setattr__` per field): lowering makes one per field.
    `tests/test_speedups.py` holds the two equal."""
    loc: Location = _new(Location)
    _set(loc, "__dict__", {"file": file, "line": line, "column": column})
    return loc


@dataclass(frozen=True)
class Diagnostic:
    location: Location | None
    message: str  # with `related`: a str.format template, {0} the first related place
    severity: str = "error"
    context: str | None = None  # e.g. "In struct 'RTCState':"
    related: tuple[Location, ...] = ()  # other places the message names

    @property
    def text(self) -> str:
        return self.message.format(*self.related) if self.related else self.message

    def format(self) -> str:
        where = f"{self.location}: " if self.location is not None else "vmgen: "
        text = f"{where}{self.severity}: {self.text}"
        if self.context is not None:
            prefix = f"{self.location.file}: " if self.location is not None else ""
            return f"{prefix}{self.context}\n{text}"
        return text


class VmgenError(Exception):
    """One or more diagnostics that stop generation."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__(format_all(self.diagnostics))

    @classmethod
    def at(cls, location: Location | None, message: str, context: str | None = None,
           related: tuple[Location, ...] = ()) -> VmgenError:
        return cls([Diagnostic(location, message, context=context, related=related)])


def in_source_order(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by line and column within each file; files in order of first appearance."""
    items = list(diagnostics)
    first: dict[str, int] = {}
    for i, d in enumerate(items):
        if d.location is not None:
            first.setdefault(d.location.file, i)

    def key(d: Diagnostic) -> tuple[int, int, int]:
        if d.location is None:
            return (-1, 0, 0)
        return (first[d.location.file], d.location.line, d.location.column)

    return sorted(items, key=key)


def format_all(diagnostics: Iterable[Diagnostic]) -> str:
    """Diagnostics one after another; a context line is printed once for a run of them."""
    lines: list[str] = []
    context: tuple[str | None, str | None] = (None, None)
    for d in diagnostics:
        here = (d.location.file if d.location else None, d.context)
        if d.context is not None and here == context:
            d = Diagnostic(d.location, d.message, d.severity, related=d.related)
        context = here
        lines.append(d.format())
    return "\n".join(lines)


class DiagnosticSink:
    """Collects diagnostics of one stage; `raise_if_errors` ends the stage."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, location: Location | None, message: str, context: str | None = None,
              related: tuple[Location, ...] = ()) -> None:
        self.items.append(Diagnostic(location, message, context=context, related=related))

    def warning(self, location: Location | None, message: str,
                context: str | None = None) -> None:
        self.items.append(Diagnostic(location, message, "warning", context=context))

    def extend(self, error: VmgenError) -> None:
        self.items.extend(error.diagnostics)

    def raise_if_errors(self) -> None:
        errors = [d for d in self.items if d.severity == "error"]
        if errors:
            raise VmgenError(errors)
