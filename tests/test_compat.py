"""The wire-compatibility checker against a suite of struct edits.

Each mutation edits a base header; both are run through the real pipeline,
their schemas compared, and the verdict and every message checked exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import support
from vmgen.backends import schema
from vmgen.driver.pipeline import build_module
from vmgen.frontend.source import Options
from vmgen.tools.compat import compare

BASE = """\
#include <stdbool.h>
#include <stdint.h>
#include "vmgen.h"

typedef enum Mode { MODE_OFF, MODE_ON, MODE_AUTO = 5 } Mode;
typedef struct Chan { uint16_t count; uint8_t flags; } Chan;
typedef struct CsumP { uint16_t start; } CsumP;
typedef union Params {
    CsumP csum VMGEN_CASE(1);
    uint32_t raw VMGEN_CASE(0, 2);
} Params;

typedef struct VMGEN_STATE(2, 1) Dev {
    uint32_t regs[8];
    uint8_t index VMGEN_RANGE(0, 7);
    int16_t level;
    Mode mode;
    Chan chans[4];
    uint8_t n;
    uint8_t fifo[16] VMGEN_SIZE_IS(n);
    uint32_t kind;
    Params p VMGEN_UNION(kind);
    uint64_t stamp VMGEN_SINCE(2);
    void *host VMGEN_SKIP;
} Dev;
"""

# (id, [(old text, new text), ...], breaking?, [messages])
MUTATIONS: list[tuple[str, list[tuple[str, str]], bool, list[str]]] = [
    ("unchanged", [], False, []),
    ("field removed", [("    int16_t level;\n", "")], True,
     ["field 'Dev.level' removed"]),
    ("field renamed", [("int16_t level;", "int16_t lvl;")], True,
     ["field 'Dev.level' removed (renamed to 'lvl'?)",
      "field 'Dev.lvl' added without VMGEN_SINCE: readers of version 2 refuse the data"]),
    ("type narrowed", [("int16_t level;", "int8_t level;")], True,
     ["field 'Dev.level': range narrowed from -32768..32767 to -128..127"]),
    ("signedness changed", [("int16_t level;", "uint16_t level;")], True,
     ["field 'Dev.level': signedness changed (int16 -> uint16)"]),
    ("type widened", [("int16_t level;", "int32_t level;")], False,
     ["field 'Dev.level': range widened from -32768..32767 to -2147483648..2147483647"]),
    ("type kind changed", [("int16_t level;", "double level;")], True,
     ["field 'Dev.level': type changed from int16 to double"]),
    ("fixed array shrunk", [("regs[8]", "regs[4]")], True,
     ["field 'Dev.regs': capacity 8 changed to 4, which does not hold every old value"]),
    ("fixed array grown", [("regs[8]", "regs[16]")], True,
     ["field 'Dev.regs': capacity 8 changed to 16, which does not hold every old value"]),
    ("sized capacity widened", [("fifo[16]", "fifo[32]")], False,
     ["field 'Dev.fifo': capacity widened from 0..16 to 0..32"]),
    ("sized capacity shrunk", [("fifo[16]", "fifo[8]")], True,
     ["field 'Dev.fifo': capacity 0..16 changed to 0..8, which does not hold every old value"]),
    ("array became bytes", [("uint32_t regs[8];", "uint8_t regs[8];")], True,
     ["field 'Dev.regs': type changed from list to bytes"]),
    ("range narrowed", [("VMGEN_RANGE(0, 7)", "VMGEN_RANGE(0, 3)")], True,
     ["field 'Dev.index': range narrowed from 0..7 to 0..3"]),
    ("range widened", [("VMGEN_RANGE(0, 7)", "VMGEN_RANGE(0, 15)")], False,
     ["field 'Dev.index': range widened from 0..7 to 0..15"]),
    ("added without since", [("    void *host", "    uint8_t extra;\n    void *host")], True,
     ["field 'Dev.extra' added without VMGEN_SINCE: readers of version 2 refuse the data"]),
    ("appended with since and a version bump",
     [("VMGEN_STATE(2, 1)", "VMGEN_STATE(3, 1)"),
      ("    void *host", "    uint8_t extra VMGEN_SINCE(3);\n    void *host")], False,
     ["'Dev': version raised from 2 to 3", "field 'Dev.extra' added in version 3"]),
    ("added with a since of an existing version",
     [("    void *host", "    uint8_t extra VMGEN_SINCE(2);\n    void *host")], True,
     ["field 'Dev.extra' added with VMGEN_SINCE(2), but version 2 readers already exist "
      "without it: use VMGEN_SINCE(3) or later"]),
    ("since changed", [("VMGEN_STATE(2, 1)", "VMGEN_STATE(3, 1)"),
                       ("stamp VMGEN_SINCE(2)", "stamp VMGEN_SINCE(3)")], True,
     ["'Dev': version raised from 2 to 3",
      "field 'Dev.stamp': VMGEN_SINCE changed from 2 to 3"]),
    ("version lowered", [("VMGEN_STATE(2, 1)", "VMGEN_STATE(1, 1)"),
                         ("    uint64_t stamp VMGEN_SINCE(2);\n", "")], True,
     ["'Dev': version lowered from 2 to 1", "field 'Dev.stamp' removed"]),
    ("minimum raised without a version bump", [("VMGEN_STATE(2, 1)", "VMGEN_STATE(2, 2)")],
     True, ["'Dev': minimum version raised from 1 to 2 without the version raised past 2"]),
    ("minimum raised with a version bump", [("VMGEN_STATE(2, 1)", "VMGEN_STATE(3, 3)")],
     False, ["'Dev': version raised from 2 to 3",
             "'Dev': minimum version raised from 1 to 3: readers older than 3 can no longer "
             "read the data"]),
    ("enumerator removed", [(", MODE_AUTO = 5", "")], True,
     ["enum 'Mode': enumerator 'MODE_AUTO' (5) removed: data holding it is refused"]),
    ("enumerator added", [("MODE_AUTO = 5 }", "MODE_AUTO = 5, MODE_EXTRA }")], False,
     ["enum 'Mode': enumerator 'MODE_EXTRA' (6) added (older readers refuse data holding it)"]),
    ("enumerator value changed", [("MODE_AUTO = 5", "MODE_AUTO = 6")], True,
     ["enum 'Mode': 'MODE_AUTO' changed value from 5 to 6"]),
    ("enumerator renamed", [("MODE_AUTO = 5", "MODE_AUTOMATIC = 5")], False,
     ["enum 'Mode': 'MODE_AUTO' renamed to 'MODE_AUTOMATIC' (the wire carries the value 5)"]),
    ("union case removed", [("VMGEN_CASE(0, 2)", "VMGEN_CASE(0)")], True,
     ["union 'Params': member 'raw' lost case 2"]),
    ("union case added", [("VMGEN_CASE(0, 2)", "VMGEN_CASE(0, 2, 3)")], False,
     ["union 'Params': member 'raw' gained case 3"]),
    ("union member removed", [("    uint32_t raw VMGEN_CASE(0, 2);\n", "")], True,
     ["union 'Params': member 'raw' removed"]),
    ("field made skipped", [("int16_t level;", "int16_t level VMGEN_SKIP;")], True,
     ["field 'Dev.level' is now VMGEN_SKIP: its data is no longer read"]),
    ("skipped field added", [("    void *host", "    void *other VMGEN_SKIP;\n    void *host")],
     False, ["skipped field 'Dev.other' added"]),
    ("fields reordered", [("    uint8_t index VMGEN_RANGE(0, 7);\n    int16_t level;\n",
                           "    int16_t level;\n    uint8_t index VMGEN_RANGE(0, 7);\n")], True,
     ["field 'Dev.index' moved: its wire position changed from 1 to 2"]),
    ("nested field removed", [("uint16_t count; uint8_t flags;", "uint16_t count;")], True,
     ["field 'Chan.flags' removed"]),
    ("nested field appended with since",
     [("VMGEN_STATE(2, 1)", "VMGEN_STATE(3, 1)"),
      ("uint8_t flags; }", "uint8_t flags; uint8_t mode VMGEN_SINCE(3); }")], False,
     ["'Dev': version raised from 2 to 3", "field 'Chan.mode' added in version 3"]),
    ("state renamed", [("} Dev;", "} Dev2;"), ("struct VMGEN_STATE(2, 1) Dev {",
                                               "struct VMGEN_STATE(2, 1) Dev2 {")], True,
     ["device state 'Dev' removed", "device state 'Dev2' added"]),
    ("count field replaced by a fixed array", [("fifo[16] VMGEN_SIZE_IS(n)", "fifo[16]")],
     True, ["field 'Dev.fifo': capacity 0..16 changed to 16, which does not hold every old "
            "value",
            "field 'Dev.n' added without VMGEN_SINCE: readers of version 2 refuse the data"]),
    ("discriminator changed", [("    uint32_t kind;\n", "    uint32_t kind;\n    uint32_t sel;\n"),
                               ("VMGEN_UNION(kind)", "VMGEN_UNION(sel)")], True,
     ["field 'Dev.p': discriminator changed from 'kind' to 'sel'",
      "field 'Dev.sel' added without VMGEN_SINCE: readers of version 2 refuse the data"]),
]


def _schema(text: str, tmp_path: Path, name: str) -> dict[str, object]:
    header = tmp_path / f"{name}.h"
    header.write_text(text)
    module = build_module(str(header), Options(include_dirs=(str(support.FIXTURES),)))
    return json.loads(schema.generate(module))  # type: ignore[no-any-return]


@pytest.mark.parametrize(("edits", "breaking", "messages"),
                         [pytest.param(e, b, m, id=i) for i, e, b, m in MUTATIONS])
def test_mutation(edits: list[tuple[str, str]], breaking: bool, messages: list[str],
                  tmp_path: Path) -> None:
    text = BASE
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    changes = compare(_schema(BASE, tmp_path, "dev"), _schema(text, tmp_path, "dev"))
    assert sorted(c.message for c in changes) == sorted(messages)
    assert any(c.breaking for c in changes) == breaking


def test_enough_mutations() -> None:
    assert len(MUTATIONS) >= 25
    assert {b for _, _, b, _ in MUTATIONS} == {True, False}


def test_cli_compat_reports_locations_and_exit_status(tmp_path: Path) -> None:
    old = tmp_path / "old"
    new = tmp_path / "new"
    for d, text in ((old, BASE), (new, BASE.replace("int16_t level;", "int8_t level;"))):
        d.mkdir()
        (d / "dev.h").write_text(text)
        proc = support.run_vmgen("generate", "-I", str(support.FIXTURES), "-o", str(d),
                                 str(d / "dev.h"))
        assert proc.returncode == 0, proc.stderr
    proc = support.run_vmgen("compat", str(old / "dev.vmgen.json"), str(new / "dev.vmgen.json"))
    assert proc.returncode == 1
    assert proc.stdout == ("dev.h:16: breaking: field 'Dev.level': range narrowed from "
                           "-32768..32767 to -128..127\n")
    same = support.run_vmgen("compat", str(old / "dev.vmgen.json"), str(old / "dev.vmgen.json"))
    assert (same.returncode, same.stdout) == (0, "")


def test_since_above_the_state_version_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "dev.h").write_text(BASE.replace("stamp VMGEN_SINCE(2)", "stamp VMGEN_SINCE(3)"))
    proc = support.run_vmgen("generate", "-I", str(support.FIXTURES), "-o", str(tmp_path / "o"),
                             "dev.h", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr == ("dev.h: In struct 'Dev':\n"
                           "dev.h:23:14: error: field 'stamp' has VMGEN_SINCE(3), above the "
                           "version 2 of device state 'Dev': it would never be saved\n")
