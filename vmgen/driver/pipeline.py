"""The whole pipeline as pure functions: header in, generated texts out.

frontend (cpp + pycparser) -> lower (AST -> IR) -> checks -> backends.
Nothing here writes a file; :mod:`vmgen.driver.output` does that.

With a second CPU (see vmgen.driver.parallel), a large header is parsed and lowered in
two halves at once and its C rendered beside the rest, and a run of several
headers splits them between two processes; each is a shortcut to the same
result, which the one-process path gives whenever a shortcut meets anything
but a clean run.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar

from vmgen.checks import rules
from vmgen.diagnostics import Diagnostic, Location, VmgenError, in_source_order
from vmgen.driver import parallel
from vmgen.frontend.slicer import slice_parts
from vmgen.frontend.source import Options, Parsed, Source, parse_slice, parse_source, read
from vmgen.lowering import ir, lower
from vmgen.resources import RUNTIME_FILES, probe_header, runtime_dir

# With a second CPU, a header whose device states need this many characters of
# declarations (some 1,400 lines; a parse of about 30 ms, where two processes
# start to pay: tests/bench) is parsed and lowered in two halves at once, and a
# module of this many fields has its C rendered beside the rest.
PARALLEL_TEXT = 32 * 1024
PARALLEL_FIELDS = 2000

if TYPE_CHECKING:
    from vmgen.frontend.sidecar import Sidecar


@dataclass(frozen=True)
class Generated:
    module: ir.Module
    files: dict[str, str]  # output file name -> text
    warnings: tuple[Diagnostic, ...] = ()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for one run.  A run allocates millions of
    objects that live until its end (the AST, the IR) and makes next to no cyclic
    garbage: with the collector on, it traces them over and over (a third of the
    run's time on a large header).  What the run drops is freed by reference
    counting.  Afterwards, what it made and kept (the IR, the texts) joins the
    oldest generation untraced (freeze + unfreeze), instead of making the next
    young collection trace all of it; the collector resumes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


@dataclass(frozen=True)
class Jobs:
    """How many processes a run may use: `jobs` as --jobs gives it (0: one per
    CPU, at most two are used; 1: this process alone), and the sizes from which a
    second process pays (see PARALLEL_TEXT, PARALLEL_FIELDS)."""

    jobs: int = 0
    min_text: int = PARALLEL_TEXT
    min_fields: int = PARALLEL_FIELDS


def build_module(header: str, options: Options,
                 warnings: list[Diagnostic] | None = None, jobs: Jobs = Jobs()) -> ir.Module:
    """The checked IR of a header.  Errors raise VmgenError (with the warnings);
    warnings alone are appended to `warnings`."""
    return _run(header, options, warnings, jobs, generating=False)[0]


def generate(header: str, options: Options, jobs: Jobs = Jobs()) -> Generated:
    warnings: list[Diagnostic] = []
    module, files = _run(header, options, warnings, jobs, generating=True)
    assert files is not None
    return Generated(module, files, tuple(warnings))


@dataclass(frozen=True)
class Failed:
    """A header that gave errors: its diagnostics as vmgen prints them."""

    header: str
    message: str


def generate_all(headers: Sequence[str], options: Options,
                 jobs: Jobs = Jobs()) -> list[Generated | Failed]:
    """`generate` of each header, in order.  With a second process (see
    vmgen.driver.parallel), the headers are split in two runs of about the same size in
    bytes, the second generated in a forked child (each header then in one
    process); the results are the same."""
    if len(headers) >= 2:
        with parallel.second_process(jobs.jobs) as two:
            if two:
                return _generate_in_halves(headers, options, replace(jobs, jobs=1))
    return [_outcome(header, options, jobs) for header in headers]


def _generate_in_halves(headers: Sequence[str], options: Options,
                        jobs: Jobs) -> list[Generated | Failed]:
    sizes = []
    for header in headers:
        try:
            sizes.append(os.path.getsize(header))
        except OSError:
            sizes.append(0)
    # the cut that leaves the two runs closest in bytes
    total, before, cut, best = sum(sizes), 0, 1, -1
    for k in range(1, len(headers)):
        before += sizes[k - 1]
        if best < 0 or abs(2 * before - total) < best:
            cut, best = k, abs(2 * before - total)
    rest = headers[cut:]
    child = parallel.Child(lambda: [_outcome(header, options, jobs) for header in rest])
    try:
        first = [_outcome(header, options, jobs) for header in headers[:cut]]
    finally:
        second = child.result()
    if second is None:  # the child failed: do its part here
        second = [_outcome(header, options, jobs) for header in rest]
    return first + second


def _outcome(header: str, options: Options, jobs: Jobs) -> Generated | Failed:
    try:
        return generate(header, options, jobs)
    except VmgenError as exc:
        return Failed(header, str(exc))


def _run(header: str, options: Options, warnings: list[Diagnostic] | None, jobs: Jobs,
         generating: bool) -> tuple[ir.Module, dict[str, str] | None]:
    try:
        with _collector_paused(), parallel.second_process(jobs.jobs) as two:
            backends = _Backends(jobs.min_fields) if generating and two else None
            try:
                module = _build_module(header, options, warnings, jobs if two else None,
                                       backends)
                files = _generate(module, backends) if generating else None
            finally:
                if backends is not None:
                    backends.cancel()
            return module, files
    except RecursionError:
        raise VmgenError.at(Location(header, 0, 0), "the header nests declarations or "
                            "expressions too deeply for vmgen (hundreds of levels)") from None


class _Backends:
    """With a second process: the backends made ready while the child lowering
    half of a large header finishes, and the C rendered in a child from the
    merged module while this process checks it and renders the rest."""

    def __init__(self, min_fields: int) -> None:
        self.min_fields = min_fields
        self.module: ir.Module | None = None  # the one the child renders
        self.child: parallel.Child[dict[str, str]] | None = None

    def prepare(self) -> None:
        from vmgen.backends import prepare

        prepare()

    def start_c(self, module: ir.Module) -> None:
        """Render the C of `module` (not yet checked) in a child, if large enough."""
        if sum(len(s.fields) for s in module.structs) < self.min_fields:
            return
        from vmgen.backends import c

        self.module = module
        self.child = parallel.Child(lambda: c.generate(module))

    def c_files(self, module: ir.Module) -> dict[str, str] | None:
        """The child's C, if it rendered this very module."""
        if self.child is None or module is not self.module:
            return None
        child, self.child = self.child, None
        return child.result()

    def cancel(self) -> None:
        if self.child is not None:
            self.child.cancel()
            self.child = None


