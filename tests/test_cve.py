"""The 2013-14 QEMU migration-load CVEs, replayed against generated loaders.

Each fixture in fixtures/cve/ models a device whose hand-written loader trusted a
count or an index from the stream.  For each, a record that the hand-written
loader would have accepted (count 65 over a 64-entry table, index -1 or 4097
over a 4096-byte buffer, ...) is crafted with asn1tools from the generated
module's ASN.1 with its constraints removed; the generated C loader (ASan +
UBSan driver) must refuse it with the exact message and leave the destination
untouched, and the generated Python `load` must refuse it with its exact message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests import support
from tests.fuzz import harness
from vmgen.lowering import ir

CVE = support.FIXTURES / "cve"
STEMS = ("virtio_net_mac", "hpet_timers", "usb_setup", "pl022_fifo", "ssd0323_cmd",
         "ahci_ports", "pcie_aer_log", "openpic_cpus")


@pytest.fixture(scope="module")
def gens(tmp_path_factory: pytest.TempPathFactory) -> dict[str, harness.Gen]:
    root = tmp_path_factory.mktemp("cve")
    with ThreadPoolExecutor(2) as pool:
        built = pool.map(lambda s: harness.generate(CVE / f"{s}.h", root / s), STEMS)
        return dict(zip(STEMS, built, strict=True))


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(record: dict[str, Any]) -> None:
        target: Any = record["state"]
        *parts, last = path.split("/")
        for p in parts:
            target = target[int(p)] if p.isdigit() else target[p]
        target[int(last) if last.isdigit() else last] = value
    return edit


def _grow(path: str, n: int) -> Callable[[dict[str, Any]], None]:
    """The list at `path` made n elements long (copies of an element of the sample)."""
    def edit(record: dict[str, Any]) -> None:
        target: Any = record["state"]
        for p in path.split("/"):
            target = target[p]
        target[:] = (target * n)[:n] if target else []
        assert len(target) == n
    return edit


def _r(stem: str, state: str, field: str, value: int, lo: int, hi: int) -> tuple[Any, ...]:
    """An INTEGER `field` set to `value` outside its range lo..hi."""
    return (stem, state, _set(field, value),
            f"{state}: {field.replace('-', '_')}: INTEGER {value} out of range {lo}..{hi}",
            f"{state}-Record.state.{field.replace('-', '_')}: {value} is out of range {lo}..{hi}")


def _n(stem: str, state: str, field: str, c_field: str, n: int, lo: int,
       hi: int, count: str | None = None) -> tuple[Any, ...]:
    """The list `field` (count field elsewhere) with n elements, outside lo..hi.  Python
    names the count field when it has a VMGEN_RANGE (`count`), else the array."""
    py = (f"{state}-Record.state.{count}: {n} is out of range {lo}..{hi}" if count else
          f"{state}-Record.state.{c_field}: expected {lo}..{hi} elements, got {n}")
    return (stem, state, _grow(field, n),
            f"{state}: {c_field}: list length {n} out of range {lo}..{hi}", py)


CASES: dict[str, tuple[Any, ...]] = {
    # virtio-net: QEMU read in_use * ETH_ALEN bytes into macs[64][6].
    "virtio-net in_use=65": _n("virtio_net_mac", "VirtIONetMacTable", "macs", "macs", 65, 0, 64),
    "virtio-net in_use=1000": _n("virtio_net_mac", "VirtIONetMacTable", "macs", "macs", 1000,
                                 0, 64),
    "virtio-net first_multi=65": _r("virtio_net_mac", "VirtIONetMacTable", "first-multi", 65,
                                    0, 64),
    "virtio-net first_multi=-1": _r("virtio_net_mac", "VirtIONetMacTable", "first-multi", -1,
                                    0, 64),
    # HPET: num_timers (u8) walked timer[32].
    "hpet num_timers=33": _n("hpet_timers", "HPETTimerBlock", "timer", "timer", 33, 3, 32,
                                 "num_timers"),
    "hpet num_timers=255": _n("hpet_timers", "HPETTimerBlock", "timer", "timer", 255, 3, 32,
                                  "num_timers"),
    "hpet num_timers=2": _n("hpet_timers", "HPETTimerBlock", "timer", "timer", 2, 3, 32,
                                "num_timers"),
    "hpet timer[0].tn=32": ("hpet_timers", "HPETTimerBlock", _set("timer/0/tn", 32),
                            "HPETTimerBlock: timer[0].tn: INTEGER 32 out of range 0..31",
                            "HPETTimerBlock-Record.state.timer[0].tn: 32 is out of range 0..31"),
    # USB: setup_index / setup_len int32 over data_buf[4096]; -1 passed a `>=` check.
    "usb setup_index=-1": _r("usb_setup", "USBSetupState", "setup-index", -1, 0, 4096),
    "usb setup_index=4097": _r("usb_setup", "USBSetupState", "setup-index", 4097, 0, 4096),
    "usb setup_index=INT32_MIN": _r("usb_setup", "USBSetupState", "setup-index", -2**31, 0, 4096),
    "usb setup_len=-1": _r("usb_setup", "USBSetupState", "setup-len", -1, 0, 4096),
    "usb setup_len=4097": _r("usb_setup", "USBSetupState", "setup-len", 4097, 0, 4096),
    # PL022: FIFO heads index 8-entry FIFOs.
    "pl022 tx_fifo_head=8": _r("pl022_fifo", "PL022FifoState", "tx-fifo-head", 8, 0, 7),
    "pl022 rx_fifo_head=8": _r("pl022_fifo", "PL022FifoState", "rx-fifo-head", 8, 0, 7),
    "pl022 rx_fifo_head=-1": _r("pl022_fifo", "PL022FifoState", "rx-fifo-head", -1, 0, 7),
    "pl022 tx_fifo_len=9": _r("pl022_fifo", "PL022FifoState", "tx-fifo-len", 9, 0, 8),
    # ssd0323: cmd_data[cmd_len++] with cmd_len from the stream.
    "ssd0323 cmd_len=9": _r("ssd0323_cmd", "SSD0323CmdState", "cmd-len", 9, 0, 8),
    "ssd0323 cmd_len=-1": _r("ssd0323_cmd", "SSD0323CmdState", "cmd-len", -1, 0, 8),
    "ssd0323 row=80": _r("ssd0323_cmd", "SSD0323CmdState", "row", 80, 0, 79),
    "ssd0323 col=64": _r("ssd0323_cmd", "SSD0323CmdState", "col", 64, 0, 63),
    # AHCI: the count comes after the array it sizes.
    "ahci ports=33": _n("ahci_ports", "AHCIPortsState", "port-regs", "port_regs", 33, 0, 32),
    # PCIe AER: log_num over log[128] (the capacity); log_max is a const field.
    "pcie-aer log_num=129": _n("pcie_aer_log", "PCIEAERLog", "log", "log", 129, 0, 128),
    "pcie-aer log_max changed": (
        "pcie_aer_log", "PCIEAERLog", _set("log-max", 8),
        "PCIEAERLog: log_max: the data has 8, this device has 0 (a const field must match)",
        None),  # Python has no destination to compare with: see the test below
    # OpenPIC: nb_cpus walked dst[MAX_CPU].
    "openpic nb_cpus=33": _n("openpic_cpus", "OpenPICCpus", "dst", "dst", 33, 1, 32, "nb_cpus"),
    "openpic nb_cpus=0": _n("openpic_cpus", "OpenPICCpus", "dst", "dst", 0, 1, 32, "nb_cpus"),
}


def _value(g: harness.Gen, state: str) -> dict[str, Any]:
    """A valid value with one element in every list (so a list can be grown from it)."""
    value: dict[str, Any] = harness.simple(g.module, ir.StructRef(state))
    return value


@pytest.mark.parametrize("case", list(CASES))
def test_cve_record_is_refused(gens: dict[str, harness.Gen], case: str) -> None:
    stem, state, edit, c_message, py_message = CASES[case]
    g = gens[stem]
    value = _value(g, state)
    crafter = harness.Crafter(g.py, state)
    good = g.py.save(state, value)
    record = crafter.asn1(value)
    edit(record)
    hostile = crafter.encode(record)
    assert hostile != good
    # the untouched record loads (the refusal is the edit's doing) ...
    assert g.c([(state, good)]) == [f"OK {good.hex()}"]
    # ... the hostile one is refused, and the destination (0xa5 fill) is untouched
    assert g.c([(state, hostile)]) == [f"ERR {c_message}"]
    if py_message is not None:
        with pytest.raises(g.py.Error) as err:
            g.py.load(state, hostile)
        assert str(err.value) == py_message


def test_pcie_aer_const_log_max_python(gens: dict[str, harness.Gen]) -> None:
    """Python has no destination: it reads the const field's value (no check against a device)."""
    g = gens["pcie_aer_log"]
    crafter = harness.Crafter(g.py, "PCIEAERLog")
    value = _value(g, "PCIEAERLog")
    record = crafter.asn1(value)
    record["state"]["log-max"] = 8
    assert g.py.load("PCIEAERLog", crafter.encode(record))["log_max"] == 8


