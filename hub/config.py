"""Configuration from the environment, in one place.

Every setting the hub reads is listed in ``SETTINGS`` with its environment variable, type
and default. Tests override settings through ``create_app(overrides)``.

Secrets (the Flask secret key, the data-encryption key and the audit signing key) come from
the environment or from files. Outside production, missing secrets are generated once into
the instance folder so that ``make run`` needs nothing else; in production a missing or
default secret stops start-up.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The hub cannot start with this configuration."""


@dataclass(frozen=True)
class Setting:
    key: str
    env: str
    cast: type
    default: Any
    doc: str


def _bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    return value.strip().lower() in {"1", "true", "yes", "on"}


SETTINGS = [
    Setting("HUB_ENV", "HUB_ENV", str, "development", "development, test or production"),
    Setting("SQLALCHEMY_DATABASE_URI", "DATABASE_URL", str, "",
            "SQLAlchemy URL; SQLite in the instance folder when unset"),
    Setting("HUB_PORT", "HUB_PORT", int, 5000, "port for `make run`"),
    Setting("HUB_POLICY_DIR", "HUB_POLICY_DIR", str, str(ROOT / "policies"),
            "folder holding the access policy"),
    Setting("HUB_INSTANCE_DIR", "HUB_INSTANCE_DIR", str, str(ROOT / "instance"),
            "folder for the SQLite file and generated development secrets"),
    Setting("HUB_DEMO", "HUB_DEMO", _bool, None,
            "demo mode: demo users may sign in with the demo password (never in production)"),
    Setting("HUB_TOKEN_TTL", "HUB_TOKEN_TTL", int, 3600, "API token lifetime, seconds"),
    Setting("HUB_SESSION_IDLE", "HUB_SESSION_IDLE", int, 15 * 60, "idle timeout, seconds"),
    Setting("HUB_SESSION_ABSOLUTE", "HUB_SESSION_ABSOLUTE", int, 10 * 3600,
            "absolute session lifetime, seconds"),
    Setting("HUB_BREAK_GLASS_MINUTES", "HUB_BREAK_GLASS_MINUTES", int, 60,
            "how long break-glass access lasts"),
    Setting("HUB_AUDIT_ORIGIN", "HUB_AUDIT_ORIGIN", str, "stac-hub.example/audit",
            "origin line of signed audit checkpoints"),
    Setting("HUB_SEQUENCER_INTERVAL", "HUB_SEQUENCER_INTERVAL", float, None,
            "seconds between audit sequencer runs in each hub process; 0 = off "
            "(default 5, and 0 in test)"),
    Setting("RATELIMIT_STORAGE_URI", "HUB_RATELIMIT_STORAGE", str, "memory://",
            "rate-limit store; shared between processes in production (e.g. redis://)"),
    Setting("MAX_CONTENT_LENGTH", "HUB_MAX_BODY", int, 256 * 1024, "largest request body, bytes"),
    Setting("HUB_PROXY_HOPS", "HUB_PROXY_HOPS", int, 0,
            "reverse proxies in front of the hub whose X-Forwarded-* headers are trusted"),
]

SECRET_FILES = {
    # setting: (environment variable holding the value, file in the instance folder)
    "SECRET_KEY": ("HUB_SECRET_KEY", "secret_key"),
    "HUB_DATA_KEY": ("HUB_DATA_KEY", "data.key"),
    "HUB_AUDIT_SIGNING_KEY": ("HUB_AUDIT_SIGNING_KEY", "audit-signing.key"),
}


def load(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read every setting from the environment, then apply ``overrides``."""
    config: dict[str, Any] = {}
    for s in SETTINGS:
        raw = os.environ.get(s.env)
        config[s.key] = s.default if raw in (None, "") else s.cast(raw)
    config.update(overrides or {})
    production = config["HUB_ENV"] == "production"
    if config["HUB_DEMO"] is None:
        config["HUB_DEMO"] = not production
    if config["HUB_SEQUENCER_INTERVAL"] is None:
        config["HUB_SEQUENCER_INTERVAL"] = 0 if config["HUB_ENV"] == "test" else 5
    instance = Path(config["HUB_INSTANCE_DIR"])
    if not config["SQLALCHEMY_DATABASE_URI"]:
        instance.mkdir(parents=True, exist_ok=True)
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'hub.sqlite3'}"
    for key, (env, filename) in SECRET_FILES.items():
        if key not in config:
            config[key] = _secret(env, instance / filename, key, production)
    _check(config, production)
    config.update(_fixed_settings(production))
    return config


def _secret(env: str, path: Path, key: str, production: bool) -> str:
    """A secret from the environment, else its instance file, else (not production) a new one."""
    value = os.environ.get(env)
    if not value and os.environ.get(f"{env}_FILE"):
        value = Path(os.environ[f"{env}_FILE"]).read_text().strip()
    if value:
        return value
    if path.exists():
        return path.read_text().strip()
    if production:
        raise ConfigError(f"{env} (or {env}_FILE) must be set in production")
    path.parent.mkdir(parents=True, exist_ok=True)
    value = _new_secret(key)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def _new_secret(key: str) -> str:
    if key == "HUB_AUDIT_SIGNING_KEY":
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        return pem.decode()
    return base64.b64encode(secrets.token_bytes(32)).decode()


# Values seen in tutorials and sample configs: a key anyone can look up signs nothing.
WEAK_SECRETS = {"dev", "development", "secret", "changeme", "change-me", "default", "test"}


def _check(config: dict[str, Any], production: bool) -> None:
    if len(config["SECRET_KEY"]) < 32:
        raise ConfigError("HUB_SECRET_KEY must be at least 32 characters")
    if production and _weak(config["SECRET_KEY"]):
        raise ConfigError("HUB_SECRET_KEY looks like a default or made-up value; generate one: "
                          "python -c 'import secrets; print(secrets.token_urlsafe(48))'")
    if production and config["RATELIMIT_STORAGE_URI"].startswith("memory://"):
        raise ConfigError("HUB_RATELIMIT_STORAGE must be a store shared between processes "
                          "(e.g. redis://) in production, not memory://")
    try:
        if len(base64.b64decode(config["HUB_DATA_KEY"], validate=True)) != 32:
            raise ValueError
    except ValueError:
        raise ConfigError("HUB_DATA_KEY must be 32 bytes, base64-encoded") from None
    if production and config["HUB_DEMO"]:
        raise ConfigError("HUB_DEMO cannot be on in production")
    if production and config.get("DEBUG"):
        raise ConfigError("debug mode cannot be on in production")


def _weak(secret: str) -> bool:
    """A known default, or too few distinct characters to be random (e.g. 'x' * 40)."""
    lowered = secret.lower()
    # Long words only as substrings: a random key holds "dev" by chance, never "changeme".
    return (lowered in WEAK_SECRETS or len(set(secret)) < 12
            or any(word in lowered for word in WEAK_SECRETS if len(word) >= 6))


def _fixed_settings(production: bool) -> dict[str, Any]:
    """Settings that are not configurable: they are part of the security model."""
    return {
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_NAME": "__Host-hub" if production else "hub_session",
        "REMEMBER_COOKIE_DURATION": 0,
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "WTF_CSRF_TIME_LIMIT": None,  # the session lifetime bounds the token already
        "JSON_SORT_KEYS": False,
    }
