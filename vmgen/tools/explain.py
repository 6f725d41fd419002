"""``vmgen explain``: what each device state's fields become on the wire.

A table per device state (and per struct and union it contains): C field,
C type, wire type (the ASN.1 of STEM.asn), since-version and notes; for a
device state, which C codec its saves and loads take.
"""

from __future__ import annotations

from vmgen.backends import cfast
from vmgen.backends.asn1 import wire_type
from vmgen.lowering import ir


def _notes(s: ir.Struct, f: ir.Field) -> str:
    notes = []
    if f.unused is not None:
        return f"padding: {f.unused} bytes in the legacy stream only (VMGEN_UNUSED)"
    if f.subsection is not None:
        notes.append(f"legacy: subsection v{f.subsection.version} when '{f.subsection.needed}'")
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
    if f.positive_le:
        notes.append("a load takes 0..the destination's value (VMGEN_POSITIVE_LE)")
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
    plan = cfast.plan(module)
    specialized = {st.name for st in plan.states}
    visited = {st.name: st.reason for st in plan.visited}
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
        if s.layout is not None:
            order = ", ".join(f.name for f in s.layout)
            lines.append(f'  legacy stream: VMState "{s.vmsd}", in order: {order}')
        if s.name in specialized:
            lines.append("  C codec: specialized straight-line DER/BER code (the visitors take "
                         "over for anything irregular)")
        elif s.name in visited:
            lines.append(f"  C codec: visitors only ({visited[s.name]})")
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


def _vm_int(t: ir.IntType) -> str:
    return f"{'' if t.signed else 'U'}INT{t.bits}"


def _vmstate_entry(module: ir.Module, s: ir.Struct, f: ir.Field) -> list[str]:
    """The VMSTATE_* line(s) that write what the legacy stream holds for `f`."""
    name, owner = f.name, s.c_type or s.name
    v = f"_V({name}, {owner}, {f.since})" if f.since is not None else f"({name}, {owner})"
    if f.unused is not None:
        return [f"VMSTATE_UNUSED_V({f.since}, {f.unused}),"
                if f.since is not None else f"VMSTATE_UNUSED({f.unused}),"]
    assert f.type is not None
    t = f.type
    if isinstance(t, ir.ExternalType):
        if t.c_type is not None:  # VMGEN_VISITOR: QEMU's custom VMStateInfo
            return [f"{{ .name = \"{f.name}\", .version_id = {f.since or 0}, "
                    f".info = &vmstate_info_{t.name} }}, /* visit_type_{t.name}() */"]
        if t.name == "QEMUTimer" and t.pointer and isinstance(t.wire, ir.IntType):
            return [f"VMSTATE_TIMER_PTR{v}, /* visit_type_QEMUTimer() */"]
        t = t.wire
    if f.const and isinstance(t, ir.IntType):
        return [f"VMSTATE_{_vm_int(t)}_EQUAL({name}, {owner}, NULL),"]
    if f.positive_le and isinstance(t, ir.IntType):
        return [f"VMSTATE_{_vm_int(t)}_POSITIVE_LE({name}, {owner}),"]
    if f.count_of is not None and s.layout is not None:
        return [f"VMSTATE_{_vm_int(t)}{v}, /* the count of {f.count_of} */"
                if isinstance(t, ir.IntType) else f"/* {name} */"]
    if f.bit_width is not None:
        width = t.bits if isinstance(t, ir.IntType) else 32 if isinstance(t, ir.EnumRef) else 8
        return [f"/* bit-field {name}: {width // 8} bytes through a shadow field "
                "(VMState cannot address bit-fields) */"]
    if isinstance(t, ir.IntType):
        return [f"VMSTATE_{_vm_int(t)}{v},"]
    if isinstance(t, ir.BoolType):
        return [f"VMSTATE_BOOL{v},"]
    if isinstance(t, ir.FloatType):
        return [f"VMSTATE_FLOAT64{v}," if t.bits == 64
                else f"VMSTATE_UINT32{v}, /* the float's bits */"]
    if isinstance(t, ir.EnumRef):
        return [f"VMSTATE_INT32{v}, /* enum {t.name} */"]
    if isinstance(t, ir.StringType):
        return [f"VMSTATE_BUFFER{v}, /* a NUL-padded string */"]
    if isinstance(t, ir.UnionRef):
        sel = f.selector
        return [f"/* {name}: the member of {t.name} that '{sel}' selects, inline "
                f"(VMSTATE_STRUCT_TEST / .field_exists per member) */"]
    if isinstance(t, ir.StructRef):
        inner = module.struct(t.name)
        return [f"VMSTATE_STRUCT({name}, {owner}, {f.since or 0}, vmstate_{inner.name}, "
                f"{inner.c_type or inner.name}),"]
    if isinstance(t, (ir.BytesType, ir.ArrayType)):
        out = []
        if t.count is not None:
            count = s.field(t.count.field)
            assert isinstance(count.type, ir.IntType)
            cw = f"{'' if count.type.signed else 'U'}INT{count.type.bits}"
            if s.layout is None:  # else the count has its own entry where it is declared
                out.append(f"VMSTATE_{_vm_int(count.type)}({count.name}, {owner}), "
                           f"/* the count of {name}, first */")
            if isinstance(t, ir.BytesType):
                return [*out, f"VMSTATE_VBUFFER_{cw}({name}, {owner}, "
                        f"{f.since or 0}, NULL, {count.name}),"]
            element = t.element
            if isinstance(element, ir.StructRef):
                inner = module.struct(element.name)
                return [*out, f"VMSTATE_STRUCT_VARRAY_{cw}({name}, {owner}, {count.name}, "
                        f"{f.since or 0}, vmstate_{inner.name}, {inner.c_type or inner.name}),"]
            return [*out, f"VMSTATE_VARRAY_{cw}({name}, {owner}, {count.name}, "
                    f"{f.since or 0}, vmstate_info_{_info(element)}, {_ctype(element)}),"]
        if isinstance(t, ir.BytesType):
            return [f"VMSTATE_BUFFER{v},"]
        dims = [t.length]
        element = t.element
        while isinstance(element, ir.ArrayType) and element.count is None:
            dims.append(element.length)
            element = element.element
        if isinstance(element, ir.StructRef):
            inner = module.struct(element.name)
            return [f"VMSTATE_STRUCT_ARRAY({name}, {owner}, {' * '.join(map(str, dims))}, "
                    f"{f.since or 0}, vmstate_{inner.name}, {inner.c_type or inner.name}),"]
        kind = "2DARRAY" if len(dims) == 2 else "ARRAY"
        shape = ", ".join(map(str, dims)) if len(dims) <= 2 else " * ".join(map(str, dims))
        if isinstance(element, ir.BytesType):
            kind, shape = ("2DARRAY", f"{shape}, {element.length}")
        return [f"VMSTATE_{_info(element).upper()}_{kind}({name}, {owner}, {shape}),"]
    return [f"/* {name} */"]


