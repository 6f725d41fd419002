"""Adopting running devices from their own structs (``vmgen import --struct``,
``vmgen check --vmstate``), against real QEMU 7.2.

fixtures/adopt/ holds six device states as QEMU keeps them (hpet, mc146818rtc,
i8254, i6300esb with its PCIDevice, i8259, fdc), host-only members included and no vmgen
annotation.  For each device: QEMU's description (a stream it just saved and its
``-dump-vmstate`` output) and the struct give the annotations file; vmgen generates
from the struct and that file; the generated C (ASan/UBSan, -Werror) reads the
device's section from the real stream and saves it back byte for byte; a value
changed through vmgen's saver is spliced into the stream and real QEMU loads it and
saves it again unchanged; the BER record of the same object is the one the
generated Python module writes, and it reads back to what Python reads from the
section.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests import qemu, support
from tests.conftest import QEVM_SCHEMA
from vmgen.runtime import qevm

ADOPT = support.FIXTURES / "adopt"
INCLUDE = ADOPT / "include"
GOLDEN = Path(__file__).parent / "golden" / "adopt"


@dataclass(frozen=True)
class Device:
    vm: str  # conftest.QEMU_VMS key of the VM whose stream holds it
    name: str  # its VMState
    file: str  # fixtures/adopt/FILE
    state: str  # its C struct
    setup: str  # C statements giving host members storage (obj is the struct)
    poke: str  # C statements changing a value a paused QEMU keeps as it is
    instance: int = 0  # which section of that VMState in the stream (instance_id)
    post_load: str = ""  # C statements after each load (what QEMU's post_load does)
    grow: str = ""  # C statements making the saver send a subsection the stream lacked


DEVICES = {
    "hpet": Device("pc", "hpet", "hpet.c", "HPETState",
                   "for (int i = 0; i < HPET_MAX_TIMERS; i++) {\n"
                   "        obj->timer[i].qemu_timer = &timers[i];\n    }",
                   "obj.timer[1].cmp = 0x12345678u;"),
    "mc146818rtc": Device("pc", "mc146818rtc", "mc146818rtc.h", "RTCState",
                          "obj->periodic_timer = &timers[0];\n"
                          "    obj->update_timer = &timers[1];\n"
                          "    obj->coalesced_timer = &timers[2];",
                          "obj.cmos_data[0x70] = 0x5a;"),
    "i8254": Device("pc", "i8254", "i8254.h", "PITCommonState", "(void)obj;",
                    "obj.channels[2].latched_count = 0x4242;"),
    "i6300esb_wdt": Device("q35-devices", "i6300esb_wdt", "i6300esb.c", "I6300State",
                           "obj->dev.config = config;\n"
                           "    obj->dev.version_id = 2;\n"
                           "    obj->timer = &timers[0];",
                           "obj.timer1_preload = 0x1234;"),
    # the slave PIC: the second of two sections of one VMState (instances 0 and 1)
    "i8259": Device("pc", "i8259", "i8259.h", "PICCommonState", "(void)obj;",
                    "obj.irq_base = 0x78;", instance=1),
    # a struct array QEMU describes element by element (index entries: each drive's
    # VMState has subsections), subsections in each element and in the controller,
    # the FIFO behind a pointer, and a VMState "fdc" nested in a VMState "fdc"
    "fdc": Device("pc", "fdc", "fdc.c", "FDCtrlISABus",
                  "obj->state.fifo = config;\n"
                  "    obj->state.fifo_size = FD_SECTOR_LEN;\n"
                  "    obj->state.result_timer = &timers[0];\n"
                  "    timer_del(&timers[0]);\n"
                  "    obj->state.check_media_rate = 1;\n"
                  "    obj->state.num_floppies = MAX_FD;\n"
                  "    for (int i = 0; i < MAX_FD; i++) {\n"
                  "        obj->state.drives[i].fdctrl = &obj->state;\n    }\n"
                  "    fdc_pre_load(&obj->state);",
                  "obj.state.timer0 = 0x5a;", post_load="fdc_post_load(&obj.state);",
                  grow="obj.state.drives[1].perpendicular = 1;"),
}

_DRIVER = """\
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-visitors.h"
#include "@FILE@"
#include "@VISIT@"

static QEMUTimer timers[64];
static uint8_t config[4096];

static void setup(@STATE@ *obj)
{
    memset(obj, 0, sizeof(*obj));
    (void)config;
    (void)timers;
    @SETUP@
}

@UNHEX@
static void put_hex(const char *tag, const uint8_t *buf, size_t len)
{
    printf(" %s ", tag);
    for (size_t i = 0; i < len; i++) {
        printf("%02x", buf[i]);
    }
}

