"""Shared test machinery: run the real vmgen CLI, compile with the real compiler,
render C assignments for a value, and Hypothesis strategies from the IR.

Nothing here reimplements what it tests: values are set in C by plain C
assignments (not by vmgen's loader), and compared in Python through the
generated module and asn1tools.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import struct
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

from hypothesis import strategies as st

from vmgen.driver.pipeline import build_module
from vmgen.frontend.source import Options
from vmgen.lowering import ir

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
FIXTURE_HEADERS = ("rtc", "uart", "pit", "display", "scalars", "hpet", "nic", "usb", "vnet",
                   "counts")
# Fixture headers that are C11, not C99 (anonymous struct members).
C11_ONLY = frozenset({"nic"})

CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]


def compilers() -> list[str]:
    """The C compilers to test with: gcc, and clang.  A missing clang is an error in CI
    (env CI set) and a warning elsewhere (in pytest's warnings summary), never silent."""
    found = [cc for cc in ("gcc", "clang") if shutil.which(cc)]
    if "clang" not in found:
        message = "clang is not installed: the tests that compile with each compiler use gcc only"
        if os.environ.get("CI"):
            raise RuntimeError(f"{message}; clang is required in CI (.ci/run installs it)")
        warnings.warn(message, stacklevel=2)
    return found


# C for test drivers that read data as hex from stdin: unhex(hex, out) -> bytes written.
C_UNHEX = """\
static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;

    for (size_t i = 0; i < n; i++) {
        unsigned byte;

        sscanf(hex + 2 * i, "%2x", &byte);
        out[i] = (uint8_t)byte;
    }
    return n;
}
"""


def run_vmgen(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vmgen", *args],
        cwd=cwd, capture_output=True, text=True, check=False,
    )


def generate(stem: str, out: Path) -> Path:
    """Generate the runtime and the outputs of fixtures/STEM.h into `out` via the CLI."""
    for args in (["runtime", "-o", str(out)],
                 ["generate", "-I", str(FIXTURES), "-o", str(out), str(FIXTURES / f"{stem}.h")]):
        proc = run_vmgen(*args)
        assert proc.returncode == 0, proc.stderr
    return out


RUNTIME_SOURCES = ("vmgen-visitor.c", "vmgen-ber.c", "vmgen-legacy.c")


def runtime_sources(out: Path) -> list[Path]:
    """The runtime's C files, as `vmgen runtime -o out` writes them."""
    return [out / name for name in RUNTIME_SOURCES]


def compile_c(sources: list[Path], exe: Path, cc: str = "gcc", extra: list[str] | None = None,
              include: list[Path] | None = None) -> Path:
    cmd = [cc, *CFLAGS, "-O1", *(extra or [])]
    for d in include or []:
        cmd += ["-I", str(d)]
    cmd += [str(s) for s in sources] + ["-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    return exe


def import_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem + f"_{abs(hash(path))}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def names_module(stem: str) -> str:
    from vmgen.checks.names import python_module

    return python_module(stem)


def fixture_module(stem: str) -> ir.Module:
    return build_module(str(FIXTURES / f"{stem}.h"), Options(include_dirs=(str(FIXTURES),)))


# ---- floats, handled bit by bit ---------------------------------------------------------


def f64_from_bits(bits: int) -> float:
    return float(struct.unpack(">d", struct.pack(">Q", bits))[0])


def f64_bits(x: float) -> int:
    return int(struct.unpack(">Q", struct.pack(">d", x))[0])


def f32_from_bits(bits: int) -> float:
    """The double holding binary32 `bits` exactly (NaN payloads widened, not quieted)."""
    if (bits >> 23) & 0xFF == 0xFF and bits & 0x7FFFFF:
        return f64_from_bits(((bits >> 31) << 63) | (0x7FF << 52) | ((bits & 0x7FFFFF) << 29))
    return float(struct.unpack(">f", struct.pack(">I", bits))[0])


def f32_bits(x: float) -> int:
    if x != x:
        b = f64_bits(x)
        return ((b >> 63) << 31) | (0xFF << 23) | ((b & ((1 << 52) - 1)) >> 29)
    return int(struct.unpack(">I", struct.pack(">f", x))[0])


# ---- Hypothesis strategies from the IR ----------------------------------------------------

_PRINTABLE = st.characters(min_codepoint=32, max_codepoint=126)


def _count_range(lo: int, hi: int, limit: int) -> st.SearchStrategy[int]:
    """Element counts from lo..hi: small ones, and the full capacity when it is not huge."""
    small = st.integers(lo, min(hi, lo + limit))
    return st.one_of(small, st.just(hi)) if hi <= 20000 else small


def _sized_bytes(n: int) -> st.SearchStrategy[bytes]:
    """n bytes; long buffers tile a drawn pattern (Hypothesis draws at most a few KiB)."""
    if n <= 256:
        return st.binary(min_size=n, max_size=n)
    return st.binary(min_size=1, max_size=64).map(lambda p: (p * (n // len(p) + 1))[:n])


def _sized_list(element: st.SearchStrategy[Any], n: int) -> st.SearchStrategy[list[Any]]:
    """n elements; long arrays tile drawn elements."""
    if n <= 64:
        return st.lists(element, min_size=n, max_size=n)
    return st.lists(element, min_size=1, max_size=16).map(lambda xs: (xs * (n // len(xs) + 1))[:n])


def strategy(module: ir.Module, t: ir.WireType, const_zero: bool = False) -> st.SearchStrategy[Any]:
    if isinstance(t, ir.IntType):
        edges = [t.min, t.max] + [v for v in (0, -1, 1) if t.min <= v <= t.max]
        return st.one_of(st.sampled_from(edges), st.integers(t.min, t.max))
    if isinstance(t, ir.BoolType):
        return st.booleans()
    if isinstance(t, ir.FloatType):
        if t.bits == 32:
            return st.integers(0, 2**32 - 1).map(f32_from_bits)
        return st.integers(0, 2**64 - 1).map(f64_from_bits)
    if isinstance(t, ir.ExternalType):
        return strategy(module, t.wire)
    if isinstance(t, ir.StringType):
        return st.text(_PRINTABLE, max_size=t.capacity - 1)
    if isinstance(t, ir.BytesType):
        if t.count is None:
            return _sized_bytes(t.length)
        assert t.count.fixed, "flexible arrays and pointers need a destination of their size"
        return _count_range(t.count.min, t.count.max, 64).flatmap(_sized_bytes)
    if isinstance(t, ir.ArrayType):
        element = strategy(module, t.element, const_zero)
        if t.count is None:
            return _sized_list(element, t.length)
        assert t.count.fixed, "flexible arrays and pointers need a destination of their size"
        return _count_range(t.count.min, t.count.max, 6).flatmap(
            lambda n: _sized_list(element, n))
    if isinstance(t, ir.EnumRef):
        return st.sampled_from([e.name for e in module.enum(t.name).enumerators])
    if isinstance(t, ir.UnionRef):
        raise AssertionError("a union is drawn with its discriminator (struct_strategy)")
    return struct_strategy(module, t.name, const_zero)


def struct_strategy(module: ir.Module, name: str,
                    const_zero: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """Values of struct `name` (C view) with consistent counts and union discriminators.
    `const_zero`: const fields are 0 (what a zeroed destination holds)."""
    s = module.struct(name)

    @st.composite
    def draw(data: st.DrawFn) -> dict[str, Any]:
        value: dict[str, Any] = {}
        for f in s.wire:
            assert f.type is not None
            if f.selector is not None:
                u = module.union(f.type.name)  # type: ignore[union-attr]
                member = data(st.sampled_from(u.members))
                value[f.name] = {member.name: data(strategy(module, member.type, const_zero))}
                case = data(st.sampled_from(member.cases))
                sel = s.field(f.selector)
                if isinstance(sel.type, ir.EnumRef):
                    names = [e.name for e in module.enum(sel.type.name).enumerators
                             if e.value == case]
                    value[f.selector] = names[0]
                else:
                    value[f.selector] = case
            elif f.const and const_zero:
                value[f.name] = 0 if isinstance(f.type, ir.IntType) else data(
                    strategy(module, f.type))
            elif f.name not in value:
                value[f.name] = data(strategy(module, f.type, const_zero))
        for f in s.migrated:
            if f.count_of is not None:
                value[f.name] = len(value[f.count_of])
        return value

    return draw()


# ---- C assignments for a value ------------------------------------------------------------


def _c_copy(lvalue: str, data: bytes) -> str:
    """memcpy of `data` into `lvalue` (an array initializer: C99 caps string literals)."""
    if not data:
        return ""
    items = ", ".join(str(b) for b in data)
    return (f"{{ static const unsigned char b[{len(data)}] = {{{items}}}; "
            f"memcpy({lvalue}, b, {len(data)}); }}")


_C_INT = {"int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "int64": "int64_t",
          "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t", "uint64": "uint64_t",
          "char": "char", "schar": "signed char", "uchar": "unsigned char", "short": "short",
          "ushort": "unsigned short", "int": "int", "uint": "unsigned int", "long": "long",
          "ulong": "unsigned long", "llong": "long long", "ullong": "unsigned long long"}


def _int_literal(t: ir.IntType, value: int) -> str:
    if t.signed:
        return "INT64_MIN" if value == -(2**63) else f"INT64_C({value})"
    return f"UINT64_C({value})"


def c_int_max(t: ir.IntType) -> str:
    """The largest value of `t`, as a C literal."""
    return _int_literal(t, t.max)


def c_assignments(module: ir.Module, t: ir.WireType, lvalue: str, value: Any,
                  field: ir.Field | None = None) -> list[str]:
    """C statements that store `value` (C view) into `lvalue` without using vmgen."""
    if field is not None and field.const:
        assert isinstance(t, ir.IntType)
        return [f"{{ {_C_INT[t.visitor]} v = ({_C_INT[t.visitor]}){_int_literal(t, value)}; "
                f"memcpy((void *)&{lvalue}, &v, sizeof v); }}"]
    if isinstance(t, ir.IntType):
        return [f"{lvalue} = {_int_literal(t, value)};"]
    if isinstance(t, ir.BoolType):
        return [f"{lvalue} = {'true' if value else 'false'};"]
    if isinstance(t, ir.FloatType):
        if t.bits == 32:
            return [f"{{ uint32_t b = UINT32_C({f32_bits(value)}); memcpy(&{lvalue}, &b, 4); }}"]
        return [f"{{ uint64_t b = UINT64_C({f64_bits(value)}); memcpy(&{lvalue}, &b, 8); }}"]
    if isinstance(t, ir.StringType):
        return [_c_copy(lvalue, value.encode() + bytes(1))]
    if isinstance(t, ir.BytesType):
        return [_c_copy(lvalue, value)] if value else []
    if isinstance(t, ir.ArrayType):
        out = []
        for i, v in enumerate(value):
            out += c_assignments(module, t.element, f"{lvalue}[{i}]", v)
        return out
    if isinstance(t, ir.EnumRef):
        return [f"{lvalue} = {value};"]
    if isinstance(t, ir.UnionRef):
        ((member, inner),) = value.items()
        m = next(m for m in module.union(t.name).members if m.name == member)
        return c_assignments(module, m.type, f"{lvalue}.{member}", inner)
    assert isinstance(t, ir.StructRef)
    out = []
    for f in module.struct(t.name).migrated:
        assert f.type is not None
        if f.name in value:  # a partial value leaves the other fields alone
            out += c_assignments(module, f.type, f"{lvalue}.{f.name}", value[f.name], f)
    return out


def has_specialized_codec(module: ir.Module, state: str) -> bool:
    """Whether the C backend gives `state` a specialized DER writer / BER reader."""
    from vmgen.backends import cfast

    return any(s.name == state for s in cfast.plan(module).states)


def has_legacy_codec(module: ir.Module, state: str) -> bool:
    """Whether the C backend gives `state`'s legacy stream a specialized writer / reader."""
    from vmgen.backends import clegacy

    return any(s.name == state for s in clegacy.plan(module).states)


def const_paths(module: ir.Module, struct: str, base: str) -> list[str]:
    """The const fields reachable from a struct by value (not through arrays)."""
    out = []
    for f in module.struct(struct).migrated:
        if f.const:
            out.append(f"{base}.{f.name}")
        elif isinstance(f.type, ir.StructRef):
            out += const_paths(module, f.type.name, f"{base}.{f.name}")
    return out


DRIVER_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void put_hex(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        printf("%02x", buf[i]);
    }
}

static inline size_t get_hex(const char *text, uint8_t *buf)
{
    size_t n = 0;
    unsigned b;
    while (sscanf(text + 2 * n, "%2x", &b) == 1) {
        buf[n++] = (uint8_t)b;
    }
    return n;
}
"""


def driver_source(module: ir.Module, visit_header: str) -> str:
    """A program: each stdin line `STATE HEX` is loaded and saved again; prints
    `OK HEX` or `ERR message`, and whether the object changed on a failed load."""
    lines = [f'#include "{visit_header}"', DRIVER_MAIN]
    lines.append("static char line[1 << 22];\nstatic uint8_t in[1 << 21];\n")
    lines.append("int main(void)\n{\n    while (fgets(line, sizeof line, stdin)) {")
    lines.append("        char *hex = strchr(line, ' ');\n        size_t n;\n"
                 "        Error *err = NULL;\n        uint8_t *out = NULL;\n"
                 "        size_t outlen = 0;\n        bool ok = false, same = true;\n"
                 "        if (!hex) {\n            return 2;\n        }\n"
                 "        *hex++ = 0;\n        n = get_hex(hex, in);")
    for s in module.states:
        lines.append(f'        if (strcmp(line, "{s.name}") == 0) {{\n'
                     f"            static {s.c_type} obj, before;\n"
                     "            memset(&obj, 0xa5, sizeof obj);\n"
                     + "".join(f"            memset((void *)&{p}, 0, sizeof {p});\n"
                               for p in const_paths(module, s.name, "obj"))
                     + "            memcpy(&before, &obj, sizeof obj);\n"
                     f"            ok = vmgen_load_{s.name}(&obj, in, n, &err);\n"
                     "            same = memcmp(&before, &obj, sizeof obj) == 0;\n"
                     f"            if (ok) {{\n                ok = vmgen_save_{s.name}"
                     "(&obj, &out, &outlen, &err);\n            }\n        }")
    lines.append('        if (ok) {\n            printf("OK ");\n'
                 "            put_hex(out, outlen);\n"
                 '            printf("\\n");\n        } else {\n'
                 '            printf("ERR %s%s\\n", same ? "" : "[object changed] ",\n'
                 '                   err ? error_get_pretty(err) : "(no error)");\n'
                 "        }\n        free(out);\n        error_free(err);\n"
                 "        fflush(stdout);\n    }\n    return 0;\n}\n")
    return "\n".join(lines)


def setter_source(module: ir.Module, visit_header: str,
                  values: list[tuple[str, dict[str, Any]]]) -> str:
    """A program that sets each (state, value) with plain C assignments and prints its save."""
    out = [f'#include "{visit_header}"', DRIVER_MAIN]
    calls = []
    for i, (state, value) in enumerate(values):
        s = module.struct(state)
        body = c_assignments(module, ir.StructRef(state), "(*obj)", value)
        out.append(f"static void set_{i}({s.c_type} *obj)\n{{\n    " + "\n    ".join(body)
                   + "\n}\n")
        calls.append(
            f"    {{\n        static {s.c_type} obj;\n        uint8_t *buf = NULL;\n"
            "        size_t len = 0;\n        Error *err = NULL;\n"
            "        memset(&obj, 0, sizeof obj);\n"
            f"        set_{i}(&obj);\n"
            f"        if (!vmgen_save_{state}(&obj, &buf, &len, &err)) {{\n"
            '            printf("ERR %s\\n", error_get_pretty(err));\n'
            "            error_free(err);\n            return 1;\n        }\n"
            "        put_hex(buf, len);\n        printf(\"\\n\");\n        free(buf);\n    }")
    out.append("int main(void)\n{\n" + "\n".join(calls) + "\n    return 0;\n}\n")
    return "\n".join(out)
