"""The C view of a value and asn1tools' view of it, both ways, with save()'s checks.

The C view: dicts keyed by the C field names, integers as int, bool as bool, byte arrays
(uint8_t/char) as bytes, other arrays as (nested) lists, enums as the C enumerator name
(str), floats as float (carried bit-exactly), a union as a dict with its one member, a
record as a dict with ``device``, ``version``, ``minimum_version`` and ``state``.
asn1tools' view: dicts keyed by the ASN.1 member names, enumerators by their ASN.1
identifiers, floats as their IEEE bits (OCTET STRING), a union as ``(alternative, value)``.

`to_asn1` is also the check of every value the runtime writes or reads: ranges, sizes,
printable strings, enumerators, union members against their discriminator, counts
against their arrays; its messages name the C path (``Rec.state.cmos[3]: ...``).
"""

from __future__ import annotations

import struct
from typing import Any

from vmgen.runtime.floats import float32_bits, float32_value, float64_bits, float64_value
from vmgen.runtime.tables import Descriptor, Error, Tables


def same(a: Any, b: Any) -> bool:
    """Whether two C views are equal, floats compared by their bits (so NaN payloads count)."""
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack(">d", a) == struct.pack(">d", b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


def _length(value: Any, lo: int, hi: int, path: str, what: str) -> None:
    if not lo <= len(value) <= hi:
        size = str(lo) if lo == hi else f"{lo}..{hi}"
        raise Error(f"{path}: expected {size} {what}, got {len(value)}")


def to_asn1(t: Tables, desc: Descriptor, value: Any, path: str, version: int) -> Any:
    """asn1tools' view of the C view `value` of `desc`, as data of `version` (fields added
    later are left out); Error for a value save() refuses."""
    kind = desc[0]
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise Error(f"{path}: expected int, got {type(value).__name__}")
        if not desc[1] <= value <= desc[2]:
            raise Error(f"{path}: {value} is out of range {desc[1]}..{desc[2]}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise Error(f"{path}: expected bool, got {type(value).__name__}")
        return value
    if kind == "bytes":
        if not isinstance(value, (bytes, bytearray)):
            raise Error(f"{path}: expected bytes, got {type(value).__name__}")
        _length(value, desc[1], desc[2], path, "bytes")
        return bytes(value)
    if kind == "string":
        if not isinstance(value, str):
            raise Error(f"{path}: expected str, got {type(value).__name__}")
        if len(value) > desc[1] or not all(" " <= c <= "~" for c in value):
            raise Error(f"{path}: expected at most {desc[1]} printable ASCII characters")
        return value
    if kind == "float":
        if not isinstance(value, (float, int)) or isinstance(value, bool):
            raise Error(f"{path}: expected float, got {type(value).__name__}")
        if desc[1] == 32:
            return float32_bits(float(value), path)
        return float64_bits(float(value))
    if kind == "enum":
        table = t.enum_to_asn1[desc[1]]
        if not isinstance(value, str) or value not in table:
            raise Error(f"{path}: {value!r} is not an enumerator of {desc[1]}")
        return table[value]
    if kind == "list":
        if not isinstance(value, (list, tuple)):
            raise Error(f"{path}: expected a list, got {type(value).__name__}")
        _length(value, desc[1], desc[2], path, "elements")
        return [to_asn1(t, desc[3], v, f"{path}[{i}]", version) for i, v in enumerate(value)]
    if kind == "struct":
        return struct_to_asn1(t, desc[1], value, path, version)
    if kind == "union":
        if not isinstance(value, dict) or len(value) != 1:
            raise Error(f"{path}: a union is a dict with exactly one member")
        ((member, inner),) = value.items()
        for c_name, asn1_name, d, _ in t.unions[desc[1]]:
            if c_name == member:
                return (asn1_name, to_asn1(t, d, inner, f"{path}.{c_name}", version))
        raise Error(f"{path}: {desc[1]} has no member {member!r}")
    return record_to_asn1(t, desc[1], value, path)


def selected(t: Tables, union: str, selector: Any, member: str, path: str, name: str) -> None:
    """Error unless the discriminator's value selects `member` of `union`."""
    for c_name, _, _, cases in t.unions[union]:
        if selector in cases:
            if c_name != member:
                raise Error(f"{path}: the data holds member '{member}', but '{name}' = "
                            f"{selector} selects '{c_name}'")
            return
    raise Error(f"{path}: the data holds member '{member}', but '{name}' = {selector} "
                "selects no member")


def selector_value(t: Tables, struct: str, name: str, value: Any) -> Any:
    """A discriminator's value as the cases name it: an enumerator's value, else itself."""
    for c_name, _, desc, _, _ in t.structs[struct]:
        if c_name == name and desc[0] == "enum":
            return t.enum_value[desc[1]].get(value, value)
    return value


def struct_to_asn1(t: Tables, type_name: str, value: Any, path: str,
                   version: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Error(f"{path}: expected a dict for {type_name}, got {type(value).__name__}")
    members = t.structs[type_name]
    known = {m[0] for m in members}
    extra = sorted(set(value) - known, key=str)
    if extra:
        raise Error(f"{path}: {type_name} has no migrated field {extra[0]!r}")
    out = {}
    for c_name, asn1_name, desc, since, role in members:
        if since is not None and since > version:
            continue  # not in data of this version
        if c_name not in value:
            raise Error(f"{path}: missing field {c_name!r} of {type_name}")
        where = f"{path}.{c_name}"
        if role is not None and role[0] == "count":
            to_asn1(t, desc, value[c_name], where, version)
            array = value.get(role[1])
            if isinstance(array, (list, tuple, bytes, bytearray)) and \
                    value[c_name] != len(array):
                raise Error(f"{where}: count {value[c_name]} but '{role[1]}' has "
                            f"{len(array)} elements")
            continue
        assert asn1_name is not None
        out[asn1_name] = to_asn1(t, desc, value[c_name], where, version)
        if role is not None and role[0] == "union":
            selector = selector_value(t, type_name, role[1], value[role[1]])
            ((member, _),) = value[c_name].items()
            selected(t, desc[1], selector, member, where, role[1])
    return out


def record_to_asn1(t: Tables, state: str, value: Any, path: str) -> dict[str, Any]:
    _, state_type, newest, _ = t.states[state]
    if not isinstance(value, dict) or set(value) != {"device", "version", "minimum_version",
                                                     "state"}:
        raise Error(f"{path}: a record is a dict with keys device, version, "
                    "minimum_version, state")
    version = value["version"]
    return {
        "device": value["device"],
        "version": version,
        "minimum-version": value["minimum_version"],
        "state": struct_to_asn1(t, state_type, value["state"], f"{path}.state",
                                min(version, newest) if isinstance(version, int) else newest),
    }


def to_c(t: Tables, desc: Descriptor, value: Any, path: str) -> Any:
    """The C view of asn1tools' view `value` of `desc` (the checks are to_asn1's)."""
    kind = desc[0]
    if kind in ("int", "bool", "bytes", "string"):
        return value
    if kind == "float":
        if len(value) != desc[1] // 8:
            raise Error(f"{path}: expected {desc[1] // 8} bytes of IEEE bits, got {len(value)}")
        if desc[1] == 32:
            return float32_value(value)
        return float64_value(value)
    if kind == "enum":
        if value not in t.enum_to_c[desc[1]]:
            raise Error(f"{path}: value is not an enumerator of {desc[1]}")
        return t.enum_to_c[desc[1]][value]
    if kind == "list":
        return [to_c(t, desc[3], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if kind == "union":
        name, inner = value
        for c_name, asn1_name, d, _ in t.unions[desc[1]]:
            if asn1_name == name:
                return {c_name: to_c(t, d, inner, f"{path}.{c_name}")}
        raise Error(f"{path}: unknown member {name!r} of {desc[1]}")
    if kind == "struct":
        return struct_to_c(t, desc[1], value, path)
    return {
        "device": value["device"],
        "version": value["version"],
        "minimum_version": value["minimum-version"],
        "state": struct_to_c(t, t.states[desc[1]][1], value["state"], f"{path}.state"),
    }


def struct_to_c(t: Tables, type_name: str, value: dict[str, Any], path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    members = t.structs[type_name]
    asn1_of = {m[0]: m[1] for m in members if m[1] is not None}
    for c_name, asn1_name, desc, _, role in members:
        if role is not None and role[0] == "count":
            array = value.get(asn1_of[role[1]])
            if array is not None:
                out[c_name] = len(array)
            continue
        if asn1_name not in value:
            continue  # a field added after the data's version
        out[c_name] = to_c(t, desc, value[asn1_name], f"{path}.{c_name}")
    for c_name, _, desc, _, role in members:
        if role is not None and role[0] == "union" and c_name in out:
            selector = selector_value(t, type_name, role[1], out[role[1]])
            ((member, _),) = out[c_name].items()
            selected(t, desc[1], selector, member, f"{path}.{c_name}", role[1])
    return out


def check_header(t: Tables, state: str, value: dict[str, Any]) -> None:
    """The checks of a record's header (asn1tools' view) a reader of `state` makes."""
    _, _, version, minimum = t.states[state]
    for key in ("version", "minimum-version"):
        if not 0 <= value[key] <= 0xFFFFFFFF:
            raise Error(f"{state}: {key} {value[key]} is out of range 0..4294967295")
    if value["device"] != state:
        raise Error(f"record is for device '{value['device']}', expected '{state}'")
    if value["minimum-version"] > version:
        raise Error(f"{state}: data needs a reader of version >= {value['minimum-version']}, "
                    f"this reader is version {version}")
    if value["version"] < minimum:
        raise Error(f"{state}: data is version {value['version']}, this reader needs "
                    f"version >= {minimum}")
