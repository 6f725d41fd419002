"""The specialized DER writer and BER reader (vmgen_der_save_S / vmgen_der_load_S)
agree with the visitors on every input, and actually run.

The generated C has two paths per device state: straight-line code for the common case
and the visitors for everything (with the error messages).  vmgen_save_S / vmgen_load_S
try the first and fall back to the second, so the first may only accept what the second
accepts, must store the same object, and must write the same bytes.  A driver built with
ASan and UBSan runs both on each input and reports; records come from Hypothesis values
(saved by the generated Python), and from every truncation and many byte edits of them.
"""

from __future__ import annotations

import random
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import support
from tests.conftest import Built
from vmgen.lowering import ir

# Which fixture states get specialized code (written down here, not computed: a change
# in coverage must show up as a test change).  Every one has it (VirtIONet, with its
# union, since unions are in the specialized code).
SPECIALIZED = {
    "rtc": {"RTCState"}, "uart": {"SerialState"}, "pit": {"PITCommonState"},
    "display": {"DisplayState", "CursorState"}, "scalars": {"ScalarState"},
    "hpet": {"HPETState"}, "nic": {"E1000State"}, "usb": {"USBDevice"}, "vnet": {"VirtIONet"},
    "counts": {"RingState"},
}


def _driver_source(module: ir.Module, stem: str) -> str:
    """Each stdin line `STATE HEX`: load with both paths from the same 0xa5 fill, then save
    the visitors' object with both.  Prints `D V SAME UNCHANGED DERSAVE VISITSAVE`."""
    out = [f'#include "{stem}-visit.h"', support.DRIVER_MAIN,
           "static char line[1 << 22];\nstatic uint8_t in[1 << 21];\n",
           "int main(void)\n{\n    while (fgets(line, sizeof line, stdin)) {\n"
           "        char *hex = strchr(line, ' ');\n        size_t n;\n"
           "        if (!hex) {\n            return 2;\n        }\n"
           "        *hex++ = 0;\n        n = get_hex(hex, in);"]
    for s in module.states:
        consts = "".join(f"            memset((void *)&{p}, 0, sizeof {p});\n"
                         for p in support.const_paths(module, s.name, "a"))
        out.append(
            f'        if (strcmp(line, "{s.name}") == 0) {{\n'
            f"            static {s.c_type} a, b, before;\n"
            "            Error *err = NULL;\n"
            "            uint8_t *der = NULL, *vis = NULL;\n"
            "            size_t derlen = 0, vislen = 0;\n"
            "            bool da, vb, ds = false, vs = false;\n"
            "            memset(&a, 0xa5, sizeof a);\n" + consts +
            "            memcpy(&b, &a, sizeof a);\n"
            "            memcpy(&before, &a, sizeof a);\n"
            f"            da = vmgen_der_load_{s.name}(&a, in, n);\n"
            f"            vb = vmgen_visit_load_{s.name}(&b, in, n, &err);\n"
            "            error_free(err);\n            err = NULL;\n"
            "            if (vb) {\n"
            f"                ds = vmgen_der_save_{s.name}(&b, &der, &derlen);\n"
            f"                vs = vmgen_visit_save_{s.name}(&b, &vis, &vislen, &err);\n"
            "                error_free(err);\n"
            "            }\n"
            '            printf("%d %d %d %d ", da, vb, memcmp(&a, &b, sizeof a) == 0,\n'
            "                   memcmp(&a, &before, sizeof a) == 0);\n"
            '            if (ds) {\n                put_hex(der, derlen);\n'
            '            } else {\n                printf("-");\n            }\n'
            '            printf(" ");\n'
            '            if (vs) {\n                put_hex(vis, vislen);\n'
            '            } else {\n                printf("-");\n            }\n'
            '            printf("\\n");\n'
            "            free(der);\n            free(vis);\n"
            "        }")
    out.append("        fflush(stdout);\n    }\n    return 0;\n}\n")
    return "\n".join(out)


@dataclass
class Outcome:
    der_loaded: bool
    visit_loaded: bool
    same_object: bool
    unchanged: bool
    der_saved: bytes | None
    visit_saved: bytes | None


class Paths:
    def __init__(self, b: Built) -> None:
        self.b = b
        src = b.out / "paths.c"
        src.write_text(_driver_source(b.module, b.stem))
        self.exe = support.compile_c(
            [src, b.out / f"{b.stem}-visit.c", *support.runtime_sources(b.out)],
            b.out / "paths", include=[b.out, support.FIXTURES], extra=support.SANITIZE)

    def run(self, records: list[tuple[str, bytes]]) -> list[Outcome]:
        stdin = "".join(f"{state} {data.hex()}\n" for state, data in records)
        proc = subprocess.run([str(self.exe)], input=stdin, capture_output=True, text=True,
                              check=True, timeout=300)
        assert not proc.stderr, proc.stderr
        outcomes = []
        for line in proc.stdout.splitlines():
            da, vb, same, unchanged, der, vis = line.split()
            outcomes.append(Outcome(da == "1", vb == "1", same == "1", unchanged == "1",
                                    None if der == "-" else bytes.fromhex(der),
                                    None if vis == "-" else bytes.fromhex(vis)))
        assert len(outcomes) == len(records)
        return outcomes


