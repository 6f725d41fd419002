"""IEEE bits of C floats, exactly: -0.0, infinities and NaN payloads survive."""

from __future__ import annotations

import struct

from vmgen.runtime.tables import Error

_pack_d = struct.Struct(">d").pack
_unpack_d = struct.Struct(">d").unpack
_pack_q = struct.Struct(">Q").pack
_unpack_q = struct.Struct(">Q").unpack
_pack_f = struct.Struct(">f").pack
_unpack_f = struct.Struct(">f").unpack
_pack_i = struct.Struct(">I").pack
_unpack_i = struct.Struct(">I").unpack


def float32_bits(x: float, path: str) -> bytes:
    """The 4 big-endian bytes of a C float holding `x` (Error if it cannot hold it)."""
    if x != x:  # NaN: narrow the payload exactly, or refuse
        (bits,) = _unpack_q(_pack_d(x))
        payload = bits & ((1 << 52) - 1)
        if payload & ((1 << 29) - 1):
            raise Error(f"{path}: NaN payload {payload:#x} does not fit a float")
        return _pack_i(((bits >> 63) << 31) | (0xFF << 23) | (payload >> 29))
    try:
        return _pack_f(x)
    except OverflowError:
        raise Error(f"{path}: {x!r} is out of range for a float") from None


def float32_value(data: bytes) -> float:
    """The value of 4 big-endian bytes of a C float."""
    (bits,) = _unpack_i(data)
    if (bits >> 23) & 0xFF == 0xFF and bits & 0x7FFFFF:  # NaN: widen the payload exactly
        wide = ((bits >> 31) << 63) | (0x7FF << 52) | ((bits & 0x7FFFFF) << 29)
        return float(_unpack_d(_pack_q(wide))[0])
    return float(_unpack_f(data)[0])


def float64_bits(x: float) -> bytes:
    """The 8 big-endian bytes of a C double holding `x`."""
    return _pack_d(x)


def float64_value(data: bytes) -> float:
    """The value of 8 big-endian bytes of a C double."""
    return float(_unpack_d(data)[0])
