"""``vmgen decode``: print a saved record, readably, from the generated schema.

Like QEMU's scripts/analyze-migration.py, but the description comes from the
generated Python module (``MOD_asn1.py``), not from a trailer in the stream.
The record names its device, so one module (or a folder of them) serves every
record of its devices.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from vmgen.diagnostics import VmgenError


def record_header(data: bytes) -> tuple[str, int, int]:
    """(device, version, minimum version) of a record, read without any schema."""

    def tlv(pos: int, end: int) -> tuple[int, int, int]:
        if pos + 2 > end:
            raise ValueError("truncated record")
        tag, first = data[pos], data[pos + 1]
        pos += 2
        if first < 0x80:
            length = first
        else:
            n = first & 0x7F
            if n == 0 or n > 8 or pos + n > end:
                raise ValueError("bad length")
            length = int.from_bytes(data[pos:pos + n], "big")
            pos += n
        if pos + length > end:
            raise ValueError("truncated record")
        return tag, pos, length

    tag, pos, length = tlv(0, len(data))
    if tag != 0x30:
        raise ValueError("not a vmgen record (no SEQUENCE)")
    end = pos + length
    fields = []
    for want in (0x80, 0x81, 0x82):
        tag, pos, length = tlv(pos, end)
        if tag != want:
            raise ValueError("not a vmgen record (no device/version header)")
        fields.append(data[pos:pos + length])
        pos += length
    device = fields[0].decode("ascii", "replace")
    return device, int.from_bytes(fields[1], "big"), int.from_bytes(fields[2], "big")


def load_module(path: Path) -> ModuleType:
    """A generated module, imported from its file (VmgenError if it cannot be)."""
    spec = importlib.util.spec_from_file_location(f"vmgen_decode_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise VmgenError.at(None, f"cannot import '{path}'")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: report, do not crash
        raise VmgenError.at(None, f"cannot import '{path}': {exc}") from None
    return module


def find_module(paths: list[str], device: str) -> ModuleType:
    """The generated module, among `paths` (files or folders), that knows `device`."""
    candidates: list[Path] = []
    for p in paths or ["."]:
        path = Path(p)
        candidates += sorted(path.glob("*_asn1.py")) if path.is_dir() else [path]
    for path in candidates:
        if not path.is_file():
            raise VmgenError.at(None, f"no such module '{path}'")
        module = load_module(path)
        if device in getattr(module, "STATES", {}):
            return module
    where = ", ".join(str(c) for c in candidates) or "(no *_asn1.py found)"
    raise VmgenError.at(None, f"no generated module knows device '{device}' (looked in {where})")


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return repr(value)
    return value


def _text(value: Any, indent: str, out: list[str], name: str) -> None:
    if isinstance(value, dict):
        out.append(f"{indent}{name}:")
        for k, v in value.items():
            _text(v, indent + "  ", out, k)
    elif isinstance(value, list) and value and isinstance(value[0], (dict, list)):
        out.append(f"{indent}{name}: {len(value)} elements")
        for i, v in enumerate(value):
            _text(v, indent + "  ", out, f"[{i}]")
    elif isinstance(value, bytes):
        out.append(f"{indent}{name}: {len(value)} bytes")
        for i in range(0, len(value), 16):
            out.append(f"{indent}  {i:06x}  {value[i:i + 16].hex(' ')}")
    else:
        out.append(f"{indent}{name}: {value!r}" if isinstance(value, (str, float))
                   else f"{indent}{name}: {value}")


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise VmgenError.at(None, f"cannot read '{path}': {exc.strerror}") from None


def _read_record(path: str) -> tuple[bytes, str, int, int]:
    """A record file's bytes, device, version and minimum version."""
    data = _read(path)
    try:
        return (data, *record_header(data))
    except ValueError as exc:
        raise VmgenError.at(None, f"{path}: {exc}") from None


def decode(record: str, modules: list[str], as_json: bool) -> str:
    data, device, version, minimum = _read_record(record)
    module = find_module(modules, device)
    try:
        state = module.load(device, data)
    except module.Error as exc:
        raise VmgenError.at(None, f"{record}: {exc}") from None
    if as_json:
        return json.dumps({"device": device, "version": version, "minimum_version": minimum,
                           "state": _jsonable(state)}, indent=2) + "\n"
    out = [f"{record}: device {device}, data version {version}, readable by version "
           f"{minimum} and later ({len(data)} bytes)"]
    for k, v in state.items():
        _text(v, "  ", out, k)
    return "\n".join(out) + "\n"


def convert(path: str, modules: list[str], to: str, device: str | None,
            version: int | None) -> tuple[bytes, str]:
    """(converted bytes, a one-line note) for `vmgen convert`."""
    if to == "legacy":
        data, device, version, _ = _read_record(path)
        module = find_module(modules, device)
        try:
            legacy, version = module.to_legacy(device, data)
        except module.Error as exc:
            raise VmgenError.at(None, f"{path}: {exc}") from None
        return legacy, f"{device}: legacy stream of version {version} ({len(legacy)} bytes)"
    if device is None or version is None:
        raise VmgenError.at(None, "a legacy stream does not say its device and version: "
                            "give --device and --version")
    data = _read(path)
    module = find_module(modules, device)
    try:
        record = module.from_legacy(device, data, version)
    except module.Error as exc:
        raise VmgenError.at(None, f"{path}: {exc}") from None
    return record, f"{device}: BER record of version {version} ({len(record)} bytes)"

