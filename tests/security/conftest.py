"""Helpers for the attacker and hardening suites."""

from __future__ import annotations

import base64
import secrets

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def production_secrets() -> dict:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    return {"SECRET_KEY": secrets.token_urlsafe(48),
            "HUB_DATA_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "HUB_AUDIT_SIGNING_KEY": pem, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1"}


@pytest.fixture
def production_overrides(tmp_path) -> dict:
    # No scheduled sequencer: its thread would outlive the test in this process.
    return {"HUB_ENV": "production", "HUB_INSTANCE_DIR": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
            "HUB_SEQUENCER_INTERVAL": 0, **production_secrets()}
