"""Generator hardening: hostile or broken headers (tests/hostile/ plus generated giants).

For each: exit status 1, no traceback or internal error, nothing written, a bounded run
time, and its exact diagnostics: tests/hostile/NAME.err is the whole expected stderr of
NAME.h (hand-checked: FILE:LINE:COL points at the offending token; preprocessor failures
carry the compiler's own text, so the preprocessor is pinned to gcc, as in
test_diagnostics.py), which must also hold the key phrase written down here; the giants
generated at test time get the exact text with the position of their bad field.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import support

HOSTILE = Path(__file__).resolve().parent / "hostile"
TIMEOUT = 60
_H = '#include <stdint.h>\n#include "vmgen.h"\n'

# name -> key phrase of the error (a regular expression)
EXPECTED: dict[str, str] = {
    "array_char_literal_huge": r"array size is not an integer constant",
    "collision_case": r"both map to the ASN.1 name 'ier'",
    "collision_record_name": r"both map to the ASN.1 name 'S-Record'",
    "collision_types": r"both map to the ASN.1 name 'My-dev'",
    "collision_underscores": r"both map to the ASN.1 name 'a-b'",
    "division_by_zero_macro": r"division by zero",
    "enum_huge_value": r"does not fit in 64 bits",
    "error_directive": r"#error \"this header refuses to be parsed\"",
    "function_in_struct": r"pointers cannot be migrated",
    "include_self": r"#include nested depth",
    "macro_annotation_redefined": r"VMGEN_SKIP takes 0 arguments, got 3",
    "macro_hides_brace": r"pointers cannot be migrated",
    "macro_recursive_self": r"'N' is not an enumeration constant",
    "macro_token_paste_pointer": r"pointers cannot be migrated",
    "missing_include": r"no/such/header.h: No such file or directory",
    "mutual_recursion_pointers": r"pointers cannot be migrated",
    "name_without_asn1_form": r"has no ASN.1 name",
    "non_utf8_comment": r"pointers cannot be migrated",
    "non_utf8_identifier": r"not UTF-8",
    "nul_in_comment": r"pointers cannot be migrated",
    "only_skipped": r"has no migrated fields",
    "range_inverted_huge": r"is empty",
    "recursion_by_value": r"contains itself",
    "recursion_through_pointer": r"pointers cannot be migrated",
    "reserved_word_type": r"ASN.1 reserved word 'INTEGER'",
    "size_is_self": r"is not an integer",
    "syntax_garbage": r"Illegal character '@'",
    "syntax_missing_semicolon": r"syntax error before '}'",
    "syntax_unbalanced_brace": r"syntax error",
    "unterminated_comment": r"unterminated comment",
    "version_overflow": r"outside 0..4294967295",
}

# Diagnostics that come without FILE:LINE:COL (vmgen's own, not the compiler's).

# Headers vmgen accepts although no C compiler does (the array cannot exist).
ACCEPTED_WRONGLY = {
    "array_1ull_shl_62": "uint8_t x[1ULL << 62] is accepted (SIZE (4611686018427387904))",
    "array_overflow_size_t": "uint8_t x[0xffffffffffffffffULL] is accepted",
    "array_product_overflow": "uint32_t x[1ULL << 40][1ULL << 40] (2^80 elements) is accepted",
    "array_shift_too_far": "1ULL << 70 is folded to 2^70 (C: shift count >= width, UB) "
                           "and accepted",
    "array_negative_via_overflow": "x[(int)0x80000000] is folded to 2147483648 (the cast is "
                                   "ignored; C gives a negative size) and accepted",
    "array_huge_struct_elements": "E x[1 << 20] of 8 MiB elements (8 TiB) is accepted",
}

# Accepted on purpose: gcc ignores NUL bytes outside comments with a warning.
ACCEPTED_LIKE_THE_COMPILER = {"nul_byte"}


def _generated() -> dict[str, bytes]:
    """Giants written at test time (not stored): each ends in a pointer field error."""
    ptr = " uint32_t *p; } S;\n"
    return {
        "many_fields_10000": (_H + "typedef struct VMGEN_STATE(1, 1) S {\n"
                              + "".join(f"    uint32_t f{i};\n" for i in range(10000))
                              + "   " + ptr).encode(),
        "long_identifier_200k": (_H + "typedef struct VMGEN_STATE(1, 1) S { uint32_t "
                                 + "a" * 200_000 + ";" + ptr).encode(),
        "long_line_1mb": (_H + "typedef struct VMGEN_STATE(1, 1) S {" + " " * 1_000_000
                          + ptr).encode(),
    }


# Giants that make vmgen hit Python's recursion limit (an internal error).
RECURSION = {
    "deep_parens_5000": _H + "typedef struct VMGEN_STATE(1, 1) S { uint8_t x["
    + "(" * 5000 + "1" + ")" * 5000 + "]; uint32_t *p; } S;\n",
    "long_sum_20000": _H + "typedef struct VMGEN_STATE(1, 1) S { uint8_t x["
    + "1+" * 20000 + "1]; uint32_t *p; } S;\n",
    "macro_chain_150": _H + "#define M0 1\n" + "".join(
        f"#define M{i} (M{i - 1})\n" for i in range(1, 150))
    + "typedef struct VMGEN_STATE(1, 1) S { uint8_t x[M149]; uint32_t *p; } S;\n",
    "nested_structs_200": _H + "".join(
        f"typedef struct S{i} {{ {f'struct S{i - 1} s;' if i else 'uint8_t a;'} }} S{i};\n"
        for i in range(200)) + "typedef struct VMGEN_STATE(1, 1) T { S199 s; uint32_t *p; } T;\n",
    "nested_anonymous_300": _H + "typedef struct VMGEN_STATE(1, 1) T { " + "struct { " * 300
    + "uint8_t a;" + " } s;" * 300 + " uint32_t *p; } T;\n",
}


def _run(header: Path, out: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """`vmgen generate` of `header`, given by its bare name in its own folder (so messages
    read NAME.h:LINE:COL), with gcc as the preprocessor."""
    if shutil.which("gcc") is None:
        message = "the expected diagnostics are gcc's; gcc is not installed"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    out.mkdir()
    start = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k != "VMGEN_DEBUG"}
    proc = subprocess.run([sys.executable, "-m", "vmgen", "generate", "-I", str(support.FIXTURES),
                           "-o", str(out), header.name], cwd=header.parent,
                          capture_output=True, text=True, errors="replace", timeout=TIMEOUT,
                          check=False, env={**env, "CC": "gcc"})
    return proc, time.monotonic() - start


def _position(text: str, token: str) -> str:
    """LINE:COL (1-based) of the first `token` in `text`."""
    at = text.index(token)
    return f"{text.count(chr(10), 0, at) + 1}:{at - text.rfind(chr(10), 0, at)}"


def _refused(proc: subprocess.CompletedProcess[str], out: Path, seconds: float) -> None:
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "error:" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert list(out.iterdir()) == [], "files written"
    assert seconds < TIMEOUT


def test_corpus_is_complete() -> None:
    stored = {p.stem for p in HOSTILE.glob("*.h")}
    assert stored == set(EXPECTED) | set(ACCEPTED_WRONGLY) | ACCEPTED_LIKE_THE_COMPILER
    # every refused header has its exact diagnostics, and no .err is left over
    assert {p.stem for p in HOSTILE.glob("*.err")} == stored - ACCEPTED_LIKE_THE_COMPILER
    assert len(stored) + len(_generated()) + len(RECURSION) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_header_is_refused(name: str, tmp_path: Path) -> None:
    header = HOSTILE / f"{name}.h"
    proc, seconds = _run(header, tmp_path / "out")
    _refused(proc, tmp_path / "out", seconds)
    assert proc.stderr == (HOSTILE / f"{name}.err").read_text(encoding="utf-8")
    assert re.search(EXPECTED[name], proc.stderr), proc.stderr[-2000:]
    assert re.search(rf"^{re.escape(header.name)}:\d+:\d+: (fatal )?error: ", proc.stderr,
                     re.MULTILINE)


def test_syntax_error_without_parser_coordinates_gets_the_token_position(
        tmp_path: Path) -> None:
    """pycparser raises 'Invalid specifier list' with no LINE:COL; vmgen places it at the
    token the parser stopped at, on the user's line (the line holds a macro)."""
    header = HOSTILE / "syntax_unbalanced_brace.h"
    proc, _ = _run(header, tmp_path / "out")
    assert proc.stderr == (f"{header.name}:4:51: error: syntax error before 'S' "
                           "(invalid specifier list)\n")