def _build_module(header: str, options: Options, warnings: list[Diagnostic] | None,
                  split: Jobs | None, backends: _Backends | None) -> ir.Module:
    """`split`: the header may be lowered in two processes (when large enough)."""
    sidecar = None
    if options.annotations:
        from vmgen.frontend.sidecar import Sidecar

        sidecar = Sidecar.load(options.annotations)
    source = read(header, options)
    module = None
    if sidecar is None and split is not None:
        module = _lower_in_halves(header, source, options, split, backends)
    if module is not None and backends is not None:
        backends.start_c(module)  # most likely clean: checked meanwhile
    problems = rules.diagnose(module) if module is not None else []
    if module is None or any(d.severity == "error" for d in problems):
        # One process, as it always was: the halves stand back for anything but a
        # clean result, so diagnostics never depend on --jobs.
        if backends is not None:
            backends.cancel()
        parsed = parse_source(header, source, sidecar.names() if sidecar is not None else ())
        module, problems = _lower(parsed, options, sidecar)
        if parsed.sliced and any(d.severity == "error" for d in problems):
            # Slicing may have left out something a broken header needed: report
            # what the whole text says.
            parsed = parse_source(header, source, None)
            module, problems = _lower(parsed, options, sidecar)
    # Point every diagnostic at the user's own line, not the preprocessed one.
    problems = in_source_order(
        replace(d, location=None if d.location is None else source.original_location(d.location),
                related=tuple(source.original_location(r) for r in d.related))
        for d in problems
    )
    if any(d.severity == "error" for d in problems):
        raise VmgenError(problems)
    if warnings is not None:
        warnings.extend(problems)
    return module