def _check(b: Built, records: list[tuple[str, bytes]], outcomes: list[Outcome]) -> None:
    for (state, data), o in zip(records, outcomes, strict=True):
        where = f"{state} {data.hex()}"
        if o.der_loaded:
            assert o.visit_loaded, f"specialized loader accepted what the visitors refuse: {where}"
            assert o.same_object, f"the two loaders stored different objects: {where}"
        else:
            assert o.unchanged, f"declining specialized loader changed the object: {where}"
        if o.visit_loaded:
            assert o.visit_saved is not None, where
            if state in SPECIALIZED[b.stem]:
                assert o.der_saved == o.visit_saved, where
            else:
                assert o.der_saved is None, where


_paths: dict[str, Paths] = {}


def _paths_of(built: Callable[[str], Built], stem: str) -> Paths:
    if stem not in _paths:
        _paths[stem] = Paths(built(stem))
    return _paths[stem]


def test_specialized_states_are_the_expected_ones() -> None:
    for stem, expected in SPECIALIZED.items():
        module = support.fixture_module(stem)
        got = {s.name for s in module.states if support.has_specialized_codec(module, s.name)}
        assert got == expected, stem


@pytest.mark.parametrize("stem", support.FIXTURE_HEADERS)
def test_paths_agree_on_valid_records(built: Callable[[str], Built], stem: str) -> None:
    b = built(stem)
    paths = _paths_of(built, stem)
    states = [s.name for s in b.module.states]

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def run(data: st.DataObject) -> None:
        records = []
        for state in states:
            value = data.draw(support.struct_strategy(b.module, state, const_zero=True))
            records.append((state, b.py.save(state, value)))
        outcomes = paths.run(records)
        _check(b, records, outcomes)
        for (state, _), o in zip(records, outcomes, strict=True):
            # a record of this version in DER form is the specialized loader's case
            assert o.der_loaded == (state in SPECIALIZED[stem]), state
            assert o.visit_loaded

    run()


# Byte positions edited per record: all of them up to this size; beyond it the first and
# last 128 and a random sample (a 20 KB E1000 record would otherwise give 160,000 records).
_POSITIONS = 512


def _damaged(good: bytes, rng: random.Random) -> list[bytes]:
    """Truncations and byte edits (flips, 0x00, 0xff, +-1, random) at every position (or a
    sample of them, see _POSITIONS), and a trailing byte."""
    positions = list(range(len(good)))
    if len(good) > _POSITIONS:
        middle = rng.sample(positions[128:-128], _POSITIONS - 256)
        positions = sorted({*positions[:128], *positions[-128:], *middle})
    out = [good[:n] for n in positions]
    for i in positions:
        old = good[i]
        for new in sorted({old ^ 0x80, old ^ 0x01, 0x00, 0xFF, (old + 1) & 0xFF,
                           (old - 1) & 0xFF, rng.randrange(256)} - {old}):
            out.append(good[:i] + bytes([new]) + good[i + 1:])
    return [*out, good + b"\x00"]


@pytest.mark.parametrize("stem", [s for s in support.FIXTURE_HEADERS if SPECIALIZED[s]])
def test_paths_agree_on_damaged_records(built: Callable[[str], Built], stem: str) -> None:
    b = built(stem)
    paths = _paths_of(built, stem)
    states = sorted(SPECIALIZED[stem])

    @settings(max_examples=3, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def run(data: st.DataObject) -> None:
        rng = random.Random(data.draw(st.integers(0, 2**32)))
        records: list[tuple[str, bytes]] = []
        for state in states:
            value = data.draw(support.struct_strategy(b.module, state, const_zero=True))
            records += [(state, r) for r in _damaged(b.py.save(state, value), rng)]
        outcomes = paths.run(records)
        _check(b, records, outcomes)
        # the damaged records exercise both outcomes of the specialized loader
        assert any(o.der_loaded for o in outcomes)
        assert not all(o.der_loaded for o in outcomes)

    run()


def test_writer_declines_values_the_visitors_refuse(built: Callable[[str], Built],
                                                    tmp_path: Path) -> None:
    """An enum value outside its enumerators: the specialized writer declines, and
    vmgen_save_S reports the visitors' error."""
    b = built("display")
    src = tmp_path / "decline.c"
    src.write_text(
        '#include "display-visit.h"\n#include <stdio.h>\n#include <stdlib.h>\n'
        "#include <string.h>\nint main(void)\n{\n"
        "    CursorState c;\n    uint8_t *buf = NULL;\n    size_t len = 0;\n"
        "    Error *err = NULL;\n"
        "    memset(&c, 0, sizeof c);\n    c.blink = (enum blink_mode)77;\n"
        '    printf("%d\\n", vmgen_der_save_CursorState(&c, &buf, &len));\n'
        "    if (vmgen_save_CursorState(&c, &buf, &len, &err)) {\n        return 1;\n    }\n"
        '    printf("%s\\n", error_get_pretty(err));\n    error_free(err);\n    return 0;\n}\n')
    exe = support.compile_c([src, b.out / "display-visit.c", *support.runtime_sources(b.out)],
                            tmp_path / "decline", include=[b.out, support.FIXTURES],
                            extra=support.SANITIZE)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines() == [
        "0", "CursorState: blink: ENUMERATED 77 is not a valid value"]
