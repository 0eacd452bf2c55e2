"""Signed-note checkpoints: round trip, tampering, wrong keys and malformed notes."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import (
    EMPTY_ROOT,
    Checkpoint,
    NoteError,
    Signer,
    load_signer,
    open_checkpoint,
    parse_verifier_key,
    sign_checkpoint,
    verifier_key,
)
from audit.note import MAX_NOTE_BYTES

ORIGIN = "stac-hub.example/audit"
ROOT = bytes(range(32))

# The signed-note example of golang.org/x/mod/sumdb/note (BSD-3-Clause): the same key and
# text must give the same verifier key and, Ed25519 being deterministic, the same signature.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SEED = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"  # 0x01 || seed, from the skey
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIG = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate(ORIGIN)


@pytest.fixture(scope="module")
def note(signer: Signer) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, 1234, ROOT, ("time 1767225600",)), signer)


def _open(text: str | bytes, signer: Signer) -> Checkpoint:
    return open_checkpoint(text, signer.public_key, signer.name)


def test_round_trip(signer: Signer, note: str) -> None:
    body, signature = note.split("\n\n")
    assert body.split("\n") == [ORIGIN, "1234", base64.b64encode(ROOT).decode(), "time 1767225600"]
    assert signature.startswith(f"\u2014 {ORIGIN} ") and signature.endswith("=\n")
    assert _open(note, signer) == Checkpoint(ORIGIN, 1234, ROOT, ("time 1767225600",))
    assert _open(note.encode(), signer).size == 1234
    assert open_checkpoint(note, signer.public_key, signer.name, origin=ORIGIN).size == 1234


def test_empty_tree_checkpoint(signer: Signer) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 0, EMPTY_ROOT), signer)
    assert _open(note, signer) == Checkpoint(ORIGIN, 0, EMPTY_ROOT)


def test_go_signed_note_interop() -> None:
    go = Signer("PeterNeumann", Ed25519PrivateKey.from_private_bytes(base64.b64decode(GO_SEED)[1:]))
    assert go.verifier_key == GO_VKEY
    assert parse_verifier_key(GO_VKEY) == ("PeterNeumann", go.public_key)
    assert base64.b64encode(go.sign(GO_TEXT.encode())).decode() == GO_SIG
    # The signature verifies; only then is the text refused for not being a checkpoint.
    go_note = f"{GO_TEXT}\n\u2014 PeterNeumann {GO_SIG}\n"
    with pytest.raises(NoteError, match="origin, size and root"):
        open_checkpoint(go_note, go.public_key, "PeterNeumann")
    with pytest.raises(NoteError, match="does not verify"):
        open_checkpoint(go_note.replace("cryptography", "cryptographY"), go.public_key, go.name)


@pytest.mark.parametrize(
    ("old", "new"),
    [("1234", "1235"), (ORIGIN + "\n", "other.example\n"), ("time", "tide"), ("AAEC", "AAED")],
)
def test_tampered_body(signer: Signer, note: str, old: str, new: str) -> None:
    with pytest.raises(NoteError, match="does not verify"):
        _open(note.replace(old, new, 1), signer)


def test_wrong_key(signer: Signer, note: str) -> None:
    impostor = Signer.generate(ORIGIN)
    with pytest.raises(NoteError, match="no signature by key"):
        _open(note, impostor)
    with pytest.raises(NoteError, match="no signature by key"):
        open_checkpoint(note, signer.public_key, "other-name")


def test_other_keys_signature(signer: Signer, note: str) -> None:
    witness = Signer.generate("witness.example")
    theirs = sign_checkpoint(Checkpoint(ORIGIN, 1234, ROOT), witness)
    with pytest.raises(NoteError, match="no signature by key"):
        _open(theirs, signer)
    cosigned = note + sign_checkpoint(_open(note, signer), witness).split("\n\n")[1]
    assert _open(cosigned, signer) == _open(cosigned, witness)


def test_signature_by_our_key_over_other_text_is_rejected(signer: Signer, note: str) -> None:
    other = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), signer)
    spliced = note.split("\n\n")[0] + "\n\n" + other.split("\n\n")[1]
    with pytest.raises(NoteError, match="does not verify"):
        _open(spliced, signer)


def _body_note(signer: Signer, body: str) -> str:
    """Sign an arbitrary body, so only the body rules can reject it."""
    signature = base64.b64encode(signer.sign(body.encode())).decode()
    return f"{body}\n\u2014 {signer.name} {signature}\n"


ROOT_B64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"{ORIGIN}\n01\n{ROOT_B64}\n", "canonical decimal"),
        (f"{ORIGIN}\n+5\n{ROOT_B64}\n", "canonical decimal"),
        (f"{ORIGIN}\n 5\n{ROOT_B64}\n", "canonical decimal"),
        (f"{ORIGIN}\n\n{ROOT_B64}\n", "canonical decimal"),
        (f"{ORIGIN}\n{2**64}\n{ROOT_B64}\n", "out of range"),
        (f"{ORIGIN}\n5\n5\n{ROOT_B64}\n", "root hash"),  # duplicate size line
        (f"{ORIGIN}\n5\n{ROOT_B64[:-1]}\n", "root hash"),
        (f"{ORIGIN}\n5\n{base64.b64encode(ROOT[:31]).decode()}\n", "32 bytes"),
        (f"{ORIGIN}\n5\n{ROOT_B64[:-2]}9=\n", "canonical base64"),  # same bytes as 8=
        (f"{ORIGIN}\n5\n", "origin, size and root"),
        (f"\n5\n{ROOT_B64}\n", "origin"),
        (f"{ORIGIN}\n5\n{ROOT_B64}\n\nextension\n", "extension"),
    ],
)
def test_malformed_body(signer: Signer, body: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        _open(_body_note(signer, body), signer)


def test_malformed_notes(signer: Signer, note: str) -> None:
    body, sigs = note.split("\n\n")
    sig_b64 = sigs.split(" ")[-1].strip()
    cases = {
        "no blank line": note.replace("\n\n", "\n"),
        "newline": note.rstrip("\n"),
        "larger than": note + "x" * MAX_NOTE_BYTES,
        "control character": note.replace("time", "ti\rme"),
        "em dash": f"{body}\n\n- {ORIGIN} {sig_b64}\n",
        "not valid base64": f"{body}\n\n\u2014 {ORIGIN} {sig_b64[:-2]}!!\n",
        "too short": f"{body}\n\n\u2014 {ORIGIN} AAAA\n",
        "invalid key name": f"{body}\n\n\u2014  {sig_b64}\n",
        "more than one signature": note + sigs,
        "no signature lines": f"{body}\n\n",
    }
    for message, text in cases.items():
        with pytest.raises(NoteError, match=message):
            _open(text, signer)


def test_bad_utf8(signer: Signer, note: str) -> None:
    with pytest.raises(NoteError, match="UTF-8"):
        _open(note.encode().replace(b"time", b"t\xffme"), signer)
    with pytest.raises(NoteError, match="UTF-8"):
        _open(note.replace("time", "t\udcffme"), signer)


def test_origin_and_key_checks(signer: Signer, note: str) -> None:
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(note, signer.public_key, signer.name, origin="elsewhere")
    with pytest.raises(NoteError, match="32 bytes"):
        open_checkpoint(note, signer.public_key[:31], signer.name)
    for name in ("", "has space", "a+b"):
        with pytest.raises(NoteError, match="invalid key name"):
            Signer.generate(name)


def test_checkpoint_validation() -> None:
    with pytest.raises(NoteError):
        Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(NoteError):
        Checkpoint(ORIGIN, 1, ROOT[:16])
    with pytest.raises(NoteError):
        Checkpoint("two\nlines", 1, ROOT)
    with pytest.raises(NoteError):
        Checkpoint(ORIGIN, 1, ROOT, ("",))


def test_verifier_key_round_trip(signer: Signer) -> None:
    vkey = verifier_key(signer.name, signer.public_key)
    assert vkey == signer.verifier_key
    assert parse_verifier_key(vkey) == (signer.name, signer.public_key)
    name, key_hash_hex, key = vkey.split("+", 2)
    with pytest.raises(NoteError, match="hash does not match"):
        parse_verifier_key(f"{name}+00000000+{key}")
    with pytest.raises(NoteError, match="not an Ed25519"):
        parse_verifier_key(f"{name}+{key_hash_hex}+{base64.b64encode(b'x' * 33).decode()}")


def test_load_signer_from_pem_seed_and_files(tmp_path: Path, signer: Signer) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    seed = base64.b64encode(key.private_bytes_raw()).decode()
    (tmp_path / "key.pem").write_text(pem)
    (tmp_path / "seed").write_text(seed + "\n")
    loaded = [
        load_signer(pem, ORIGIN),
        load_signer(seed, ORIGIN),
        load_signer(str(tmp_path / "key.pem"), ORIGIN),
        load_signer(f" {tmp_path / 'seed'}\n", ORIGIN),
    ]
    public = key.public_key().public_bytes_raw()
    assert {s.public_key for s in loaded} == {public}
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), loaded[0])
    assert open_checkpoint(note, public, ORIGIN).size == 1


def test_load_signer_refuses_bad_keys() -> None:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ValueError, match="not an Ed25519"):
        load_signer(ec_pem, ORIGIN)
    encrypted = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    with pytest.raises(ValueError, match="encrypted"):
        load_signer(encrypted.decode(), ORIGIN)
    with pytest.raises(ValueError, match="32 bytes"):
        load_signer(base64.b64encode(b"short").decode(), ORIGIN)
    with pytest.raises(ValueError, match="neither") as excinfo:
        load_signer("/no/such/key-file", ORIGIN)
    assert "/no/such" not in str(excinfo.value)