int main(void)
{
    static char hex[1 << 21];
    static uint8_t buf[1 << 20];
    char mode[16];
    unsigned version;

    /* each line: MODE VERSION HEX -> "ok legacy HEX ber HEX" or "error MESSAGE" */
    while (scanf("%15s %u %2097151s", mode, &version, hex) == 3) {
        @STATE@ obj;
        Error *err = NULL;
        uint8_t *out = NULL, *ber = NULL;
        size_t len = unhex(hex, buf), olen = 0, blen = 0;

        setup(&obj);
        if (!vmgen_load_@STATE@_legacy(&obj, version, buf, len, &err)) {
            printf("error %s\\n", error_get_pretty(err));
            error_free(err);
            continue;
        }
        @POST_LOAD@
        if (strcmp(mode, "poke") == 0) {
            @POKE@
        }
        if (strcmp(mode, "grow") == 0) {
            @GROW@
        }
        if (!vmgen_save_@STATE@_legacy(&obj, version, &out, &olen, &err) ||
            !vmgen_save_@STATE@(&obj, &ber, &blen, &err)) {
            printf("error %s\\n", error_get_pretty(err));
            error_free(err);
            free(out);
            continue;
        }
        printf("ok");
        put_hex("legacy", out, olen);
        put_hex("ber", ber, blen);
        printf("\\n");
        free(out);
        free(ber);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import require_qemu

    require_qemu()
    path = tmp_path_factory.mktemp("dump") / "dump.json"
    qemu.dump_vmstate(path)
    return path


def _import(device: Device, stream: Path | None, dump: Path | None, out: Path,
            *extra: str, file: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = ["import", "--device", device.name, "--struct",
            f"{file or ADOPT / device.file}:{device.state}", "-I", str(INCLUDE),
            "-o", str(out), *extra]
    if stream is not None:
        args += ["--from", str(stream)]
    if dump is not None:
        args += ["--dump-vmstate", str(dump)]
    return support.run_vmgen(*args)


@dataclass(frozen=True)
class Adopted:
    device: Device
    toml: Path
    out: Path
    driver: Path
    stream: Path


@pytest.fixture(scope="module")
def adopted(qemu_stream: Callable[[str], Path], dump: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Adopted]:
    """`adopted(name)`: the device imported, generated and its C driver built, once."""
    done: dict[str, Adopted] = {}

    def get(name: str) -> Adopted:
        if name in done:
            return done[name]
        device = DEVICES[name]
        out = tmp_path_factory.mktemp(f"adopt-{name}")
        stream = qemu_stream(device.vm)
        toml = out / f"{device.state}.toml"
        proc = _import(device, stream, dump, toml)
        assert proc.returncode == 0, proc.stderr
        for args in (["runtime", "-o", str(out)],
                     ["generate", "-I", str(INCLUDE), "--annotations", str(toml), "-o",
                      str(out), str(ADOPT / device.file)]):
            proc = support.run_vmgen(*args)
            assert proc.returncode == 0, proc.stderr
        stem = Path(device.file).stem
        is_c = device.file.endswith(".c")
        text = (_DRIVER.replace("@UNHEX@", support.C_UNHEX).replace("@FILE@", device.file)
                .replace("@VISIT@", f"{stem}-visit.{'c' if is_c else 'h'}")
                .replace("@STATE@", device.state).replace("@SETUP@", device.setup)
                .replace("@POKE@", device.poke).replace("@POST_LOAD@", device.post_load)
                .replace("@GROW@", device.grow))
        (out / "driver.c").write_text(text)
        sources = [out / "driver.c", ADOPT / "host-visitors.c", *support.runtime_sources(out)]
        if not is_c:
            sources.append(out / f"{stem}-visit.c")
        driver = support.compile_c(sources, out / "driver", include=[out, ADOPT, INCLUDE],
                                   extra=support.SANITIZE)
        done[name] = Adopted(device, toml, out, driver, stream)
        return done[name]

    return get


def _section(stream: qevm.Stream, vmsd: str, instance: int = 0) -> qevm.Section:
    found = [r for r in stream.records if isinstance(r, qevm.Section) and r.device is not None
             and r.device.layout.vmsd_name == vmsd and r.instance_id == instance]
    assert len(found) == 1, (vmsd, instance)
    return found[0]


def _run(driver: Path, jobs: list[tuple[str, int, bytes]]) -> list[str]:
    stdin = "".join(f"{mode} {version} {body.hex()}\n" for mode, version, body in jobs)
    proc = subprocess.run([str(driver)], input=stdin, capture_output=True, text=True,
                          check=True, timeout=120)
    assert not proc.stderr, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(jobs), proc.stdout
    return lines


def _parts(line: str) -> tuple[bytes, bytes]:
    m = re.fullmatch(r"ok legacy ([0-9a-f]*) ber ([0-9a-f]*)", line)
    assert m is not None, line
    return bytes.fromhex(m.group(1)), bytes.fromhex(m.group(2))


@pytest.mark.parametrize("name", list(DEVICES))
def test_import_struct_writes_the_annotations_file(
        name: str, adopted: Callable[[str], Adopted]) -> None:
    """The annotations file as `vmgen import --struct` writes it (reviewed golden)."""
    done = adopted(name)
    text = done.toml.read_text()
    golden = GOLDEN / f"{name}.toml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()


@pytest.mark.parametrize("name", list(DEVICES))
def test_own_struct_resaves_the_real_section(
        name: str, adopted: Callable[[str], Adopted]) -> None:
    done = adopted(name)
    stream = qevm.parse(done.stream.read_bytes())
    section = _section(stream, done.device.name, done.device.instance)
    body = bytes(stream.body(section))
    [line] = _run(done.driver, [("same", section.version_id, body)])
    legacy, _ = _parts(line)
    assert legacy == body


@pytest.mark.parametrize("name", list(DEVICES))
def test_ber_record_of_the_same_object_round_trips_through_python(
        name: str, adopted: Callable[[str], Adopted]) -> None:
    done = adopted(name)
    stream = qevm.parse(done.stream.read_bytes())
    section = _section(stream, done.device.name, done.device.instance)
    body = bytes(stream.body(section))
    [line] = _run(done.driver, [("same", section.version_id, body)])
    _, ber = _parts(line)
    stem = Path(done.device.file).stem
    py = support.import_module(done.out / f"{support.names_module(stem)}_asn1.py")
    state = done.device.state
    assert py.SECTIONS[done.device.name] == state
    value = py.load(state, ber)
    assert py.save(state, value) == ber  # Python writes the record C wrote
    # what Python reads from the legacy section is what C put in the record
    present: set[str] = set()
    loaded = py.load_legacy(state, body, section.version_id, present)
    assert _carried(done, loaded, present) == _carried(done, value, present)
    # and it writes the section back, sending the subsections the stream held where
    # a C function decides
    needed = {name: name in present for name in _decided_subsections(done)}
    assert py.save_legacy(state, value, section.version_id, needed) == body
    if needed:
        with pytest.raises(py.Error, match="a C function decides whether subsection"):
            py.save_legacy(state, value, section.version_id)


def _decided_subsections(done: Adopted) -> list[str]:
    """The subsections a C function decides, of the adopted struct and of the structs
    it holds (fdc's drives), once each."""
    from vmgen.frontend.sidecar import tomllib

    tables = tomllib.loads(done.toml.read_text())
    return list(dict.fromkeys(g["vmsd"] for table in tables.values()
                              if isinstance(table, dict) and "vmsd" in table
                              for g in table.get("subsections", [])))


def _carried(done: Adopted, value: Any, present: set[str]) -> Any:
    """`value` without the members of the function-decided subsections the section did
    not hold: C's object keeps the host's values there (fdc's phase, as its post-load
    derives it, and its result timer's deadline), Python's reader zeros; every member
    the section carries stays.  A dict is an instance of a struct when it holds every
    name of that struct's layout."""
    from vmgen.frontend.sidecar import tomllib

    tables = tomllib.loads(done.toml.read_text())
    absent = []
    for table in tables.values():
        if not isinstance(table, dict) or "vmsd" not in table:
            continue
        names = {x for x in table["layout"] if isinstance(x, str)}
        drop = {m for g in table.get("subsections", []) if g["vmsd"] not in present
                for m in g["layout"] if isinstance(m, str)}
        if names and drop:
            absent.append((names, drop))

    def walk(v: Any) -> Any:
        if isinstance(v, list):
            return [walk(x) for x in v]
        if not isinstance(v, dict):
            return v
        drop = set().union(*(d for names, d in absent if names <= v.keys()))
        return {k: walk(x) for k, x in v.items() if k not in drop}

    return walk(value)


@pytest.mark.parametrize("name", list(DEVICES))
def test_real_qemu_loads_what_vmgen_saved_from_the_own_struct(
        name: str, adopted: Callable[[str], Adopted], tmp_path: Path) -> None:
    from tests.conftest import QEMU_VMS

    done = adopted(name)
    original = done.stream.read_bytes()
    stream = qevm.parse(original)
    section = _section(stream, done.device.name, done.device.instance)
    body = bytes(stream.body(section))
    [line] = _run(done.driver, [("poke", section.version_id, body)])
    changed, _ = _parts(line)
    assert len(changed) == len(body) and changed != body
    spliced = original[:section.body] + changed + original[section.body_end:]
    (tmp_path / "in.mig").write_bytes(spliced)
    machine, args = QEMU_VMS[done.device.vm]
    resaved = qemu.load_and_resave(tmp_path / "in.mig", tmp_path / "out.mig", machine, args)
    again = qevm.parse(resaved)
    assert bytes(again.body(_section(again, done.device.name, done.device.instance))) == changed
    assert resaved == spliced  # nothing else moved


@pytest.mark.parametrize("name", list(DEVICES))
def test_check_vmstate_accepts_the_adopted_layout(
        name: str, adopted: Callable[[str], Adopted], dump: Path) -> None:
    done = adopted(name)
    for source in (dump, done.stream):
        proc = support.run_vmgen("check", "-I", str(INCLUDE), "--annotations", str(done.toml),
                                 "--vmstate", str(source), str(ADOPT / done.device.file))
        assert (proc.returncode, proc.stderr) == (0, "")
        assert proc.stdout == f"vmgen check: 1 VMState layout equal {source.name}'s\n"


def test_fdc_drives_whose_subsections_differ(
        adopted: Callable[[str], Adopted], dump: Path, tmp_path: Path) -> None:
    """Drive 1 in perpendicular mode: vmgen's saver sends "fdrive/perpendicular" for
    that drive alone; real QEMU loads the section and saves it again the same, its
    description giving the two drives' index entries with different subsections; the
    import from that stream writes the same annotations file, and the generated C
    re-saves that section byte for byte."""
    from tests.conftest import QEMU_VMS

    done = adopted("fdc")
    original = done.stream.read_bytes()
    stream = qevm.parse(original)
    section = _section(stream, "fdc")
    body = bytes(stream.body(section))
    [line] = _run(done.driver, [("grow", section.version_id, body)])
    grown, _ = _parts(line)
    # 0x05, the name's length, the name, its be32 version, the one byte
    assert len(grown) == len(body) + 2 + len("fdrive/perpendicular") + 4 + 1
    (tmp_path / "in.mig").write_bytes(original[:section.body] + grown
                                      + original[section.body_end:])
    machine, args = QEMU_VMS["pc"]
    resaved = tmp_path / "out.mig"
    again = qevm.parse(qemu.load_and_resave(tmp_path / "in.mig", resaved, machine, args))
    held = _section(again, "fdc")
    assert bytes(again.body(held)) == grown
    assert held.device is not None
    [state] = held.device.layout.fields
    assert state.struct is not None
    drives = [f for f in state.struct.fields if f.name == "drives"]
    assert [(f.index, [s.vmsd_name for s in f.struct.subsections])
            for f in drives if f.struct is not None] == [
        (0, ["fdrive/media_rate"]), (1, ["fdrive/media_rate", "fdrive/perpendicular"])]
    out = tmp_path / "fdc.toml"
    proc = _import(DEVICES["fdc"], resaved, dump, out)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().split("\n", 1)[1] == done.toml.read_text().split("\n", 1)[1]
    [line] = _run(done.driver, [("same", held.version_id, grown)])
    assert _parts(line)[0] == grown
    # The generated Python module, and so `stream to-ber`, decides a subsection by its
    # name, once for every drive: to-ber carries this section as bytes and says why
    # (the section QEMU saved, both drives alike, goes as a record).
    for path, note in ((done.stream, ""), (resaved, f"{resaved}: section 'fdc' (instance 0, "
                                           f"id {held.section_id}) at offset {held.offset}: "
                                           "carried as bytes (its module writes other "
                                           "bytes back)\n")):
        proc = support.run_vmgen("stream", "to-ber", "--module", str(_module_of(done)),
                                 str(path), str(tmp_path / "vm.ber"))
        assert (proc.returncode, proc.stderr) == (0, note)


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_check_vmstate_reports_a_widened_member(
        adopted: Callable[[str], Adopted], dump: Path, tmp_path: Path) -> None:
    """The drift a hand-kept table never reports: the struct's member widened, the
    table (here QEMU's) not."""
    done = adopted("i8254")
    header = tmp_path / "i8254.h"
    text = (ADOPT / "i8254.h").read_text()
    assert text.count("uint16_t latched_count;") == 1
    header.write_text(text.replace("uint16_t latched_count;", "uint32_t latched_count;"))
    proc = support.run_vmgen("check", "-I", str(INCLUDE), "--annotations", str(done.toml),
                             "--vmstate", str(dump), str(header))
    line = _line_of(header, "latched_count;")
    assert proc.returncode == 1
    assert proc.stderr == (f"{header}:{line}:14: error: VMState 'pit channel': 'latched_count': "
                           "size 2 in QEMU's table, 4 here\n")


def test_check_vmstate_reports_a_reordered_layout(
        adopted: Callable[[str], Adopted], dump: Path, tmp_path: Path) -> None:
    done = adopted("hpet")
    toml = tmp_path / "hpet.toml"
    text = done.toml.read_text()
    assert '"isr", "hpet_counter"' in text
    toml.write_text(text.replace('"isr", "hpet_counter"', '"hpet_counter", "isr"'))
    proc = support.run_vmgen("check", "-I", str(INCLUDE), "--annotations", str(toml),
                             "--vmstate", str(dump), str(ADOPT / "hpet.c"))
    line = _line_of(ADOPT / "hpet.c", "uint64_t hpet_counter;")
    assert proc.returncode == 1
    assert proc.stderr == (f"{ADOPT / 'hpet.c'}:{line}:14: error: VMState 'hpet': QEMU's table "
                           "has 'isr' (8 bytes) where the layout of 'HPETState' has "
                           "'hpet_counter'\n")


def test_a_member_added_and_left_out_of_the_layout_is_an_error(
        adopted: Callable[[str], Adopted], tmp_path: Path) -> None:
    done = adopted("mc146818rtc")
    header = tmp_path / "mc146818rtc.h"
    text = (ADOPT / "mc146818rtc.h").read_text()
    anchor = "    uint8_t cmos_index;"
    assert text.count(anchor) == 1
    header.write_text(text.replace(anchor, anchor + "\n    uint32_t alarm_shadow;"))
    proc = support.run_vmgen("generate", "-I", str(INCLUDE), "--annotations", str(done.toml),
                             "-o", str(tmp_path / "out"), str(header))
    line = _line_of(header, "alarm_shadow")
    assert proc.returncode == 1
    assert proc.stderr == (f"{header}: In struct 'RTCState':\n{header}:{line}:14: error: "
                           "'alarm_shadow' of 'RTCState' is migrated but not in its layout: "
                           "list it in the annotations file's layout (or a subsection), or "
                           "mark it skip\n")
    assert not (tmp_path / "out").exists()


def test_import_struct_refuses_a_struct_without_the_described_member(
        qemu_stream: Callable[[str], Path], dump: Path, tmp_path: Path) -> None:
    device = DEVICES["hpet"]
    source = tmp_path / "hpet.c"
    text = (ADOPT / "hpet.c").read_text()
    assert text.count("uint64_t isr;") == 1
    source.write_text(text.replace("uint64_t isr;", "uint64_t isr_shadow;"))
    out = tmp_path / "hpet.toml"
    proc = _import(device, qemu_stream("pc"), dump, out, file=source)
    assert proc.returncode == 1
    assert proc.stderr == (f"{source}:{_line_of(source, 'struct HPETState {')}:8: error: "
                           "QEMU's field 'isr': 'HPETState' has no member 'isr'\n")
    assert not out.exists()


def test_import_struct_refuses_a_size_that_disagrees(
        qemu_stream: Callable[[str], Path], dump: Path, tmp_path: Path) -> None:
    device = DEVICES["i8254"]
    header = tmp_path / "i8254.h"
    text = (ADOPT / "i8254.h").read_text()
    header.write_text(text.replace("uint8_t read_state;", "uint16_t read_state;"))
    out = tmp_path / "pit.toml"
    proc = _import(device, qemu_stream("pc"), dump, out, file=header)
    line = _line_of(header, "read_state;")
    assert proc.returncode == 1
    assert proc.stderr == (f"{header}:{line}:14: error: 'read_state' of 'PITChannelState' is "
                           "2 bytes (uint16_t), QEMU's uint8 of 1 byte\n")
    assert not out.exists()


def test_import_struct_asks_which_function_decides_a_subsection(
        qemu_stream: Callable[[str], Path], dump: Path, tmp_path: Path) -> None:
    device = DEVICES["hpet"]
    source = tmp_path / "hpet.c"
    text = (ADOPT / "hpet.c").read_text()
    assert "hpet_offset_needed" in text
    source.write_text(text.replace("hpet_offset_needed", "hpet_keep_counter"))
    out = tmp_path / "hpet.toml"
    proc = _import(device, qemu_stream("pc"), dump, out, file=source)
    assert proc.returncode == 1
    assert proc.stderr == (f"{source}:{_line_of(source, 'struct HPETState {')}:8: "
                           f"error: subsection 'hpet/offset' of 'HPETState': no function "
                           f"bool f(void *) in {source} has its name in its own; say which "
                           "with --needed 'hpet/offset=FUNCTION'\n")
    assert not out.exists()
    proc = _import(device, qemu_stream("pc"), dump, out, "--needed",
                   "hpet/offset=hpet_keep_counter", file=source)
    assert proc.returncode == 0, proc.stderr
    assert 'needed = "hpet_keep_counter"' in out.read_text()


def test_import_struct_from_the_dump_alone(dump: Path, tmp_path: Path) -> None:
    """-dump-vmstate has no types and no array lengths: the struct gives them (the
    variable array's count is named, as no stream shows it)."""
    out = tmp_path / "hpet.toml"
    proc = support.run_vmgen("import", "--dump-vmstate", str(dump), "--device", "hpet",
                             "--struct", f"{ADOPT / 'hpet.c'}:HPETState", "-I", str(INCLUDE),
                             "--count", "timer=num_timers", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().split("\n", 1)[1] == \
        (GOLDEN / "hpet.toml").read_text().split("\n", 1)[1]


def _drive(media: tuple[str, ...], fields: tuple[str, ...] = ("head", "track")
           ) -> qevm.StructDesc:
    """An fdrive element as a stream describes it, with the subsections it sent."""
    def one(name: str) -> qevm.FieldDesc:
        return qevm.FieldDesc(name, "uint8", 1, 1, False, None, None)

    return qevm.StructDesc("fdrive", 1, tuple(one(f) for f in fields),
                           tuple(qevm.StructDesc(f"fdrive/{m}", 1, (one(m),), ())
                                 for m in media))


def test_index_entries_become_one_struct_array() -> None:
    """A stream describes a struct array whose element VMState has subsections element
    by element (`index` entries; QEMU never folds them): one array field of as many
    elements, whose element has every subsection some element sent, in their order."""
    from vmgen.tools import vmstate

    def entries(*elements: qevm.StructDesc) -> qevm.StructDesc:
        return qevm.StructDesc("fdc", 2, (
            qevm.FieldDesc("sra", "uint8", 1, 1, False, None, None),
            *(qevm.FieldDesc("drives", "struct", 4, 1, False, i, e)
              for i, e in enumerate(elements))), ())

    desc = vmstate.from_stream(entries(_drive(("media_rate",)),
                                       _drive(("media_changed", "media_rate"))))
    sra, drives = desc.fields
    assert (sra.name, drives.name, drives.count, drives.array) == ("sra", "drives", 2, True)
    assert drives.struct is not None
    assert [f.name for f in drives.struct.fields] == ["head", "track"]
    assert [s.name for s in drives.struct.subsections] == ["fdrive/media_rate",
                                                           "fdrive/media_changed"]
    with pytest.raises(vmstate.DescError) as exc:
        vmstate.from_stream(entries(_drive(()), _drive((), ("head", "sect"))))
    assert str(exc.value) == ("'fdc': field 'drives': element 1 is VMState 'fdrive' version "
                              "1 with other fields than element 0 ('fdrive' version 1)")
    odd = qevm.StructDesc("fdc", 2, (qevm.FieldDesc("drives", "struct", 4, 1, False, 1,
                                                    _drive(())),), ())
    with pytest.raises(vmstate.DescError) as exc:
        vmstate.from_stream(odd)
    assert str(exc.value) == ("'fdc': field 'drives': index entries must be struct elements "
                              "counted from 0")


def test_import_struct_maps_a_byte_array_behind_a_pointer(
        qemu_stream: Callable[[str], Path], dump: Path, tmp_path: Path) -> None:
    """QEMU's VMSTATE_VARRAY of bytes on a pointer member whose count the stream does
    not carry (fdc's fifo, fifo_size): a visitor of as many bytes as the stream holds,
    said on stderr; without a stream (the dump has no array lengths) an error."""
    device = DEVICES["fdc"]
    out = tmp_path / "fdc.toml"
    proc = _import(device, qemu_stream("pc"), dump, out)
    assert proc.returncode == 0, proc.stderr
    assert "fifo = { visitor = [\"FDCtrl_fifo\", \"bytes(512)\"] }\n" in out.read_text()
    assert ("vmgen import: 'fifo' of 'FDCtrl' points to the 512 bytes QEMU's description "
            "holds: visit_type_FDCtrl_fifo() moves them\n") in proc.stderr
    source = ADOPT / "fdc.c"
    proc = _import(device, None, dump, tmp_path / "dump-only.toml")
    assert proc.returncode == 1
    assert proc.stderr == (f"{source}:{_line_of(source, 'uint8_t *fifo;')}:14: error: 'fifo' "
                           "of 'FDCtrl' is uint8_t *: QEMU's array of bytes needs a stream "
                           "to say how many bytes it points to\n")
    assert not (tmp_path / "dump-only.toml").exists()


def test_check_vmstate_reports_a_visited_buffer_of_another_length(
        adopted: Callable[[str], Adopted], tmp_path: Path) -> None:
    """The fifo's visitor moving other than the 512 bytes the stream holds."""
    done = adopted("fdc")
    toml = tmp_path / "fdc.toml"
    text = done.toml.read_text()
    assert text.count('"bytes(512)"') == 1
    toml.write_text(text.replace('"bytes(512)"', '"bytes(256)"'))
    source = ADOPT / "fdc.c"
    proc = support.run_vmgen("check", "-I", str(INCLUDE), "--annotations", str(toml),
                             "--vmstate", str(done.stream), str(source))
    assert proc.returncode == 1
    assert proc.stderr == (f"{source}:{_line_of(source, 'uint8_t *fifo;')}:14: error: VMState "
                           "'fdc': 'fifo': 512 bytes in the stream, 256 here\n")


def test_visitor_macro_and_annotations_file_say_the_same(tmp_path: Path) -> None:
    """VMGEN_VISITOR in the header and `visitor` in the annotations file generate the
    same code."""
    base = """\
#include <stdint.h>
#include "vmgen.h"

typedef struct VMGEN_STATE(1, 1) VMGEN_VMSD("dev") Dev {
    uint8_t *config%s;
    uint32_t mode;
} Dev;
"""
    for name, annotation, toml in (
            ("macro", " VMGEN_VISITOR(pci_config, bytes(256))", ""),
            ("file", "", '[Dev.fields]\nconfig = { visitor = ["pci_config", "bytes(256)"] }\n')):
        d = tmp_path / name
        d.mkdir()
        (d / "dev.h").write_text(base % annotation)
        args = ["generate", "-o", str(d / "out"), "dev.h"]
        if toml:
            (d / "dev.toml").write_text(toml)
            args[1:1] = ["--annotations", "dev.toml"]
        proc = support.run_vmgen(*args, cwd=d)
        assert proc.returncode == 0, proc.stderr
    for out in sorted((tmp_path / "macro" / "out").iterdir()):
        assert out.read_text() == (tmp_path / "file" / "out" / out.name).read_text(), out.name
    header = (tmp_path / "macro" / "out" / "dev-visit.h").read_text()
    assert ("bool visit_type_pci_config(Visitor *v, const char *name, uint8_t * *obj, "
            "Error **errp);") in header


def _walkthrough() -> list[tuple[str, str]]:
    """The README's adoption walk-through: (command, its output) of every `$ ` line of
    the shell blocks in the section."""
    text = (Path(__file__).parent.parent / "README.md").read_text()
    section = text.split("## Adopting a device from its own struct", 1)[1].split("\n## ", 1)[0]
    steps: list[tuple[str, str]] = []
    for lang, block in re.findall(r"^```(\w*)\n(.*?)^```$", section, re.S | re.M):
        if lang:  # C, not a shell session
            continue
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, output = chunk.partition("\n")
            steps.append((command, output))
    return steps


def test_readme_walkthrough_is_what_the_commands_print(
        qemu_stream: Callable[[str], Path], dump: Path, tmp_path: Path) -> None:
    """Every command of the README's walk-through, run in a folder holding
    fixtures/adopt, a fresh `-M pc` stream and dump, prints exactly what the README
    shows (stdout, then stderr)."""
    import sys

    steps = _walkthrough()
    assert [c.split()[0] for c, _ in steps] == ["vmgen", "cat", "vmgen", "vmgen", "sed", "vmgen"]
    work = tmp_path / "work"
    shutil.copytree(ADOPT, work)
    shutil.copy(qemu_stream("pc"), work / "vm.mig")
    shutil.copy(dump, work / "dump.json")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "vmgen").write_text(f'#!/bin/sh\nexec {sys.executable} -m vmgen "$@"\n')
    (bin_dir / "vmgen").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "PYTHONPATH": str(Path(__file__).parent.parent)}
    for command, expected in steps:
        proc = subprocess.run(["bash", "-c", command], cwd=work, capture_output=True,
                              text=True, env=env, check=False, timeout=120)
        assert proc.stdout + proc.stderr == expected, command


def _predicate(subsection: str, value: dict[str, object]) -> bool:
    """What the fixtures' predicates answer for a loaded state (the C re-save sends a
    subsection when they say so, whatever the loaded stream held)."""
    if subsection == "hpet/offset":  # hpet_enabled(s) && s->hpet_offset_saved: not loaded
        return False
    member = {"hpet/rtc_irq_level": "rtc_irq_level",
              "mc146818rtc/irq_reinject_on_ack_count": "irq_reinject_on_ack_count"}
    return value[member[subsection]] != 0


# Devices whose host visitors accept every value of their wire kind (the timers' int64),
# so the generated Python module, which has no host visitor, must agree with C on every
# body.  (i6300esb's pci irq state visitor refuses levels other than 0 and 1: C only.
# fdc's C object holds host values no section carries, its phase as fdc_post_load
# derives it and its result timer's deadline, which C's BER record has and Python's
# reader, starting from zeros, cannot: the round-trip test above compares the members
# the section carries.)
DIFFERENTIAL = ["hpet", "mc146818rtc", "i8254", "i8259"]


@pytest.mark.parametrize("name", DIFFERENTIAL)
@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255),
                                st.sampled_from(["set", "cut", "add"])),
                      min_size=1, max_size=4), seed=st.integers(0, 1 << 16))
