"""Encryption at rest for special-category fields (envelope encryption with AES-GCM).

Each person and each case has its own random data key. Data keys are stored in the
database only wrapped (encrypted) under the master key, which never lives in the database
(``HUB_DATA_KEY``). Erasing a person destroys their data key: their encrypted fields become
unreadable everywhere at once, including backups, without touching the audit log
("crypto-shredding").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_PREFIX = "v1."
_WRAP_AAD = b"stac-hub data key v1"


class KeyDestroyed(Exception):
    """The data key was destroyed by erasure; the data it protected is gone."""


class DecryptionFailed(Exception):
    """Ciphertext was altered, moved to another record, or the key is wrong."""


class Keyring:
    """Wraps and unwraps per-record data keys under the master key."""

    def __init__(self, master_key_b64: str):
        master = base64.b64decode(master_key_b64)
        self._master = AESGCM(master)
        # A key of its own for matching people across cases (HKDF, RFC 5869): identifiers
        # are compared by keyed hash, so the match needs no decryption, and a copy of the
        # table without this key cannot be tested against a guessed phone number.
        self._match = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                           info=b"stac-hub person match v1").derive(master)

    def match_digest(self, kind: str, value: str) -> bytes:
        """The keyed hash of one normalised identifier (see hub.cases.matching)."""
        return hmac.new(self._match, f"{kind}\x00{value}".encode(), hashlib.sha256).digest()

    def new_wrapped_key(self) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._master.encrypt(nonce, AESGCM.generate_key(256), _WRAP_AAD)

    def seal(self, plaintext: str, context: str) -> str:
        """Encrypt a small hub-level secret (a TOTP seed) directly under the master key."""
        return _seal(self._master, plaintext, "hub:" + context)

    def open(self, token: str, context: str) -> str:
        return _open(self._master, token, "hub:" + context)

    def unwrap(self, wrapped: bytes | None) -> bytes:
        if wrapped is None:
            raise KeyDestroyed
        try:
            return self._master.decrypt(wrapped[:12], wrapped[12:], _WRAP_AAD)
        except InvalidTag:
            raise DecryptionFailed("data key does not open under the master key") from None


def encrypt(key: bytes, plaintext: str, context: str) -> str:
    """Encrypt ``plaintext``, binding it to ``context`` (table, column, key id)."""
    return _seal(AESGCM(key), plaintext, context)


def decrypt(key: bytes, token: str, context: str) -> str:
    return _open(AESGCM(key), token, context)


def _seal(aead: AESGCM, plaintext: str, context: str) -> str:
    nonce = os.urandom(12)
    sealed = aead.encrypt(nonce, plaintext.encode(), context.encode())
    return _PREFIX + base64.b64encode(nonce + sealed).decode()


def _open(aead: AESGCM, token: str, context: str) -> str:
    if not token.startswith(_PREFIX):
        raise DecryptionFailed("unknown ciphertext format")
    raw = base64.b64decode(token[len(_PREFIX):])
    try:
        return aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
    except InvalidTag:
        raise DecryptionFailed(f"ciphertext for {context} does not verify") from None
