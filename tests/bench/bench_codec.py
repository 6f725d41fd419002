#!/usr/bin/env python3
"""The codec benchmark (`make bench`): vmgen's generated C and Python against a
VMState-style fixed-width big-endian serializer (the legacy format), asn1c's BER/DER
codec of the same ASN.1 module, and memcpy of the struct, on one machine, in one run.

Steps: generate vmgen's runtime and code for tests/bench/bench_states.h (three device
states of different shapes) and for the cost-growth states this script writes (10 /
100 / 1,000 fields; one byte array of 1 KiB .. 16 MiB); write the legacy serializer and
the value-filling code from vmgen's IR; run asn1c on the generated .asn (adapted to
asn1c 0.9.28's limits exactly as tests/test_interop.py does); compile everything at -O2
into one program (tests/bench/bench_timing.h times it); run it; time the generated
Python module; write the tables into BENCHMARKS.md (unless --no-write).

    .venv/bin/python tests/bench/bench_codec.py [--quick] [--no-write] [--out FILE]

Not collected by pytest (no test_*); needs gcc (or $CC) and asn1c.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import timeit
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(REPO / "tests" / "bench"))

import baselines  # noqa: E402

from vmgen.driver.pipeline import build_module  # noqa: E402
from vmgen.frontend.source import Options  # noqa: E402
from vmgen.lowering import ir  # noqa: E402

BENCH = REPO / "tests" / "bench"
BUILD = REPO / "build" / "bench"
STATES = ("ScalarHeavy", "BufferHeavy", "RingHeavy")
FIELD_COUNTS = (10, 100, 1000)
BUFFER_SIZES = (1 << 10, 1 << 14, 1 << 18, 1 << 20, 1 << 22, 1 << 24)
OPT = ["-O2"]


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")
    return proc


def size_name(n: int) -> str:
    return f"{n >> 20}M" if n >= 1 << 20 else f"{n >> 10}K"


# ---- growth headers -------------------------------------------------------------------


def growth_headers() -> dict[str, str]:
    fields = ["#include <stdint.h>", '#include "vmgen.h"']
    for n in FIELD_COUNTS:
        body = "\n".join(f"    uint32_t r{i};" for i in range(n))
        fields.append(f"typedef struct VMGEN_STATE(1, 1) Fields{n} {{\n{body}\n}} Fields{n};")
    buffers = ["#include <stdint.h>", '#include "vmgen.h"']
    for n in BUFFER_SIZES:
        buffers.append(f"typedef struct VMGEN_STATE(1, 1) Buf{size_name(n)} {{\n"
                       f"    uint8_t data[{n}];\n}} Buf{size_name(n)};")
    def guarded(name: str, parts: list[str]) -> str:
        return (f"#ifndef BENCH_{name}_H\n#define BENCH_{name}_H\n"
                + "\n\n".join(parts) + "\n#endif\n")

    return {"growth_fields.h": guarded("FIELDS", fields),
            "growth_buffers.h": guarded("BUFFERS", buffers)}


# ---- C from the IR: the legacy serializer and the value filler --------------------------


class CFromIR:
    """The legacy serializer (fields in C order, fixed width, big-endian, as QEMU's
    VMSTATE_UINT32 / _BOOL / _BUFFER / _STRUCT_ARRAY put them: qemu_put_be32 &c.), and
    code that fills a state with deterministic pseudo-random values."""

    def __init__(self, module: ir.Module) -> None:
        self.module = module
        self.depth = 0

    def wire_size(self, t: ir.WireType) -> int:
        if isinstance(t, ir.IntType):
            return t.bits // 8
        if isinstance(t, ir.BoolType):
            return 1
        if isinstance(t, ir.FloatType):
            return t.bits // 8
        if isinstance(t, ir.EnumRef):
            return 4
        if isinstance(t, ir.BytesType) and t.count is None:
            return t.length
        if isinstance(t, ir.ArrayType) and t.count is None:
            return t.length * self.wire_size(t.element)
        if isinstance(t, ir.StructRef):
            return sum(self.wire_size(f.type) for f in self.module.struct(t.name).wire
                       if f.type is not None)
        raise NotImplementedError(f"legacy serializer: {t}")

    def _loop(self, t: ir.ArrayType, lv: str, body: Any) -> list[str]:
        i = f"i{self.depth}"
        self.depth += 1
        inner = body(t.element, f"{lv}[{i}]")
        self.depth -= 1
        return [f"for (size_t {i} = 0; {i} < {t.length}; {i}++) {{",
                *("    " + s for s in inner), "}"]

    def put(self, t: ir.WireType, lv: str) -> list[str]:
        if isinstance(t, ir.IntType):
            if t.bits == 8:
                return [f"*p++ = (uint8_t){lv};"]
            return [f"p = put_be{t.bits}(p, (uint{t.bits}_t){lv});"]
        if isinstance(t, ir.BoolType):
            return [f"*p++ = (uint8_t){lv};"]
        if isinstance(t, ir.FloatType):
            return [f"{{ uint{t.bits}_t b; memcpy(&b, &{lv}, sizeof(b)); "
                    f"p = put_be{t.bits}(p, b); }}"]
        if isinstance(t, ir.EnumRef):
            return [f"p = put_be32(p, (uint32_t){lv});"]
        if isinstance(t, ir.BytesType):
            return [f"memcpy(p, {lv}, {t.length}); p += {t.length};"]
        if isinstance(t, ir.ArrayType):
            return self._loop(t, lv, self.put)
        if isinstance(t, ir.StructRef):
            return [f"p = legacy_put_{t.name}(p, &{lv});"]
        raise NotImplementedError(f"legacy serializer: {t}")

    def get(self, t: ir.WireType, lv: str) -> list[str]:
        if isinstance(t, ir.IntType):
            if t.bits == 8:
                return [f"{lv} = *p++;"]
            return [f"{lv} = get_be{t.bits}(p); p += {t.bits // 8};"]
        if isinstance(t, ir.BoolType):
            return [f"{lv} = *p++ != 0;"]
        if isinstance(t, ir.FloatType):
            return [f"{{ uint{t.bits}_t b = get_be{t.bits}(p); memcpy(&{lv}, &b, sizeof(b)); "
                    f"p += {t.bits // 8}; }}"]
        if isinstance(t, ir.EnumRef):
            return [f"{lv} = get_be32(p); p += 4;"]
        if isinstance(t, ir.BytesType):
            return [f"memcpy({lv}, p, {t.length}); p += {t.length};"]
        if isinstance(t, ir.ArrayType):
            return self._loop(t, lv, self.get)
        if isinstance(t, ir.StructRef):
            return [f"p = legacy_get_{t.name}(p, &{lv});"]
        raise NotImplementedError(f"legacy serializer: {t}")

    def fill(self, t: ir.WireType, lv: str) -> list[str]:
        if isinstance(t, ir.IntType):
            return [f"{lv} = bench_rand();"]
        if isinstance(t, ir.BoolType):
            return [f"{lv} = bench_rand() & 1;"]
        if isinstance(t, ir.BytesType):
            return [f"for (size_t k = 0; k < {t.length}; k++) {lv}[k] = (uint8_t)bench_rand();"]
        if isinstance(t, ir.ArrayType):
            return self._loop(t, lv, self.fill)
        if isinstance(t, ir.StructRef):
            return [f"fill_{t.name}(&{lv});"]
        raise NotImplementedError(f"filler: {t}")

    def struct_functions(self, kind: str) -> list[str]:
        out = []
        for s in self.module.structs:
            fields = [f for f in s.wire if f.type is not None]
            if kind == "put":
                head = (f"uint8_t *legacy_put_{s.name}(uint8_t *p, const {s.c_type} *s)",
                        "return p;")
                body = [line for f in fields for line in self.put(f.type, f"s->{f.name}")]
            elif kind == "get":
                head = (f"const uint8_t *legacy_get_{s.name}(const uint8_t *p, {s.c_type} *s)",
                        "return p;")
                body = [line for f in fields for line in self.get(f.type, f"s->{f.name}")]
            else:
                head = (f"void fill_{s.name}({s.c_type} *s)", "")
                body = [line for f in fields for line in self.fill(f.type, f"s->{f.name}")]
            static = "static " if kind == "fill" else "static inline "
            out.append(f"{static}{head[0]}\n{{\n" + "".join(f"    {x}\n" for x in body)
                       + (f"    {head[1]}\n" if head[1] else "") + "}\n")
        return out


LEGACY_PRELUDE = """\
/* Generated by tests/bench/bench_codec.py: the legacy (VMState-style) serializer. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "legacy.h"

static inline uint8_t *put_be16(uint8_t *p, uint16_t v)
{
    v = __builtin_bswap16(v); memcpy(p, &v, 2); return p + 2;
}
static inline uint8_t *put_be32(uint8_t *p, uint32_t v)
{
    v = __builtin_bswap32(v); memcpy(p, &v, 4); return p + 4;
}
static inline uint8_t *put_be64(uint8_t *p, uint64_t v)
{
    v = __builtin_bswap64(v); memcpy(p, &v, 8); return p + 8;
}
static inline uint16_t get_be16(const uint8_t *p)
{
    uint16_t v; memcpy(&v, p, 2); return __builtin_bswap16(v);
}
static inline uint32_t get_be32(const uint8_t *p)
{
    uint32_t v; memcpy(&v, p, 4); return __builtin_bswap32(v);
}
static inline uint64_t get_be64(const uint8_t *p)
{
    uint64_t v; memcpy(&v, p, 8); return __builtin_bswap64(v);
}
"""


def legacy_sources(modules: list[tuple[str, ir.Module]]) -> tuple[str, str]:
    header = ["/* Generated by tests/bench/bench_codec.py. */", "#include <stdbool.h>",
              "#include <stddef.h>", "#include <stdint.h>"]
    header += [f'#include "{stem}.h"' for stem, _ in modules]
    body = [LEGACY_PRELUDE]
    for _, module in modules:
        gen = CFromIR(module)
        body += gen.struct_functions("put") + gen.struct_functions("get")
        for s in module.states:
            size = gen.wire_size(ir.StructRef(s.name))
            header.append(f"#define LEGACY_SIZE_{s.name} {size}u")
            header.append(f"size_t legacy_save_{s.name}(const {s.c_type} *s, uint8_t *out);")
            header.append(f"bool legacy_load_{s.name}({s.c_type} *s, const uint8_t *in, "
                          "size_t len);")
            body.append(f"size_t legacy_save_{s.name}(const {s.c_type} *s, uint8_t *out)\n{{\n"
                        f"    return (size_t)(legacy_put_{s.name}(out, s) - out);\n}}\n")
            body.append(f"bool legacy_load_{s.name}({s.c_type} *s, const uint8_t *in, "
                        f"size_t len)\n{{\n    if (len != {size}u) {{\n        return false;\n"
                        f"    }}\n    legacy_get_{s.name}(in, s);\n    return true;\n}}\n")
    return "\n".join(header) + "\n", "\n".join(body)