def _info(t: ir.WireType) -> str:
    if isinstance(t, ir.IntType):
        return f"{'' if t.signed else 'u'}int{t.bits}"
    if isinstance(t, ir.BoolType):
        return "bool"
    if isinstance(t, ir.BytesType):
        return "uint8"
    if isinstance(t, ir.FloatType):
        return "float64" if t.bits == 64 else "uint32"
    return "int32"


def _ctype(t: ir.WireType) -> str:
    if isinstance(t, ir.IntType):
        return f"{'' if t.signed else 'u'}int{t.bits}_t"
    return {"bool": "bool", "float64": "double"}.get(_info(t), "int32_t")


def _group_name(s: ir.Struct, f: ir.Field) -> str:
    """The C name of the VMStateDescription of a subsection group (``hpet/offset`` ->
    ``vmstate_HPETState_offset``)."""
    assert f.subsection is not None and f.subsection.vmsd is not None
    tail = f.subsection.vmsd.rsplit("/", 1)[-1]
    return f"vmstate_{s.name}_" + "".join(c if c.isalnum() else "_" for c in tail)


def vmstate(module: ir.Module) -> str:
    """The VMState description equivalent to the legacy stream of each struct."""
    lines: list[str] = []
    for s in module.structs:
        owner = s.c_type or s.name
        version = s.state.version if s.state else 1
        minimum = s.state.minimum_version if s.state else 1
        items = s.wire if s.layout is None else s.layout
        groups = [f for f in items if f.subsection is not None
                  and f.subsection.fields is not None]
        for f in groups:  # subsections of the struct's own members come first, as in C
            sub = f.subsection
            assert sub is not None and sub.fields is not None
            lines.append(f"static const VMStateDescription {_group_name(s, f)} = {{")
            lines.append(f'    .name = "{sub.vmsd}",')
            lines.append(f"    .version_id = {sub.version},")
            lines.append(f"    .minimum_version_id = {sub.minimum_version},")
            if not sub.by_field:
                lines.append(f"    .needed = {sub.needed},")
            lines.append("    .fields = (VMStateField[]) {")
            for g in sub.fields:
                for entry in _vmstate_entry(module, s, g):
                    lines.append(f"        {entry}")
            lines.append("        VMSTATE_END_OF_LIST()")
            lines.append("    },")
            lines.append("};")
            lines.append("")
        lines.append(f"static const VMStateDescription vmstate_{s.name} = {{")
        lines.append(f'    .name = "{s.vmsd or s.name}",')
        lines.append(f"    .version_id = {version},")
        lines.append(f"    .minimum_version_id = {minimum},")
        lines.append("    .fields = (VMStateField[]) {")
        for f in items:
            if f.subsection is not None:
                continue
            for entry in _vmstate_entry(module, s, f):
                lines.append(f"        {entry}")
        lines.append("        VMSTATE_END_OF_LIST()")
        lines.append("    },")
        subsections = [f for f in items if f.subsection is not None]
        if subsections:
            lines.append("    .subsections = (const VMStateDescription * const []) {")
            for f in subsections:
                sub = f.subsection
                assert sub is not None
                when = (f"while '{sub.needed}' is true (a load sets it)" if sub.by_field
                        else f"when {sub.needed}(opaque)")
                if sub.fields is not None:
                    lines.append(f"        &{_group_name(s, f)}, /* v{sub.version} "
                                 f"(from v{sub.minimum_version}), {when} */")
                    continue
                assert isinstance(f.type, ir.StructRef)
                lines.append(f"        &vmstate_{f.type.name}, /* '{f.name}' v{sub.version} "
                             f"(from v{sub.minimum_version}), {when} */")
            lines.append("        NULL")
            lines.append("    },")
        lines.append("};" + (f" /* {owner} */" if owner != s.name else ""))
        lines.append("")
    return "\n".join(lines)
