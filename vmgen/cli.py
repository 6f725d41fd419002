"""The ``vmgen`` command.

Imports are lazy: ``vmgen --help`` loads argparse only, and no command of the
generator ever imports asn1tools.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from vmgen import __version__

if TYPE_CHECKING:
    from vmgen.frontend import Options
    from vmgen.pipeline import Generated

_DESCRIPTION = """\
Generate migration code and wire schemas from annotated C device-state structs.

Annotate the structs with the macros of vmgen.h (VMGEN_STATE, VMGEN_SKIP, ...),
then run `vmgen runtime` once and `vmgen generate` for each header.

commands:
  generate   C visitors, ASN.1 module, Python codec and wire schema from headers
  check      exit 1 if generated files are stale or the wire format broke (for CI
             and pre-commit)
  compat     compare two wire schemas (STEM.vmgen.json): compatible or breaking
  explain    print, per device state, what each C field becomes on the wire
  decode     print a saved record readably (from the generated Python module)
  convert    convert a record between the legacy VMState stream and BER
  runtime    write the C runtime (vmgen.h, visitor, DER writer, BER reader)
"""

_OUTPUTS = """\
For each HEADER (STEM.h) vmgen writes into OUTDIR:
  STEM-visit.h, STEM-visit.c  C visitors, vmgen_save_S(), vmgen_save_S_version()
                              and vmgen_load_S() for each device state S
  STEM.asn                    the ASN.1 module of the wire format
  MOD_asn1.py                 the Python codec: save/load/encode/decode (tables
                              for vmgen.runtime; MOD is STEM with non-identifier
                              characters as _)
  STEM.vmgen.json             the wire schema, to commit (vmgen compat/check)
"""

_GENERATE_EPILOG = _OUTPUTS + """\
Files whose text did not change are not touched.  On any error nothing is written.

The header is preprocessed by $CC (default cc) with VMGEN defined, the given
-I/-D flags, and vmgen.h on the include path.