# ---- asn1c ------------------------------------------------------------------------------

ASN1C_GLUE = """\
/* Generated by tests/bench/bench_codec.py: asn1c's codec for the bench states. */
#include <stddef.h>
#include <stdint.h>
#include <asn_application.h>
%(includes)s

static asn_TYPE_descriptor_t *const types[] = { %(types)s };
static void *records[%(n)d];

/* Decodes `der` once and keeps the record (the input of asn1c_encode). */
int asn1c_prepare(int which, const uint8_t *der, size_t len)
{
    asn_dec_rval_t r = ber_decode(NULL, types[which], &records[which], der, len);
    char why[256];
    size_t whylen = sizeof(why);

    return r.code == RC_OK && r.consumed == len &&
           asn_check_constraints(types[which], records[which], why, &whylen) == 0;
}

long asn1c_encode(int which, uint8_t *out, size_t cap)
{
    asn_enc_rval_t r = der_encode_to_buffer(types[which], records[which], out, cap);

    return (long)r.encoded;
}

/* BER-decodes a record into asn1c's structures, then frees them. */
int asn1c_decode(int which, const uint8_t *buf, size_t len)
{
    void *rec = NULL;
    asn_dec_rval_t r = ber_decode(NULL, types[which], &rec, buf, len);
    int ok = r.code == RC_OK && r.consumed == len;

    ASN_STRUCT_FREE(*types[which], rec);
    return ok;
}

/* The same, with asn1c's constraint checks (what vmgen's loader always does). */
int asn1c_decode_checked(int which, const uint8_t *buf, size_t len)
{
    void *rec = NULL;
    asn_dec_rval_t r = ber_decode(NULL, types[which], &rec, buf, len);
    char why[256];
    size_t whylen = sizeof(why);
    int ok = r.code == RC_OK && r.consumed == len &&
             asn_check_constraints(types[which], rec, why, &whylen) == 0;

    ASN_STRUCT_FREE(*types[which], rec);
    return ok;
}
"""


