"""``vmgen explain``: what each device state's fields become on the wire.

A table per device state (and per struct and union it contains): C field,
C type, wire type (the ASN.1 of STEM.asn), since-version and notes.
"""

from __future__ import annotations

from vmgen import ir
from vmgen.backends.asn1 import wire_type


def _notes(s: ir.Struct, f: ir.Field) -> str:
    notes = []
    if f.type is None:
        return "skipped (VMGEN_SKIP)"
    if f.count_of is not None:
        notes.append(f"count of '{f.count_of}': not on the wire, its length is")
    if isinstance(f.type, (ir.ArrayType, ir.BytesType)) and f.type.count is not None:
        c = f.type.count
        kind = "capacity" if c.fixed else "as many as the destination holds"
        notes.append(f"sized by '{c.field}' ({c.min}..{c.max}, {kind})")
    if isinstance(f.type, ir.IntType) and f.type.ranged and f.bit_width is None:
        notes.append(f"range {f.type.min}..{f.type.max}")
    if f.bit_width is not None:
        notes.append(f"bit-field : {f.bit_width}")
    if f.const:
        notes.append("const: a load checks it equals the destination's")
    if f.selector is not None:
        notes.append(f"union selected by '{f.selector}'")
    if any(g.selector == f.name for g in s.fields):
        notes.append("discriminator")
    if isinstance(f.type, ir.ExternalType):
        notes.append(f"through the user's visit_type_{f.type.name}()")
    return "; ".join(notes)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def _wire(t: ir.WireType | None) -> str:
    return "-" if t is None else wire_type(t)[0]


def explain(module: ir.Module) -> str:
    lines: list[str] = []
    for s in module.structs:
        if s.state is not None:
            title = (f"{s.name}: device state, data version {s.state.version}, readable by "
                     f"version {s.state.minimum_version} and later ({s.location})")
        else:
            title = f"{s.name}: struct ({s.location})"
        title += ", fields in wire order"
        lines.append(title)
        rows: list[tuple[str, ...]] = [("C field", "C type", "wire type", "since", "notes")]
        for f in s.fields:
            rows.append((f.name, f.c_type, _wire(f.type),
                         str(f.since) if f.since is not None else "", _notes(s, f)))
        lines += ["  " + line for line in _table(rows)]
        lines.append("")
    for u in module.unions:
        lines.append(f"{u.name}: union ({u.location})")
        rows = []
        rows.append(("C member", "C type", "wire type", "cases"))
        for m in u.members:
            rows.append((m.name, m.c_type, _wire(m.type), ", ".join(map(str, m.cases))))
        lines += ["  " + line for line in _table(rows)]
        lines.append("")
    return "\n".join(lines)
