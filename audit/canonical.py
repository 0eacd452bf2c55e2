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
import operator
from collections.abc import Iterable, Sequence
from typing import Any

import rfc8785

__all__ = [
    "CanonicalizationError",
    "RecordEncoder",
    "canonical_bytes",
    "canonical_bytes_reference",
]

CanonicalizationError = rfc8785.CanonicalizationError

_INT_MAX = 2**53 - 1  # rfc8785's I-JSON range, both signs
_BMP_MAX = "\uffff"
_STR = frozenset({str})
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


class RecordEncoder:
    """RFC 8785 bytes of many records with the same keys, joined from their values' own
    canonical bytes.

    RFC 8785 writes an object as its members sorted by key, each as the key's string, a
    colon and the value's canonical form, so a record's bytes are a join of per-value
    fragments. A caller that meets the same values again and again (a username, an
    action, the text of a JSON column) can encode each once and reuse its bytes, which
    is what makes `hub audit verify` fast. ``encode(fragments)`` equals
    ``canonical_bytes(record)`` when ``fragments[i]`` is ``canonical_bytes`` of the
    record's value for ``keys[i]``.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        # RFC 8785 sorts by UTF-16 code units; UTF-16BE bytes compare the same way.
        self.keys: tuple[str, ...] = tuple(sorted(set(keys), key=lambda k: k.encode("utf-16-be")))
        self._prefixes = [canonical_bytes(key) + b":" for key in self.keys]

    def encode(self, fragments: Sequence[bytes]) -> bytes:
        """The record's canonical bytes, from one fragment per key in ``self.keys`` order."""
        if len(fragments) != len(self._prefixes):
            raise ValueError(f"{len(fragments)} fragments for {len(self.keys)} keys")
        return b"{" + b",".join(map(operator.add, self._prefixes, fragments)) + b"}"


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
    check costs less than a third of the general encoder, which is why it exists; the
    scalars inside a dict or list are tested inline, not by a call each, because an
    audit event is mostly scalars and this runs once per event in `hub audit verify`.
    """
    kind = type(obj)
    if kind is dict:
        if not _plain_keys(obj):
            return False
        values = obj.values()
    elif kind is list:
        values = obj
    else:
        return _plain_scalar(obj)
    for value in values:
        kind = type(value)
        if kind is str or value is None or kind is bool:
            continue
        if kind is int:
            if -_INT_MAX <= value <= _INT_MAX:
                continue
            return False
        if not _plain(value):
            return False
    return True


def _plain_keys(obj: dict) -> bool:
    """Every key is a str in the Basic Multilingual Plane (tested in C, not key by key)."""
    if not _STR.issuperset(map(type, obj)):
        return False
    keys = "".join(obj)
    return keys.isascii() or max(keys) <= _BMP_MAX


def _plain_scalar(value: Any) -> bool:
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    return kind is int and -_INT_MAX <= value <= _INT_MAX
