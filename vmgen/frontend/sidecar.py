"""Annotations kept beside a header the user cannot edit (``--annotations FILE.toml``).

The sidecar says the same things as the macros of vmgen.h::

    [RTCState]                      # a struct, by its typedef name or tag
    state = [3, 1]                  # VMGEN_STATE(3, 1)
    vmsd = "mc146818rtc"            # VMGEN_VMSD("mc146818rtc")

    [RTCState.fields]
    irq = "skip"                    # VMGEN_SKIP
    cmos_index = { range = [0, 127] }
    fifo = { size_is = "count", since = 2 }
    name = { string = true }
    u = { union = "kind" }
    unused0 = { unused = true }     # VMGEN_UNUSED (also equal, positive_le)
    off = { subsection = [1, 1, "has_off"] }   # VMGEN_SUBSECTION(1, 1, has_off)

    [Payload.fields]                # a union's members
    a = { case = [1, 2] }

    [types]
    QEMUTimer = { external = "int64" }   # VMGEN_EXTERNAL(int64) on the typedef

A device's own struct, whose VMState table orders its members unlike C, lists the
legacy stream's order itself (only here: it has no macro form)::

    [PITCommonState]
    vmsd = "i8254"
    layout = ["channels[0].irq_disabled", "channels", { unused = 4, since = 2 }]

    [PITCommonState.fields]
    "channels[0].irq_disabled" = { since = 3 }  # a member of an array element
    parent_obj = "skip"

    [[HPETState.subsections]]       # a subsection over the struct's own members
    vmsd = "hpet/rtc_irq_level"
    version = 1
    minimum = 1
    needed = "hpet_rtc_irq_level_needed"
    layout = ["rtc_irq_level"]

A host member travels through the user's visitor, as VMGEN_VISITOR says:
``config = { visitor = ["pci_config", "bytes(256)"] }`` (``visit_type_pci_config`` gets
the member's address and visits 256 bytes).

An annotation given both in the header and in the sidecar must say the same
thing; an entry that names nothing in the header is an error.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycparser import c_ast
from pycparser.c_parser import Coord

from vmgen.diagnostics import Location, VmgenError
from vmgen.frontend.annotations import KNOWN, Annotation, _parse_args

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_FIELD_KEYS = {"skip", "since", "size_is", "range", "string", "union", "case", "equal",
               "positive_le", "unused", "subsection", "visitor"}
_SUBSECTION_KEYS = ("vmsd", "version", "minimum", "needed", "layout")


@dataclass(frozen=True)
class LayoutEntry:
    """One entry of a ``layout`` list: a member or member path, or `unused` bytes of
    padding (from version `since`)."""

    name: str | None
    location: Location
    unused: int | None = None
    since: int | None = None


@dataclass(frozen=True)
class GroupSpec:
    """A ``[[S.subsections]]`` table: a VMState subsection over S's own members."""

    vmsd: str
    version: int
    minimum: int
    needed: str
    layout: tuple[LayoutEntry, ...]
    location: Location


# A member, or a path into members of arrays and structs: ``a``, ``a[0].b``, ``a.b[2]``.
_PATH = re.compile(r"[A-Za-z_]\w*(\[\d+\]|\.[A-Za-z_]\w*)*")


