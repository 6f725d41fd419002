"""The ``vmgen`` command.

Imports are lazy: ``vmgen --help`` loads argparse only, and no command of the
generator ever imports asn1tools.  ``vmgen stream to-ber|from-ber IN OUT`` (no option)
imports neither argparse, pathlib nor typing: its start-up is part of its measured
time (BENCHMARKS.md).
"""

from __future__ import annotations

import os
import sys

from vmgen import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from pathlib import Path
    from typing import NoReturn

    from vmgen.driver.pipeline import Generated
    from vmgen.frontend.source import Options

_DESCRIPTION = """\
Generate migration code and wire schemas from annotated C device-state structs.

Annotate the structs with the macros of vmgen.h (VMGEN_STATE, VMGEN_SKIP, ...),
then run `vmgen runtime` once and `vmgen generate` for each header.
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
    p.add_argument("-o", "--output-dir", default=None, metavar="OUTDIR",
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
        import argparse

        raise argparse.ArgumentTypeError(f"not a number of processes: '{text}'")
    return n


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="vmgen", description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vmgen {__version__}")
    sub = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")

    g = sub.add_parser(
        "generate", help="C visitors, ASN.1 module, Python codec and wire schema from headers",
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
        "check", help="exit 1 if generated files are stale or the wire format broke (for CI "
        "and pre-commit)",
        description="Check, without writing anything, that the generated files in OUTDIR "
        "are up to date and that the wire schemas stay compatible.",
        epilog=_CHECK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_input_options(c)
    c.add_argument("--baseline", default="HEAD", metavar="REV",
                   help="git revision holding the committed schemas (default: HEAD)")
    c.add_argument("--vmstate", metavar="DUMP.json",
                   help="QEMU's description of its devices (qemu-system-* -dump-vmstate "
                   "output, or a migration stream, whose JSON description is read): fail, at "
                   "the member's file:line, where a device state's legacy layout (VMGEN_VMSD) "
                   "differs from QEMU's table of that VMState in name, order, size, type, "
                   "version or subsections.  Without -o, only this check runs")

    k = sub.add_parser(
        "compat", help="compare two wire schemas (STEM.vmgen.json): compatible or breaking",
        description="Compare two wire schemas (STEM.vmgen.json) and list every change as "
        "compatible or breaking, with the file:line of the field in the header.",
        epilog="exit status: 0 if every change is compatible, 1 if one is breaking.",
    )
    k.add_argument("old", metavar="OLD.vmgen.json")
    k.add_argument("new", metavar="NEW.vmgen.json")

    x = sub.add_parser(
        "explain", help="print, per device state, what each C field becomes on the wire",
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
        "decode", help="print a saved record readably (from the generated Python module)",
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
        "runtime", help="write the C runtime (vmgen.h, visitor, DER writer, BER reader, legacy "
        "stream)",
        description="Write the C runtime the generated code needs: vmgen.h (the annotation "
        "macros), vmgen-visitor.h/.c (visitor interface, errors, records), "
        "vmgen-ber.h/.c (DER output and BER input visitors) and vmgen-legacy.h/.c (the "
        "legacy VMState stream's visitors).  C99, libc only.",
    )
    r.add_argument("-o", "--output-dir", default=".", metavar="OUTDIR",
                   help="where to write the runtime (default: the current folder)")
    r.add_argument("--depfile", metavar="FILE",
                   help="write a make-style depfile: the runtime files depend on vmgen's "
                   "own copy of them (so an upgrade rewrites them)")
    r.add_argument("--list", action="store_true",
                   help="print the paths of the files it writes (compile the .c ones), "
                   "and write nothing")
    _add_stream_parser(sub)
    imp = sub.add_parser(
        "import", help="write annotated headers in the wire layout of QEMU's device sections",
        description="Read QEMU's description of its device sections (the JSON description "
        "at the end of a migration stream) and write, for each device, an annotated C header "
        "whose structs hold the section's fields in the stream's order (VMGEN_VMSD layouts): "
        "the legacy codec vmgen generates from it reads and writes that section byte for "
        "byte.  A device whose section vmgen cannot carry (an old-style section without "
        "VMState) is listed on stderr and left out.",
        epilog="-dump-vmstate output has no field types and no array lengths, so it cannot "
        "give a byte-exact header on its own: import from a stream, and give the dump for "
        "what the stream does not say.  With --struct the struct gives types and lengths: "
        "the dump alone will do (a variable array's count is then named with --count).")
    imp.add_argument("--from", dest="source", metavar="STREAM.mig",
                     help="a migration stream QEMU saved (its JSON description is read)")
    imp.add_argument("--dump-vmstate", metavar="DUMP.json",
                     help="qemu-system-* -dump-vmstate output of the same QEMU: each device's "
                     "minimum version and the version each field came in (VMGEN_SINCE), so "
                     "the headers also read older streams")
    imp.add_argument("--device", action="append", default=[], metavar="NAME",
                     help="only this device, by VMState name or section idstr (repeatable); "
                     "then a device that cannot be imported is an error")
    imp.add_argument("-o", "--output-dir", default=None, metavar="OUT",
                     help="where to write the headers (default: the current folder); with "
                     "--struct, the annotations file (default: STRUCT.toml)")
    adopt = imp.add_argument_group(
        "a device's own struct",
        "With --struct, write instead the annotations file (TOML) that maps the device's "
        "own C struct onto QEMU's description of --device (from --from and/or "
        "--dump-vmstate): the member of each described field, the order, what is "
        "skipped, versions, counts, padding, timers and other host types, subsections "
        "with their predicates.  It is generated and compared with the description before "
        "it is written; what cannot be mapped is reported at the member's file:line and "
        "nothing is written.")
    adopt.add_argument("--struct", metavar="FILE:STRUCT",
                       help="the device's struct (typedef name or tag) in FILE, a header or "
                       "the device's .c file")
    adopt.add_argument("-I", dest="include_dirs", action="append", default=[], metavar="DIR",
                       help="the build's include path for FILE (repeatable)")
    adopt.add_argument("-D", dest="defines", action="append", default=[],
                       metavar="NAME[=VALUE]", help="the build's macros for FILE (repeatable)")
    adopt.add_argument("--cc", default="", metavar="COMMAND",
                       help="the C compiler used as preprocessor (default: $CC, else cc)")
    adopt.add_argument("--count", action="append", default=[], metavar="ARRAY=FIELD",
                       help="the member that counts a variable array (when the stream's "
                       "values do not tell)")
    adopt.add_argument("--needed", action="append", default=[], metavar="SUBSECTION=FUNCTION",
                       help="the function bool f(void *) that decides whether a subsection "
                       "is sent (when no single function of FILE has its name in its own)")
    return parser


_STREAM_EPILOG = """\
A QEMU migration stream (QEVM version 3, e.g. saved by `migrate "exec:cat > vm.mig"`)
is read whole, from FILE or stdin (-).  Device bodies carry no length: the JSON
description QEMU appends to the stream delimits them (QEMU writes it unless the
machine sets suppress-vmdesc).  RAM (section 'ram') is walked and carried opaque.

