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

from typing import Any

import rfc8785

__all__ = ["CanonicalizationError", "canonical_bytes"]

CanonicalizationError = rfc8785.CanonicalizationError


def canonical_bytes(obj: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 encoding of ``obj``.

    Raises ``CanonicalizationError`` (for example for an integer outside the I-JSON range
    or a non-string key), so an event that cannot be logged reproducibly is refused at
    write time rather than discovered at audit time.
    """
    return rfc8785.dumps(obj)