def build_asn1c(cc: str, asn: Path, out: Path) -> list[Path]:
    from tests.test_interop import ASN1C_FLAGS, asn1c_text, c_name, record_type

    d = out / "asn1c"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    (d / asn.name).write_text(asn1c_text(asn.read_text()))
    run(["asn1c", *ASN1C_FLAGS, asn.name], cwd=d)
    glue = ASN1C_GLUE % {
        "includes": "\n".join(f'#include "{record_type(s)}.h"' for s in STATES),
        "types": ", ".join(f"&asn_DEF_{c_name(record_type(s))}" for s in STATES),
        "n": len(STATES),
    }
    (d / "bench-asn1c-glue.c").write_text(glue)
    sources = [c for c in sorted(d.glob("*.c"))
               if c.name not in ("converter-sample.c", "pdu_collection.c")]

    def compile_one(c: Path) -> Path:
        o = c.with_suffix(".o")
        run([cc, *OPT, "-w", "-I", str(d), "-c", str(c), "-o", str(o)])
        return o

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(compile_one, sources))


# ---- the benchmark program ----------------------------------------------------------------


def baseline_measurements(n: str, stream: bool) -> list[str]:
    """The VMState-style interpreter, protobuf-c and nanopb on state `n`, each checked
    first: the interpreter's bytes against the straight-line serializer's (and vmgen's
    legacy stream, when the runtime has it) and its load against the source object;
    protobuf-c's and nanopb's records decoded and compared field by field with the
    source object, and their bytes with each other."""
    lines = [
        "    {",
        "        static VmsChannel vms;",
        "        uint8_t *pb, *nb;",
        "        size_t pn, nn, ncap;",
        f"        if (!vms_save_{n}(&src_{n}, &vms) || vms.len != legacy_len ||",
        "            memcmp(vms.data, legacy, legacy_len))",
        f"            die(\"VMState-style bytes of {n} differ from the straight-line "
        "serializer's\");",
    ]
    if stream:
        lines += [
            "        {",
            "            uint8_t *vs;",
            "            size_t vn;",
            f"            if (!vmgen_save_{n}_legacy(&src_{n}, 1u, &vs, &vn, NULL) ||",
            "                vn != vms.len ||",
            "                memcmp(vs, vms.data, vn))",
            f"                die(\"VMState-style bytes of {n} differ from vmgen's legacy "
            "stream\");",
            "            free(vs);",
            "        }",
        ]
    lines += [
        f"        memset(&dst_{n}, 0, sizeof(dst_{n}));",
        f"        if (!vms_load_{n}(&dst_{n}, legacy, legacy_len) ||",
        f"            memcmp(&src_{n}, &dst_{n}, sizeof(src_{n})))",
        f"            die(\"VMState-style load {n}\");",
        f'        BENCH("{n}", "vms", "save", legacy_len,',
        f"              {{ if (!vms_save_{n}(&src_{n}, &vms)) die(\"save\"); }});",
        f'        BENCH("{n}", "vms", "load", legacy_len,',
        f"              {{ if (!vms_load_{n}(&dst_{n}, legacy, legacy_len)) die(\"load\"); }});",
        f"        pbc_prepare_{n}(&src_{n});",
        f"        nanopb_prepare_{n}(&src_{n});",
        f"        pn = pbc_save_{n}(&pb);",
        f"        if (!pn || !pbc_check_{n}(pb, pn, &src_{n})) die(\"protobuf-c values of {n}\");",
        f"        ncap = nanopb_max_{n}();",
        "        nb = malloc(ncap);",
        "        if (!nb) die(\"malloc\");",
        f"        nn = nanopb_save_{n}(nb, ncap);",
        f"        if (!nn || !nanopb_check_{n}(nb, nn, &src_{n})) die(\"nanopb values of {n}\");",
        "        if (nn != pn || memcmp(nb, pb, pn))",
        f"            die(\"protobuf-c's and nanopb's records of {n} differ\");",
        f'        BENCH("{n}", "protobuf-c", "save", pn,',
        f"              {{ uint8_t *o; if (!pbc_save_{n}(&o)) die(\"save\"); free(o); }});",
        f'        BENCH("{n}", "protobuf-c", "load", pn,',
        f"              {{ if (!pbc_load_{n}(pb, pn)) die(\"load\"); }});",
        f'        BENCH("{n}", "nanopb", "save", nn,',
        f"              {{ if (!nanopb_save_{n}(nb, ncap)) die(\"save\"); }});",
        f'        BENCH("{n}", "nanopb", "load", nn,',
        f"              {{ if (!nanopb_load_{n}(nb, nn)) die(\"load\"); }});",
        "        free(pb);",
        "        free(nb);",
        "        free(vms.data);",
        "        vms.data = NULL;",
        "        vms.cap = 0;",
        "    }",
    ]
    return lines


