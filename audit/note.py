"""Signed checkpoints in the C2SP signed-note format.

A checkpoint commits to the whole log in three lines (origin, tree size, root hash), see
https://c2sp.org/tlog-checkpoint. It is wrapped in a signed note
(https://c2sp.org/signed-note) so it can be copied to witnesses and checked with standard
tooling (for example Go's ``golang.org/x/mod/sumdb/note``)::

    <origin>\\n<size>\\n<base64 root>\\n[<extension>\\n ...]\\n— <key name> <base64 sig>\\n

Each signature is base64(4-byte key hash || 64-byte Ed25519 signature over the body). The
parser is strict: anything that is not exactly this shape is refused, because an auditor
must never accept a checkpoint the signer did not produce byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from .merkle import HASH_SIZE

__all__ = [
    "MAX_NOTE_BYTES",
    "Checkpoint",
    "NoteError",
    "Signer",
    "key_hash",
    "load_signer",
    "open_checkpoint",
    "parse_verifier_key",
    "sign_checkpoint",
    "verifier_key",
]

MAX_NOTE_BYTES = 1 << 20
MAX_SIGNATURES = 100
ALG_ED25519 = b"\x01"
SIG_PREFIX = "\u2014 "  # EM DASH, space
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


class NoteError(ValueError):
    """A note is malformed, unsigned by the expected key, or its signature is bad."""


@dataclass(frozen=True)
class Checkpoint:
    """A commitment to the log: its first ``size`` leaves have Merkle root ``root_hash``."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise NoteError("checkpoint origin must be one non-empty line")
        if not 0 <= self.size < 1 << 64:
            raise NoteError(f"checkpoint size {self.size} is out of range")
        if len(self.root_hash) != HASH_SIZE:
            raise NoteError(f"checkpoint root hash must be {HASH_SIZE} bytes")
        if any(not line or "\n" in line for line in self.extensions):
            raise NoteError("checkpoint extension lines must be non-empty single lines")

    def body(self) -> str:
        """The signed text: one line per field, each ending in a newline."""
        root = base64.b64encode(self.root_hash).decode()
        return "".join(f"{line}\n" for line in (self.origin, self.size, root, *self.extensions))


def _check_key_name(name: str) -> None:
    """Key names are how verifiers pick a key; spaces and '+' would make them ambiguous."""
    if not name or "+" in name or any(c.isspace() for c in name):
        raise NoteError(f"invalid key name {name!r}: must be non-empty, no spaces or '+'")


