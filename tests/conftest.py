"""Session-wide fixtures: each fixture header generated and its C driver built once."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests import support
from vmgen.lowering import ir


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
            [src, self.out / f"{self.stem}-visit.c", *support.runtime_sources(self.out)],
            self.out / "setter", include=[self.out, support.FIXTURES], extra=["-O0"],
        )
        proc = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
        return [bytes.fromhex(line) for line in proc.stdout.split()]


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Built]:
    """`built(stem)`: fixtures/STEM.h generated, its Python module imported, and a
    driver (load + save every record on stdin) compiled with ASan and UBSan."""
    _built: dict[str, Built] = {}

    def get(stem: str) -> Built:
        if stem not in _built:
            out = support.generate(stem, tmp_path_factory.mktemp(stem))
            module = support.fixture_module(stem)
            (out / "driver.c").write_text(support.driver_source(module, f"{stem}-visit.h"))
            driver = support.compile_c(
                [out / "driver.c", out / f"{stem}-visit.c", *support.runtime_sources(out)],
                out / "driver", include=[out, support.FIXTURES], extra=support.SANITIZE,
            )
            _built[stem] = Built(stem, out, module, support.import_module(
                out / f"{stem}_asn1.py"), driver)
        return _built[stem]

    return get


# ---- real QEMU migration streams (tests/qemu.py) ----------------------------------------

# name -> (machine, extra QEMU arguments): the VMs whose streams the stream tests read.
QEMU_VMS: dict[str, tuple[str, list[str]]] = {
    "pc": ("pc", []),
    "q35": ("q35", []),
    # an old machine type: no configuration section, no section footers
    "pc-2.3": ("pc-i440fx-2.3", []),
    # NICs, USB (UHCI + keyboard + tablet), two user netdevs (two 'slirp' sections, both
    # instance 0), ISA sound, NIC, parallel and serial ports.
    "pc-devices": ("pc", [
        "-netdev", "user,id=n0", "-netdev", "user,id=n1",
        "-device", "e1000,netdev=n0", "-device", "rtl8139,netdev=n1",
        "-device", "piix3-usb-uhci", "-device", "usb-kbd", "-device", "usb-tablet",
        "-audiodev", "none,id=snd", "-device", "sb16,audiodev=snd",
        "-device", "ne2k_isa", "-chardev", "null,id=lpt", "-device", "isa-parallel,chardev=lpt",
        "-chardev", "null,id=com", "-device", "isa-serial,chardev=com",
    ]),
    "q35-devices": ("q35", [
        "-device", "qemu-xhci", "-device", "usb-kbd", "-device", "e1000e",
        "-audiodev", "none,id=snd", "-device", "intel-hda", "-device", "hda-duplex,audiodev=snd",
        "-device", "i6300esb",
    ]),
}


def require_qemu() -> str:
    """qemu-system-x86_64's path: missing, it fails the test in CI and skips it elsewhere."""
    from tests import qemu

    path = qemu.qemu_path()
    if path is None:
        message = "qemu-system-x86_64 not found (Debian package qemu-system-x86)"
        if qemu.env_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def qemu_stream(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """`qemu_stream(name)`: the path of a stream real QEMU saved from the VM
    `QEMU_VMS[name]`, saved once per session."""
    from tests import qemu

    saved: dict[str, Path] = {}

    def get(name: str) -> Path:
        require_qemu()
        if name not in saved:
            machine, args = QEMU_VMS[name]
            path = tmp_path_factory.mktemp("qemu") / f"{name}.mig"
            qemu.save_stream(path, machine, args)
            saved[name] = path
        return saved[name]

    return get


# ---- outside ASN.1 tools ----------------------------------------------------------------

QEVM_SCHEMA = Path(__file__).resolve().parent.parent / "templates" / "asn1" / "qevm-stream.asn"


def require_tool(tool: str) -> str:
    """An outside tool's path: missing, it fails the test in CI and skips it elsewhere."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} not found (Debian packages: asn1c dumpasn1 openssl)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300,
                          **kwargs)


@pytest.fixture(scope="session")
def asn1c_reader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/interop/asn1c_stream.c built on asn1c's C for QEVM-Stream, as written."""
    tool = require_tool("asn1c")
    d = tmp_path_factory.mktemp("asn1c-stream")
    shutil.copy(QEVM_SCHEMA, d / QEVM_SCHEMA.name)
    proc = _run([tool, "-fwide-types", "-fcompound-names", QEVM_SCHEMA.name], cwd=d)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sources = [str(c) for c in sorted(d.glob("*.c"))
               if c.name not in ("converter-sample.c", "pdu_collection.c")]
    objects = []
    for c in sources:  # asn1c's own code: its warnings are asn1c's business
        proc = _run(["gcc", "-O1", "-w", "-I", str(d), "-c", c, "-o", c[:-2] + ".o"])
        assert proc.returncode == 0, proc.stderr
        objects.append(c[:-2] + ".o")
    exe = d / "asn1c-stream"
    proc = _run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-I", str(d),
                 str(QEVM_SCHEMA.parent.parent.parent / "tests" / "interop" / "asn1c_stream.c"),
                 *objects, "-o", str(exe)])
    assert proc.returncode == 0, proc.stderr
    return exe
