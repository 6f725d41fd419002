"""Refusals: every tests/errors/NAME.h must make `vmgen generate` fail with NAME.err.

Each case runs the real CLI in a subprocess with cwd=tests/errors and the header
given by its bare name, so messages read ``NAME.h:LINE:COL: error: ...``; NAME.err
is the exact expected stderr (hand-checked: the line and column point at the
offending token, 1-based, counted in the original line).  For every case the exit
status is 1, stdout is empty, the output directory stays empty, and nothing looks
like a crash (no traceback, no "internal error").

The preprocessor is pinned to gcc (CC=gcc): missing_include.err and
error_directive.err hold gcc's own messages verbatim (vmgen passes them through
untouched), and clang words and formats them differently.  That is the only
normalisation; everything else is compared byte for byte.

The cases run concurrently in one fixture (each is a process start plus a
preprocessor run and a parse), which keeps this file well under the time budget.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ERRORS = Path(__file__).resolve().parent / "errors"
CASES = sorted(p.stem for p in ERRORS.glob("*.h"))

# Cases where vmgen is wrong today: NAME.err holds the message it should print.
# strict=True, so a fix makes the test XPASS-fail: then delete the entry.
XFAIL: dict[str, str] = {
}


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    written: list[str]  # what appeared in the output directory


def _env() -> dict[str, str]:
    env = dict(os.environ, CC="gcc")
    env.pop("VMGEN_DEBUG", None)  # a crash must show up as vmgen's own report
    return env


def _vmgen(*args: str, cwd: Path = ERRORS) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="vmgen-diag-") as tmp:
        out = Path(tmp) / "out"
        out.mkdir()
        proc = subprocess.run(
            [sys.executable, "-m", "vmgen", "generate", "-o", str(out), *args],
            cwd=cwd, capture_output=True, text=True, check=False, env=_env(), timeout=60,
        )
        written = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    return Outcome(proc.returncode, proc.stdout, proc.stderr, written)


@pytest.fixture(scope="session")
def outcomes() -> dict[str, Outcome]:
    if shutil.which("gcc") is None:
        message = "the expected messages are gcc's; gcc is not installed"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with ThreadPoolExecutor(max_workers=max(4, 2 * (os.cpu_count() or 1))) as pool:
        results = pool.map(lambda name: _vmgen(f"{name}.h"), CASES)
        return dict(zip(CASES, results, strict=True))


def _assert_refused(outcome: Outcome) -> None:
    assert "Traceback" not in outcome.stderr
    assert "internal error" not in outcome.stderr
    assert outcome.returncode == 1
    assert outcome.stdout == ""
    assert outcome.written == [], "an output file was written despite the error"


def _params() -> list[object]:
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=XFAIL[name]))
        if name in XFAIL else name
        for name in CASES
    ]


def test_cases_are_complete() -> None:
    assert len(CASES) >= 30
    expected = {p.stem for p in ERRORS.glob("*.err")}
    assert expected == set(CASES), "every NAME.h needs a NAME.err and vice versa"
    assert set(XFAIL) <= set(CASES)


@pytest.mark.parametrize("name", _params())
def test_refusal(name: str, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[name]
    _assert_refused(outcome)
    expected = (ERRORS / f"{name}.err").read_text(encoding="utf-8")
    assert outcome.stderr == expected


@pytest.mark.parametrize("name", CASES)
def test_never_crashes(name: str, outcomes: dict[str, Outcome]) -> None:
    """Independent of the exact message (so it holds for the xfail cases too)."""
    _assert_refused(outcomes[name])
    assert outcomes[name].stderr.strip(), "refused without saying why"


def test_nonexistent_header() -> None:
    outcome = _vmgen("no_such_file.h")
    _assert_refused(outcome)
    assert outcome.stderr == "vmgen: error: cannot read 'no_such_file.h': no such file\n"


def test_missing_preprocessor() -> None:
    outcome = _vmgen("--cc", "/nonexistent/cc", "pointer_field.h")
    _assert_refused(outcome)
    assert outcome.stderr == (
        "vmgen: error: cannot run the C preprocessor '/nonexistent/cc': "
        "No such file or directory\n"
    )


def test_every_header_is_reported(outcomes: dict[str, Outcome]) -> None:
    """Two broken headers in one run: both are reported, in command-line order.

    (`outcomes` only for its skip when gcc is missing.)"""
    outcome = _vmgen("pointer_field.h", "bit_field.h")
    _assert_refused(outcome)
    expected = [(ERRORS / f"{n}.err").read_text(encoding="utf-8") for n in
                ("pointer_field", "bit_field")]
    assert outcome.stderr == "".join(expected)
