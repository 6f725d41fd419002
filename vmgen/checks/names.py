"""The one rule that turns C names into ASN.1 names.

ASN.1 identifiers may contain letters, digits and single hyphens, must not end
in a hyphen, and must start with a lower-case letter (fields, enumerators) or
an upper-case one (types).  The rule:

1. Split the C name at underscores, dropping empty parts (so leading,
   trailing and doubled underscores vanish) and join the parts with ``-``.
   A member path of a layout (``channels[0].irq_disabled``) splits at ``[``,
   ``]`` and ``.`` too (``channels-0-irq-disabled``).
2. Types: upper-case the first letter (``rtc_state`` -> ``Rtc-state``,
   ``RTCState`` -> ``RTCState``).
3. Fields and enumerators: a name without lower-case letters is lower-cased
   whole (``RTC_MODE_BCD`` -> ``rtc-mode-bcd``, ``IER`` -> ``ier``); any other
   name gets its first letter lower-cased (``cmos_index`` -> ``cmos-index``,
   ``RegA`` -> ``regA``).

A name that maps to nothing usable (``_1``), or two C names that map to the
same ASN.1 name in one scope, is an error reported by the checks stage.
"""

from __future__ import annotations

import re
from functools import lru_cache

# X.680 reserved words: a type reference must not be one of these.
RESERVED = frozenset(
    """
    ABSENT ABSTRACT-SYNTAX ALL APPLICATION AUTOMATIC BEGIN BIT BMPString BOOLEAN BY
    CHARACTER CHOICE CLASS COMPONENT COMPONENTS CONSTRAINED CONTAINING DATE DATE-TIME
    DEFAULT DEFINITIONS DURATION EMBEDDED ENCODED ENCODING-CONTROL END ENUMERATED EXCEPT
    EXPLICIT EXPORTS EXTENSIBILITY EXTERNAL FALSE FROM GeneralizedTime GeneralString
    GraphicString IA5String IDENTIFIER IMPLICIT IMPLIED IMPORTS INCLUDES INSTANCE
    INSTRUCTIONS INTEGER INTERSECTION ISO646String MAX MIN MINUS-INFINITY NOT-A-NUMBER NULL
    NumericString OBJECT ObjectDescriptor OCTET OF OID-IRI OPTIONAL PATTERN PDV
    PLUS-INFINITY PRESENT PrintableString PRIVATE REAL RELATIVE-OID RELATIVE-OID-IRI
    SEQUENCE SET SETTINGS SIZE STRING SYNTAX T61String TAGS TeletexString TIME TIME-OF-DAY
    TRUE TYPE-IDENTIFIER UNION UNIQUE UNIVERSAL UniversalString UTCTime UTF8String
    VideotexString VisibleString WITH
    """.split()
)


def _joined(c_name: str) -> str:
    if "[" in c_name or "." in c_name:
        return "-".join(part for part in re.split(r"[_\[\].]+", c_name) if part)
    if "_" not in c_name:
        return c_name
    return "-".join(part for part in c_name.split("_") if part)


# Field and type names repeat across structs: each is mapped once.
@lru_cache(maxsize=1 << 16)
def type_name(c_name: str) -> str | None:
    """The ASN.1 type reference for a C type name, or None if there is none."""
    s = _joined(c_name)
    if not s or not s[0].isalpha() or not s.isascii():
        return None
    return s[0].upper() + s[1:]


@lru_cache(maxsize=1 << 16)
def identifier(c_name: str) -> str | None:
    """The ASN.1 identifier for a C field or enumerator name, or None."""
    s = _joined(c_name)
    if not s or not s[0].isalpha() or not s.isascii():
        return None
    if not any(c.islower() for c in s):
        return s.lower()
    return s[0].lower() + s[1:]


def record_name(state_type: str) -> str:
    """The ASN.1 type of a device state's record (header + state)."""
    return f"{state_type}-Record"


def python_module(stem: str) -> str:
    """MOD of ``MOD_asn1.py``: the stem with every non-identifier character made ``_``."""
    return "".join(c if (c.isascii() and (c.isalnum() or c == "_")) else "_" for c in stem)