def main_source(modules: list[tuple[str, ir.Module]], stream: bool,
                fast_stream: bool = False) -> str:
    """The benchmark program; `stream`: the runtime has the legacy VMState stream
    (vmgen_save_S_legacy / vmgen_load_S_legacy, runtime v3); `fast_stream`: the generated
    code has its specialized codec beside the visitors (vmgen_visit_save_S_legacy, runtime
    v6)."""
    lines = ['#include "bench_timing.h"', "", "#include <stdbool.h>",
             '#include "legacy.h"', '#include "vms_tables.h"', '#include "protobuf_glue.h"']
    lines += [f'#include "{stem}-visit.h"' for stem, _ in modules]
    lines += [
        "",
        "int asn1c_prepare(int which, const uint8_t *der, size_t len);",
        "long asn1c_encode(int which, uint8_t *out, size_t cap);",
        "int asn1c_decode(int which, const uint8_t *buf, size_t len);",
        "int asn1c_decode_checked(int which, const uint8_t *buf, size_t len);",
        "static volatile long sink;",
        "",
        "static void die(const char *what)",
        "{", '    fprintf(stderr, "bench: %s\\n", what);', "    exit(1);", "}",
        "",
        "static void write_file(const char *name, const uint8_t *buf, size_t len)",
        "{", '    FILE *f = fopen(name, "wb");',
        "    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {",
        "        die(name);", "    }", "}", "",
    ]
    for _, module in modules:
        lines += CFromIR(module).struct_functions("fill")
    for stem, module in modules:
        for s in module.states:
            n = s.name
            asn1c = n in STATES and stem == "bench_states"
            which = STATES.index(n) if asn1c else -1
            lines += [
                f"static {s.c_type} src_{n}, dst_{n};",
                f"static void bench_{n}(void)",
                "{",
                "    uint8_t *der, *b;",
                "    size_t len, l;",
                "    Error *err = NULL;",
                f"    static uint8_t legacy[LEGACY_SIZE_{n}];",
                "    size_t legacy_len;",
                f"    memset(&src_{n}, 0, sizeof(src_{n}));",
                f"    fill_{n}(&src_{n});",
                f"    if (!vmgen_save_{n}(&src_{n}, &der, &len, &err)) die(error_get_pretty(err));",
                f"    memset(&dst_{n}, 0, sizeof(dst_{n}));",
                f"    if (!vmgen_load_{n}(&dst_{n}, der, len, &err)) die(error_get_pretty(err));",
                f"    if (memcmp(&src_{n}, &dst_{n}, sizeof(src_{n}))) die(\"vmgen load {n}\");",
                f"    legacy_len = legacy_save_{n}(&src_{n}, legacy);",
                f"    if (legacy_len != LEGACY_SIZE_{n}) die(\"legacy size {n}\");",
                f"    memset(&dst_{n}, 0, sizeof(dst_{n}));",
                f"    if (!legacy_load_{n}(&dst_{n}, legacy, legacy_len) ||",
                f"        memcmp(&src_{n}, &dst_{n}, sizeof(src_{n}))) die(\"legacy load {n}\");",
                f'    write_file("{n}.der", der, len);',
                f'    BENCH("{n}", "vmgen", "save", len,',
                f"          {{ if (!vmgen_save_{n}(&src_{n}, &b, &l, NULL)) die(\"save\"); "
                "free(b); });",
                f'    BENCH("{n}", "vmgen", "load", len,',
                f"          {{ if (!vmgen_load_{n}(&dst_{n}, der, len, NULL)) die(\"load\"); }});",
                f'    BENCH("{n}", "vmgen-visit", "save", len,',
                f"          {{ if (!vmgen_visit_save_{n}(&src_{n}, &b, &l, NULL)) die(\"save\"); "
                "free(b); });",
                f'    BENCH("{n}", "vmgen-visit", "load", len,',
                f"          {{ if (!vmgen_visit_load_{n}(&dst_{n}, der, len, NULL)) "
                "die(\"load\"); });",
                f'    BENCH("{n}", "legacy", "save", legacy_len,',
                f"          {{ sink = (long)legacy_save_{n}(&src_{n}, legacy); }});",
                f'    BENCH("{n}", "legacy", "load", legacy_len,',
                f"          {{ if (!legacy_load_{n}(&dst_{n}, legacy, legacy_len)) "
                "die(\"load\"); });",
                f'    BENCH("{n}", "memcpy", "save", sizeof(src_{n}),',
                f"          {{ memcpy(&dst_{n}, &src_{n}, sizeof(src_{n})); }});",
                f'    BENCH("{n}", "memcpy", "load", sizeof(src_{n}),',
                f"          {{ memcpy(&src_{n}, &dst_{n}, sizeof(src_{n})); }});",
            ]
            if stream:
                version = s.state.version if s.state else 0
                lines += [
                    "    {",
                    "        uint8_t *vs;",
                    "        size_t vn;",
                    f"        if (!vmgen_save_{n}_legacy(&src_{n}, {version}u, &vs, &vn, &err))",
                    "            die(error_get_pretty(err));",
                    f"        memset(&dst_{n}, 0, sizeof(dst_{n}));",
                    f"        if (!vmgen_load_{n}_legacy(&dst_{n}, {version}u, vs, vn, &err))",
                    "            die(error_get_pretty(err));",
                    f"        if (memcmp(&src_{n}, &dst_{n}, sizeof(src_{n}))) "
                    f"die(\"vmgen stream {n}\");",
                    f'        BENCH("{n}", "vmgen-stream", "save", vn,',
                    f"              {{ if (!vmgen_save_{n}_legacy(&src_{n}, {version}u, &b, &l, "
                    "NULL)) die(\"save\"); free(b); });",
                    f'        BENCH("{n}", "vmgen-stream", "load", vn,',
                    f"              {{ if (!vmgen_load_{n}_legacy(&dst_{n}, {version}u, vs, vn, "
                    "NULL)) die(\"load\"); });",
                    *([f'        BENCH("{n}", "vmgen-stream-visit", "save", vn,',
                       f"              {{ if (!vmgen_visit_save_{n}_legacy(&src_{n}, {version}u, "
                       "&b, &l, NULL)) die(\"save\"); free(b); });",
                       f'        BENCH("{n}", "vmgen-stream-visit", "load", vn,',
                       f"              {{ if (!vmgen_visit_load_{n}_legacy(&dst_{n}, {version}u, "
                       "vs, vn, NULL)) die(\"load\"); });"] if fast_stream else []),
                    "        free(vs);",
                    "    }",
                ]
            if asn1c:
                lines += baseline_measurements(n, stream)
            if asn1c:
                lines += [
                    "    {",
                    "        static uint8_t out[1 << 20];",
                    "        long m;",
                    f"        if (!asn1c_prepare({which}, der, len)) die(\"asn1c decode {n}\");",
                    f"        m = asn1c_encode({which}, out, sizeof(out));",
                    "        if (m < 0 || (size_t)m != len || memcmp(out, der, len))",
                    f"            die(\"asn1c's DER of {n} differs from vmgen's\");",
                    f'        BENCH("{n}", "asn1c", "save", len,',
                    f"              {{ if (asn1c_encode({which}, out, sizeof(out)) < 0) "
                    "die(\"enc\"); });",
                    f'        BENCH("{n}", "asn1c", "load", len,',
                    f"              {{ if (!asn1c_decode({which}, der, len)) die(\"dec\"); }});",
                    f'        BENCH("{n}", "asn1c-checked", "load", len,',
                    f"              {{ if (!asn1c_decode_checked({which}, der, len)) "
                    "die(\"dec\"); });",
                    "    }",
                ]
            lines += ["    free(der);", "}", ""]
    lines += ["int main(int argc, char **argv)", "{",
              "    if (argc > 1) bench_batch_ns = atof(argv[1]) * 1e6;"]
    lines += [f'    if (bench_state_wanted("{s.name}")) bench_{s.name}();'
              for _, m in modules for s in m.states]
    lines += ["    return 0;", "}", ""]
    return "\n".join(lines)