def test_c_and_python_agree_on_edited_sections(
        name: str, edits: list[tuple[int, int, str]], seed: int,
        adopted: Callable[[str], Adopted]) -> None:
    """Real sections with bytes set, cut or added: C (ASan) and the generated Python
    module accept the same bodies, and for each accepted one the C's BER record is the
    one Python writes of what it read (and its legacy re-save, where Python can write
    one, is C's)."""
    done = adopted(name)
    stream = qevm.parse(done.stream.read_bytes())
    section = _section(stream, done.device.name, done.device.instance)
    real = bytes(stream.body(section))
    bodies = []
    for shift in range(8):  # eight bodies per run of the driver
        body = bytearray(real)
        for at, value, how in edits:
            at = (at + shift * 131 + seed) % (len(body) + 1)
            if how == "set" and at < len(body):
                body[at] = value
            elif how == "cut":
                del body[at:at + 1 + value % 4]
            else:
                body[at:at] = bytes([value])
        bodies.append(bytes(body))
    lines = _run(done.driver, [("same", section.version_id, b) for b in bodies])
    stem = Path(done.device.file).stem
    py = support.import_module(done.out / f"{support.names_module(stem)}_asn1.py")
    state = done.device.state
    decided = _decided_subsections(done)
    for body, line in zip(bodies, lines, strict=True):
        try:
            value = py.load_legacy(state, body, section.version_id)
        except py.Error:
            assert line.startswith("error "), (body.hex(), line)
            continue
        legacy, ber = _parts(line)
        assert py.save(state, value) == ber
        # C's predicates decide on the loaded state: Python is told what they answer
        needed = {n: _predicate(n, value) for n in decided}
        assert py.save_legacy(state, value, section.version_id, needed) == legacy


