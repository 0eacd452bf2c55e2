"""Canonical JSON (RFC 8785) for audit events.

A leaf hash is only reproducible if every party serialises an event to exactly the same
bytes, whatever JSON library, key order or platform wrote it. RFC 8785 (JCS) fixes that:
sorted keys, no insignificant whitespace, one spelling for every string and number.

Events must contain only ``str``, ``int`` (within +/- 2**53, the I-JSON range), ``bool``,
``None``, ``list`` and ``dict`` with ``str`` keys. Floats are accepted by the encoder but
should be avoided: timestamps and amounts belong in strings or integers, so that a value
read back from a database column serialises identically.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

__all__ = ["CanonicalizationError", "canonical_bytes", "canonical_bytes_reference"]

CanonicalizationError = rfc8785.CanonicalizationError

_INT_MAX = 2**53 - 1  # rfc8785's I-JSON range, both signs
_BMP_MAX = "\uffff"
_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                          allow_nan=False).encode


def canonical_bytes(obj: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 encoding of ``obj``.

    Raises ``CanonicalizationError`` (for example for an integer outside the I-JSON range
    or a non-string key), so an event that cannot be logged reproducibly is refused at
    write time rather than discovered at audit time.
    """
    if _plain(obj):
        try:
            return _dumps(obj).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: let rfc8785 refuse it in its words
            pass
    return rfc8785.dumps(obj)


def canonical_bytes_reference(obj: Any) -> bytes:
    """The rfc8785 package alone: the oracle the fast path is tested against."""
    return rfc8785.dumps(obj)


def _plain(obj: Any) -> bool:
    """True when Python's own JSON encoder already writes RFC 8785 bytes for ``obj``.

    That holds for str, int within +/- (2**53 - 1), bool, None, list and dict whose keys
    are str in the Basic Multilingual Plane: there, sorting by code point (Python) equals
    sorting by UTF-16 code unit (RFC 8785), and both escape exactly the same characters
    (the short forms and lowercase \\u00xx for other controls). Floats (ECMAScript number
    formatting), other types and astral-plane keys take the slow, general path. This
    check costs less than a third of the general encoder, which is why it exists.
    """
    kind = type(obj)
    if kind is str or obj is None or kind is bool:
        return True
    if kind is int:
        return -_INT_MAX <= obj <= _INT_MAX
    if kind is dict:
        for key, value in obj.items():
            if type(key) is not str or not (key.isascii() or max(key) <= _BMP_MAX):
                return False
            if not _plain(value):
                return False
        return True
    if kind is list:
        return all(_plain(item) for item in obj)
    return False