A generated module given with --module serves the sections of the VMStates its
SECTIONS mapping names: its device states marked VMGEN_VMSD("name"), such as those of
the headers `vmgen import` writes.

exit status: 0 on success, 1 on a stream that cannot be read (PATH: section 'IDSTR'
(instance N, id M) at offset K: MESSAGE on stderr; no output file is written).
"""


def _add_stream_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    import argparse

    s = sub.add_parser(
        "stream", help="list, decode and convert whole QEMU migration streams (QEVM v3)",
        description="Read whole QEMU migration streams (QEVM version 3): list their "
        "sections, decode them, convert them to one BER file and back, byte for byte.",
        epilog=_STREAM_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ss = s.add_subparsers(dest="stream_command", metavar="COMMAND", required=True)

    def modules(p: argparse.ArgumentParser) -> None:
        p.add_argument("--module", action="append", default=[], metavar="PATH",
                       help="a generated MOD_asn1.py, or a folder of them (repeatable): "
                       "the sections of the VMStates it declares are read through it")

    lst = ss.add_parser("list", help="one line per section",
                        description="Print every section: offset, section id, kind "
                        "(configuration, start, part, end, full), idstr, instance, version, "
                        "body size in bytes.")
    lst.add_argument("--json", action="store_true",
                     help="print a JSON array, one object per section")
    lst.add_argument("input", nargs="?", default="-", metavar="FILE|-")

    dec = ss.add_parser("decode", help="every section's fields by name",
                        description="Print every section in stream order.  A section a "
                        "--module serves is read by that module; any other device section "
                        "shows its fields as the JSON description lays them out (integers as "
                        "numbers, other types as hex); RAM is not shown.")
    modules(dec)
    dec.add_argument("--json", action="store_true",
                     help="print a JSON array, one object per section: idstr, instance_id, "
                     "version_id, state (the C struct of the module that read it, or null), "
                     "value (what the module's load_legacy returned, bytes as hex, or null)")
    dec.add_argument("--fields", action="store_true",
                     help="with --json, add \"fields\": the JSON description's view of the "
                     "body (null for RAM)")
    dec.add_argument("input", nargs="?", default="-", metavar="FILE|-")

    tob = ss.add_parser("to-ber", help="convert a stream to one BER file",
                        description="Write the whole stream as one DER value of the ASN.1 "
                        "module QEVM-Stream (`vmgen stream schema`): every record in order, "
                        "bodies as their exact bytes, or a device section a --module serves "
                        "as that module's record (with the subsections a C function decides "
                        "that the section held).  from-ber gives back the identical stream.")
    modules(tob)
    tob.add_argument("--strict", action="store_true",
                     help="fail on the first device section no --module serves, or that "
                     "its module cannot carry as a record")
    tob.add_argument("input", metavar="IN.mig|-")
    tob.add_argument("output", metavar="OUT.ber")

    fromb = ss.add_parser("from-ber", help="convert a BER file back to the stream",
                          description="Write the stream a to-ber file holds, byte for byte; "
                          "the stream is checked as it is written, and replaces OUT.mig only if it "
                          "is valid.")
    modules(fromb)
    fromb.add_argument("input", metavar="IN.ber|-")
    fromb.add_argument("output", metavar="OUT.mig")

    sch = ss.add_parser("schema", help="write the ASN.1 module of the BER file",
                        description="Write the ASN.1 module QEVM-Stream that describes "
                        "to-ber's output (qevm-stream.asn) to OUTDIR, or print it with -o -.")
    sch.add_argument("-o", "--output-dir", default=".", metavar="OUTDIR|-",
                     help="where to write qevm-stream.asn (default: the current folder; "
                     "- prints it)")


def _stream(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vmgen.runtime.qevm import StreamError
    from vmgen.tools import stream as st

    if args.stream_command in ("to-ber", "from-ber"):
        return _conversion(args.stream_command, args.input, args.output, args.module,
                           args.stream_command == "to-ber" and args.strict)
    try:
        if args.stream_command == "schema":
            text = st.schema_text()
            if args.output_dir == "-":
                sys.stdout.write(text)
            else:
                from vmgen.driver.output import write_if_changed

                write_if_changed(Path(args.output_dir) / st.SCHEMA_FILE, text)
            return 0
        served = st.section_modules(args.module) if args.stream_command == "decode" else {}
        with st.opened(args.input) as given:
            stream = st.parse_input(args.input, given.data)
            if args.stream_command == "list":
                sys.stdout.write(st.list_json(stream) if args.json else st.list_text(stream))
            else:
                try:
                    sys.stdout.write(st.decode_json(stream, served, args.fields) if args.json
                                     else st.decode_text(stream, served))
                except StreamError as exc:
                    raise st.CommandError(f"{st.display(args.input)}: {exc}") from None
    except st.CommandError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def _conversion(command: str, source: str, target: str, modules: list[str],
                strict: bool) -> int:
    """`vmgen stream to-ber` / `from-ber`."""
    from vmgen.tools import stream as st

    try:
        if command == "to-ber":
            st.to_ber(source, target, modules, strict)
        else:
            st.from_ber(source, target, modules)
    except st.CommandError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def _plain_conversion(words: list[str]) -> tuple[str, str, str] | None:
    """(command, IN, OUT) of ``stream to-ber|from-ber IN OUT`` without options (no word
    but a lone '-' starts with '-'), which needs no parser: building the parser of every
    command (and importing argparse, which imports gettext, locale and shutil with it)
    cost these commands about 10 ms of CPU at start-up (BENCHMARKS.md).  Any other
    command line goes through argparse, which reads such a one the same way."""
    if (len(words) == 4 and words[0] == "stream" and words[1] in ("to-ber", "from-ber")
            and all(w == "-" or not w.startswith("-") for w in words[2:])):
        return words[1], words[2], words[3]
    return None


def _import_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vmgen.driver.output import write_all
    from vmgen.runtime.qevm import StreamError
    from vmgen.tools import stream as st
    from vmgen.tools.importer import ImportFailure, dump_versions, import_devices

    if args.struct:
        return _adopt_command(args)
    if not args.source:
        print("vmgen import: give --from STREAM.mig (a dump alone has no field types or "
              "array lengths; with --struct, the struct gives them)", file=sys.stderr)
        return 1
    args.output_dir = args.output_dir or "."
    try:
        versions = None
        if args.dump_vmstate:
            dump = Path(args.dump_vmstate)
            try:
                versions = dump_versions(dump.read_bytes(), str(dump))
            except ImportFailure as exc:
                print(exc, file=sys.stderr)
                return 1
        with st.opened(args.source) as given:
            stream = st.parse_input(args.source, given.data)
            outcome = import_devices(stream.devices, Path(args.source).name, args.device,
                                     versions)
    except (st.CommandError, StreamError, ImportFailure) as exc:
        message = str(exc)
        prefix = f"{st.display(args.source)}: "
        print(message if message.startswith(prefix) else prefix + message, file=sys.stderr)
        return 1
    write_all(Path(args.output_dir), {name: h.text for name, h in outcome.headers.items()})
    for name, h in outcome.headers.items():
        print(f"{Path(args.output_dir) / name}: {h.state} serves VMState '{h.device}' "
              f"(version {h.version})")
    for note in outcome.skipped:
        print(f"vmgen import: left out {note}", file=sys.stderr)
    return 0


def _adopt_command(args: argparse.Namespace) -> int:
    """``vmgen import --struct FILE:STRUCT``: the annotations file of a device's own struct."""
    from pathlib import Path

    from vmgen.diagnostics import VmgenError, format_all
    from vmgen.driver.output import write_if_changed
    from vmgen.frontend.source import Options
    from vmgen.runtime import qevm
    from vmgen.tools import adopt, vmstate
    from vmgen.tools import stream as st

    path, sep, struct = args.struct.rpartition(":")
    pairs: dict[str, dict[str, str]] = {}
    for option, given in (("--count", args.count), ("--needed", args.needed)):
        pairs[option] = {}
        for text in given:
            key, eq, value = text.partition("=")
            if not eq or not key or not value:
                print(f"vmgen import: {option} '{text}': expected NAME=VALUE", file=sys.stderr)
                return 1
            pairs[option][key] = value
    if not sep or not path or not struct:
        print(f"vmgen import: --struct '{args.struct}': expected FILE:STRUCT", file=sys.stderr)
        return 1
    if len(args.device) != 1 or not (args.source or args.dump_vmstate):
        print("vmgen import --struct: name the device with one --device NAME and give "
              "QEMU's description (--from STREAM.mig and/or --dump-vmstate DUMP.json)",
              file=sys.stderr)
        return 1
    name = args.device[0]
    try:
        stream_desc, values = None, None
        if args.source:
            with st.opened(args.source) as given:
                stream = st.parse_input(args.source, given.data)
                for r in stream.records:
                    if isinstance(r, qevm.Section) and r.device is not None and \
                            name in (r.name, r.device.layout.vmsd_name):
                        stream_desc = vmstate.from_stream(r.device.layout)
                        values = qevm.fields(r.device.layout, stream.body(r))
                        break
            if stream_desc is None:
                raise vmstate.DescError(f"{st.display(args.source)}: no section or VMState "
                                        f"named '{name}'")
        desc = stream_desc
        if args.dump_vmstate:
            dumped = vmstate.from_dump(Path(args.dump_vmstate).read_bytes(), args.dump_vmstate)
            vmsd = stream_desc.name if stream_desc is not None else name
            d = dumped.get(vmsd)
            if d is None:
                raise vmstate.DescError(f"{args.dump_vmstate}: no VMState named '{vmsd}'")
            desc = vmstate.merged(stream_desc, d) if stream_desc is not None else d
        assert desc is not None
        sources = [Path(x).name for x in (args.source, args.dump_vmstate) if x]
        options = Options(tuple(args.include_dirs), tuple(args.defines), args.cc)
        done = adopt.adopt(path, struct, options, desc, values, pairs["--count"],
                           pairs["--needed"], " and ".join(sources))
    except (st.CommandError, qevm.StreamError, vmstate.DescError) as exc:
        print(exc, file=sys.stderr)
        return 1
    except adopt.AdoptError as exc:
        print(format_all(exc.diagnostics), file=sys.stderr)
        return 1
    except VmgenError as exc:
        print(format_all(exc.diagnostics), file=sys.stderr)
        return 1
    out = Path(args.output_dir or f"{struct}.toml")
    write_if_changed(out, done.text)
    for note in done.notes:
        print(f"vmgen import: {note}", file=sys.stderr)
    print(f"{out}: {struct} serves VMState '{desc.name}' (version {desc.version})")
    return 0


