"""The C -> ASN.1 naming rule (README: "Names"), case by case."""

from __future__ import annotations

import pytest

from vmgen.checks import names


@pytest.mark.parametrize(("c", "asn1"), [
    ("RTCState", "RTCState"),
    ("rtc_state", "Rtc-state"),
    ("_private__type_", "Private-type"),
    ("Fifo8", "Fifo8"),
    ("blink_mode", "Blink-mode"),
    ("_1x", None),
    ("__", None),
    ("END", "END"),  # a type name; the checks stage refuses reserved words
])
def test_type_names(c: str, asn1: str | None) -> None:
    assert names.type_name(c) == asn1


@pytest.mark.parametrize(("c", "asn1"), [
    ("cmos_index", "cmos-index"),
    ("RegA", "regA"),
    ("IER", "ier"),
    ("RTC_MODE_BCD", "rtc-mode-bcd"),
    ("x__y", "x-y"),
    ("_pad", "pad"),
    ("trailing_", "trailing"),
    ("a1_b2", "a1-b2"),
    ("LEVEL_2X", "level-2x"),
    ("9lives", None),
    ("_", None),
])
def test_identifiers(c: str, asn1: str | None) -> None:
    assert names.identifier(c) == asn1


def test_record_and_module_names() -> None:
    assert names.record_name("RTCState") == "RTCState-Record"
    assert names.python_module("rtc") == "rtc"
    assert names.python_module("hw-rtc.v2") == "hw_rtc_v2"
    assert names.python_module("ünï") == "_n_"
