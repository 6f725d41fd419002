"""Make-style depfiles (the format of gcc's ``-MD -MP``), for make, ninja and meson.

The rule names every output as a target and, as prerequisites, every file the
preprocessor read, the annotations file, and vmgen's own code, templates and
runtime (so an upgraded vmgen regenerates).  Each prerequisite also gets an
empty rule, so deleting a header does not break the build (``-MP``).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from vmgen.resources import templates_dir


def _escape(path: str) -> str:
    out = path.replace("$", "$$").replace("#", "\\#")
    return out.replace(" ", "\\ ")


@cache
def vmgen_files() -> tuple[str, ...]:
    """vmgen's own files whose change can change what it generates."""
    package = Path(__file__).resolve().parent.parent
    # The tools work on generated files; they never change them.  (The Python runtime
    # is listed: generated modules name its version.)
    unused = (package / "tools",)
    files = sorted(p for p in package.rglob("*.py")
                   if not any(d in p.parents for d in unused))
    files += sorted(p for p in templates_dir().rglob("*") if p.is_file())
    return tuple(str(p) for p in files)


def depfile(targets: Iterable[str], inputs: Iterable[str]) -> str:
    prereqs = list(dict.fromkeys([*inputs, *vmgen_files()]))
    lines = [" ".join(_escape(t) for t in targets) + ": \\"]
    lines += [f"  {_escape(p)} \\" for p in prereqs[:-1]]
    lines.append(f"  {_escape(prereqs[-1])}")
    text = "\n".join(lines) + "\n"
    return text + "".join(f"\n{_escape(p)}:\n" for p in prereqs)