def _options(args: argparse.Namespace) -> Options:
    from vmgen.frontend.source import Options

    return Options(tuple(args.include_dirs), tuple(args.defines), args.cc, args.annotations)


def _generate_all(args: argparse.Namespace) -> tuple[list[Generated], dict[str, str]] | None:
    """Every header's outputs, or None after printing the diagnostics."""
    from vmgen.diagnostics import Diagnostic, format_all
    from vmgen.driver.pipeline import Failed, Jobs, generate_all

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
    from pathlib import Path

    from vmgen.driver.output import write_all, write_if_changed

    done = _generate_all(args)
    if done is None:
        return 1
    results, outputs = done
    outdir = Path(args.output_dir or ".")
    write_all(outdir, outputs)
    if args.depfile:
        from vmgen.driver.depfile import depfile

        targets = args.depfile_target or [str(outdir / name) for name in outputs]
        inputs = [d for r in results for d in r.module.dependencies]
        if args.annotations:
            inputs.append(args.annotations)
        write_if_changed(Path(args.depfile), depfile(targets, inputs))
    return 0


def _check(args: argparse.Namespace) -> int:
    import difflib
    import json
    from pathlib import Path

    from vmgen.driver.pipeline import schema_file
    from vmgen.tools.compat import compare

    done = _generate_all(args)
    if done is None:
        return 1
    results, outputs = done
    failed = False
    if args.vmstate:
        failed = not _check_vmstate(args.vmstate, results)
        if args.output_dir is None:
            return 1 if failed else 0
    outdir = Path(args.output_dir or ".")
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