@pytest.mark.parametrize("name", list(DEVICES))
def test_adopted_code_compiles_with_each_compiler(
        name: str, adopted: Callable[[str], Adopted]) -> None:
    """The driver above is built with gcc; the same code compiles warning-free with clang."""
    done = adopted(name)
    stem = Path(done.device.file).stem
    sources = [done.out / "driver.c", ADOPT / "host-visitors.c"]
    if not done.device.file.endswith(".c"):
        sources.append(done.out / f"{stem}-visit.c")
    for cc in support.compilers():
        for source in sources:
            cmd = [cc, *support.CFLAGS, "-c", "-I", str(done.out), "-I", str(ADOPT), "-I",
                   str(INCLUDE), str(source), "-o", str(done.out / f"{source.stem}-{cc}.o")]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            assert proc.returncode == 0, proc.stderr


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_import_struct_answers_any_description_with_a_mapping_or_diagnostics(
        data: st.DataObject, qemu_stream: Callable[[str], Path], dump: Path) -> None:
    """QEMU's description of i8254, hpet or fdc's controller (inside its wrapper: its
    drives from index entries, its FIFO behind a pointer), edited (a field renamed,
    resized, dropped, moved, given another version or type): the import either maps it
    (and then the generated layout equals the edited description: adopt() checks it) or
    reports diagnostics at a place; it never fails otherwise."""
    from dataclasses import replace

    from vmgen.frontend.source import Options
    from vmgen.tools import adopt, vmstate

    name = data.draw(st.sampled_from(["i8254", "hpet", "fdc"]))
    device = DEVICES[name]
    stream = qevm.parse(qemu_stream("pc").read_bytes())
    section = _section(stream, name)
    assert section.device is not None
    desc = vmstate.merged(vmstate.from_stream(section.device.layout),
                          vmstate.from_dump(dump.read_bytes(), "dump.json")[name])
    values = qevm.fields(section.device.layout, stream.body(section))
    outer = desc
    if name == "fdc":  # the controller's rows, inside the wrapper's one row "state"
        assert len(desc.fields) == 1 and desc.fields[0].struct is not None
        desc = desc.fields[0].struct
    fields = list(desc.fields)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(fields) - 1))
        how = data.draw(st.sampled_from(["rename", "size", "drop", "move", "version",
                                         "type"]))
        f = fields[i]
        if how == "rename":
            fields[i] = replace(f, name=data.draw(st.sampled_from(
                ["isr", "channels", "nope", "channels[7].mode", "timer.tn", "config",
                 "fifo", "drives", "drives[1].head"])))
        elif how == "size":
            fields[i] = replace(f, size=data.draw(st.sampled_from([0, 1, 2, 3, 8, 256])))
        elif how == "drop" and len(fields) > 1:
            del fields[i]
        elif how == "move":
            fields.insert(data.draw(st.integers(0, len(fields) - 1)), fields.pop(i))
        elif how == "version":
            fields[i] = replace(f, version=data.draw(st.integers(0, 5)))
        else:
            fields[i] = replace(f, type=data.draw(st.sampled_from(
                ["uint16", "int32 le", "timer", "buffer", "pci config", "uint8 equal", None])))
    edited = replace(desc, fields=tuple(fields))
    if name == "fdc":
        edited = replace(outer, fields=(replace(outer.fields[0], struct=edited),))
    try:
        done = adopt.adopt(str(ADOPT / device.file), device.state,
                           Options(include_dirs=(str(INCLUDE),)), edited, values, {}, {},
                           "edited")
    except adopt.AdoptError as exc:
        event("diagnostics")
        assert exc.diagnostics
        for d in exc.diagnostics:
            assert d.severity == "error" and d.message, d
        return
    event("mapped")
    assert done.text.startswith("# vmgen import --struct")


