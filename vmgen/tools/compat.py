"""Wire compatibility between two schemas (``STEM.vmgen.json``): old and new.

A change is *compatible* when every reader of either schema still reads the
data of the other as the version rules promise (an older reader skips what a
newer writer added in a later version; a newer reader leaves fields of later
versions untouched when the data is older).  It is *breaking* when a reader
would refuse, or misread, data it used to accept.

Modeled on QEMU's scripts/vmstate-static-checker.py (removed sections and
fields, size changes, version_id above the reader's or below its minimum),
going further because the schema knows types, ranges and wire order:

breaking    a device state removed; a version lowered; the minimum version
            raised without the version raised past the old one; a field
            removed, renamed or moved (its wire position changed); a field
            made VMGEN_SKIP; a type changed kind, narrowed, or its signedness
            changed; a range narrowed; an array or buffer capacity shrunk or
            its allowed counts no longer containing the old ones; a since-
            version changed; a field added without VMGEN_SINCE, or with a
            since-version not above the old version, or above the new one;
            an enumerator removed or its value changed; a union member or
            case removed or moved; a union's discriminator changed.
compatible  a state added; the version raised; fields appended with
            VMGEN_SINCE above the old version (and the version raised); a
            capacity or range widened; an enumerator or union case added; a
            new skipped field; a field's C type renamed with the same wire
            type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Schema = dict[str, Any]


@dataclass(frozen=True)
class Change:
    breaking: bool
    where: str  # "file:line" of the field or type in the new (else old) header
    message: str

    def format(self) -> str:
        verdict = "breaking" if self.breaking else "compatible"
        return f"{self.where}: {verdict}: {self.message}"


class _Compare:
    def __init__(self, old: Schema, new: Schema) -> None:
        self.old = old
        self.new = new
        self.changes: list[Change] = []
        self.done: set[tuple[str, str]] = set()

    def add(self, breaking: bool, where: str, message: str) -> None:
        self.changes.append(Change(breaking, where, message))

    def run(self) -> list[Change]:
        for name, old_state in self.old["states"].items():
            new_state = self.new["states"].get(name)
            if new_state is None:
                self.add(True, old_state["at"], f"device state '{name}' removed")
                continue
            self.state(name, old_state, new_state)
        for name, new_state in self.new["states"].items():
            if name not in self.old["states"]:
                self.add(False, new_state["at"], f"device state '{name}' added")
        return self.changes

    def state(self, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        where = new["at"]
        ov, nv = old["version"], new["version"]
        om, nm = old["minimum_version"], new["minimum_version"]
        if nv < ov:
            self.add(True, where, f"'{name}': version lowered from {ov} to {nv}")
        elif nv > ov:
            self.add(False, where, f"'{name}': version raised from {ov} to {nv}")
        if nm > om and nm <= ov:
            self.add(True, where, f"'{name}': minimum version raised from {om} to {nm} "
                     f"without the version raised past {ov}")
        elif nm > om:
            self.add(False, where, f"'{name}': minimum version raised from {om} to {nm}: "
                     f"readers older than {nm} can no longer read the data")
        elif nm < om:
            self.add(False, where, f"'{name}': minimum version lowered from {om} to {nm}")
        self.struct(name, name, ov, nv)

    def struct(self, old_name: str, new_name: str, ov: int, nv: int) -> None:
        if (old_name, new_name) in self.done:
            return
        self.done.add((old_name, new_name))
        old_t, new_t = self.old["types"][old_name], self.new["types"][new_name]
        ofields = {f["name"]: f for f in old_t["fields"]}
        nfields = {f["name"]: f for f in new_t["fields"]}
        skipped = {f["name"] for f in new_t["skipped"]}
        derived = {f["name"] for f in new_t["derived"]}
        # Fields whose order relative to the other kept fields changed (a removal
        # or an addition shifts the rest, and is reported by itself).
        moved = _moved([f["name"] for f in old_t["fields"] if f["name"] in nfields],
                       [f["name"] for f in new_t["fields"] if f["name"] in ofields])
        opos = _positions(old_t["fields"])
        npos = _positions(new_t["fields"])
        for fname, of in ofields.items():
            label = f"{new_t['c_type'] or new_name}.{fname}"
            nf = nfields.get(fname)
            if nf is None:
                if fname in skipped:
                    self.add(True, _at(new_t, "skipped", fname), f"field '{label}' is now "
                             "VMGEN_SKIP: its data is no longer read")
                elif fname in derived:
                    self.add(True, _at(new_t, "derived", fname), f"field '{label}' became a "
                             "count (VMGEN_SIZE_IS): it is no longer on the wire")
                else:
                    added = [n for n in nfields if n not in ofields and npos[n] == opos[fname]]
                    hint = f" (renamed to '{added[0]}'?)" if added else ""
                    self.add(True, of["at"], f"field '{label}' removed{hint}")
                continue
            where = nf["at"]
            if of["since"] != nf["since"]:
                self.add(True, where, f"field '{label}': VMGEN_SINCE changed from "
                         f"{_since(of)} to {_since(nf)}")
            elif fname in moved:
                self.add(True, where, f"field '{label}' moved: its wire position changed "
                         f"from {opos[fname][1]} to {npos[fname][1]}")
            if of.get("selector") != nf.get("selector"):
                self.add(True, where, f"field '{label}': discriminator changed from "
                         f"'{of.get('selector')}' to '{nf.get('selector')}'")
            self.wire(label, where, of["wire"], nf["wire"], ov, nv)
        for fname, nf in nfields.items():
            if fname in ofields:
                continue
            label = f"{new_t['c_type'] or new_name}.{fname}"
            since = nf["since"]
            if since is None:
                self.add(True, nf["at"], f"field '{label}' added without VMGEN_SINCE: readers "
                         f"of version {ov} refuse the data")
            elif since <= ov:
                self.add(True, nf["at"], f"field '{label}' added with VMGEN_SINCE({since}), "
                         f"but version {ov} readers already exist without it: use "
                         f"VMGEN_SINCE({ov + 1}) or later")
            elif since > nv:
                self.add(True, nf["at"], f"field '{label}' has VMGEN_SINCE({since}) above the "
                         f"version {nv}")
            else:
                self.add(False, nf["at"], f"field '{label}' added in version {since}")
        for fname in skipped - {f["name"] for f in old_t["skipped"]} - set(ofields):
            self.add(False, _at(new_t, "skipped", fname),
                     f"skipped field '{new_t['c_type'] or new_name}.{fname}' added")

    def wire(self, label: str, where: str, ow: dict[str, Any], nw: dict[str, Any],
             ov: int, nv: int) -> None:
        ok, nk = ow["kind"], nw["kind"]
        if ok != nk:
            self.add(True, where, f"field '{label}': type changed from {_describe(ow)} to "
                     f"{_describe(nw)}")
            return
        if ok == "int":
            if ow["signed"] != nw["signed"]:
                self.add(True, where, f"field '{label}': signedness changed "
                         f"({_describe(ow)} -> {_describe(nw)})")
            elif nw["min"] > ow["min"] or nw["max"] < ow["max"]:
                self.add(True, where, f"field '{label}': range narrowed from "
                         f"{ow['min']}..{ow['max']} to {nw['min']}..{nw['max']}")
            elif (nw["min"], nw["max"]) != (ow["min"], ow["max"]):
                self.add(False, where, f"field '{label}': range widened from "
                         f"{ow['min']}..{ow['max']} to {nw['min']}..{nw['max']}")
        elif ok == "float" and ow["bits"] != nw["bits"]:
            self.add(True, where, f"field '{label}': type changed from {_describe(ow)} to "
                     f"{_describe(nw)}")
        elif ok in ("bytes", "list", "string"):
            omin, omax = ow.get("min", 0), ow["max"]
            nmin, nmax = nw.get("min", 0), nw["max"]
            what = "length" if ok == "string" else "capacity"
            if nmin > omin or nmax < omax:
                self.add(True, where, f"field '{label}': {what} {_counts(omin, omax)} changed "
                         f"to {_counts(nmin, nmax)}, which does not hold every old value")
            elif (nmin, nmax) != (omin, omax):
                self.add(False, where, f"field '{label}': {what} widened from "
                         f"{_counts(omin, omax)} to {_counts(nmin, nmax)}")
            if ok == "list":
                self.wire(f"{label}[]", where, ow["element"], nw["element"], ov, nv)
        elif ok == "enum":
            self.enum(label, where, ow["type"], nw["type"])
        elif ok == "struct":
            self.struct(ow["type"], nw["type"], ov, nv)
        elif ok == "union":
            self.union(label, where, ow["type"], nw["type"], ov, nv)

    def enum(self, label: str, where: str, old_name: str, new_name: str) -> None:
        if (old_name, new_name) in self.done:
            return
        self.done.add((old_name, new_name))
        ov = self.old["types"][old_name]["values"]
        nv = self.new["types"][new_name]["values"]
        by_value = {v: k for k, v in nv.items()}
        for name, value in ov.items():
            if name in nv and nv[name] != value:
                self.add(True, where, f"enum '{new_name}': '{name}' changed value from {value} "
                         f"to {nv[name]}")
            elif name not in nv and value not in by_value:
                self.add(True, where, f"enum '{new_name}': enumerator '{name}' ({value}) "
                         "removed: data holding it is refused")
            elif name not in nv:
                self.add(False, where, f"enum '{new_name}': '{name}' renamed to "
                         f"'{by_value[value]}' (the wire carries the value {value})")
        old_values = set(ov.values())
        for name, value in nv.items():
            if value not in old_values and name not in ov:
                self.add(False, where, f"enum '{new_name}': enumerator '{name}' ({value}) "
                         "added (older readers refuse data holding it)")

    def union(self, label: str, where: str, old_name: str, new_name: str,
              ov: int, nv: int) -> None:
        if (old_name, new_name) in self.done:
            return
        self.done.add((old_name, new_name))
        om = self.old["types"][old_name]["members"]
        nm = self.new["types"][new_name]["members"]
        nidx = {m["name"]: i for i, m in enumerate(nm)}
        for i, m in enumerate(om):
            if m["name"] not in nidx:
                self.add(True, where, f"union '{new_name}': member '{m['name']}' removed")
                continue
            n = nm[nidx[m["name"]]]
            if nidx[m["name"]] != i:
                self.add(True, n["at"], f"union '{new_name}': member '{m['name']}' moved from "
                         f"alternative {i} to {nidx[m['name']]}")
            lost = sorted(set(m["cases"]) - set(n["cases"]))
            if lost:
                self.add(True, n["at"], f"union '{new_name}': member '{m['name']}' lost "
                         f"case{'s' if len(lost) > 1 else ''} {', '.join(map(str, lost))}")
            gained = sorted(set(n["cases"]) - set(m["cases"]))
            if gained:
                self.add(False, n["at"], f"union '{new_name}': member '{m['name']}' gained "
                         f"case{'s' if len(gained) > 1 else ''} {', '.join(map(str, gained))}")
            self.wire(f"{label}.{m['name']}", n["at"], m["wire"], n["wire"], ov, nv)
        for m in nm[len(om):]:
            if m["name"] not in {x["name"] for x in om}:
                self.add(False, m["at"], f"union '{new_name}': member '{m['name']}' added")


def _positions(fields: list[dict[str, Any]]) -> dict[str, tuple[int | None, int]]:
    pos: dict[str, tuple[int | None, int]] = {}
    counters: dict[int | None, int] = {}
    for f in fields:
        group = f["since"]
        pos[f["name"]] = (group, counters.get(group, 0))
        counters[group] = counters.get(group, 0) + 1
    return pos


def _moved(old: list[str], new: list[str]) -> set[str]:
    """The names outside a longest common subsequence of two orders."""
    n, m = len(old), len(new)
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            best[i][j] = (best[i + 1][j + 1] + 1 if old[i] == new[j]
                          else max(best[i + 1][j], best[i][j + 1]))
    kept: set[str] = set()
    i = j = 0
    while i < n and j < m:
        if old[i] == new[j]:
            kept.add(old[i])
            i, j = i + 1, j + 1
        elif best[i + 1][j] >= best[i][j + 1]:
            i += 1
        else:
            j += 1
    return set(old) - kept


def _at(t: dict[str, Any], key: str, name: str) -> str:
    for f in t[key]:
        if f["name"] == name:
            return str(f["at"])
    return str(t["at"])


def _since(f: dict[str, Any]) -> str:
    return "none" if f["since"] is None else str(f["since"])


def _counts(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}..{hi}"


def _describe(w: dict[str, Any]) -> str:
    k = w["kind"]
    if k == "int":
        return f"{'' if w['signed'] else 'u'}int{w['bits']}"
    if k == "float":
        return {32: "float", 64: "double"}[w["bits"]]
    if k in ("enum", "struct", "union"):
        return f"{k} {w['type']}"
    return str(k)


def compare(old: Schema, new: Schema) -> list[Change]:
    """Every difference between two schemas, each compatible or breaking."""
    return _Compare(old, new).run()
