"""The legacy VMState stream, from the same generated visitors as BER.

The C bytes are compared with (1) an encoder written here from VMState's rules,
working from the IR, (2) the generated Python module, and (3) hand-written
vectors; legacy and BER records convert into each other losslessly; peers that
differ in formats and versions negotiate over a real socket pair.
"""

from __future__ import annotations

import socket
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests import support
from tests.conftest import Built
from vmgen.lowering import ir

STATES = [(stem, s.name) for stem in support.FIXTURE_HEADERS
          for s in support.fixture_module(stem).states
          if not any(isinstance(f.type, (ir.ArrayType, ir.BytesType)) and f.type.count
                     is not None and not f.type.count.fixed
                     for st in support.fixture_module(stem).structs for f in st.fields)]

TOOL = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char line[1 << 22], in[1 << 21];

static size_t hex_in(const char *text)
{
    size_t n = 0;
    unsigned b;
    while (sscanf(text + 2 * n, "%2x", &b) == 1) {
        in[n++] = (unsigned char)b;
    }
    return n;
}

int main(void)
{
    while (fgets((char *)line, sizeof line, stdin)) {
        char state[64], mode[16], hex[8];
        unsigned version;
        int at = 0;
        uint8_t *out = NULL;
        size_t len = 0, n;
        Error *err = NULL;
        bool ok = false;

        if (sscanf((char *)line, "%63s %15s %u %n%7s", state, mode, &version, &at, hex) < 3) {
            return 2;
        }
        n = hex_in((char *)line + at);
@CASES@
        if (ok) {
            printf("OK ");
            for (size_t i = 0; i < len; i++) {
                printf("%02x", out[i]);
            }
            printf("\n");
        } else {
            printf("ERR %s\n", err ? error_get_pretty(err) : "?");
        }
        free(out);
        error_free(err);
        fflush(stdout);
    }
    return 0;
}
"""

CASE = """
        if (strcmp(state, "%(S)s") == 0) {
            static %(T)s obj;
            memset(&obj, 0, sizeof obj);
            if (strcmp(mode, "ber2legacy") == 0) {
                ok = vmgen_load_%(S)s(&obj, in, n, &err) &&
                     vmgen_save_%(S)s_legacy(&obj, version, &out, &len, &err);
            } else {
                ok = vmgen_load_%(S)s_legacy(&obj, version, in, n, &err) &&
                     vmgen_save_%(S)s_version(&obj, version, &out, &len, &err);
            }
        }"""


@pytest.fixture(scope="module")
def tool(built: Callable[[str], Built]) -> Callable[[str], Path]:
    tools: dict[str, Path] = {}

    def get(stem: str) -> Path:
        if stem not in tools:
            b = built(stem)
            cases = "".join(CASE % {"S": s.name, "T": s.c_type} for s in b.module.states)
            src = b.out / "legacy_tool.c"
            src.write_text(f'#include "{stem}-visit.h"\n' + TOOL.replace("@CASES@", cases))
            tools[stem] = support.compile_c(
                [src, b.out / f"{stem}-visit.c", *support.runtime_sources(b.out)],
                b.out / "legacy_tool", include=[b.out, support.FIXTURES],
                extra=support.SANITIZE)
        return tools[stem]

    return get


def _run(exe: Path, lines: list[str]) -> list[str]:
    proc = subprocess.run([str(exe)], input="".join(f"{x}\n" for x in lines),
                          capture_output=True, text=True, check=True, timeout=300)
    assert not proc.stderr
    return proc.stdout.splitlines()


# ---- VMState's rules, written out from the IR ------------------------------------------


def vmstate(module: ir.Module, t: ir.WireType, value: Any, version: int) -> bytes:
    """What QEMU's VMState put_* functions write for the equivalent field list."""
    if isinstance(t, ir.IntType):  # put_be16/32/64, put_byte: C width, big-endian
        return int(value).to_bytes(t.bits // 8, "big", signed=t.signed)
    if isinstance(t, ir.BoolType):  # put_bool
        return b"\x01" if value else b"\x00"
    if isinstance(t, ir.FloatType):  # VMSTATE_FLOAT64: the bits as a be64
        if t.bits == 64:
            return struct.pack(">d", value)
        return support.f32_bits(value).to_bytes(4, "big")
    if isinstance(t, ir.EnumRef):  # VMSTATE_INT32 of the enum
        number = {e.name: e.value for e in module.enum(t.name).enumerators}[value]
        return number.to_bytes(4, "big", signed=True)
    if isinstance(t, ir.StringType):  # VMSTATE_BUFFER of the char array
        return value.encode().ljust(t.capacity, b"\0")
    if isinstance(t, ir.BytesType):  # VMSTATE_BUFFER / VMSTATE_VBUFFER
        return bytes(value)
    if isinstance(t, ir.ArrayType):  # VMSTATE_ARRAY / VARRAY: element by element
        return b"".join(vmstate(module, t.element, v, version) for v in value)
    if isinstance(t, ir.ExternalType):
        return vmstate(module, t.wire, value, version)
    if isinstance(t, ir.UnionRef):  # the live member only
        ((member, inner),) = value.items()
        m = next(m for m in module.union(t.name).members if m.name == member)
        return vmstate(module, m.type, inner, version)
    assert isinstance(t, ir.StructRef)  # VMSTATE_STRUCT: inline
    s = module.struct(t.name)
    out = b""
    for f in s.wire:  # the equivalent list is in wire order
        if f.since is not None and f.since > version:
            continue  # VMSTATE_*_V(field, since): absent from older streams
        assert f.type is not None
        if isinstance(f.type, (ir.ArrayType, ir.BytesType)) and f.type.count is not None:
            count = s.field(f.type.count.field)  # the count field, right before
            assert count.type is not None
            out += vmstate(module, count.type, len(value[f.name]), version)
        out += vmstate(module, f.type, value[f.name], version)
    return out


@pytest.mark.parametrize(("stem", "state"), STATES)
def test_legacy_bytes_follow_vmstate_rules(built: Callable[[str], Built],
                                           tool: Callable[[str], Path], stem: str,
                                           state: str) -> None:
    b = built(stem)
    exe = tool(stem)
    s = b.module.struct(state)
    assert s.state is not None
    versions = range(s.state.minimum_version, s.state.version + 1)
    samples: list[tuple[dict[str, Any], int]] = []

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(support.struct_strategy(b.module, state, const_zero=True))
    def collect(value: dict[str, Any]) -> None:
        samples.append((value, versions[len(samples) % len(versions)]))

    collect()
    blobs = [b.py.save(state, v, version=ver) for v, ver in samples]
    legacy = _run(exe, [f"{state} ber2legacy {ver} {blob.hex()}"
                        for (_, ver), blob in zip(samples, blobs, strict=True)])
    back = _run(exe, [f"{state} legacy2ber {ver} {line[3:]}"
                      for (_, ver), line in zip(samples, legacy, strict=True)])
    for (value, ver), blob, line, again in zip(samples, blobs, legacy, back, strict=True):
        assert line.startswith("OK "), line
        data = bytes.fromhex(line[3:])
        present = {k: v for k, v in value.items()
                   if (s.field(k).since or 0) <= ver}
        # C wrote what VMState's rules say, and so does the Python module.
        assert data == vmstate(b.module, ir.StructRef(state), present, ver)
        assert data == b.py.save_legacy(state, present, ver)
        assert b.py.same(b.py.load_legacy(state, data, ver), present)
        # Lossless both ways: legacy -> BER gives the original record.
        assert again == f"OK {blob.hex()}"
        assert b.py.from_legacy(state, data, ver) == blob
        assert b.py.to_legacy(state, blob) == (data, ver)


def test_hand_written_vectors(built: Callable[[str], Built],
                              tool: Callable[[str], Path]) -> None:
    """Reference vectors written by hand from VMState's rules."""
    b = built("pit")
    channel = {"count": 0x10000, "latched_count": 0xBEEF, "count_latched": 1,
               "status_latched": 0, "status": 0x36, "read_state": 3, "write_state": 3,
               "write_latch": 0, "rw_mode": 3, "mode": 2, "bcd": 0, "gate": 1,
               "count_load_time": -2, "next_transition_time": 0x0102030405060708,
               "irq_disabled": 0}
    state = {"channels_enabled": 1, "channels": [channel] * 3, "speaker_data_on": 0}
    one = ("00010000" "beef" "01" "00" "36" "03" "03" "00" "03" "02" "00" "01"
           "fffffffffffffffe" "0102030405060708" "00000000")
    expected = bytes.fromhex("01" + one * 3 + "00")
    (line,) = _run(tool("pit"), [f"PITCommonState ber2legacy 2 "
                                 f"{b.py.save('PITCommonState', state).hex()}"])
    assert line == f"OK {expected.hex()}"
    b = built("vnet")
    st = {"mac": bytes.fromhex("525400123456"), "status": 1, "promisc": 1, "allmulti": 0,
          "mac_table": {"in_use": 1, "first_multi": 1, "multi_overflow": 0,
                        "uni_overflow": 0, "macs": [bytes.fromhex("01005e000001")]},
          "offload_kind": "OFFLOAD_CSUM", "offload": {"csum": {"start": 14, "offset": 16}},
          "vlan_filter": 1, "mergeable_rx_bufs": 1, "mtu_bits": -1,
          "last_kind": "OFFLOAD_NONE", "ecn": True}
    expected = bytes.fromhex(
        "525400123456" "0001" "01" "00"        # mac, status, promisc, allmulti
        "00000001" "00" "00"                   # mac_table: first_multi, overflows
        "00000001" "01005e000001"              # in_use (count, before macs), macs
        "00000001"                             # offload_kind: OFFLOAD_CSUM as int32
        "000e" "0010"                          # offload.csum: start, offset
        "00000001" "00000001" "ffffffff"       # bit-fields at their C width (unsigned, int)
        "00000000" "01")                       # last_kind (int32), ecn (bool)
    (line,) = _run(tool("vnet"), [f"VirtIONet ber2legacy 1 {b.py.save('VirtIONet', st).hex()}"])
    assert line == f"OK {expected.hex()}"


def test_legacy_loader_refusals(built: Callable[[str], Built],
                                tool: Callable[[str], Path]) -> None:
    b = built("vnet")
    st = {"mac": bytes(6), "status": 0, "promisc": 0, "allmulti": 0,
          "mac_table": {"in_use": 0, "first_multi": 0, "multi_overflow": 0,
                        "uni_overflow": 0, "macs": []},
          "offload_kind": "OFFLOAD_NONE", "offload": {"none": 0}, "vlan_filter": 0,
          "mergeable_rx_bufs": 0, "mtu_bits": 0, "last_kind": "OFFLOAD_NONE", "ecn": False}
    good = b.py.save_legacy("VirtIONet", st)
    count_at = 6 + 2 + 1 + 1 + 4 + 1 + 1
    cases = {
        # CVE-2013-4539 shape: in_use above the 64-entry table, or negative
        good[:count_at] + (65).to_bytes(4, "big") + good[count_at + 4:]:
            "VirtIONet: mac_table.macs: count 'in_use' is 65, outside 0..64",
        good[:count_at] + (-1).to_bytes(4, "big", signed=True) + good[count_at + 4:]:
            "VirtIONet: mac_table.macs: count 'in_use' is -1, outside 0..64",
        good[:count_at + 4] + (7).to_bytes(4, "big") + good[count_at + 8:]:
            "VirtIONet: offload_kind: ENUMERATED 7 is not a valid value",
        good[:-1] + b"\x02":
            "VirtIONet: ecn: INTEGER 2 out of range 0..1",
        good[:-1]: "VirtIONet: ecn: truncated data: 1 bytes needed, 0 left",
        good + b"\x00": "VirtIONet: 1 trailing bytes after the data",
    }
    lines = _run(tool("vnet"), [f"VirtIONet legacy2ber 1 {data.hex()}" for data in cases])
    assert lines == [f"ERR {m}" for m in cases.values()]
    assert _run(tool("vnet"), [f"VirtIONet legacy2ber 2 {good.hex()}"]) == [
        "ERR VirtIONet: data is version 2, this reader is version 1"]
    with pytest.raises(b.py.Error) as info:
        b.py.load_legacy("VirtIONet", next(iter(cases)), 1)
    assert str(info.value) == "VirtIONet.mac_table.macs: count 65 is outside 0..64"


def test_uint64_counts(built: Callable[[str], Built], tool: Callable[[str], Path]) -> None:
    """uint64_t counts (the C visitors' visit_count_uint): each travels as a be64 right
    before its array, also the one declared after its array; its full range is checked."""
    b = built("counts")
    st = {"head": 7, "used": 3, "data": b"\xaa\xbb\xcc", "num_slots": 2,
          "slots": [{"id": 1, "len": 0x10203}, {"id": 0xFFFF, "len": 5}], "tail": 9}
    good = bytes.fromhex(
        "07"                                   # head
        "0000000000000003" "aabbcc"            # used (be64), data
        "0000000000000002"                     # num_slots (be64), before slots
        "0001" "00010203" "ffff" "00000005"    # slots: id (be16), len (be32)
        "00000009")                            # tail
    blob = b.py.save("RingState", st)
    (line,) = _run(tool("counts"), [f"RingState ber2legacy 1 {blob.hex()}"])
    assert line == f"OK {good.hex()}"
    assert b.py.save_legacy("RingState", st, 1) == good
    assert _run(tool("counts"), [f"RingState legacy2ber 1 {good.hex()}"]) == [f"OK {blob.hex()}"]
    assert b.py.load_legacy("RingState", good, 1) == st
    slots_at = 1 + 8 + 3
    cases = {
        good[:1] + (25).to_bytes(8, "big") + good[9:]:
            ("RingState: data: count 'used' is 25, outside 0..24",
             "RingState.data: count 25 is outside 0..24"),
        good[:1] + (2**64 - 1).to_bytes(8, "big") + good[9:]:
            ("RingState: data: count 'used' is 18446744073709551615, outside 0..24",
             "RingState.data: count 18446744073709551615 is outside 0..24"),
        good[:slots_at] + (7).to_bytes(8, "big") + good[slots_at + 8:]:
            ("RingState: slots: count 'num_slots' is 7, outside 0..6",
             "RingState.slots: count 7 is outside 0..6"),
        good[:slots_at] + (2**63).to_bytes(8, "big") + good[slots_at + 8:]:
            ("RingState: slots: count 'num_slots' is 9223372036854775808, outside 0..6",
             "RingState.slots: count 9223372036854775808 is outside 0..6"),
    }
    lines = _run(tool("counts"), [f"RingState legacy2ber 1 {data.hex()}" for data in cases])
    assert lines == [f"ERR {c}" for c, _ in cases.values()]
    for data, (_, message) in cases.items():
        with pytest.raises(b.py.Error) as info:
            b.py.load_legacy("RingState", data, 1)
        assert str(info.value) == message


TOP_BIT = """\
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"
typedef struct VMGEN_VMSD("top bit") TopBitLayout {
    uint8_t n;
    uint16_t data[200] VMGEN_SIZE_IS(n);
} TopBitLayout;
typedef struct VMGEN_STATE(1, 1) TopBit {
    uint8_t ranged VMGEN_RANGE(0, 200);
    uint16_t wide VMGEN_RANGE(1, 65000);
    unsigned bits : 8;
    uint8_t n;
    uint8_t data[200] VMGEN_SIZE_IS(n);
    const uint8_t id;
    int8_t small;
    TopBitLayout layout;
} TopBit;
"""


def test_unsigned_values_with_the_top_bit_set(tmp_path: Path) -> None:
    """An unsigned value whose top bit is set at its C width is positive in the legacy
    stream (a ranged field, a bit-field, a count, a const), in C as in Python; only a
    signed type's bytes are sign-extended."""
    header = tmp_path / "topbit.h"
    header.write_text(TOP_BIT)
    for args in (["runtime", "-o", str(tmp_path)],
                 ["generate", "-o", str(tmp_path), str(header)]):
        proc = support.run_vmgen(*args)
        assert proc.returncode == 0, proc.stderr
    src = tmp_path / "tool.c"
    src.write_text('#include "topbit-visit.h"\n' + TOOL.replace(
        "@CASES@", CASE % {"S": "TopBit", "T": "TopBit"}))
    exe = support.compile_c([src, tmp_path / "topbit-visit.c",
                             *support.runtime_sources(tmp_path)], tmp_path / "tool",
                            include=[tmp_path], extra=support.SANITIZE)
    py = support.import_module(tmp_path / "topbit_asn1.py")
    value = {"ranged": 200, "wide": 65000, "bits": 255, "n": 150, "data": bytes(range(150)),
             "id": 0, "small": -2,
             "layout": {"n": 130, "data": list(range(0xFF00, 0xFF00 + 130))}}
    legacy = py.save_legacy("TopBit", value, 1)
    assert legacy[:8] == bytes.fromhex("c8" "fde8" "000000ff" "96")  # ..., the count 150
    (line,) = _run(exe, [f"TopBit ber2legacy 1 {py.save('TopBit', value).hex()}"])
    assert line == f"OK {legacy.hex()}"
    (line,) = _run(exe, [f"TopBit legacy2ber 1 {legacy.hex()}"])
    assert line == f"OK {py.save('TopBit', value).hex()}"
    # a signed value is still sign-extended: -2 in an int8_t
    assert py.load_legacy("TopBit", legacy, 1)["small"] == -2


# ---- negotiation between a new and an old peer, over a socket pair ----------------------

PEER = r"""
#include "watchdog%(suffix)s-visit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool io(int fd, void *buf, size_t n, bool out)
{
    for (size_t done = 0; done < n;) {
        char *at = (char *)buf + done;
        ssize_t r = out ? write(fd, at, n - done) : read(fd, at, n - done);
        if (r <= 0) {
            return false;
        }
        done += (size_t)r;
    }
    return true;
}

int main(int argc, char **argv)
{
    int fd = argc == 4 ? atoi(argv[2]) : -1;
    uint32_t formats = (uint32_t)atoi(argv[3]);
    VmgenOffer mine = vmgen_offer_WatchdogState(formats), theirs;
    uint8_t wire[VMGEN_OFFER_SIZE], head[4], *buf = NULL;
    VmgenFormat format;
    uint32_t version, len32;
    size_t len;
    Error *err = NULL;
    WatchdogState s;

    vmgen_offer_encode(&mine, wire);
    if (!io(fd, wire, sizeof wire, true) || !io(fd, wire, sizeof wire, false) ||
        !vmgen_offer_decode(&theirs, wire, sizeof wire, &err) ||
        !vmgen_negotiate(&mine, &theirs, &format, &version, &err)) {
        printf("ERR %%s\n", err ? error_get_pretty(err) : "io");
        return 1;
    }
    memset(&s, 0, sizeof s);
    if (strcmp(argv[1], "send") == 0) {
        s.reload = 1000; s.counter = 5; s.control = 7; s.enabled = true;
%(extra)s
        if (!vmgen_save_WatchdogState_as(&s, format, version, &buf, &len, &err)) {
            printf("ERR %%s\n", error_get_pretty(err));
            return 1;
        }
        head[0] = (uint8_t)(len >> 24); head[1] = (uint8_t)(len >> 16);
        head[2] = (uint8_t)(len >> 8); head[3] = (uint8_t)len;
        if (!io(fd, head, 4, true) || !io(fd, buf, len, true)) {
            return 1;
        }
        printf("SENT format=%%d version=%%u\n", (int)format, version);
    } else {
        if (!io(fd, head, 4, false)) {
            return 1;
        }
        len32 = ((uint32_t)head[0] << 24) | ((uint32_t)head[1] << 16) |
                ((uint32_t)head[2] << 8) | head[3];
        buf = malloc(len32 ? len32 : 1);
        if (!buf || !io(fd, buf, len32, false) ||
            !vmgen_load_WatchdogState_as(&s, format, version, buf, len32, &err)) {
            printf("ERR %%s\n", err ? error_get_pretty(err) : "io");
            return 1;
        }
        printf("GOT format=%%d version=%%u reload=%%u counter=%%u control=%%u enabled=%%d\n",
               (int)format, version, s.reload, s.counter, s.control, (int)s.enabled);
    }
    free(buf);
    return 0;
}
"""


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for name, header, suffix, extra in (
        ("new", "watchdog.h", "", "        s.last_kick = 99; s.stage = 1; s.prescaler = 4;"),
        ("old", "history/watchdog-v1.h", "-v1", ""),
    ):
        work = tmp_path_factory.mktemp(name)
        for args in (["runtime", "-o", str(work)],
                     ["generate", "-I", str(support.FIXTURES), "-o", str(work),
                      str(support.FIXTURES / header)]):
            proc = support.run_vmgen(*args)
            assert proc.returncode == 0, proc.stderr
        (work / "peer.c").write_text(PEER % {"suffix": suffix, "extra": extra})
        out[name] = support.compile_c(
            [work / "peer.c", work / f"watchdog{suffix}-visit.c",
             *support.runtime_sources(work)],
            work / "peer", include=[work, support.FIXTURES], extra=["-std=gnu11"])
    return out


def _migrate(sender: Path, sender_formats: int, receiver: Path,
             receiver_formats: int) -> tuple[str, str]:
    a, b = socket.socketpair()
    with a, b:
        procs = [
            subprocess.Popen([str(exe), role, str(sock.fileno()), str(formats)],
                             pass_fds=[sock.fileno()], stdout=subprocess.PIPE, text=True)
            for exe, role, sock, formats in ((sender, "send", a, sender_formats),
                                             (receiver, "recv", b, receiver_formats))
        ]
        outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    return outs[0], outs[1]


@pytest.mark.parametrize(("sender", "receiver"), [("new", "old"), ("old", "new")])
def test_new_peer_talks_legacy_to_an_old_peer(peers: dict[str, Path], sender: str,
                                              receiver: str) -> None:
    formats = {"new": 3, "old": 1}  # the old build knows the legacy format only
    sent, got = _migrate(peers[sender], formats[sender], peers[receiver], formats[receiver])
    assert sent == "SENT format=1 version=1"
    assert got == "GOT format=1 version=1 reload=1000 counter=5 control=7 enabled=1"


def test_two_new_peers_pick_ber_and_the_newest_version(peers: dict[str, Path]) -> None:
    sent, got = _migrate(peers["new"], 3, peers["new"], 3)
    assert sent == "SENT format=2 version=3"
    assert got == "GOT format=2 version=3 reload=1000 counter=5 control=7 enabled=1"


def test_no_common_format_is_refused(peers: dict[str, Path]) -> None:
    sent, got = _migrate(peers["new"], 2, peers["old"], 1)
    # each side names its own formats first
    assert sent == "ERR no common migration format (formats 2 and 1)"
    assert got == "ERR no common migration format (formats 1 and 2)"


def test_python_negotiation_twin(built: Callable[[str], Built]) -> None:
    py = built("rtc").py
    new = py.offer("RTCState")  # (LEGACY | BER, 1, 3)
    assert py.negotiate(new, (py.LEGACY, 1, 2)) == (py.LEGACY, 2)
    assert py.negotiate(new, new) == (py.BER, 3)
    assert py.decode_offer(py.encode_offer(new)) == new
    with pytest.raises(py.Error, match=r"no common version: 1\.\.3 and 4\.\.5"):
        py.negotiate(new, (py.BER, 4, 5))