def build(cc: str) -> tuple[Path, dict[str, ir.Module]]:
    BUILD.mkdir(parents=True, exist_ok=True)
    headers = growth_headers()
    for name, text in headers.items():
        path = BUILD / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    vmgen = [sys.executable, "-m", "vmgen"]
    run([*vmgen, "runtime", "-o", str(BUILD)], cwd=REPO)
    inputs = [BENCH / "bench_states.h", *(BUILD / h for h in headers)]
    run([*vmgen, "generate", "-I", str(BENCH), "-o", str(BUILD), *map(str, inputs)], cwd=REPO)
    modules = [(h.stem, build_module(str(h), Options(include_dirs=(str(BENCH),
                                                                   str(BUILD)))))
               for h in inputs]
    legacy_h, legacy_c = legacy_sources(modules)
    (BUILD / "legacy.h").write_text(legacy_h)
    (BUILD / "legacy.c").write_text(legacy_c)
    stream = (BUILD / "vmgen-legacy.c").exists()
    fast_stream = "vmgen_visit_save_ScalarHeavy_legacy" in (
        BUILD / "bench_states-visit.h").read_text()
    (BUILD / "bench-main.c").write_text(main_source(modules, stream, fast_stream))
    objects = build_asn1c(cc, BUILD / "bench_states.asn", BUILD)
    missing = baselines.missing_packages()
    if missing:
        sys.exit(f"bench: the protobuf baselines need the Debian packages {' '.join(missing)} "
                 "(`make bench` installs them)")
    pb = BUILD / "pb"
    bench_module = next(m for stem, m in modules if stem == "bench_states")
    flags = ["-std=c11", *OPT, "-Wall", "-Wextra", "-Werror", "-I", str(pb), "-I", str(BUILD),
             "-I", str(BENCH)]
    objects += baselines.compile_objects(
        cc, [*baselines.vms_sources(), *baselines.write_protobuf(bench_module, STATES, pb)],
        flags, pb)
    exe = BUILD / "bench-codec"
    runtime = sorted(p.name for p in BUILD.glob("vmgen-*.c"))  # every file `vmgen runtime` wrote
    sources = ["bench-main.c", "legacy.c", *runtime,
               *(f"{stem}-visit.c" for stem, _ in modules)]
    run([cc, "-std=c11", *OPT, "-Wall", "-Wextra", "-I", str(BUILD), "-I", str(BENCH),
         "-I", str(pb), *(str(BUILD / s) for s in sources), *map(str, objects),
         *baselines.PROTOBUF_LIBS, "-o", str(exe)])
    return exe, {s.name: m for _, m in modules for s in m.states}


# ---- Python ---------------------------------------------------------------------------


def time_python(fn: Any, runs: int, budget: float) -> tuple[float, float]:
    """(median, best) seconds per call of fn, batches of about `budget` seconds."""
    n = 1
    while True:
        t = timeit.timeit(fn, number=n)
        if t > budget / 4:
            break
        n *= 2
    n = max(1, int(n * budget / max(t, 1e-9)))
    times = [t / n for t in timeit.repeat(fn, number=n, repeat=runs)]
    return statistics.median(times), min(times)


def bench_python(runs: int, budget: float) -> list[tuple[str, str, str, int, float, float]]:
    sys.path.insert(0, str(BUILD))
    import bench_states_asn1 as mod  # type: ignore[import-not-found]

    out = []
    for state in STATES:
        der = (BUILD / f"{state}.der").read_bytes()
        value = mod.load(state, der)
        assert mod.save(state, value) == der, state
        med, best = time_python(lambda: mod.save(state, value), runs, budget)  # noqa: B023
        out.append((state, "python", "save", len(der), med * 1e9, best * 1e9))
        med, best = time_python(lambda: mod.load(state, der), runs, budget)  # noqa: B023
        out.append((state, "python", "load", len(der), med * 1e9, best * 1e9))
    return out


# ---- report -------------------------------------------------------------------------------


def machine(cc: str) -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    mhz = re.search(r"cpu MHz\s*:\s*(.*)", cpuinfo)
    cache = re.search(r"cache size\s*:\s*(.*)", cpuinfo)
    ccv = run([cc, "--version"]).stdout.splitlines()[0]
    asn1c = subprocess.run(["asn1c", "-v"], capture_output=True, text=True, check=False)
    asn1cv = (asn1c.stdout + asn1c.stderr).strip().splitlines()
    import asn1tools  # type: ignore[import-untyped]

    return [
        f"- Date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- CPU: {model[1] if model else platform.processor()}"
        + (f", {float(mhz[1]):.0f} MHz" if mhz else "")
        + (f", {cache[1]} cache" if cache else "")
        + f"; {os.cpu_count()} logical cores; {platform.machine()}; "
        f"Linux {platform.release()}",
        f"- C compiler: {ccv}, `{' '.join(OPT)}` for everything (vmgen runtime and "
        "generated code, legacy serializer, asn1c output, harness)",
        f"- asn1c: {asn1cv[0] if asn1cv else '?'}",
        f"- Python: {platform.python_version()} ({platform.python_implementation()}), "
        f"asn1tools {asn1tools.__version__}",
    ]


def fmt_ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} us"
    return f"{ns:.0f} ns"


