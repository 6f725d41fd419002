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
from vmgen.frontend.annotations import KNOWN, Annotation

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_FIELD_KEYS = {"skip", "since", "size_is", "range", "string", "union", "case", "equal",
               "positive_le", "unused", "subsection"}


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
                else:
                    raise VmgenError.at(self._loc(name, key),
                                        f"[{name}]: unknown key '{key}' (state, vmsd, fields)")

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
        found = [*self.structs, *(s for s, _ in self.fields), *self.types]
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
