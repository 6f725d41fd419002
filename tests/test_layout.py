"""The package's folders are the pipeline's stages, and imports only point back up the
pipeline: a stage may use the stages before it, never one after it.  The Python runtime
that generated modules import stands apart: it uses nothing else of vmgen."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "vmgen"

# Stage of each top-level part of the package, in pipeline order.
RANK = {
    "__init__": 0, "diagnostics": 0, "resources": 0,
    "frontend": 1, "lowering": 2, "checks": 3, "backends": 4, "driver": 5, "tools": 6,
    "cli": 7, "__main__": 7,
}


def _part(module: str) -> str:
    """'vmgen.frontend.source' -> 'frontend'; 'vmgen' -> '__init__'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _is_module(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every vmgen import in `path`, at any depth (lazy ones too)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "vmgen":
                found += [(node.lineno, f"vmgen.{a.name}" if _is_module(a.name) else "vmgen")
                          for a in node.names]
            elif node.module.startswith("vmgen."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("vmgen")]
    return found


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_part_has_a_stage() -> None:
    parts = {_part("vmgen." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts))
             for p in _sources()}
    assert parts - {"runtime"} <= set(RANK), parts - set(RANK)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_back_up_the_pipeline(path: Path) -> None:
    here = _part("vmgen." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    for line, module in _imports(path):
        there = _part(module)
        where = f"{path.relative_to(PACKAGE)}:{line}: imports {module}"
        if here == "runtime":
            assert there in ("runtime", "__init__"), where
            continue
        assert there == "__init__" or there == "runtime" or RANK[there] <= RANK[here], where
