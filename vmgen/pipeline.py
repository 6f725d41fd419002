"""The whole pipeline as pure functions: header in, generated texts out.

frontend (cpp + pycparser) -> lower (AST -> IR) -> checks -> backends.
Nothing here writes a file; :mod:`vmgen.output` does that.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from vmgen import checks, ir, lower
from vmgen.diagnostics import Diagnostic, Location, VmgenError, in_source_order
from vmgen.frontend import Options, Parsed, parse
from vmgen.resources import RUNTIME_FILES, runtime_dir

if TYPE_CHECKING:
    from vmgen.sidecar import Sidecar


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


def build_module(header: str, options: Options,
                 warnings: list[Diagnostic] | None = None) -> ir.Module:
    """The checked IR of a header.  Errors raise VmgenError (with the warnings);
    warnings alone are appended to `warnings`."""
    try:
        with _collector_paused():
            return _build_module(header, options, warnings)
    except RecursionError:
        raise VmgenError.at(Location(header, 0, 0), "the header nests declarations or "
                            "expressions too deeply for vmgen (hundreds of levels)") from None


def _build_module(header: str, options: Options,
                  warnings: list[Diagnostic] | None) -> ir.Module:
    sidecar = None
    if options.annotations:
        from vmgen.sidecar import Sidecar

        sidecar = Sidecar.load(options.annotations)
    parsed = parse(header, options, sidecar.names() if sidecar is not None else ())
    module, problems = _lower(parsed, options, sidecar)
    if parsed.sliced and any(d.severity == "error" for d in problems):
        # Slicing may have left out something a broken header needed: report what
        # the whole text says.
        parsed = parse(header, options, None)
        module, problems = _lower(parsed, options, sidecar)
    # Point every diagnostic at the user's own line, not the preprocessed one.
    problems = in_source_order(
        replace(d, location=_original(parsed, d.location),
                related=tuple(parsed.original_location(r) for r in d.related))
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
    return module, problems + checks.diagnose(module)


def _original(parsed: Parsed, loc: Location | None) -> Location | None:
    return parsed.original_location(loc) if loc is not None else None


def generate_module(module: ir.Module) -> dict[str, str]:
    # Imported here: `explain` builds modules without generating (no Jinja2).
    from vmgen.backends import asn1, c, python, schema

    files = c.generate(module)
    spec, parsed = asn1.generate(module)
    files[f"{module.stem}.asn"] = spec
    files[python.module_file(module)] = python.generate(module, spec, parsed)
    files[schema_file(module)] = schema.generate(module)
    return files


def schema_file(module: ir.Module) -> str:
    return f"{module.stem}.vmgen.json"


def generate(header: str, options: Options) -> Generated:
    warnings: list[Diagnostic] = []
    with _collector_paused():
        module = build_module(header, options, warnings)
        return Generated(module, generate_module(module), tuple(warnings))


def runtime_files() -> dict[str, str]:
    """The C runtime, as `vmgen runtime` writes it."""
    return {name: (runtime_dir() / name).read_text(encoding="utf-8") for name in RUNTIME_FILES}