def test_pcie_aer_cross_field_limit(gens: dict[str, harness.Gen]) -> None:
    """vmgen cannot express log_num <= log_max (a relation between two fields): a record
    with 10 entries against log_max 0 loads.  What it does guarantee: log_num is the
    element count found on the wire and never exceeds the array's capacity (128), so the
    C array cannot be overrun; the device's post-load must still check log_num <= log_max."""
    g = gens["pcie_aer_log"]
    crafter = harness.Crafter(g.py, "PCIEAERLog")
    value = _value(g, "PCIEAERLog")
    record = crafter.asn1(value)
    record["state"]["log"] = record["state"]["log"] * 10
    blob = crafter.encode(record)
    assert g.c([("PCIEAERLog", blob)])[0].startswith("OK ")
    loaded = g.py.load("PCIEAERLog", blob)
    assert loaded["log_num"] == 10 and loaded["log_max"] == 0


@pytest.mark.parametrize("stem,count", [("virtio_net_mac", "in-use"), ("hpet_timers", "num-timers"),
                                        ("ahci_ports", "ports"), ("pcie_aer_log", "log-num"),
                                        ("openpic_cpus", "nb-cpus")])
def test_counts_are_not_on_the_wire(gens: dict[str, harness.Gen], stem: str, count: str) -> None:
    """A count field (VMGEN_SIZE_IS) never travels: it is the element count of the list,
    so a negative count (virtio-net's signed in_use) or a count that disagrees with the
    data cannot even be written, and a count after its array (AHCI) cannot be used before
    it is known."""
    spec: str = gens[stem].py.SPEC
    assert not re.search(rf"^\s+{count}\s", spec, re.M)
    assert len(re.findall(r"SEQUENCE \(SIZE \(\d+\.\.\d+\)\) OF", spec)) == 1


def test_cve_fixtures_listed(gens: dict[str, harness.Gen]) -> None:
    assert sorted(p.stem for p in CVE.glob("*.h")) == sorted(STEMS)


def test_every_cve_state_loads_its_own_records(gens: dict[str, harness.Gen],
                                               tmp_path: Path) -> None:
    """Valid records (Hypothesis values at full capacity included) still load: the
    rejections above are not a loader that refuses everything."""
    from tests.fuzz.build import seed_records

    records = []
    for g in gens.values():
        for s in g.module.states:
            records += [(s.name, b) for b in seed_records(g.py, g.module, s.name, 4)]
    by_stem: dict[str, list[tuple[str, bytes]]] = {}
    for g in gens.values():
        names = {s.name for s in g.module.states}
        by_stem[g.stem] = [r for r in records if r[0] in names]
        results = g.c(by_stem[g.stem])
        assert all(r.startswith("OK ") for r in results), results
