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

from vmgen import __version__

_DESCRIPTION = """\
Generate migration code and wire schemas from annotated C device-state structs.

Annotate the structs with the macros of vmgen.h (VMGEN_STATE, VMGEN_SKIP, ...),
then run `vmgen runtime` once and `vmgen generate` for each header.
"""

_GENERATE_EPILOG = """\
For each HEADER (STEM.h) vmgen writes into OUTDIR:
  STEM-visit.h, STEM-visit.c  C visitors, vmgen_save_S() and vmgen_load_S()
                              for each device state S
  STEM.asn                    the ASN.1 module of the wire format
  MOD_asn1.py                 a Python codec (asn1tools): save/load/encode/decode
                              (MOD is STEM with non-identifier characters as _)
Files whose text did not change are not touched.  On any error nothing is written.

The header is preprocessed by $CC (default cc) with VMGEN defined, the given
-I/-D flags, and vmgen.h on the include path.

exit status: 0 on success, 1 on an error in the input (diagnostics on stderr).
"""


def _add_preprocessor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-I", dest="include_dirs", action="append", default=[], metavar="DIR",
                   help="add DIR to the preprocessor's include path (repeatable)")
    p.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME[=VALUE]",
                   help="define a preprocessor macro (repeatable)")
    p.add_argument("--cc", default="", metavar="COMMAND",
                   help="the C compiler used as preprocessor (default: $CC, else cc)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vmgen", description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vmgen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    g = sub.add_parser(
        "generate", help="generate C visitors, ASN.1 and Python modules from headers",
        description="Generate C visitors, the ASN.1 module and the Python codec for the "
        "device states (VMGEN_STATE structs) of each HEADER.",
        epilog=_GENERATE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g.add_argument("-o", "--output-dir", default=".", metavar="OUTDIR",
                   help="where to write the generated files (default: the current folder)")
    _add_preprocessor_options(g)
    g.add_argument("headers", nargs="+", metavar="HEADER", help="annotated C header")

    r = sub.add_parser(
        "runtime", help="write the C runtime (vmgen.h, visitor, DER writer, BER reader)",
        description="Write the C runtime the generated code needs: vmgen.h (the annotation "
        "macros), vmgen-visitor.h/.c (visitor interface, errors, records) and "
        "vmgen-ber.h/.c (DER output and BER input visitors).  C99, libc only.",
    )
    r.add_argument("-o", "--output-dir", default=".", metavar="OUTDIR",
                   help="where to write the runtime (default: the current folder)")
    return parser


def _generate(args: argparse.Namespace) -> int:
    from vmgen.diagnostics import Diagnostic, VmgenError
    from vmgen.frontend import Options
    from vmgen.output import write_all
    from vmgen.pipeline import generate

    options = Options(tuple(args.include_dirs), tuple(args.defines), args.cc)
    outputs: dict[str, str] = {}
    owner: dict[str, str] = {}
    errors: list[str] = []
    for header in args.headers:
        try:
            result = generate(header, options)
        except VmgenError as exc:
            errors.append(str(exc))
            continue
        for name, text in result.files.items():
            if name in outputs:
                errors.append(Diagnostic(None, f"'{header}' and '{owner[name]}' would both "
                                         f"write '{name}'").format())
            outputs[name] = text
            owner[name] = header
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    write_all(Path(args.output_dir), outputs)
    return 0


def _runtime(args: argparse.Namespace) -> int:
    from vmgen.output import write_all
    from vmgen.pipeline import runtime_files

    write_all(Path(args.output_dir), runtime_files())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    commands = {"generate": _generate, "runtime": _runtime}
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
