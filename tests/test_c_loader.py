"""The generated C loaders refuse records the schema does not allow, with exact
messages, and leave the destination object untouched when they do.

Hostile records are crafted with asn1tools itself, from the generated module's
parsed ASN.1 with its constraints removed (so it encodes what vmgen would not).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import asn1tools
import pytest

from tests.conftest import Built


def _relax(node: Any) -> Any:
    """The parsed ASN.1 without size and range constraints."""
    if isinstance(node, dict):
        return {k: _relax(v) for k, v in node.items() if k not in ("restricted-to", "size")}
    if isinstance(node, list):
        return [_relax(v) for v in node]
    return node


class Crafter:
    def __init__(self, b: Built, state: str, edit: Callable[[dict[str, Any]], None] | None = None):
        parsed = _relax(copy.deepcopy(b.py.PARSED))
        if edit is not None:
            edit(next(iter(parsed.values()))["types"])
        self.der = asn1tools.compile_dict(parsed, "der")
        self.ber = asn1tools.compile_dict(copy.deepcopy(parsed), "ber")
        self.b, self.state = b, state
        self.record_type = b.py.STATES[state][0]

    def record(self, value: dict[str, Any], **header: Any) -> bytes:
        """A record of `value` (C view) with the state's ASN.1 value edited by `header`."""
        good = self.b.py.save(self.state, value)
        decoded = self.ber.decode(self.record_type, good)
        for key, v in header.items():
            target = decoded
            *path, last = key.split("/")
            for p in path:
                target = target[int(p)] if p.isdigit() else target[p]
            target[int(last) if last.isdigit() else last] = v
        return bytes(self.der.encode(self.record_type, decoded))


def _zero_rtc() -> dict[str, Any]:
    return {"cmos_data": bytes(128), "cmos_index": 0, "base_year": 0, "base_rtc": 0,
            "last_update": 0, "offset": 0, "it_shift": 0, "irq_coalesced": 0, "period": 0,
            "lost_tick_policy_slew": False, "next_periodic_time": 0, "next_alarm_time": 0}


def _errors(b: Built, state: str, blobs: list[bytes]) -> list[str]:
    return b.c_roundtrip([(state, blob) for blob in blobs])


def test_rtc_refusals(built: Callable[[str], Built]) -> None:
    b = built("rtc")
    c = Crafter(b, "RTCState")
    cases = {
        c.record(_zero_rtc(), **{"state/cmos-index": 256}):
            "RTCState: cmos_index: INTEGER 256 out of range 0..255",
        c.record(_zero_rtc(), **{"state/cmos-index": -1}):
            "RTCState: cmos_index: INTEGER -1 out of range 0..255",
        c.record(_zero_rtc(), **{"state/base-rtc": 2**64}):
            "RTCState: base_rtc: INTEGER of 9 bytes out of range 0..18446744073709551615",
        c.record(_zero_rtc(), **{"state/cmos-data": bytes(127)}):
            "RTCState: cmos_data: OCTET STRING length 127 out of range 128..128",
        c.record(_zero_rtc(), device="SerialState"):
            "RTCState: record is for device 'SerialState', expected 'RTCState'",
        c.record(_zero_rtc(), **{"minimum-version": 4}):
            "RTCState: data needs a reader of version >= 4, this reader is version 3",
        c.record(_zero_rtc(), version=0, **{"minimum-version": 0}):
            "RTCState: data is version 0, this reader needs version >= 1",
        b.py.save("RTCState", _zero_rtc()) + b"\x00":
            "RTCState: trailing bytes after the record",
    }
    results = _errors(b, "RTCState", list(cases))
    assert results == [f"ERR {m}" for m in cases.values()]