def _check_vmstate(source: str, results: list[Generated]) -> bool:
    """The layouts of `results` against QEMU's description in `source` (printed)."""
    from pathlib import Path

    from vmgen.diagnostics import format_all
    from vmgen.tools import vmstate

    try:
        descs = vmstate.read_descriptions(source)
    except vmstate.DescError as exc:
        print(exc, file=sys.stderr)
        return False
    problems = [d for r in results
                for d in vmstate.check_module(r.module, descs, Path(source).name)]
    if problems:
        print(format_all(problems), file=sys.stderr)
        return False
    states = sum(1 for r in results for s in r.module.structs
                 if s.state is not None and s.vmsd is not None)
    print(f"vmgen check: {states} VMState layout{'s' if states != 1 else ''} equal "
          f"{Path(source).name}'s")
    return True


def _baseline(path: Path, rev: str) -> str | None:
    """The committed schema at `path`: from git at `rev` when tracked, else the file."""
    import subprocess
    from pathlib import Path

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
    from pathlib import Path

    from vmgen.tools.compat import compare

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
    from vmgen.driver.pipeline import Jobs, build_module
    from vmgen.tools.explain import explain, vmstate

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
    from vmgen.diagnostics import VmgenError
    from vmgen.tools.decode import decode

    try:
        sys.stdout.write(decode(args.record, args.module, args.json))
    except VmgenError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def _convert(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vmgen.diagnostics import VmgenError
    from vmgen.driver.output import write_bytes_if_changed
    from vmgen.tools.decode import convert

    try:
        data, note = convert(args.input, args.module, args.to, args.device, args.version)
    except VmgenError as exc:
        print(exc, file=sys.stderr)
        return 1
    write_bytes_if_changed(Path(args.output), data)
    print(note)
    return 0


def _runtime(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vmgen.driver.output import write_all, write_if_changed
    from vmgen.driver.pipeline import runtime_files
    from vmgen.resources import RUNTIME_FILES, runtime_dir

    outdir = Path(args.output_dir or ".")
    if args.list:
        print("\n".join(str(outdir / name) for name in RUNTIME_FILES))
        return 0
    write_all(outdir, runtime_files())
    if args.depfile:
        from vmgen.driver.depfile import depfile

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
    words = list(sys.argv[1:] if argv is None else argv)
    plain = _plain_conversion(words)
    try:
        if plain is not None:
            return _conversion(*plain, modules=[], strict=False)
        parser = build_parser()
        args = parser.parse_args(words)
        if args.command is None:
            parser.print_help()
            return 1
        commands = {"generate": _generate, "check": _check, "compat": _compat,
                    "explain": _explain, "decode": _decode, "convert": _convert,
                    "runtime": _runtime, "stream": _stream, "import": _import_command}
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
