"""Versioned device state: releases read each other's data, in C and in Python.

fixtures/history/watchdog-v1.h and -v2.h are the watchdog header as released in
versions 1 and 2; fixtures/watchdog.h is version 3.  Every writer (C and Python,
each release, each data version it can write) is read by every reader (C and
Python, each release).  Fields the data lacks keep their previous value in C
and are absent in Python; fields the reader lacks are skipped.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests import support
from vmgen.driver.pipeline import build_module
from vmgen.frontend.source import Options
from vmgen.lowering import ir

RELEASES = {1: "history/watchdog-v1.h", 2: "history/watchdog-v2.h", 3: "watchdog.h"}
STATE = "WatchdogState"
VALUE = {"reload": 1000, "counter": 5, "last_kick": 123456789012, "control": 7,
         "enabled": True, "stage": 3, "prescaler": 512, "name": "wdt0"}
PREFILL = {"reload": 1, "counter": 2, "last_kick": 77, "control": 3, "enabled": False,
           "stage": 2, "prescaler": 9, "name": "old"}

TOOL_MAIN = r"""
int main(void)
{
    static char line[1 << 16];
    static uint8_t in[1 << 15];

    while (fgets(line, sizeof line, stdin)) {
        S obj;
        uint8_t *out = NULL;
        size_t len = 0, n = 0;
        Error *err = NULL;
        unsigned version, b;
        bool ok;

        memset(&obj, 0, sizeof obj);
        if (sscanf(line, "save %u", &version) == 1) {
            set_value(&obj);
            ok = SAVE_VERSION(&obj, version, &out, &len, &err);
        } else {
            while (sscanf(line + 5 + 2 * n, "%2x", &b) == 1) {
                in[n++] = (uint8_t)b;
            }
            prefill(&obj);
            ok = LOAD(&obj, in, n, &err) && SAVE(&obj, &out, &len, &err);
        }
        if (ok) {
            printf("OK ");
            put_hex(out, len);
            printf("\n");
        } else {
            printf("ERR %s\n", error_get_pretty(err));
        }
        free(out);
        error_free(err);
        fflush(stdout);
    }
    return 0;
}
"""


@dataclass
class Release:
    version: int
    module: ir.Module
    py: ModuleType
    tool: Path

    def fields(self, header: str | None = None) -> set[str]:
        return {f.name for f in self.module.struct(header or STATE).migrated}

    def run(self, lines: list[str]) -> list[str]:
        proc = subprocess.run([str(self.tool)], input="".join(f"{x}\n" for x in lines),
                              capture_output=True, text=True, check=True)
        assert not proc.stderr
        return proc.stdout.splitlines()


def _subset(value: dict[str, Any], names: set[str]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k in names}


def _build(header: str, state: str, value: dict[str, Any], prefill: dict[str, Any],
           work: Path) -> tuple[ir.Module, ModuleType, Path]:
    path = str(support.FIXTURES / header)
    module = build_module(path, Options(include_dirs=(str(support.FIXTURES),)))
    for args in (["runtime", "-o", str(work)],
                 ["generate", "-I", str(support.FIXTURES), "-o", str(work), path]):
        proc = support.run_vmgen(*args)
        assert proc.returncode == 0, proc.stderr
    stem = Path(path).stem
    s = module.struct(state)
    names = {f.name for f in s.migrated}
    setter = support.c_assignments(module, ir.StructRef(state), "(*obj)", _subset(value, names))
    filler = support.c_assignments(module, ir.StructRef(state), "(*obj)",
                                   _subset(prefill, names)) if prefill else []
    source = "\n".join([
        f'#include "{stem}-visit.h"', "#include <stdlib.h>", support.DRIVER_MAIN,
        f"typedef {s.c_type} S;",
        f"#define SAVE_VERSION vmgen_save_{state}_version",
        f"#define SAVE vmgen_save_{state}", f"#define LOAD vmgen_load_{state}",
        "static void set_value(S *obj)\n{\n    (void)obj;\n    " + "\n    ".join(setter) + "\n}",
        "static void prefill(S *obj)\n{\n    (void)obj;\n    " + "\n    ".join(filler) + "\n}",
        TOOL_MAIN,
    ])
    (work / "tool.c").write_text(source)
    tool = support.compile_c(
        [work / "tool.c", work / f"{stem}-visit.c", *support.runtime_sources(work)],
        work / "tool", include=[work, support.FIXTURES], extra=support.SANITIZE)
    py = support.import_module(work / f"{support.names_module(stem)}_asn1.py")
    return module, py, tool


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Release]:
    out = {}
    for version, header in RELEASES.items():
        module, py, tool = _build(header, STATE, VALUE, PREFILL,
                                  tmp_path_factory.mktemp(f"v{version}"))
        out[version] = Release(version, module, py, tool)
    return out


def _expected(reader: Release, writer_fields: set[str], data_version: int,
              c_side: bool) -> dict[str, Any]:
    """What a reader holds after reading data of `data_version`."""
    s = reader.module.struct(STATE)
    out = {}
    for f in s.migrated:
        in_data = f.name in writer_fields and (f.since or 0) <= data_version
        if in_data:
            out[f.name] = VALUE[f.name]
        elif c_side:
            out[f.name] = PREFILL[f.name]  # left as it was before the load
    return out


def test_every_writer_is_read_by_every_reader(releases: dict[int, Release]) -> None:
    for w in releases.values():
        m = w.module.struct(STATE).state
        assert m is not None
        data_versions = range(m.minimum_version, m.version + 1)
        c_blobs = w.run([f"save {d}" for d in data_versions])
        for d, line in zip(data_versions, c_blobs, strict=True):
            assert line.startswith("OK "), line
            blob = bytes.fromhex(line[3:])
            # C and Python writers agree byte for byte, at every data version ...
            assert blob == w.py.save(STATE, _subset(VALUE, w.fields()), version=d)
            # ... and writing an older version gives what that release itself writes.
            if d in releases and d != w.version:
                old = releases[d].run([f"save {d}"])[0]
                assert old == line, (w.version, d)
            for r in releases.values():
                # A C reader: fields the data lacks keep their previous value.
                (reread,) = r.run([f"load {blob.hex()}"])
                assert reread.startswith("OK "), (w.version, d, r.version, reread)
                got = r.py.load(STATE, bytes.fromhex(reread[3:]))
                assert got == _expected(r, w.fields(), d, c_side=True), (w.version, d, r.version)
                # A Python reader: fields the data lacks are absent.
                got_py = r.py.load(STATE, blob)
                assert got_py == _expected(r, w.fields(), d, c_side=False), (w.version, d)


def test_versions_outside_the_writers_range_are_refused(releases: dict[int, Release]) -> None:
    newest = releases[3]
    message = "WatchdogState: cannot write version {}: this writer knows versions 1..3"
    assert newest.run(["save 0", "save 4"]) == [
        f"ERR {message.format(0)}", f"ERR {message.format(4)}"]
    for bad in (0, 4):
        with pytest.raises(newest.py.Error) as info:
            newest.py.save(STATE, _subset(VALUE, newest.fields()), version=bad)
        assert str(info.value) == message.format(bad)


def _with_header(blob: bytes, version: int, minimum: int) -> bytes:
    """`blob` (a WatchdogState record with one-byte versions) with its version and minimum
    version replaced: an edit of the header's bytes, nothing else."""
    head = b"\x80\x0dWatchdogState\x81\x01"
    at = blob.index(head) + len(head)
    assert blob.count(head) == 1 and blob[at + 1:at + 3] == b"\x82\x01", blob.hex()
    return blob[:at] + bytes([version, 0x82, 0x01, minimum]) + blob[at + 4:]