def fmt_rate(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


CODECS = [
    ("vmgen", "(a) vmgen C (`vmgen_save_S` / `vmgen_load_S`)"),
    ("vmgen-visit", "(a\u2032) vmgen C, visitors only (`vmgen_visit_save_S` / `_load_S`)"),
    ("legacy", "(b) legacy big-endian fixed width"),
    ("vmgen-stream", "(b\u2033) vmgen C, legacy VMState stream (`vmgen_save_S_legacy`)"),
    ("vmgen-stream-visit", "(b\u2034) vmgen C, legacy stream, visitors only "
     "(`vmgen_visit_save_S_legacy`)"),
    ("asn1c", "(c) asn1c DER encode / BER decode"),
    ("asn1c-checked", "(c') asn1c BER decode + `asn_check_constraints`"),
    ("memcpy", "(d) memcpy of the struct"),
    ("vms", "(e) VMState-style interpreter (QEMU 7.2's, modelled)"),
    ("protobuf-c", "(f) protobuf-c 1.4 pack / unpack"),
    ("nanopb", "(g) nanopb 0.4.7 encode / decode"),
    ("python", "generated Python `save` / `load`"),
]
# The rows of the comparison with what runs today: (column, codec).
VMGEN = (("vmgen BER (a)", "vmgen"), ("vmgen legacy (b\u2033)", "vmgen-stream"))
PEERS = (("VMState-style (e)", "vms"), ("protobuf-c (f)", "protobuf-c"),
         ("nanopb (g)", "nanopb"))
FLOOR = ("straight-line (b)", "legacy")

DESCRIPTIONS = {
    "ScalarHeavy": "100 `uint32_t` fields, pseudo-random values (most take 5 DER content "
                   "bytes)",
    "BufferHeavy": "4 byte arrays, 64 KiB in all, and 2 `uint32_t`",
    "RingHeavy": "256 `RingDesc` {`uint64_t`, `uint32_t`, 2 `uint16_t`, `uint8_t`, "
                 "`bool`} and 2 `uint32_t` (1,538 fields)",
}


Key = tuple[str, str, str]


def callgrind_counts(exe: Path, keys: list[Key], iters: tuple[int, int] = (20, 60)
                     ) -> dict[Key, float]:
    """Instructions per record of each (state, codec, op) under valgrind's callgrind:
    the difference of two runs of `iters` iterations each (start-up and the checks
    before the measurements cancel out). Load-independent, unlike the times."""
    def count(key: Key, n: int) -> int:
        env = dict(os.environ, BENCH_ONLY="/".join(key), BENCH_ITERS=str(n))
        proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                               str(exe)], cwd=BUILD, env=env, capture_output=True, text=True,
                              check=False, timeout=900)
        m = re.search(r"Collected : (\d+)", proc.stderr)
        if proc.returncode != 0 or not m:
            sys.exit(f"bench: callgrind of {'/'.join(key)} failed:\n{proc.stderr[-2000:]}")
        return int(m[1])

    def per_record(key: Key) -> float:
        lo, hi = iters
        return (count(key, hi) - count(key, lo)) / (hi - lo)

    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        return dict(zip(keys, pool.map(per_record, keys), strict=True))


CALLGRIND_CODECS = ("vmgen", "vmgen-stream", "vmgen-stream-visit", "legacy", "vms",
                    "protobuf-c", "nanopb")
# How far from a target a ratio must be for a verdict from a loaded machine.
MARGIN = 1.2


def key(text: str) -> Key:
    state, codec, op = text.split("/")
    return state, codec, op


def fmt_ratio(x: float) -> str:
    return f"{x:.3g}x"