exit status: 0 on success, 1 on an error in the input (diagnostics on stderr).
"""

_CHECK_EPILOG = """\
Writes nothing.  Exit status 0 when every output in OUTDIR is exactly what
`vmgen generate` would write and every wire schema is compatible with the
baseline; otherwise 1, with a unified diff of each stale file and the list of
breaking changes.  The baseline of OUTDIR/STEM.vmgen.json is its committed
version (git HEAD, or --baseline REV) when it is tracked by git, else the file
on disk.
"""


def _add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output-dir", default=".", metavar="OUTDIR",
                   help="where the generated files go (default: the current folder)")
    p.add_argument("-I", dest="include_dirs", action="append", default=[], metavar="DIR",
                   help="add DIR to the preprocessor's include path (repeatable)")
    p.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME[=VALUE]",
                   help="define a preprocessor macro (repeatable)")
    p.add_argument("--cc", default="", metavar="COMMAND",
                   help="the C compiler used as preprocessor (default: $CC, else cc)")
    p.add_argument("--annotations", default="", metavar="FILE.toml",
                   help="annotations for headers you cannot edit (see README: sidecar)")
    p.add_argument("-j", "--jobs", type=_jobs, default=0, metavar="N",
                   help="processes a run may use: 1 keeps to this one; 0 (default) uses a "
                   "second CPU when there is one for several headers or a large one (under "
                   "make -j, only with a free job slot from make's jobserver); results are "
                   "the same either way")
    p.add_argument("headers", nargs="+", metavar="HEADER", help="annotated C header")


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"not a number of processes: '{text}'")
    return n


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vmgen", description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vmgen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    g = sub.add_parser(
        "generate", help="generate C visitors, ASN.1, Python codec and schema from headers",
        description="Generate C visitors, the ASN.1 module, the Python codec and the wire "
        "schema for the device states (VMGEN_STATE structs) of each HEADER.",
        epilog=_GENERATE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_input_options(g)
    g.add_argument("--depfile", metavar="FILE",
                   help="write a make-style depfile (gcc -MD -MP format): the outputs depend "
                   "on every header the preprocessor read, the annotations file, and "
                   "vmgen's own templates and runtime")
    g.add_argument("--depfile-target", metavar="TARGET", action="append", default=[],
                   help="the depfile's target instead of the outputs, e.g. a stamp file "
                   "(like gcc -MT; repeatable)")

    c = sub.add_parser(
        "check", help="fail if generated files are stale or the wire format broke",
        description="Check, without writing anything, that the generated files in OUTDIR "
        "are up to date and that the wire schemas stay compatible.",
        epilog=_CHECK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_input_options(c)
    c.add_argument("--baseline", default="HEAD", metavar="REV",
                   help="git revision holding the committed schemas (default: HEAD)")

    k = sub.add_parser(
        "compat", help="compare two wire schemas",
        description="Compare two wire schemas (STEM.vmgen.json) and list every change as "
        "compatible or breaking, with the file:line of the field in the header.",
        epilog="exit status: 0 if every change is compatible, 1 if one is breaking.",
    )
    k.add_argument("old", metavar="OLD.vmgen.json")
    k.add_argument("new", metavar="NEW.vmgen.json")

    x = sub.add_parser(
        "explain", help="print what each C field of each device state becomes on the wire",
        description="Print, for each device state of each HEADER (and each struct and union "
        "it contains), a table: C field, C type, wire type (ASN.1), since-version, notes "
        "(skipped, sized by, range, ...).  Fields are listed in wire order.  For a device "
        "state, also the C codec its saves and loads take: the specialized straight-line "
        "code, or the visitors alone (and why).",
    )
    _add_input_options(x)
    x.add_argument("--vmstate", action="store_true",
                   help="print instead the VMState description equivalent to the legacy "
                   "stream (what vmgen_save_S_legacy writes)")

    d = sub.add_parser(
        "decode", help="print a saved record readably",
        description="Print a record written by vmgen_save_S() or MOD_asn1.save(): the device, "
        "its versions, and each field by its C name (byte buffers as hex).  The record names "
        "its device; the generated Python module that knows it is found among --module "
        "files and folders (default: the *_asn1.py of the current folder).  Needs asn1tools.",
    )
    d.add_argument("--module", action="append", default=[], metavar="PATH",
                   help="a generated MOD_asn1.py, or a folder of them (repeatable)")
    d.add_argument("--json", action="store_true", help="print JSON (byte buffers as hex)")
    d.add_argument("record", metavar="RECORD.ber")

    v = sub.add_parser(
        "convert", help="convert a record between the legacy VMState stream and BER",
        description="Convert a device record between the legacy VMState stream and vmgen's "
        "BER records, losslessly, with the generated Python module that knows the device. "
        "A BER record says its device and version; a legacy stream does not (the migration "
        "section header does): give --device and --version.  Needs asn1tools.",
    )
    v.add_argument("--module", action="append", default=[], metavar="PATH",
                   help="a generated MOD_asn1.py, or a folder of them (repeatable)")
    v.add_argument("--to", choices=("ber", "legacy"), required=True,
                   help="the format to write")
    v.add_argument("--device", metavar="S", help="the device state of a legacy input")
    v.add_argument("--version", type=int, metavar="V", help="the version of a legacy input")
    v.add_argument("input", metavar="IN")
    v.add_argument("output", metavar="OUT")

    r = sub.add_parser(
        "runtime", help="write the C runtime (vmgen.h, visitor, DER writer, BER reader)",
        description="Write the C runtime the generated code needs: vmgen.h (the annotation "
        "macros), vmgen-visitor.h/.c (visitor interface, errors, records) and "
        "vmgen-ber.h/.c (DER output and BER input visitors).  C99, libc only.",
    )
    r.add_argument("-o", "--output-dir", default=".", metavar="OUTDIR",
                   help="where to write the runtime (default: the current folder)")
    r.add_argument("--depfile", metavar="FILE",
                   help="write a make-style depfile: the runtime files depend on vmgen's "
                   "own copy of them (so an upgrade rewrites them)")
    r.add_argument("--list", action="store_true",
                   help="print the paths of the files it writes (compile the .c ones), "
                   "and write nothing")
    return parser


def _options(args: argparse.Namespace) -> Options:
    from vmgen.frontend import Options

    return Options(tuple(args.include_dirs), tuple(args.defines), args.cc, args.annotations)


def _generate_all(args: argparse.Namespace) -> tuple[list[Generated], dict[str, str]] | None:
    """Every header's outputs, or None after printing the diagnostics."""
    from vmgen.diagnostics import Diagnostic, format_all
    from vmgen.pipeline import Failed, Jobs, generate_all

    results = []
    outputs: dict[str, str] = {}
    owner: dict[str, str] = {}
    errors: list[str] = []
    for header, result in zip(args.headers, generate_all(args.headers, _options(args),
                                                          Jobs(args.jobs)), strict=True):
        if isinstance(result, Failed):
            errors.append(result.message)
            continue
        results.append(result)
        if result.warnings:
            print(format_all(result.warnings), file=sys.stderr)
        for name, text in result.files.items():
            if name in outputs:
                errors.append(Diagnostic(None, f"'{header}' and '{owner[name]}' would both "
                                         f"write '{name}'").format())
            outputs[name] = text
            owner[name] = header
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return None
    return results, outputs


def _generate(args: argparse.Namespace) -> int:
    from vmgen.output import write_all, write_if_changed

    done = _generate_all(args)
    if done is None:
        return 1
    results, outputs = done
    outdir = Path(args.output_dir)
    write_all(outdir, outputs)
    if args.depfile:
        from vmgen.depfile import depfile

        targets = args.depfile_target or [str(outdir / name) for name in outputs]
        inputs = [d for r in results for d in r.module.dependencies]
        if args.annotations:
            inputs.append(args.annotations)
        write_if_changed(Path(args.depfile), depfile(targets, inputs))
    return 0