def test_pit_refusals_in_arrays_of_structs(built: Callable[[str], Built]) -> None:
    b = built("pit")
    c = Crafter(b, "PITCommonState")
    channel = {f.name: 0 for f in b.module.struct("PITChannelState").migrated}
    value = {"channels_enabled": 1, "speaker_data_on": 0, "channels": [channel] * 3}
    good = b.py.save("PITCommonState", value)
    decoded = c.ber.decode(c.record_type, good)
    four = copy.deepcopy(decoded)
    four["state"]["channels"].append(four["state"]["channels"][0])
    cases = {
        bytes(c.der.encode(c.record_type, four)):
            "PITCommonState: channels: list length 4 out of range 3..3",
        c.record(value, **{"state/channels/1/count": 2**31}):
            "PITCommonState: channels[1].count: INTEGER 2147483648 out of range "
            "-2147483648..2147483647",
        c.record(value, **{"state/channels/2/latched-count": 65536}):
            "PITCommonState: channels[2].latched_count: INTEGER 65536 out of range 0..65535",
    }
    assert _errors(b, "PITCommonState", list(cases)) == [f"ERR {m}" for m in cases.values()]


def test_display_refuses_unknown_enumerator(built: Callable[[str], Built]) -> None:
    b = built("display")

    def widen(types: dict[str, Any]) -> None:
        types["DisplayMode"]["values"].append(("display-future", 5))

    c = Crafter(b, "CursorState", widen)
    value = {"x": 1, "y": 2, "blink": "BLINK_FAST", "visible": True}
    c2 = Crafter(b, "CursorState", lambda t: t["Blink-mode"]["values"].append(("other", 4)))
    assert c is not None
    assert _errors(b, "CursorState", [c2.record(value, **{"state/blink": "other"})]) == [
        "ERR CursorState: blink: ENUMERATED 4 is not a valid value"]


def test_every_truncation_fails_and_leaves_the_object(built: Callable[[str], Built]) -> None:
    for stem, state in (("rtc", "RTCState"), ("display", "DisplayState")):
        b = built(stem)
        value = b.py.load(state, b.c_save([(state, _sample(b, state))])[0])
        good = b.py.save(state, value)
        results = _errors(b, state, [good[:n] for n in range(len(good))])
        assert all(r.startswith("ERR ") for r in results)
        assert not [r for r in results if "[object changed]" in r]
        assert results[0] == f"ERR {state}: truncated value"


def _sample(b: Built, state: str) -> dict[str, Any]:
    from hypothesis import find

    from tests import support

    return find(support.struct_strategy(b.module, state), lambda v: True)


def test_newer_writer_members_are_skipped_only_when_newer(built: Callable[[str], Built]) -> None:
    b = built("rtc")

    def grow(types: dict[str, Any]) -> None:
        members = types["RTCState"]["members"]
        members.insert(len(members) - 1, {"name": "added-in-v4", "type": "INTEGER"})

    c = Crafter(b, "RTCState", grow)
    plain = Crafter(b, "RTCState")
    value = _zero_rtc() | {"cmos_index": 7}
    asn1 = plain.ber.decode(plain.record_type, b.py.save("RTCState", value))
    asn1["state"]["added-in-v4"] = 99
    newer = bytes(c.der.encode(c.record_type, {**asn1, "version": 4}))
    same = bytes(c.der.encode(c.record_type, asn1))
    assert _errors(b, "RTCState", [newer, same]) == [
        f"OK {b.py.save('RTCState', value).hex()}",
        "ERR RTCState: unknown member with tag [12]",
    ]
    # Python reads the newer record too, and refuses the same one at its own version.
    assert b.py.load("RTCState", newer) == value
    with pytest.raises(b.py.Error):
        b.py.load("RTCState", same)


def _vnet_value() -> dict[str, Any]:
    return {"mac": bytes(6), "status": 0, "promisc": 0, "allmulti": 0,
            "mac_table": {"in_use": 1, "first_multi": 0, "multi_overflow": 0,
                          "uni_overflow": 0, "macs": [b"abcdef"]},
            "offload_kind": "OFFLOAD_CSUM", "offload": {"csum": {"start": 1, "offset": 2}},
            "vlan_filter": 0, "mergeable_rx_bufs": 0, "mtu_bits": 0,
            "last_kind": "OFFLOAD_NONE", "ecn": False}


