"""Where the shipped templates, runtime and probe header live.

In a wheel they are installed as ``vmgen/templates``; in a source checkout
they are the top-level ``templates/`` folder next to the package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def templates_dir() -> Path:
    for candidate in (_PACKAGE / "templates", _PACKAGE.parent / "templates"):
        if (candidate / "runtime" / "vmgen.h").is_file():
            return candidate
    raise RuntimeError(f"vmgen's templates are missing (looked in {_PACKAGE})")


def runtime_dir() -> Path:
    return templates_dir() / "runtime"


def probe_header() -> Path:
    return templates_dir() / "probe" / "vmgen-target.h"


RUNTIME_FILES = (
    "vmgen.h",
    "vmgen-visitor.h",
    "vmgen-visitor.c",
    "vmgen-ber.h",
    "vmgen-ber.c",
    "vmgen-legacy.h",
    "vmgen-legacy.c",
)
