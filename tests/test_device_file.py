"""A device state defined in a QEMU-style .c file (not a header), with the real
include tree: inline asm, statement expressions, __thread, VMState tables.

vmgen reads the .c file; the device file includes the generated visitors after
the state's definition (the generated header cannot include a .c file)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests import support

QEMU = support.FIXTURES / "qemu_like"

MAIN = r"""
#include "serial.c"
#include "serial-visit.c"

#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    SerialState s;
    uint8_t *buf;
    size_t len;
    Error *err = NULL;

    memset(&s, 0, sizeof s);
    s.divider = 12;
    s.rbr = 0x41;
    s.fifo[3] = 7;
    s.parity = SERIAL_PARITY_EVEN;
    s.thr_ipending = 1;
    s.tsr_retry = 100;
    if (!vmgen_save_SerialState(&s, &buf, &len, &err)) {
        printf("ERR %s\n", error_get_pretty(err));
        return 1;
    }
    for (size_t i = 0; i < len; i++) {
        printf("%02x", buf[i]);
    }
    printf("\n");
    free(buf);
    return 0;
}
"""


def test_state_in_a_device_c_file(tmp_path: Path) -> None:
    for args in (["runtime", "-o", str(tmp_path)],
                 ["generate", "-I", str(QEMU / "include"), "-o", str(tmp_path),
                  str(QEMU / "serial.c")]):
        proc = support.run_vmgen(*args)
        assert proc.returncode == 0, proc.stderr
    header = (tmp_path / "serial-visit.h").read_text()
    assert '#include "serial.c"' not in header
    (tmp_path / "main.c").write_text(MAIN)
    # The device file is GNU C with unused statics: its business.  The generated
    # code builds -pedantic clean in test_compile.
    exe = support.compile_c(
        [tmp_path / "main.c", *support.runtime_sources(tmp_path)],
        tmp_path / "main", extra=["-std=gnu11", "-Wno-pedantic", "-Wno-unused-function",
                                   "-Wno-unused-variable"],
        include=[tmp_path, QEMU, QEMU / "include"])
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    py = support.import_module(tmp_path / "serial_asn1.py")
    state = py.load("SerialState", bytes.fromhex(out.strip()))
    assert state["divider"] == 12 and state["rbr"] == 0x41
    assert state["fifo"][3] == 7 and state["parity"] == "SERIAL_PARITY_EVEN"
    assert (state["thr_ipending"], state["tsr_retry"]) == (1, 100)
