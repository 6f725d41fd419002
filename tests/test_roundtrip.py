"""Cross-language round trips for every fixture device state.

* C save -> Python load gives the values C set (set by plain C assignments);
* the C bytes equal asn1tools' DER encoding of the same value (Python save);
* Python save -> C load -> C save gives identical bytes;
* the BER decode of the C bytes consumes every byte.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import support
from tests.conftest import Built

STATES = [
    (stem, s.name)
    for stem in support.FIXTURE_HEADERS
    for s in support.fixture_module(stem).states
]


@pytest.mark.parametrize(("stem", "state"), STATES)
def test_c_save_python_load(built: Any, stem: str, state: str) -> None:
    b: Built = built(stem)
    values_st = st.lists(support.struct_strategy(b.module, state), min_size=1, max_size=3)

    @settings(max_examples=12, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
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
            _, used = b.py.CODEC._codec("ber").decode_with_length(record, blob)
            assert used == len(blob)

    check()


@pytest.mark.parametrize(("stem", "state"), STATES)
def test_python_save_c_load_c_save(built: Any, stem: str, state: str) -> None:
    b: Built = built(stem)
    blobs: list[bytes] = []

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(support.struct_strategy(b.module, state, const_zero=True))
    def collect(value: dict[str, Any]) -> None:
        blobs.append(b.py.save(state, value))

    collect()
    results = b.c_roundtrip([(state, blob) for blob in blobs])
    for blob, line in zip(blobs, results, strict=True):
        assert line == f"OK {blob.hex()}"