def test_record_header_boundaries(releases: dict[int, Release]) -> None:
    """Each reader (C and Python) reads data whose minimum version is its own version, and
    refuses data whose minimum version is one above it, or whose version is one below its
    own minimum version; with exact messages.  Data of the reader's own version (which the
    specialized readers take) and of the next version (a newer writer's) alike."""
    newest = releases[3]
    for r in releases.values():
        m = r.module.struct(STATE).state
        assert m is not None
        for d in sorted({r.version, min(r.version + 1, newest.version)}):
            (line,) = newest.run([f"save {d}"])
            assert line.startswith("OK "), line
            written = bytes.fromhex(line[3:])
            # minimum version == the reader's version: read, like any other data
            blob = _with_header(written, d, r.version)
            (reread,) = r.run([f"load {blob.hex()}"])
            assert reread.startswith("OK "), (r.version, d, reread)
            got = r.py.load(STATE, bytes.fromhex(reread[3:]))
            assert got == _expected(r, newest.fields(), d, c_side=True), (r.version, d)
            assert r.py.load(STATE, blob) == _expected(r, newest.fields(), d, c_side=False)
            # minimum version == the reader's version + 1: refused
            blob = _with_header(written, d, r.version + 1)
            message = (f"WatchdogState: data needs a reader of version >= {r.version + 1}, "
                       f"this reader is version {r.version}")
            assert r.run([f"load {blob.hex()}"]) == [f"ERR {message}"], (r.version, d)
            with pytest.raises(r.py.Error) as info:
                r.py.load(STATE, blob)
            assert str(info.value) == message, (r.version, d)
        # version == the reader's minimum version - 1: refused
        (line,) = r.run([f"save {m.minimum_version}"])
        blob = _with_header(bytes.fromhex(line[3:]), m.minimum_version - 1,
                            m.minimum_version - 1)
        message = (f"WatchdogState: data is version {m.minimum_version - 1}, this reader "
                   f"needs version >= {m.minimum_version}")
        assert r.run([f"load {blob.hex()}"]) == [f"ERR {message}"], r.version
        with pytest.raises(r.py.Error) as info:
            r.py.load(STATE, blob)
        assert str(info.value) == message, r.version