@pytest.mark.parametrize("name", sorted(_generated()))
def test_giant_header_is_refused_in_bounded_time(name: str, tmp_path: Path) -> None:
    header = tmp_path / f"{name}.h"
    header.write_bytes(_generated()[name])
    proc, seconds = _run(header, tmp_path / "out")
    _refused(proc, tmp_path / "out", seconds)
    text = _generated()[name].decode()
    assert proc.stderr == (
        f"{header.name}: In struct 'S':\n"
        f"{header.name}:{_position(text, 'p; } S;')}: error: field 'p' (uint32_t *): pointers "
        "cannot be migrated: mark the field VMGEN_SKIP (or VMGEN_SIZE_IS(count) for a buffer "
        "of count elements)\n")
    assert seconds < 20


@pytest.mark.parametrize("name", sorted(RECURSION))
def test_deep_header_gets_a_diagnostic(name: str, tmp_path: Path) -> None:
    header = tmp_path / f"{name}.h"
    header.write_text(RECURSION[name])
    proc, seconds = _run(header, tmp_path / "out")
    _refused(proc, tmp_path / "out", seconds)
    assert proc.stderr == (f"{header.name}: error: the header nests declarations or "
                           "expressions too deeply for vmgen (hundreds of levels)\n")


@pytest.mark.parametrize("name", sorted(ACCEPTED_WRONGLY))
def test_impossible_array_is_refused(name: str, tmp_path: Path) -> None:
    proc, seconds = _run(HOSTILE / f"{name}.h", tmp_path / "out")
    _refused(proc, tmp_path / "out", seconds)
    assert proc.stderr == (HOSTILE / f"{name}.err").read_text(encoding="utf-8")
    assert re.search(r"array size -?\d+ is (too large|not positive)|elements in all|"
                     r"values in all",
                     proc.stderr), proc.stderr


def test_nul_byte_is_ignored_like_the_compiler(tmp_path: Path) -> None:
    """gcc drops a NUL byte outside comments with a warning; vmgen follows it."""
    proc, _ = _run(HOSTILE / "nul_byte.h", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    asn = (tmp_path / "out" / "nul_byte.asn").read_text()
    assert "a  INTEGER" in asn and "b  INTEGER" in asn


def test_schema_deeper_than_the_reader_is_refused(tmp_path: Path) -> None:
    header = tmp_path / "deep70.h"
    header.write_text(_H + "".join(
        f"typedef struct S{i} {{ {f'struct S{i - 1} s;' if i else 'uint8_t a;'} }} S{i};\n"
        for i in range(70)) + "typedef struct VMGEN_STATE(1, 1) T { S69 s; } T;\n")
    proc, seconds = _run(header, tmp_path / "out")
    _refused(proc, tmp_path / "out", seconds)
    assert proc.stderr == (
        f"deep70.h:{_position(header.read_text(), 'T { S69')}: error: device state 'T' nests "
        "72 levels deep (structs, arrays, unions); the C loader reads at most 64\n")