def test_counts_indexes_and_union_tags_refused_in_c_and_python(
        built: Callable[[str], Built]) -> None:
    """Out-of-range counts, indexes and union tags, written with asn1tools (what a
    hostile or buggy peer could send), refused by both loaders; C leaves the
    destination as it was."""
    vnet = built("vnet")
    c = Crafter(vnet, "VirtIONet")
    value = _vnet_value()
    good = vnet.py.save("VirtIONet", value)
    decoded = c.ber.decode(c.record_type, good)
    too_many = copy.deepcopy(decoded)
    too_many["state"]["mac-table"]["macs"] = [b"abcdef"] * 65
    wrong_member = copy.deepcopy(decoded)
    wrong_member["state"]["offload-kind"] = "offload-tso"  # but the data holds csum
    cases = [
        (vnet, "VirtIONet", bytes(c.der.encode(c.record_type, too_many)),
         "VirtIONet: mac_table.macs: list length 65 out of range 0..64",
         "VirtIONet-Record.state.mac_table.macs: expected 0..64 elements, got 65"),
        (vnet, "VirtIONet", bytes(c.der.encode(c.record_type, wrong_member)),
         "VirtIONet: offload: the data holds member 'csum', but 'offload_kind' = 4 "
         "selects 'tso'",
         "VirtIONet-Record.state.offload: the data holds member 'csum', but 'offload_kind' "
         "= 4 selects 'tso'"),
    ]
    usb = built("usb")
    u = Crafter(usb, "USBDevice")
    usb_value = {"product_desc": "x", "speed": 0, "addr": 0, "state": "SETUP_STATE_IDLE",
                 "setup_buf": bytes(8), "setup_len": 0, "setup_index": 0, "remote_wakeup": 0,
                 "data_len": 0, "data_buf": b""}
    for field, bad in (("setup-index", 4097), ("setup-index", -1), ("setup-len", 4097)):
        c_name = field.replace("-", "_")
        cases.append((usb, "USBDevice", u.record(usb_value, **{f"state/{field}": bad}),
                      f"USBDevice: {c_name}: INTEGER {bad} out of range 0..4096",
                      f"USBDevice-Record.state.{c_name}: {bad} is out of range 0..4096"))
    hpet = built("hpet")
    h = Crafter(hpet, "HPETState")
    timer = {"tn": 0, "config": 0, "cmp": 0, "fsb": 0, "period": 0, "wrap_flag": 0, "last": 0}
    hpet_value = {"rtc_irq_level": 0, "num_timers": 3, "timer": [timer] * 3, "capability": 0,
                  "config": 0, "isr": 0, "hpet_counter": 0, "hpet_id": 0,
                  "hpet_offset_saved": 0, "hpet_offset": 0}
    hdec = h.ber.decode(h.record_type, hpet.py.save("HPETState", hpet_value))
    for n in (2, 33):
        bad_timers = copy.deepcopy(hdec)
        bad_timers["state"]["timer"] = bad_timers["state"]["timer"][:1] * n
        cases.append((hpet, "HPETState", bytes(h.der.encode(h.record_type, bad_timers)),
                      f"HPETState: timer: list length {n} out of range 3..32",
                      # Python checks the count it derives from the list first
                      f"HPETState-Record.state.num_timers: {n} is out of range 3..32"))
    bad_index = copy.deepcopy(hdec)
    bad_index["state"]["timer"][1]["tn"] = 32
    cases.append((hpet, "HPETState", bytes(h.der.encode(h.record_type, bad_index)),
                  "HPETState: timer[1].tn: INTEGER 32 out of range 0..31",
                  "HPETState-Record.state.timer[1].tn: 32 is out of range 0..31"))
    for b, state, blob, c_message, py_message in cases:
        assert b.c_roundtrip([(state, blob)]) == [f"ERR {c_message}"]
        with pytest.raises(b.py.Error) as info:
            b.py.load(state, blob)
        assert str(info.value) == py_message
