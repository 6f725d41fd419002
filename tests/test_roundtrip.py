"""Cross-language round trips for every fixture device state.

* C save -> Python load gives the values C set (set by plain C assignments);
* the C bytes equal asn1tools' DER encoding of the same value (Python save);
* Python save -> C load -> C save gives identical bytes;
* the BER decode of the C bytes consumes every byte.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import support
from vmgen import ir

STATES = [
    (stem, s.name)
    for stem in support.FIXTURE_HEADERS
    for s in support.fixture_module(stem).states
]


@dataclass
class Built:
    stem: str
    out: Path
    module: ir.Module
    py: ModuleType
    driver: Path

    def c_roundtrip(self, records: list[tuple[str, bytes]]) -> list[str]:
        stdin = "".join(f"{state} {data.hex()}\n" for state, data in records)
        proc = subprocess.run([str(self.driver)], input=stdin, capture_output=True, text=True,
                              check=True, timeout=120)
        assert not proc.stderr, proc.stderr
        lines = proc.stdout.splitlines()
        assert len(lines) == len(records)
        return lines

    def c_save(self, values: list[tuple[str, dict[str, Any]]]) -> list[bytes]:
        src = self.out / "setter.c"
        src.write_text(support.setter_source(self.module, f"{self.stem}-visit.h", values))
        exe = support.compile_c(
            [src, self.out / f"{self.stem}-visit.c", self.out / "vmgen-visitor.c",
             self.out / "vmgen-ber.c"],
            self.out / "setter", include=[self.out, support.FIXTURES], extra=["-O0"],
        )
        proc = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
        return [bytes.fromhex(line) for line in proc.stdout.split()]


_built: dict[str, Built] = {}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Any:
    def get(stem: str) -> Built:
        if stem not in _built:
            out = support.generate(stem, tmp_path_factory.mktemp(stem))
            module = support.fixture_module(stem)
            (out / "driver.c").write_text(support.driver_source(module, f"{stem}-visit.h"))
            driver = support.compile_c(
                [out / "driver.c", out / f"{stem}-visit.c", out / "vmgen-visitor.c",
                 out / "vmgen-ber.c"],
                out / "driver", include=[out, support.FIXTURES], extra=support.SANITIZE,
            )
            _built[stem] = Built(stem, out, module, support.import_module(
                out / f"{stem}_asn1.py"), driver)
        return _built[stem]

    return get


@pytest.mark.parametrize(("stem", "state"), STATES)
def test_c_save_python_load(built: Any, stem: str, state: str) -> None:
    b: Built = built(stem)
    values_st = st.lists(support.struct_strategy(b.module, state), min_size=1, max_size=6)

    @settings(max_examples=12, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(values_st)
    def check(values: list[dict[str, Any]]) -> None:
        blobs = b.c_save([(state, v) for v in values])
        for value, blob in zip(values, blobs, strict=True):
            loaded = b.py.load(state, blob)
            assert b.py.same(loaded, value), (loaded, value)
            # C writes exactly asn1tools' DER encoding of the same value.
            assert blob == b.py.save(state, value)
            # and the BER decoder consumes every byte of it.
            record = b.py.STATES[state][0]
            _, used = b.py._codec("ber").decode_with_length(record, blob)
            assert used == len(blob)

    check()


@pytest.mark.parametrize(("stem", "state"), STATES)
def test_python_save_c_load_c_save(built: Any, stem: str, state: str) -> None:
    b: Built = built(stem)
    blobs: list[bytes] = []

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(support.struct_strategy(b.module, state))
    def collect(value: dict[str, Any]) -> None:
        blobs.append(b.py.save(state, value))

    collect()
    results = b.c_roundtrip([(state, blob) for blob in blobs])
    for blob, line in zip(blobs, results, strict=True):
        assert line == f"OK {blob.hex()}"