def _node(value: Any, loc: Location) -> c_ast.Node:
    """A C expression node for a TOML value, located in the annotations file."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(value)
    coord = Coord(loc.file, loc.line, loc.column)
    if isinstance(value, int):
        if value >= 0:
            return c_ast.Constant("int", str(value), coord=coord)
        return c_ast.UnaryOp("-", c_ast.Constant("int", str(-value), coord=coord), coord=coord)
    return c_ast.ID(value, coord=coord)


def _toml(value: Any) -> str:
    """A value as TOML spells it (true, not True)."""
    return json.dumps(value)


@dataclass
class Sidecar:
    path: str
    text: str
    structs: dict[str, list[Annotation]] = field(default_factory=dict)
    fields: dict[tuple[str, str], list[Annotation]] = field(default_factory=dict)
    types: dict[str, list[Annotation]] = field(default_factory=dict)
    layouts: dict[str, tuple[LayoutEntry, ...]] = field(default_factory=dict)
    groups: dict[str, tuple[GroupSpec, ...]] = field(default_factory=dict)
    used: set[tuple[str, ...]] = field(default_factory=set)

    # ---- loading ----------------------------------------------------------------

    @classmethod
    def load(cls, path: str) -> Sidecar:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise VmgenError.at(None, f"cannot read the annotations file '{path}': "
                                "no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
            raise VmgenError.at(None, f"cannot read the annotations file '{path}': "
                                f"{reason}") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
            loc = Location(path, int(m.group(1)), int(m.group(2))) if m else Location(path, 0, 0)
            raise VmgenError.at(loc, f"invalid TOML: {str(exc).split(' (at line')[0]}") from None
        sidecar = cls(path, text)
        sidecar._read(data)
        return sidecar

    def _loc(self, *keys: str) -> Location:
        """The line of the innermost key (TOML parsers give no positions)."""
        line = 0
        lines = self.text.splitlines()
        for key in keys:
            k = re.escape(key)
            pattern = re.compile(rf'^\s*(\[[^\]]*\b{k}\b[^\]]*\]|"?{k}"?\s*=)')
            for i in range(line, len(lines)):
                if pattern.search(lines[i]):
                    line = i
                    break
        return Location(self.path, line + 1, 1)

    def _annotation(self, kind: str, value: Any, *keys: str) -> Annotation:
        loc = self._loc(*keys)
        arity, macro = KNOWN[kind]
        try:
            if arity == 0:
                if value is not True:
                    raise TypeError(value)
                args: tuple[c_ast.Node, ...] = ()
            elif kind == "visitor" and isinstance(value, list) and len(value) == 2 \
                    and all(isinstance(v, str) for v in value):
                args = (_node(value[0], loc), *_parse_args(value[1], loc, kind))
            elif isinstance(value, list):
                args = tuple(_node(v, loc) for v in value)
            else:
                args = (_node(value, loc),)
        except TypeError:
            raise VmgenError.at(loc, f"'{kind}' = {_toml(value)} does not say {macro}") from None
        if (arity >= 0 and len(args) != arity) or (arity < 0 and not args):
            raise VmgenError.at(loc, f"'{kind}' = {_toml(value)} does not say {macro}")
        return Annotation(kind, args, loc)

    def _read(self, data: dict[str, Any]) -> None:
        for name, table in data.items():
            if not isinstance(table, dict):
                raise VmgenError.at(self._loc(name), f"'{name}' must be a table")
            if name == "types":
                for tname, spec in table.items():
                    if not isinstance(spec, dict) or set(spec) != {"external"}:
                        raise VmgenError.at(self._loc("types", tname),
                                            f"[types] {tname} must be {{ external = \"kind\" }}")
                    self.types[tname] = [self._annotation("external", spec["external"],
                                                          "types", tname)]
                continue
            for key, value in table.items():
                if key == "fields" and not isinstance(value, dict):
                    raise VmgenError.at(self._loc(name, key),
                                        f"[{name}]: 'fields' must be a table of fields")
                if key == "state":
                    self.structs.setdefault(name, []).append(
                        self._annotation("state", value, name, "state"))
                elif key == "vmsd":
                    self.structs.setdefault(name, []).append(self._vmsd(value, name))
                elif key == "fields" and isinstance(value, dict):
                    for fname, spec in value.items():
                        self.fields[(name, fname)] = self._field(name, fname, spec)
                elif key == "layout":
                    self.layouts[name] = self._layout(value, name, (name, "layout"))
                elif key == "subsections":
                    self.groups[name] = self._groups(value, name)
                else:
                    raise VmgenError.at(self._loc(name, key),
                                        f"[{name}]: unknown key '{key}' (state, vmsd, layout, "
                                        "subsections, fields)")

    def _layout(self, value: Any, struct: str, keys: tuple[str, ...]) -> tuple[LayoutEntry, ...]:
        loc = self._loc(*keys)
        what = f"[{struct}] {keys[-1]}" if len(keys) == 2 else f"[{struct}] subsection layout"
        if not isinstance(value, list) or not value:
            raise VmgenError.at(loc, f"{what} must be a non-empty list of member names, "
                                "member paths (\"a[0].b\") and { unused = N } tables")
        entries = []
        for item in value:
            if isinstance(item, str) and _PATH.fullmatch(item):
                entries.append(LayoutEntry(item, loc))
                continue
            if isinstance(item, dict) and "unused" in item and set(item) <= {"unused", "since"}:
                n, since = item["unused"], item.get("since")
                if (isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 0xFFFFFFFF
                        and (since is None or (isinstance(since, int)
                                               and not isinstance(since, bool)
                                               and 0 <= since <= 0xFFFFFFFF))):
                    entries.append(LayoutEntry(None, loc, n, since))
                    continue
            raise VmgenError.at(loc, f"{what}: {_toml(item)} is neither a member name, a "
                                "member path (\"a[0].b\") nor { unused = N, since = V } "
                                "with N > 0")
        return tuple(entries)

    def _groups(self, value: Any, struct: str) -> tuple[GroupSpec, ...]:
        loc = self._loc(struct, "subsections")
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise VmgenError.at(loc, f"[{struct}] subsections must be an array of tables "
                                f"([[{struct}.subsections]])")
        groups = []
        for table in value:
            missing = [k for k in _SUBSECTION_KEYS if k not in table]
            extra = sorted(set(table) - set(_SUBSECTION_KEYS))
            name = table.get("vmsd")
            gloc = self._loc(struct, "subsections", f'"{name}"') if isinstance(name, str) else loc
            if missing or extra:
                problem = (f"lacks {', '.join(missing)}" if missing
                           else f"has unknown key '{extra[0]}'")
                raise VmgenError.at(gloc, f"[[{struct}.subsections]] {problem} (keys: "
                                    f"{', '.join(_SUBSECTION_KEYS)})")
            version, minimum, needed = table["version"], table["minimum"], table["needed"]
            if not (isinstance(name, str) and 1 <= len(name) <= 255
                    and all(" " <= c <= "~" for c in name)):
                raise VmgenError.at(gloc, f"[[{struct}.subsections]] vmsd must be 1 to 255 "
                                    "printable ASCII characters")
            if not all(isinstance(x, int) and not isinstance(x, bool) for x in (version, minimum)) \
                    or not 0 <= minimum <= version <= 0xFFFFFFFF:
                raise VmgenError.at(gloc, f"subsection '{name}': versions {_toml(version)} "
                                    f"(minimum {_toml(minimum)}) must satisfy 0 <= minimum <= "
                                    "version < 2^32")
            if not isinstance(needed, str) or not re.fullmatch(r"[A-Za-z_]\w*", needed):
                raise VmgenError.at(gloc, f"subsection '{name}': needed must name a bool field "
                                    "or a function bool needed(void *opaque)")
            layout = self._layout(table["layout"], struct, (struct, "subsections", f'"{name}"'))
            groups.append(GroupSpec(name, version, minimum, needed, layout, gloc))
        return tuple(groups)

    def _vmsd(self, value: Any, struct: str) -> Annotation:
        loc = self._loc(struct, "vmsd")
        if not isinstance(value, str):
            raise VmgenError.at(loc, f"'vmsd' = {_toml(value)} does not say "
                                f"{KNOWN['vmsd'][1]}")
        coord = Coord(loc.file, loc.line, loc.column)
        return Annotation("vmsd", (c_ast.Constant("string", json.dumps(value), coord=coord),),
                          loc)

    def _field(self, struct: str, name: str, spec: Any) -> list[Annotation]:
        if spec == "skip":
            return [self._annotation("skip", True, struct, name)]
        if not isinstance(spec, dict):
            raise VmgenError.at(self._loc(struct, name),
                                f"{struct}.{name}: expected \"skip\" or a table")
        anns = []
        for kind, value in spec.items():
            if kind not in _FIELD_KEYS:
                raise VmgenError.at(self._loc(struct, name),
                                    f"{struct}.{name}: unknown key '{kind}' "
                                    f"({', '.join(sorted(_FIELD_KEYS))})")
            anns.append(self._annotation(kind, value, struct, name))
        return anns

    def names(self) -> tuple[str, ...]:
        """The structs, unions and types it names (what a sliced parse must keep)."""
        found = [*self.structs, *(s for s, _ in self.fields), *self.types, *self.layouts,
                 *self.groups]
        return tuple(dict.fromkeys(found))

    # ---- queries from the lowering ------------------------------------------------

    def struct(self, name: str) -> list[Annotation]:
        if name in self.structs:
            self.used.add((name,))
        return self.structs.get(name, [])

    def field(self, struct: str, name: str) -> list[Annotation]:
        if (struct, name) in self.fields:
            self.used.add((struct, name))
        return self.fields.get((struct, name), [])

    def layout(self, name: str) -> tuple[LayoutEntry, ...] | None:
        if name in self.layouts:
            self.used.add((name, "layout"))
        return self.layouts.get(name)

    def subsections(self, name: str) -> tuple[GroupSpec, ...]:
        if name in self.groups:
            self.used.add((name, "subsections"))
        return self.groups.get(name, ())

    def type(self, name: str) -> list[Annotation]:
        if name in self.types:
            self.used.add(("types", name))
        return self.types.get(name, [])

    def merge(self, header: list[Annotation], sidecar: list[Annotation]) -> list[Annotation]:
        """The annotations of the header and the sidecar; where both give one
        kind, they must agree."""
        merged = list(header)
        by_kind = {a.kind: a for a in header}
        for a in sidecar:
            h = by_kind.get(a.kind)
            if h is None:
                merged.append(a)
            elif _text(h) != _text(a):
                raise VmgenError.at(
                    a.location,
                    f"the annotations file says {_text(a)} but the header says {_text(h)} "
                    "(at {0})",
                    related=(h.location,),
                )
        return merged

    def unused(self) -> list[tuple[Location, str]]:
        """Entries that matched nothing the header declares."""
        out = []
        for name in self.structs:
            if (name,) not in self.used:
                out.append((self._loc(name), f"the annotations file names struct '{name}', "
                            "which the header does not define"))
        for name in [*self.layouts, *self.groups]:
            if (name, "layout") not in self.used and (name, "subsections") not in self.used:
                out.append((self._loc(name), f"the annotations file gives a layout for "
                            f"'{name}', which is not a struct with a vmsd"))
        for struct, name in self.fields:
            if (struct, name) not in self.used:
                out.append((self._loc(struct, name), f"the annotations file names field "
                            f"'{name}' of '{struct}', which is not a migrated struct's field"))
        for name in self.types:
            if ("types", name) not in self.used:
                out.append((self._loc("types", name), f"the annotations file names type "
                            f"'{name}', which is not a typedef of the header"))
        return out


def _text(a: Annotation) -> str:
    from pycparser import c_generator

    gen = c_generator.CGenerator()
    macro = KNOWN[a.kind][1].split("(")[0]
    if not a.args:
        return macro
    return f"{macro}({', '.join(gen.visit(x) for x in a.args)})"