def _lower(parsed: Parsed, options: Options,
           sidecar: Sidecar | None) -> tuple[ir.Module, list[Diagnostic]]:
    module, problems = lower.lower(parsed, options, sidecar)
    # The name checks also run on a partly lowered module, so one run reports all.
    return module, problems + rules.diagnose(module)


def _lower_in_halves(header: str, source: Source, options: Options, jobs: Jobs,
                     backends: _Backends | None = None) -> ir.Module | None:
    """The module of a large header, its device states parsed and lowered in two
    halves at once (this process and a forked child; see slicer.slice_parts);
    None if the header is too small to pay for that, or either half gives any
    diagnostic (the caller then does it all in one process)."""
    halves = slice_parts(source.neutral, [str(probe_header())], jobs.min_text)
    if halves is None:
        return None

    def lower_half(text: str, keep: list[Parsed] | None = None) -> ir.Module | None:
        try:
            parsed = parse_slice(header, source, text)
        except VmgenError:
            return None
        if keep is not None:
            keep.append(parsed)
        module, problems = lower.lower(parsed, options)
        return None if problems else module

    # The child's AST is never freed: it exits when its result is written.
    kept: list[Parsed] = []
    child = parallel.Child(lambda: lower_half(halves[1], kept))
    try:
        first = lower_half(halves[0])
        if backends is not None:
            backends.prepare()  # while the child pickles its half
    finally:
        second = child.result()
    if first is None or second is None:
        return None
    return merge(first, second)


def merge(first: ir.Module, second: ir.Module) -> ir.Module | None:
    """The module of a header from those of two halves of its device states, the
    second's states all after the first's (see slicer.slice_parts); None if the
    halves disagree on anything they share.

    A lowering walks the states in source order and appends each struct after
    the ones it contains, skipping any already lowered; so the whole lowering
    lowers the first half's states exactly as the first half did, then the second
    half's as the second half did, less what the first half already holds (a
    struct the second half shares with the first comes with everything inside
    it, and the first half holds all of that too).  Enums and unions follow the
    same order.  A struct, enum or union is the same one in both halves when
    defined at the same place under the same name, and then it must be lowered
    the same."""
    if (first.source, first.include, first.stem, first.dependencies, first.target) != (
            second.source, second.include, second.stem, second.dependencies, second.target):
        return None
    structs = _merged(first.structs, second.structs)
    enums = _merged(first.enums, second.enums)
    unions = _merged(first.unions, second.unions)
    if structs is None or enums is None or unions is None:
        return None
    return replace(first, structs=structs, enums=enums, unions=unions)


_Item = TypeVar("_Item", ir.Struct, ir.Enum, ir.Union)


def _merged(first: tuple[_Item, ...], second: tuple[_Item, ...]) -> tuple[_Item, ...] | None:
    known = {(item.location, item.name): item for item in first}
    added = []
    for item in second:
        same = known.get((item.location, item.name))
        if same is None:
            added.append(item)
        elif same != item:
            return None
    return first + tuple(added)


def generate_module(module: ir.Module, jobs: Jobs = Jobs()) -> dict[str, str]:
    """Every generated file of a checked module."""
    with parallel.second_process(jobs.jobs) as two:
        backends = _Backends(jobs.min_fields) if two else None
        try:
            return _generate(module, backends)
        finally:
            if backends is not None:
                backends.cancel()


def _generate(module: ir.Module, backends: _Backends | None) -> dict[str, str]:
    # Imported here: `explain` builds modules without generating (no Jinja2).
    from vmgen.backends import asn1, c, python, schema

    if backends is not None and backends.child is None:
        backends.start_c(module)  # one process lowered it: the C beside the rest still
    spec, parsed = asn1.generate(module)
    rest = {
        f"{module.stem}.asn": spec,
        python.module_file(module): python.generate(module, spec, parsed),
        schema_file(module): schema.generate(module),
    }
    c_files = backends.c_files(module) if backends is not None else None
    if c_files is None:
        c_files = c.generate(module)
    return {**c_files, **rest}


def schema_file(module: ir.Module) -> str:
    return f"{module.stem}.vmgen.json"


def runtime_files() -> dict[str, str]:
    """The C runtime, as `vmgen runtime` writes it."""
    return {name: (runtime_dir() / name).read_text(encoding="utf-8") for name in RUNTIME_FILES}
