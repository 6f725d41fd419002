"""`Codec`: the API of a generated module, over its tables.

Values are C views (see `vmgen.runtime.cview`).  Two paths give every answer:

- the direct DER reader and writer (`vmgen.runtime.der`) for what the C code writes and
  reads most: a record of exactly the module's version (load), any valid state at any
  version the module writes (save);
- the generic path, the direct one's reference, for everything else (other versions,
  irregular input, every error message): asn1tools' BER decoder and DER encoder on the
  ASN.1 of the module (compiled from its PARSED at first use), with the checks of
  `vmgen.runtime.cview`.  asn1tools is imported only when this path runs.

The legacy stream likewise: a compiled reader and writer (`vmgen.runtime.legacy.Plans`)
in front of the reference ones, which word every error.

The values the generated module binds: ``save``, ``load``, ``encode``, ``decode``,
``save_legacy``, ``load_legacy``, ``to_legacy``, ``from_legacy`` and ``offer`` are this
class's methods; ``Error``, ``same``, ``negotiate``, ``encode_offer``, ``decode_offer``,
``LEGACY`` and ``BER`` come from `vmgen.runtime` itself.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from vmgen.runtime import cview, legacy
from vmgen.runtime.der import Direct
from vmgen.runtime.tables import (
    NEWEST,
    Alternative,
    Descriptor,
    Enumerator,
    Error,
    Layout,
    Member,
    State,
    Tables,
    settle_aliases,
)


def _asn1tools() -> Any:
    try:
        import asn1tools
    except ImportError as exc:
        raise ImportError("vmgen's Python runtime needs asn1tools here (records it does not "
                          "read directly, encode, decode): pip install asn1tools") from exc
    return asn1tools


class Codec:
    """save, load, encode, decode, the legacy stream and offers of one generated module's
    device states, built from its tables (`vmgen.runtime.tables`)."""

    def __init__(self, spec: str, parsed: dict[str, Any], types: dict[str, Descriptor],
                 structs: dict[str, tuple[Member, ...]], unions: dict[str, tuple[Alternative, ...]],
                 enums: dict[str, tuple[Enumerator, ...]], states: dict[str, State],
                 layouts: dict[str, Layout] | None = None,
                 sections: dict[str, str] | None = None) -> None:
        self.tables = Tables(spec, parsed, types, structs, unions, enums, states, layouts,
                             sections)
        self.direct = Direct(self.tables)
        self.streams = legacy.Plans(self.tables)
        self._codecs: dict[str, Any] = {}

    # ---- records ------------------------------------------------------------------------

    def save(self, struct_name: str, state: dict[str, Any], version: int | None = None) -> bytes:
        """The record of device state `struct_name`: the bytes vmgen_save_<struct_name> writes.

        `version` writes the data as that older version (what
        vmgen_save_<struct_name>_version writes): fields added later are left out."""
        states = self.tables.states
        _, _, newest, minimum = states[struct_name] if struct_name in states else \
            self.tables.state(struct_name)
        if version is None:
            version = newest
        if not minimum <= version <= newest:
            raise Error(f"{struct_name}: cannot write version {version}: this writer knows "
                        f"versions {minimum}..{newest}")
        try:
            blob = self.direct.save(struct_name, state, version)
        except Exception:  # a value the direct writer does not take: the generic path decides
            blob = None
        if blob is None:
            blob = self._save_generic(struct_name, state, version)
        return blob

    def load(self, struct_name: str, data: bytes) -> dict[str, Any]:
        """The state in a record of device state `struct_name` (C view).

        Data of an older version lacks the fields added after it: they are absent
        from the dict (a C load leaves them as they were)."""
        if struct_name not in self.tables.states:
            self.tables.state(struct_name)  # (raises)
        try:
            state = self.direct.load(struct_name, data)
        except Exception:  # a fault of the direct reader must not change what load() answers
            state = None
        if state is None:
            state = self._load_generic(struct_name, data)
        if self.tables.aliases:
            self._settle(self.tables.states[struct_name][1], state)
        return state

    def _settle(self, type_name: str, value: Any) -> None:
        """Member paths and the members they reach hold one value after a load, as in
        C (the one later in the record wins), in this struct and the structs in it."""
        t = self.tables
        if not isinstance(value, dict) or type_name not in t.structs:
            return
        for c_name, _, desc, _, _ in t.structs[type_name]:
            inner = desc[3] if desc[0] == "list" else desc
            if inner[0] == "struct" and c_name in value:
                items = value[c_name] if desc[0] == "list" else [value[c_name]]
                for item in items:
                    self._settle(inner[1], item)
        if type_name in t.aliases:
            settle_aliases(t, type_name, value, [m[0] for m in t.structs[type_name]])

    def _save_fast(self, struct_name: str, state: Any, version: Any) -> bytes | None:
        """The direct writer alone (for tests): bytes, None, or an exception."""
        return self.direct.save(struct_name, state, version)

    def _load_fast(self, struct_name: str, data: Any) -> dict[str, Any] | None:
        """The direct reader alone (for tests): the state, or None."""
        return self.direct.load(struct_name, data)

    def _save_generic(self, struct_name: str, state: dict[str, Any], version: int) -> bytes:
        """save() through asn1tools' DER encoder (the direct writer's reference)."""
        record, _, _, minimum = self.tables.states[struct_name]
        return self.encode(record, {"device": struct_name, "version": version,
                                    "minimum_version": minimum, "state": state})

    def _load_generic(self, struct_name: str, data: bytes) -> dict[str, Any]:
        """load() through asn1tools' BER decoder and the DER re-encoding (the direct
        reader's reference: it decides every record the direct reader leaves)."""
        state: dict[str, Any] = self.decode(self.tables.states[struct_name][0], data)["state"]
        return state

    # ---- any type -----------------------------------------------------------------------

    def _codec(self, name: str) -> Any:
        """asn1tools' codec `name` ("ber", "der") of the module, compiled at first use."""
        codec = self._codecs.get(name)
        if codec is None:
            codec = _asn1tools().compile_dict(copy.deepcopy(self.tables.parsed), codec=name)
            self._codecs[name] = codec
        return codec

    def encode(self, type_name: str, value: Any) -> bytes:
        """DER encoding of `value` (C view) as the ASN.1 type `type_name`."""
        asn1_value = cview.to_asn1(self.tables, self.tables.type(type_name), value, type_name,
                                   NEWEST)
        return bytes(self._codec("der").encode(type_name, asn1_value, check_constraints=True))

    def _decode_asn1(self, type_name: str, data: bytes) -> Any:
        """asn1tools' view of `data`, which its BER decoder must read whole."""
        codec = self._codec("ber")
        try:
            # Constraints are checked on the C view (the checks of save(), with C names).
            value, used = codec.decode_with_length(type_name, data)
        except _asn1tools().Error as exc:
            raise Error(f"{type_name}: {exc}") from None
        except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
            # asn1tools' decoder trips over some malformed input before checking it
            raise Error(f"{type_name}: malformed data ({type(exc).__name__}: {exc})") from None
        if used != len(data):
            raise Error(f"{type_name}: {len(data) - used} trailing byte(s) after the value")
        return value

    def _require_der(self, type_name: str, value: Any, data: bytes) -> None:
        # asn1tools' BER decoder skips unknown members and accepts any member
        # order; the DER re-encoding of what it understood must give the input back.
        if self._codec("der").encode(type_name, value) != bytes(data):
            raise Error(f"{type_name}: not a DER encoding, or it has members this reader "
                        "does not know")

    def decode(self, type_name: str, data: bytes) -> Any:
        """The C view of `data`, a DER encoding of the ASN.1 type `type_name`."""
        t = self.tables
        desc = t.type(type_name)
        value = self._decode_asn1(type_name, data)
        version, known = NEWEST, True
        if desc[0] == "record":
            cview.check_header(t, desc[1], value)
            version = min(value["version"], t.states[desc[1]][2])
            known = value["version"] <= t.states[desc[1]][2]
        c_view = cview.to_c(t, desc, value, type_name)
        # The checks of save() (ranges, sizes, enumerators, union members), with C names.
        if desc[0] == "record":
            cview.struct_to_asn1(t, t.states[desc[1]][1], c_view["state"],
                                 f"{type_name}.state", version)
        else:
            cview.to_asn1(t, desc, c_view, type_name, version)
        if known:
            self._require_der(type_name, value, data)
        elif desc[0] == "record":
            self.direct.refuse_loose_integers(desc[1], data)
        return c_view

    # ---- the legacy VMState stream ------------------------------------------------------

    def save_legacy(self, struct_name: str, state: dict[str, Any],
                    version: int | None = None,
                    needed: Mapping[str, bool] | None = None) -> bytes:
        """The legacy VMState stream of `state` as data of `version` (default: the newest).
        `needed`: subsection name -> whether to send it, for subsections a C function
        decides (a `present` set from load_legacy says what a stream held)."""
        if needed is not None:
            with legacy.subsections(needed=needed):
                return self._save_legacy(struct_name, state, version, True)
        return self._save_legacy(struct_name, state, version, True)

    def decided_subsections(self, struct_name: str) -> tuple[str, ...]:
        """The subsections of a device state's legacy stream whose presence a C function
        decides (save_legacy needs `needed` for these), by VMState name, in stream order."""
        return legacy.decided_subsections(self.tables, self.tables.states[struct_name][1])

    def _save_legacy_reference(self, struct_name: str, state: dict[str, Any],
                               version: int | None = None) -> bytes:
        """save_legacy() through the reference writer alone (for tests)."""
        return self._save_legacy(struct_name, state, version, False)

    def _save_legacy(self, struct_name: str, state: dict[str, Any], version: int | None,
                     compiled: bool) -> bytes:
        t = self.tables
        _, state_type, newest, minimum = t.states[struct_name]
        version = newest if version is None else version
        if not minimum <= version <= newest:
            raise Error(f"{struct_name}: cannot write version {version}: this writer knows "
                        f"versions {minimum}..{newest}")
        cview.struct_to_asn1(t, state_type, state, struct_name, version)  # save()'s checks
        write = self.streams.writer(state_type, version) if compiled else None
        if write is not None:
            out = bytearray()
            try:
                write(state, out)
                return bytes(out)
            except Exception:  # the reference decides (and raises what it raises)
                pass
        out = bytearray()
        legacy.put_struct(t, state_type, state, out, version)
        return bytes(out)

    def load_legacy(self, struct_name: str, data: bytes, version: int,
                    present: set[str] | None = None) -> dict[str, Any]:
        """The state in legacy stream data of `version` (VMState's version rules apply);
        the name of each subsection found is added to `present`, when given."""
        if present is not None:
            found: set[str] = set()
            with legacy.subsections(present=found):
                state = self._load_legacy(struct_name, data, version, True)
            present |= found
            return state
        return self._load_legacy(struct_name, data, version, True)

    def _load_legacy_reference(self, struct_name: str, data: bytes,
                               version: int) -> dict[str, Any]:
        """load_legacy() through the reference reader alone (for tests)."""
        return self._load_legacy(struct_name, data, version, False)

    def _load_legacy(self, struct_name: str, data: bytes, version: int,
                     compiled: bool) -> dict[str, Any]:
        t = self.tables
        _, state_type, newest, minimum = t.states[struct_name]
        if version > newest:
            raise Error(f"{struct_name}: data is version {version}, this reader is version "
                        f"{newest}")
        if version < minimum:
            raise Error(f"{struct_name}: data is version {version}, this reader needs version "
                        f">= {minimum}")
        if compiled:
            state = self._load_legacy_fast(state_type, data, version)
            if state is not None:
                return state
        r = legacy.Reader(data)
        state = legacy.get_struct(t, state_type, r, struct_name, version)
        if r.pos != len(r.data):
            raise Error(f"{struct_name}: {len(r.data) - r.pos} trailing bytes after the data")
        # every check of load(): ranges, enumerators, union members, ...
        cview.struct_to_asn1(t, state_type, state, struct_name, version)
        return state

    def _load_legacy_fast(self, state_type: str, data: Any, version: int) -> dict[str, Any] | None:
        """load_legacy() of valid stream data through the compiled reader (which makes the
        reference's checks and load()'s), or None: the reference decides."""
        if type(data) is not bytes:
            if type(data) is not bytearray:
                return None
            data = bytes(data)
        read = self.streams.reader(state_type, version)
        if read is None:
            return None
        try:
            state, end = read(data, 0)
        except Exception:
            return None
        return state if end == len(data) else None

    def offer(self, struct_name: str, formats: int = legacy.LEGACY | legacy.BER) -> legacy.Offer:
        """This module's offer for a device state: (formats, minimum version, version)."""
        _, _, newest, minimum = self.tables.states[struct_name]
        return (formats, minimum, newest)

    def to_legacy(self, struct_name: str, record: bytes) -> tuple[bytes, int]:
        """A BER record as legacy stream data, and its version."""
        value = self.decode(self.tables.states[struct_name][0], record)
        return self.save_legacy(struct_name, value["state"], value["version"]), value["version"]

    def from_legacy(self, struct_name: str, data: bytes, version: int) -> bytes:
        """Legacy stream data of `version` as a BER record of that version."""
        return self.save(struct_name, self.load_legacy(struct_name, data, version), version)