def _check(args: argparse.Namespace) -> int:
    import difflib
    import json

    from vmgen.compat import compare
    from vmgen.pipeline import schema_file

    done = _generate_all(args)
    if done is None:
        return 1
    results, outputs = done
    outdir = Path(args.output_dir)
    failed = False
    for name, text in outputs.items():
        path = outdir / name
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            print(f"{path}: missing: run vmgen generate", file=sys.stderr)
            failed = True
            continue
        if current != text:
            failed = True
            sys.stderr.writelines(difflib.unified_diff(
                current.splitlines(keepends=True), text.splitlines(keepends=True),
                fromfile=f"{path} (on disk)", tofile=f"{path} (vmgen generate)"))
    for result in results:
        path = outdir / schema_file(result.module)
        baseline = _baseline(path, args.baseline)
        if baseline is None:
            continue
        try:
            old = json.loads(baseline)
        except ValueError:
            print(f"{path}: the baseline schema is not valid JSON", file=sys.stderr)
            failed = True
            continue
        new = json.loads(outputs[schema_file(result.module)])
        for change in compare(old, new):
            print(change.format(), file=sys.stderr if change.breaking else sys.stdout)
            failed = failed or change.breaking
    return 1 if failed else 0


def _baseline(path: Path, rev: str) -> str | None:
    """The committed schema at `path`: from git at `rev` when tracked, else the file."""
    import subprocess

    try:
        top = subprocess.run(["git", "-C", str(path.parent.resolve()), "rev-parse",
                              "--show-toplevel"], capture_output=True, text=True, check=False)
        if top.returncode == 0:
            rel = path.resolve().relative_to(Path(top.stdout.strip()).resolve()).as_posix()
            shown = subprocess.run(["git", "-C", top.stdout.strip(), "show", f"{rev}:{rel}"],
                                   capture_output=True, text=True, check=False)
            if shown.returncode == 0:
                return shown.stdout
    except (OSError, ValueError):
        pass
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _compat(args: argparse.Namespace) -> int:
    import json

    from vmgen.compat import compare

    schemas = []
    for name in (args.old, args.new):
        try:
            schemas.append(json.loads(Path(name).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            print(f"vmgen: error: cannot read the schema '{name}': {exc}", file=sys.stderr)
            return 1
    changes = compare(schemas[0], schemas[1])
    for change in changes:
        print(change.format())
    return 1 if any(c.breaking for c in changes) else 0


def _explain(args: argparse.Namespace) -> int:
    from vmgen.diagnostics import VmgenError
    from vmgen.explain import explain, vmstate
    from vmgen.pipeline import Jobs, build_module

    failed = False
    for header in args.headers:
        try:
            module = build_module(header, _options(args), jobs=Jobs(args.jobs))
            sys.stdout.write(vmstate(module) if args.vmstate else explain(module))
        except VmgenError as exc:
            print(exc, file=sys.stderr)
            failed = True
    return 1 if failed else 0


def _decode(args: argparse.Namespace) -> int:
    from vmgen.decode import decode
    from vmgen.diagnostics import VmgenError

    try:
        sys.stdout.write(decode(args.record, args.module, args.json))
    except VmgenError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def _convert(args: argparse.Namespace) -> int:
    from vmgen.decode import convert
    from vmgen.diagnostics import VmgenError
    from vmgen.output import write_bytes_if_changed

    try:
        data, note = convert(args.input, args.module, args.to, args.device, args.version)
    except VmgenError as exc:
        print(exc, file=sys.stderr)
        return 1
    write_bytes_if_changed(Path(args.output), data)
    print(note)
    return 0


def _runtime(args: argparse.Namespace) -> int:
    from vmgen.output import write_all, write_if_changed
    from vmgen.pipeline import runtime_files
    from vmgen.resources import RUNTIME_FILES, runtime_dir

    outdir = Path(args.output_dir)
    if args.list:
        print("\n".join(str(outdir / name) for name in RUNTIME_FILES))
        return 0
    write_all(outdir, runtime_files())
    if args.depfile:
        from vmgen.depfile import depfile

        write_if_changed(Path(args.depfile), depfile(
            [str(outdir / name) for name in RUNTIME_FILES],
            [str(runtime_dir() / name) for name in RUNTIME_FILES]))
    return 0


def run() -> NoReturn:
    """The `vmgen` command: `main`, then exit at once.  A run on a large header
    leaves millions of objects that the interpreter would free one by one on
    the way out (tens of milliseconds, for nothing): the output is flushed and
    the process ends without that."""
    status = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: nothing more can be said
        status = status or 1
    os._exit(status)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    commands = {"generate": _generate, "check": _check, "compat": _compat, "explain": _explain,
                "decode": _decode, "convert": _convert, "runtime": _runtime}
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"vmgen: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug in vmgen, never the user's fault
        if os.environ.get("VMGEN_DEBUG"):
            raise
        print(f"vmgen: internal error: {type(exc).__name__}: {exc} "
              "(a bug in vmgen; set VMGEN_DEBUG=1 for a traceback and report it)",
              file=sys.stderr)
        return 1