def _decode_json(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"hex"}:
        return bytes.fromhex(value["hex"])
    if isinstance(value, dict) and set(value) == {"f64bits"}:
        return support.f64_from_bits(value["f64bits"])
    if isinstance(value, dict):
        return {k: _decode_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_json(v) for v in value]
    return value


CORPUS = sorted((support.FIXTURES / "corpus").glob("*.ber"))
TODAY = {"watchdog": "watchdog.h", "hpet": "hpet.h", "nic": "nic.h"}


@pytest.mark.parametrize("blob", CORPUS, ids=lambda p: p.stem)
def test_corpus_written_by_old_releases_still_reads(blob: Path, tmp_path: Path) -> None:
    meta = json.loads(blob.with_suffix(".json").read_text())
    state, written = meta["state"], _decode_json(meta["value"])
    data = blob.read_bytes()
    today = TODAY[blob.stem.split("-")[0]]
    # Today's Python reads the old record: exactly the values written.  The C
    # destination is a device configured like the writer's (its const fields).
    consts = {f.name: written[f.name] for f in support.fixture_module(
        today.removesuffix(".h")).struct(state).migrated if f.const}
    _, py, tool = _build(today, state, {}, consts, tmp_path / "today")
    assert py.load(state, data) == written
    # Today's C reads it too (what it re-saves decodes to the written values plus
    # today's fields, left zero).
    (line,) = subprocess.run([str(tool)], input=f"load {data.hex()}\n", capture_output=True,
                             text=True, check=True).stdout.splitlines()
    assert line.startswith("OK "), line
    again = py.load(state, bytes.fromhex(line[3:]))
    assert {k: again[k] for k in written} == written
    # And the old release reads what today writes (its minimum version allows it).
    old_module, old_py, _ = _build(meta["header"], state, {}, {}, tmp_path / "old")
    old_fields = {f.name for f in old_module.struct(state).migrated}
    assert old_py.load(state, bytes.fromhex(line[3:])) == {
        k: v for k, v in again.items() if k in old_fields}