def report(results: dict[Key, tuple[int, float, float]], machine_lines:
           list[str], runs: int, batch_ms: float, elapsed: float,
           instructions: dict[Key, float] | None = None, loaded: bool = False) -> str:
    def t(state: str, codec: str, op: str) -> float:
        return results[(state, codec, op)][1]

    out = ["# Benchmarks", "",
           "Generated by `make bench` (`tests/bench/bench_codec.py`): everything below comes "
           "from one run on one machine. Do not edit by hand.", "",
           "## Machine", "", *machine_lines,
           f"- Method: each C measurement runs batches of about {batch_ms:g} ms "
           f"(iterations calibrated), {runs} batches; the time shown is the median batch's "
           "time per record. Python: `timeit` batches, same rule. Whole run: "
           f"{elapsed:.0f} s.", "",
           "## Codecs", "",
           "Time per record, records/s, and MB/s of each codec's *own* encoded output (the "
           "size column; memcpy: the struct's size). `x legacy` and `x memcpy` are "
           "throughput ratios in records/s (legacy time / codec time): 0.5 means half the "
           "legacy serializer's throughput.", "",
           "- (a) vmgen: `vmgen_save_S` includes allocating the output buffer it returns "
           "(the caller frees it, counted too); both take the generated straight-line "
           "codec (runtime v4) for these records. `vmgen_load_S` reads small states in one "
           "pass into a stack copy, large ones in a checking pass plus a storing pass. "
           "(a\u2032): the same calls through the visitors alone (the path every record "
           "took before runtime v4, and the one that still writes the error messages).",
           "- (b) legacy: every field in C order at its C width, big-endian (QEMU's "
           "`qemu_put_be32`, `qemu_put_byte`, `qemu_put_buffer` of `VMSTATE_UINT32`, "
           "`VMSTATE_BOOL`, `VMSTATE_BUFFER`, `VMSTATE_STRUCT_ARRAY`), written straight-line "
           "from vmgen's IR by the script, into a preallocated buffer; its load checks the "
           "total length once, as a `QEMUFile` would notice a short stream (no range checks: "
           "VMState has none).",
           "- (b\u2033) vmgen's own legacy VMState stream, `vmgen_save_S_legacy` / "
           "`vmgen_load_S_legacy` (as (a), the allocation of the output counted): generated "
           "straight-line code for these states (runtime v6; values at constant offsets "
           "into one `malloc` of the largest stream, a load checks the bytes before it "
           "stores them). (b\u2034): the same calls through the visitors alone (the "
           "path of every stream before runtime v6: the same visitors as BER, positional "
           "format; still the one that writes the error messages).",
           "- (c) asn1c: `der_encode_to_buffer` from asn1c's decoded structure (no conversion "
           "from the C struct counted), `ber_decode` into freshly allocated structures + "
           "`ASN_STRUCT_FREE` (without constraint checks; (c') adds `asn_check_constraints`, "
           "which vmgen's loader always does). asn1c's DER is checked to be byte-identical "
           "to vmgen's before timing.",
           "- (d) memcpy: `memcpy` of the whole C struct (save: into another struct; load: "
           "back).",
           "- (e) VMState-style interpreter (`tests/bench/vms*.c`): QEMU 7.2's "
           "`vmstate_save_state` / `vmstate_load_state`, `vmstate-types.c` and `qemu-file.c` "
           "modelled from their facts and driven by hand-written VMState tables of the same "
           "states: per field an existence check and an indirect `info->put` / `info->get`, "
           "`qemu_put_be32` as four `qemu_put_byte` into the 32 KiB `QEMUFile` buffer (flushed "
           "into a growing byte array when full and at the end), `qemu_get_byte` with its "
           "refill check, the file's error checked after each field, a subsection peek after "
           "each description (each ring descriptor too). Trace points, the JSON description a "
           "precopy migration also writes and the section header are left out (all make it "
           "faster than QEMU). Its bytes are checked to equal (b)'s and vmgen's legacy "
           "stream's, its load to give the source object.",
           "- (f) protobuf-c and (g) nanopb on `.proto` (proto3) equivalents written from "
           "vmgen's IR by `tests/bench/baselines.py` (a `uint32`/`uint64`/`bool` per integer, "
           "`repeated` messages per array of structs, `bytes` per byte array), code generated "
           "by `protoc-c` and nanopb's generator at bench time. Measured from and into their "
           "own message structures (filling them from the C struct is not counted, as for "
           "asn1c): protobuf-c's save is `get_packed_size` + `malloc` + `pack` + `free` (as "
           "(a)), its load `unpack` + `free_unpacked`; nanopb encodes into a preallocated "
           "buffer and decodes into a static message, its byte arrays through callbacks "
           "(straight from / into the C struct: its static arrays cap a message at 64 KiB "
           "without `PB_FIELD_32BIT`, which Debian's `libprotobuf-nanopb` is built without). "
           "Both records are decoded and compared field by field with the source object, and "
           "must be byte-identical to each other, before timing.",
           "- Python: the generated `bench_states_asn1.save(S, dict)` / `.load(S, bytes)`.",
           ""]
    for state in STATES:
        out += [f"### {state}", "", DESCRIPTIONS[state], "",
                "| codec | size (B) | save | save rec/s | save MB/s | save x legacy | "
                "save x memcpy | load | load rec/s | load MB/s | load x legacy | "
                "load x memcpy |",
                "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
        for codec, label in CODECS:
            cells = [label]
            size = next((results[k][0] for k in results if k[0] == state and k[1] == codec),
                        None)
            if size is None:
                continue
            cells.append(f"{size:,}")
            for op in ("save", "load"):
                if (state, codec, op) not in results:
                    cells += ["-"] * 5
                    continue
                ns = t(state, codec, op)
                cells += [fmt_ns(ns), fmt_rate(1e9 / ns), f"{size / ns * 1e3:,.1f}",
                          f"{t(state, 'legacy', op) / ns:.3g}",
                          f"{t(state, 'memcpy', op) / ns:.3g}"]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")

    out += ["## Cost growth", "",
            "vmgen's C (and the legacy serializer) on states of N `uint32_t` fields "
            "(pseudo-random values) and of one `uint8_t` array of N bytes. Linear cost "
            "means a flat per-field / per-KiB column.", "",
            "| state | vmgen save | per field | vmgen load | per field | legacy save | "
            "legacy load |", "|---|--:|--:|--:|--:|--:|--:|"]
    for n in FIELD_COUNTS:
        s = f"Fields{n}"
        out.append(f"| {n} fields | {fmt_ns(t(s, 'vmgen', 'save'))} | "
                   f"{t(s, 'vmgen', 'save') / n:.1f} ns | {fmt_ns(t(s, 'vmgen', 'load'))} | "
                   f"{t(s, 'vmgen', 'load') / n:.1f} ns | {fmt_ns(t(s, 'legacy', 'save'))} | "
                   f"{fmt_ns(t(s, 'legacy', 'load'))} |")
    out += ["", "| state | vmgen save | per KiB | vmgen load | per KiB | legacy save | "
            "legacy load | memcpy |", "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for n in BUFFER_SIZES:
        s = f"Buf{size_name(n)}"
        k = n / 1024
        out.append(f"| {size_name(n)}iB buffer | {fmt_ns(t(s, 'vmgen', 'save'))} | "
                   f"{t(s, 'vmgen', 'save') / k:.1f} ns | {fmt_ns(t(s, 'vmgen', 'load'))} | "
                   f"{t(s, 'vmgen', 'load') / k:.1f} ns | {fmt_ns(t(s, 'legacy', 'save'))} | "
                   f"{fmt_ns(t(s, 'legacy', 'load'))} | {fmt_ns(t(s, 'memcpy', 'save'))} |")

    def check(ok: bool) -> str:
        return "met" if ok else "**not met**"

    out += ["", "## Against what runs today (issue 17)", "",
            "Throughput ratios in records/s (peer's time / vmgen's time: above 1 means vmgen "
            "is faster) from the tables above, wall-clock; then, where the run had "
            "`--callgrind`, instructions per record from `valgrind --tool=callgrind` (the "
            "difference of two iteration counts; independent of the machine's load).", "",
            "| state | op | " + " | ".join(f"{v} x {p}" for v, _ in VMGEN
                                          for p, _ in (*PEERS, FLOOR)) + " |",
            "|---|---|" + "--:|" * (len(VMGEN) * (len(PEERS) + 1))]
    for state in STATES:
        for op in ("save", "load"):
            cells = [fmt_ratio(t(state, p, op) / t(state, v, op))
                     for _, v in VMGEN for _, p in (*PEERS, FLOOR)]
            out.append(f"| {state} | {op} | " + " | ".join(cells) + " |")
    if instructions:
        names = dict(CODECS)
        out += ["", "| callgrind, instructions per record | "
                + " | ".join(f"{st} {op}" for st in STATES for op in ("save", "load")) + " |",
                "|---|" + "--:|" * (2 * len(STATES))]
        for codec in CALLGRIND_CODECS:
            out.append(f"| {names[codec]} | " + " | ".join(
                f"{instructions[(st, codec, op)]:,.0f}" for st in STATES
                for op in ("save", "load")) + " |")

    def ratio(state: str, peer: str, codec: str, op: str) -> str:
        r = f"{t(state, peer, op) / t(state, codec, op):.3g}x"
        if instructions and (state, codec, op) in instructions:
            r += (f" ({instructions[(state, peer, op)] / instructions[(state, codec, op)]:.3g}x "
                  "in instructions)")
        return r

    def met(state: str, peer: str, codec: str, op: str, want: float) -> str:
        r = t(state, peer, op) / t(state, codec, op)
        ok = r >= want
        if instructions and (state, codec, op) in instructions:
            r_i = instructions[(state, peer, op)] / instructions[(state, codec, op)]
            if ok != (r_i >= want):
                return "open: time and instructions disagree"
            if loaded and not all(x >= want * MARGIN or x <= want / MARGIN for x in (r, r_i)):
                return "open: within 20% on a loaded machine"
        elif loaded:
            return "open: a loaded machine"
        return "met" if ok else "**not met**"

    out += ["", "## Targets (issue 17)", "",
            "Judged on the wall-clock ratios of this run, with the instruction ratio beside "
            "them where the run had `--callgrind`; on a loaded machine (see Machine) a target "
            "is called met or not met only where time and instructions agree and both are "
            "more than 20% away from it, and left open otherwise.", "",
            "| target | state | save | | load | |", "|---|---|---|---|---|---|"]
    for state in STATES:
        cells = []
        for op, want in (("save", 0.7), ("load", 0.5)):
            cells += [ratio(state, "legacy", "vmgen-stream", op),
                      met(state, "legacy", "vmgen-stream", op, want)]
        out.append(f"| vmgen legacy >= 0.7x (save) / 0.5x (load) of straight-line (b) | "
                   f"{state} | " + " | ".join(cells) + " |")
    cells = []
    for op, want in (("save", 0.25), ("load", 0.2)):
        cells += [ratio("ScalarHeavy", "legacy", "vmgen", op),
                  met("ScalarHeavy", "legacy", "vmgen", op, want)]
    out.append("| vmgen BER >= 0.25x (save) / 0.2x (load) of straight-line (b) | ScalarHeavy | "
               + " | ".join(cells) + " |")
    for label, codec in VMGEN:
        for state in STATES:
            cells = []
            for op in ("save", "load"):
                cells += [ratio(state, "vms", codec, op), met(state, "vms", codec, op, 1.0)]
            out.append(f"| {label} faster than VMState-style (e) | {state} | "
                       + " | ".join(cells) + " |")
    for peer_label, peer in PEERS[1:]:
        for state in STATES:
            cells = []
            for op in ("save", "load"):
                cells += [ratio(state, peer, "vmgen", op), met(state, peer, "vmgen", op, 1.0)]
            out.append(f"| vmgen BER (a) at least as fast as {peer_label} | {state} | "
                       + " | ".join(cells) + " |")

    out += ["", "## Targets (issue 7)", "", "| target | measured | |", "|---|---|---|"]
    for state, want in (("ScalarHeavy", 0.5), ("BufferHeavy", 0.8)):
        for op in ("save", "load"):
            r = t(state, "legacy", op) / t(state, "vmgen", op)
            out.append(f"| vmgen C {op} >= {want}x legacy, {state} | {r:.3g}x | "
                       f"{check(r >= want)} |")
    for op in ("save", "load"):
        r = t("ScalarHeavy", "asn1c", op) / t("ScalarHeavy", "vmgen", op)
        out.append(f"| vmgen C {op} >= 20x faster than asn1c, ScalarHeavy | {r:.3g}x | "
                   f"{check(r >= 20)} |")
    for state, limit in (("BufferHeavy", 1e6), ("ScalarHeavy", 1e5)):
        ns = t(state, "python", "load")
        out.append(f"| Python load of {state} < {fmt_ns(limit)} | {fmt_ns(ns)} | "
                   f"{check(ns < limit)} |")
    out.append("")
    return "\n".join(out)


NOTES_MARK = "<!-- notes: kept by bench_codec.py -->"
RESULTS = BUILD / "results.json"  # the last run's numbers (for --rewrite)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short batches (a smoke run)")
    ap.add_argument("--no-write", action="store_true", help="print, do not write the file")
    ap.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    ap.add_argument("--callgrind", action="store_true",
                    help="also count instructions per record under valgrind's callgrind "
                         "(the codecs compared with what runs today)")
    ap.add_argument("--rewrite", action="store_true",
                    help="measure nothing: render the report again from the last run's "
                         f"{RESULTS.relative_to(REPO)}")
    args = ap.parse_args()
    if args.rewrite:
        saved = json.loads(RESULTS.read_text())
        write_report(args, report(
            {key(k): (v[0], v[1], v[2]) for k, v in saved["results"].items()},
            saved["machine"], saved["runs"], saved["batch_ms"], saved["elapsed"],
            {key(k): v for k, v in saved["instructions"].items()}
            if saved["instructions"] is not None else None, saved["loaded"]))
        return
    load_start = os.getloadavg()
    cc = os.environ.get("CC", "gcc")
    batch_ms = 2.0 if args.quick else 20.0
    runs = 11
    start = timeit.default_timer()
    exe, _ = build(cc)
    print(f"bench: running {exe.relative_to(REPO)}", file=sys.stderr)
    proc = run([str(exe), str(batch_ms)], cwd=BUILD, timeout=1800)
    results: dict[tuple[str, str, str], tuple[int, float, float]] = {}
    for line in proc.stdout.splitlines():
        f = line.split()
        if f and f[0] == "RESULT":
            results[(f[1], f[2], f[3])] = (int(f[4]), float(f[5]), float(f[6]))
    print("bench: timing the Python module", file=sys.stderr)
    for state, codec, op, size, med, best in bench_python(
            5 if args.quick else runs, 0.02 if args.quick else 0.2):
        results[(state, codec, op)] = (size, med, best)
    load_end = os.getloadavg()
    instructions = None
    if args.callgrind:
        print("bench: counting instructions under callgrind", file=sys.stderr)
        instructions = callgrind_counts(exe, [(st, codec, op) for st in STATES
                                              for codec in CALLGRIND_CODECS
                                              for op in ("save", "load")])
    loaded = max(load_start[0], load_end[0]) > 0.5 * (os.cpu_count() or 1)
    lines = [
        *machine(cc),
        f"- Load average (1 min) at the start of the timed run: {load_start[0]:.2f}, at its "
        f"end: {load_end[0]:.2f}, on {os.cpu_count()} logical cores"
        + (" (a loaded machine: the times are noisy)" if loaded else "")]
    elapsed = timeit.default_timer() - start
    RESULTS.write_text(json.dumps({
        "results": {"/".join(k): v for k, v in results.items()},
        "instructions": {"/".join(k): v for k, v in instructions.items()}
        if instructions is not None else None,
        "machine": lines, "runs": runs, "batch_ms": batch_ms, "elapsed": elapsed,
        "loaded": loaded}, indent=1))
    write_report(args, report(results, lines, runs, batch_ms, elapsed, instructions, loaded))


def write_report(args: argparse.Namespace, text: str) -> None:
    if args.no_write:
        print(text)
        return
    notes = ""
    if args.out.exists() and NOTES_MARK in args.out.read_text():
        notes = args.out.read_text().split(NOTES_MARK, 1)[1]
    args.out.write_text(text + "\n" + NOTES_MARK + notes)
    print(f"bench: wrote {args.out.relative_to(REPO)}", file=sys.stderr)


if __name__ == "__main__":
    main()
