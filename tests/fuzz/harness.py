"""Helpers shared by the hostile-bytes tests (test_cve, test_limits, test_fuzz):
building any header's generated code with the ASan/UBSan driver of `support`, and
crafting records the schema forbids with asn1tools (constraints removed)."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import asn1tools

from tests import support
from vmgen.checks.names import python_module
from vmgen.driver.pipeline import build_module
from vmgen.frontend.source import Options
from vmgen.lowering import ir


@dataclass
class Gen:
    """A header generated into `out`, its Python module and an ASan/UBSan driver."""
    stem: str
    out: Path
    module: ir.Module
    py: ModuleType
    driver: Path

    def c(self, records: list[tuple[str, bytes]]) -> list[str]:
        """`OK hex` or `ERR message` per record ("[object changed] " if a failed load wrote)."""
        stdin = "".join(f"{state} {data.hex()}\n" for state, data in records)
        proc = subprocess.run([str(self.driver)], input=stdin, capture_output=True, text=True,
                              check=True, timeout=120)
        assert not proc.stderr, proc.stderr
        lines = proc.stdout.splitlines()
        assert len(lines) == len(records)
        return lines


def generate(header: Path, out: Path) -> Gen:
    out.mkdir(parents=True, exist_ok=True)
    for args in (["runtime", "-o", str(out)],
                 ["generate", "-I", str(support.FIXTURES), "-o", str(out), str(header)]):
        proc = support.run_vmgen(*args)
        assert proc.returncode == 0, proc.stderr
    stem = header.stem
    module = build_module(str(header), Options(include_dirs=(str(support.FIXTURES),)))
    (out / "driver.c").write_text(support.driver_source(module, f"{stem}-visit.h"))
    driver = support.compile_c(
        [out / "driver.c", out / f"{stem}-visit.c", *runtime_sources(out)],
        out / "driver", include=[out, support.FIXTURES], extra=support.SANITIZE)
    py = support.import_module(out / f"{python_module(stem)}_asn1.py")
    return Gen(stem, out, module, py, driver)


def runtime_sources(out: Path) -> list[Path]:
    """The runtime's C files in `out` (as written by `vmgen runtime`)."""
    return sorted(out.glob("vmgen-*.c"))


def relax(node: Any) -> Any:
    """Parsed ASN.1 without size and range constraints."""
    if isinstance(node, dict):
        return {k: relax(v) for k, v in node.items() if k not in ("restricted-to", "size")}
    if isinstance(node, list):
        return [relax(v) for v in node]
    return node


class Crafter:
    """Records of a state with ASN.1-level edits the schema would refuse."""

    def __init__(self, py: ModuleType, state: str,
                 edit: Callable[[dict[str, Any]], None] | None = None):
        parsed = relax(copy.deepcopy(py.PARSED))
        if edit is not None:
            edit(next(iter(parsed.values()))["types"])
        self.der = asn1tools.compile_dict(parsed, "der")
        self.ber = asn1tools.compile_dict(copy.deepcopy(parsed), "ber")
        self.py, self.state = py, state
        self.record_type = py.STATES[state][0]

    def asn1(self, value: dict[str, Any]) -> dict[str, Any]:
        """The ASN.1 view (asn1tools value) of the record of C value `value`."""
        decoded: dict[str, Any] = self.ber.decode(self.record_type, self.py.save(self.state, value))
        return decoded

    def encode(self, asn1_value: dict[str, Any]) -> bytes:
        return bytes(self.der.encode(self.record_type, asn1_value))

    def record(self, value: dict[str, Any], **edits: Any) -> bytes:
        """The record of `value` with ASN.1 members replaced: keys are paths like
        `state/port-regs` or `state/timer/0/tn` (ASN.1 names, list indexes)."""
        decoded = self.asn1(value)
        for key, v in edits.items():
            target: Any = decoded
            *path, last = key.split("/")
            for p in path:
                target = target[int(p)] if p.isdigit() else target[p]
            target[int(last) if last.isdigit() else last] = v
        return self.encode(decoded)


def simple(module: ir.Module, t: ir.WireType) -> Any:
    """A plain valid value of `t`: integers at 0 (or their lower bound), every list with
    its minimum length but at least one element (so tests can grow it)."""
    if isinstance(t, ir.IntType):
        return min(max(0, t.min), t.max)
    if isinstance(t, ir.BoolType):
        return False
    if isinstance(t, ir.FloatType):
        return 0.0
    if isinstance(t, ir.EnumRef):
        return module.enum(t.name).enumerators[0].name
    if isinstance(t, ir.BytesType):
        return bytes(t.length if t.count is None else max(t.count.min, 1))
    if isinstance(t, ir.ArrayType):
        n = t.length if t.count is None else max(t.count.min, 1)
        return [simple(module, t.element) for _ in range(n)]
    assert isinstance(t, ir.StructRef), t
    value: dict[str, Any] = {}
    for f in module.struct(t.name).migrated:
        assert f.type is not None and f.selector is None
        value[f.name] = simple(module, f.type)
    for f in module.struct(t.name).migrated:
        if f.count_of is not None:
            value[f.name] = len(value[f.count_of])
    return value