def key_hash(name: str, public_key: bytes) -> bytes:
    """The 4-byte key id that prefixes every signature by this key."""
    _check_key_name(name)
    return hashlib.sha256(name.encode() + b"\n" + ALG_ED25519 + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    """The standard verifier-key string ``<name>+<hex key hash>+<base64(0x01||key)>``."""
    encoded = base64.b64encode(ALG_ED25519 + public_key).decode()
    return f"{name}+{key_hash(name, public_key).hex()}+{encoded}"


def parse_verifier_key(vkey: str) -> tuple[str, bytes]:
    """Split a verifier-key string into (name, raw 32-byte Ed25519 key), checking its hash."""
    name, _, rest = vkey.partition("+")
    hash_hex, _, encoded = rest.partition("+")
    key = _b64decode(encoded, "verifier key")
    if len(key) != 33 or key[:1] != ALG_ED25519:
        raise NoteError("verifier key is not an Ed25519 key")
    if key_hash(name, key[1:]).hex() != hash_hex:
        raise NoteError("verifier key hash does not match its name and key")
    return name, key[1:]


@dataclass(frozen=True)
class Signer:
    """An Ed25519 private key and the name its signatures carry."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        _check_key_name(self.name)

    @classmethod
    def generate(cls, name: str) -> Signer:
        """A fresh key, for tests and first-time setup."""
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte public key, as published in ``GET /audit/checkpoint``."""
        return self.private_key.public_key().public_bytes_raw()

    @property
    def verifier_key(self) -> str:
        return verifier_key(self.name, self.public_key)

    def sign(self, message: bytes) -> bytes:
        """Key hash followed by the Ed25519 signature: the binary form of a note signature."""
        return key_hash(self.name, self.public_key) + self.private_key.sign(message)


def load_signer(source: str, name: str) -> Signer:
    """Load the checkpoint signing key from a file path or from the key text itself.

    ``source`` is what the deployment configures (a path, or an environment variable's
    value): a PEM PKCS#8 Ed25519 key, or the base64 of the raw 32-byte seed. The key never
    comes from the database, so whoever can write the log cannot also sign for it.
    Error messages never include the key material.
    """
    text = source.strip()
    if not text.startswith("-----BEGIN") and os.path.isfile(text):
        with open(text, "rb") as handle:
            text = handle.read().decode("ascii", errors="replace").strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except TypeError:  # cryptography's signal for a passphrase-protected key
            raise ValueError("encrypted signing keys are not supported") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("signing key is not an Ed25519 private key")
        return Signer(name, key)
    try:
        seed = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("signing key is neither a key file, PEM, nor base64") from None
    if len(seed) != 32:
        raise ValueError(f"signing key seed must be 32 bytes, got {len(seed)}")
    return Signer(name, Ed25519PrivateKey.from_private_bytes(seed))


def sign_checkpoint(cp: Checkpoint, signer: Signer) -> str:
    """Render ``cp`` as a signed note with one signature by ``signer``."""
    body = cp.body()
    signature = base64.b64encode(signer.sign(body.encode())).decode()
    return f"{body}\n{SIG_PREFIX}{signer.name} {signature}\n"


def open_checkpoint(
    note_text: str | bytes, public_key: bytes, key_name: str, *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint note and return the checkpoint it carries.

    Requires a valid signature by (``key_name``, ``public_key``); signatures by other keys
    are ignored, as the signed-note spec says. Raises ``NoteError`` on any malformation,
    a missing or bad signature, or (if given) a different ``origin``.
    """
    if len(public_key) != 32:
        raise NoteError(f"Ed25519 public key must be 32 bytes, got {len(public_key)}")
    text = _decode(note_text)
    split = text.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line between its text and its signatures")
    body, signatures = text[: split + 1], text[split + 2 :]
    _verify_signatures(body.encode(), signatures, public_key, key_name)
    cp = _parse_body(body)
    if origin is not None and cp.origin != origin:
        raise NoteError(f"checkpoint origin {cp.origin!r} is not {origin!r}")
    return cp


def _decode(note_text: str | bytes) -> str:
    """Size, encoding and character checks that come before any parsing."""
    if isinstance(note_text, str):
        try:
            note_text = note_text.encode()
        except UnicodeEncodeError:
            raise NoteError("note is not valid UTF-8") from None
    if len(note_text) > MAX_NOTE_BYTES:
        raise NoteError(f"note is larger than {MAX_NOTE_BYTES} bytes")
    try:
        text = note_text.decode()
    except UnicodeDecodeError:
        raise NoteError("note is not valid UTF-8") from None
    if _CONTROL.search(text):
        raise NoteError("note contains a control character other than newline")
    if not text.endswith("\n"):
        raise NoteError("note does not end with a newline")
    return text


def _verify_signatures(body: bytes, signatures: str, public_key: bytes, key_name: str) -> None:
    """Find our key's signature among the signature lines and check it."""
    want = key_hash(key_name, public_key)
    lines = signatures.split("\n")[:-1]
    if not lines:
        raise NoteError("note has no signature lines")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    parsed = [_parse_signature_line(line) for line in lines]
    ours = [sig for name, sig in parsed if name == key_name and sig[:4] == want]
    if not ours:
        raise NoteError(f"note has no signature by key {key_name} ({want.hex()})")
    if len(ours) > 1:
        raise NoteError(f"note has more than one signature by key {key_name}")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(ours[0][4:], body)
    except (InvalidSignature, ValueError):
        raise NoteError(f"signature by key {key_name} does not verify") from None


def _parse_signature_line(line: str) -> tuple[str, bytes]:
    """``— <name> <base64>`` -> (name, key hash || signature)."""
    if not line.startswith(SIG_PREFIX):
        raise NoteError(f"signature line does not start with an em dash: {line[:40]!r}")
    name, _, encoded = line[len(SIG_PREFIX) :].partition(" ")
    _check_key_name(name)
    signature = _b64decode(encoded, "signature")
    if len(signature) < 5:
        raise NoteError("signature is too short")
    return name, signature


def _parse_body(body: str) -> Checkpoint:
    """Origin, canonical decimal size, canonical base64 root, then extension lines."""
    lines = body.split("\n")[:-1]
    if len(lines) < 3:
        raise NoteError("checkpoint needs origin, size and root hash lines")
    origin, size, root, *extensions = lines
    if not _DECIMAL.fullmatch(size):
        raise NoteError(f"checkpoint size {size[:40]!r} is not a canonical decimal number")
    return Checkpoint(origin, int(size), _b64decode(root, "root hash"), tuple(extensions))


def _b64decode(encoded: str, what: str) -> bytes:
    """Strict standard base64: one spelling per value, so notes cannot be re-encoded."""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None
    if not encoded or base64.b64encode(raw).decode() != encoded:
        raise NoteError(f"{what} is not canonical base64")
    return raw