# ---- whole streams: the adopted devices as records (vmgen stream to-ber) ------------------

# The subsections of the adopted pc devices a C function decides, and the member whose
# value makes QEMU's function send the first of them (hpet_rtc_irq_level_needed:
# rtc_irq_level != 0; rtc_irq_reinject_on_ack_count_needed: irq_reinject_on_ack_count
# != 0).
DECIDED = {"hpet": (("hpet/rtc_irq_level", "hpet/offset"), "rtc_irq_level"),
           "mc146818rtc": (("mc146818rtc/irq_reinject_on_ack_count",),
                           "irq_reinject_on_ack_count")}


def _module_of(done: Adopted) -> Path:
    return done.out / f"{support.names_module(Path(done.device.file).stem)}_asn1.py"


@pytest.fixture(scope="module")
def pc_modules(adopted: Callable[[str], Adopted], qemu_stream: Callable[[str], Path],
               tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """--module arguments serving every device section of the pc VM: the adopted hpet
    and mc146818rtc (first: the first module naming a VMState serves it), and the
    modules of the headers `vmgen import --from` writes for the others."""
    out = tmp_path_factory.mktemp("pc-modules")
    proc = support.run_vmgen("import", "--from", str(qemu_stream("pc")), "-o",
                             str(out / "h"))
    assert proc.returncode == 0, proc.stderr
    headers = [str(h) for h in sorted((out / "h").glob("*.h"))
               if h.stem not in ("hpet", "mc146818rtc")]
    proc = support.run_vmgen("generate", "-o", str(out / "gen"), *headers)
    assert proc.returncode == 0, proc.stderr
    return ["--module", str(_module_of(adopted("hpet"))),
            "--module", str(_module_of(adopted("mc146818rtc"))),
            "--module", str(out / "gen")]


def _held_stream(adopted: Callable[[str], Adopted], tmp_path: Path) -> Path:
    """A real pc VM's stream in which the hpet and the RTC hold a subsection a C
    function decides: the member that decides it set in each section through vmgen's
    saver (with the subsection), spliced into the stream, which real QEMU loads and
    saves again (its own functions decide what it sends)."""
    from tests.conftest import QEMU_VMS

    original = adopted("hpet").stream.read_bytes()
    stream = qevm.parse(original)
    bodies: dict[int, bytes] = {}
    for name, (decided, member) in DECIDED.items():
        done = adopted(name)
        py = support.import_module(_module_of(done))
        section = _section(stream, name)
        value = py.load_legacy(done.device.state, bytes(stream.body(section)),
                               section.version_id)
        assert value[member] == 0
        value[member] = 1
        bodies[section.body] = py.save_legacy(done.device.state, value, section.version_id,
                                              {n: n == decided[0] for n in decided})
    out, pos = bytearray(), 0
    for r in stream.records:
        if isinstance(r, qevm.Section) and r.body in bodies:
            out += original[pos:r.body] + bodies[r.body]
            pos = r.body_end
    out += original[pos:]
    (tmp_path / "spliced.mig").write_bytes(out)
    machine, args = QEMU_VMS["pc"]
    qemu.load_and_resave(tmp_path / "spliced.mig", tmp_path / "held.mig", machine, args)
    return tmp_path / "held.mig"


def _device_records(der: bytes) -> list[dict[str, Any]]:
    """The Device-records of a BER file, in order, as asn1tools reads it (every byte)
    with the schema as written (and it writes the identical DER back)."""
    import asn1tools

    value, used = asn1tools.compile_files(str(QEVM_SCHEMA), "ber").decode_with_length(
        "Stream", der)
    assert used == len(der)
    assert asn1tools.compile_files(str(QEVM_SCHEMA), "der").encode("Stream", value) == der
    return [record["body"][1] for kind, record in value["records"]
            if kind == "section" and record["body"][0] == "device"]


def _schema_before_subsections() -> str:
    """qevm-stream.asn without the Device-record's subsections: what to-ber wrote
    before it carried them."""
    text = QEVM_SCHEMA.read_text()
    start = text.index("    record  ANY,")
    field = text.index("    subsections  SEQUENCE OF IA5String (SIZE (1..255)) OPTIONAL\n")
    end = text.index("\n", field) + 1
    before = text[:start] + "    record  ANY,\n    ...\n" + text[end:]
    assert "subsections" not in before.split("Device-record ::=")[1]
    return before


@pytest.mark.parametrize("held", [False, True], ids=["as-saved", "with-subsections"])
def test_stream_to_ber_carries_adopted_devices_as_records(
        held: bool, adopted: Callable[[str], Adopted], pc_modules: list[str],
        asn1c_reader: Path, tmp_path: Path) -> None:
    """`to-ber --strict` with the adopted hpet and mc146818rtc writes their sections as
    device records, naming the subsections a C function decides that each section held
    (none in the pc VM as QEMU saved it; one each once their members ask QEMU for them),
    and `from-ber` writes the stream back byte for byte."""
    path = _held_stream(adopted, tmp_path) if held else adopted("hpet").stream
    ber, back = tmp_path / "vm.ber", tmp_path / "back.mig"
    proc = support.run_vmgen("stream", "to-ber", "--strict", *pc_modules, str(path), str(ber))
    assert (proc.returncode, proc.stderr) == (0, "")
    proc = support.run_vmgen("stream", "from-ber", *pc_modules, str(ber), str(back))
    assert (proc.returncode, proc.stderr) == (0, "")
    assert back.read_bytes() == path.read_bytes()

    der = ber.read_bytes()
    records = _device_records(der)
    stream = qevm.parse(path.read_bytes())
    # every device section (--strict), as a record
    assert [d["vmsd"] for d in records] == [
        r.device.layout.vmsd_name for r in stream.records if isinstance(r, qevm.Section)
        and r.kind == qevm.Kind.FULL and r.device is not None]
    listed = {d["vmsd"]: d["subsections"] for d in records if "subsections" in d}
    assert listed == ({"hpet": ["hpet/rtc_irq_level"],
                       "mc146818rtc": ["mc146818rtc/irq_reinject_on_ack_count"]}
                      if held else {})
    # Every record without subsections is as to-ber wrote it before it carried them: the
    # schema without the field reads the file and writes the identical DER (where a
    # section lists some, that schema skips them as an unknown extension addition).
    import asn1tools

    before = tmp_path / "before.asn"
    before.write_text(_schema_before_subsections())
    value = asn1tools.compile_files(str(before), "ber").decode("Stream", der)
    again = asn1tools.compile_files(str(before), "der").encode("Stream", value)
    assert (again == der) == (not held)

    # asn1c reads every byte, sees the records and their subsections, and writes the
    # identical DER; dumpasn1 reads it without an error.
    run = subprocess.run([str(asn1c_reader), str(ber)], capture_output=True, text=True,
                         check=False, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[-1] == "der identical"
    for name in DECIDED:
        [line] = [x for x in lines if f" device {name}" in x]
        assert line.split(" device ")[1] == " ".join([name, *listed.get(name, [])])
    dump = subprocess.run(["dumpasn1", "-e", "-o", "-z", str(ber)], capture_output=True,
                          text=True, check=False, timeout=300)
    assert re.fullmatch(r"0 warnings?, 0 errors?\.", dump.stderr.strip()), dump.stderr


def test_from_ber_refuses_a_subsection_the_device_does_not_decide(
        adopted: Callable[[str], Adopted], pc_modules: list[str], tmp_path: Path) -> None:
    """A BER file whose hpet record lists a subsection that is not one a C function
    decides in HPETState (here the RTC's), or one twice: an error at the name's offset,
    and nothing written."""
    import asn1tools

    path = _held_stream(adopted, tmp_path)
    ber = tmp_path / "vm.ber"
    proc = support.run_vmgen("stream", "to-ber", "--strict", *pc_modules, str(path), str(ber))
    assert (proc.returncode, proc.stderr) == (0, "")
    spec = asn1tools.compile_files(str(QEVM_SCHEMA), "der")
    value = spec.decode("Stream", ber.read_bytes())
    [hpet] = [r[1]["body"][1] for r in value["records"] if r[0] == "section"
              and r[1]["body"][0] == "device" and r[1]["body"][1]["vmsd"] == "hpet"]
    cases = [
        (["hpet/rtc_irq_level", "mc146818rtc/irq_reinject_on_ack_count"],
         b"\x16\x12hpet/rtc_irq_level", b"\x16\x25mc146818rtc/irq_reinject_on_ack_count",
         "the device record of VMState 'hpet' lists subsection "
         "'mc146818rtc/irq_reinject_on_ack_count', not one of those a C function decides "
         "in HPETState ('hpet/rtc_irq_level', 'hpet/offset')"),
        (["hpet/offset", "hpet/offset"], b"\x16\x0bhpet/offset", b"\x16\x0bhpet/offset",
         "the device record of VMState 'hpet' lists subsection 'hpet/offset' twice"),
    ]
    out = tmp_path / "out.mig"
    for names, first, bad, message in cases:
        hpet["subsections"] = names
        edited = spec.encode("Stream", value)
        (tmp_path / "edited.ber").write_bytes(edited)
        # the offending name: the one after the hpet's first (the RTC's record, later,
        # lists the RTC's name too)
        offset = edited.index(bad, edited.index(first) + 1)
        proc = support.run_vmgen("stream", "from-ber", *pc_modules,
                                 str(tmp_path / "edited.ber"), str(out))
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr == f"{tmp_path / 'edited.ber'}: at offset {offset}: {message}\n"
        assert not out.exists()
