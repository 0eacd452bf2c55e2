"""Real OpenID providers on loopback (tests/oidc/provider.py), one process each."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

PROVIDER = Path(__file__).with_name("provider.py")
CALLBACK = "http://localhost/sign-in/sso/callback"  # the test client's host


class Provider:
    """One running provider process and the client the hub is registered as."""

    def __init__(self):
        self.process = subprocess.Popen(  # noqa: S603 -- our own script, fixed arguments
            [sys.executable, "-W", "ignore", str(PROVIDER)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.issuer = f"http://127.0.0.1:{int(self.process.stdout.readline())}"
        client = requests.post(f"{self.issuer}/oauth2/clients", timeout=5,
                               json={"redirect_uris": [CALLBACK]}).json()
        self.client_id, self.client_secret = client["client_id"], client["client_secret"]

    def set_user(self, sub: str, **claims) -> None:
        r = requests.put(f"{self.issuer}/users/{sub}", json=claims, timeout=5)
        assert r.status_code == 204, r.text

    def fault(self, mode: str) -> None:
        requests.post(f"{self.issuer}/_test/fault", json={"mode": mode}, timeout=5)

    def authorize(self, url: str, sub: str) -> str:
        """The user signs in at the provider: the URL the browser is sent back to."""
        assert url.startswith(self.issuer + "/oauth2/authorize?"), url
        r = requests.post(url, data={"sub": sub}, allow_redirects=False, timeout=5)
        assert r.status_code == 302, r.text
        return r.headers["Location"]

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)
        self.process.stdout.close()


@pytest.fixture(scope="session")
def providers():
    started = [Provider(), Provider()]
    yield started
    for provider in started:
        provider.stop()


def add_provider(session, provider: Provider, slug: str, agency: str = "police", **extra):
    from sqlalchemy import select

    from hub.accounts.models import Agency, Area
    from hub.oidc import operations
    from hub.oidc.models import IdentityProvider

    row = IdentityProvider(
        slug=slug, name=f"{slug} sign-in", issuer=provider.issuer, client_id=provider.client_id,
        agency=session.scalar(select(Agency).where(Agency.code == agency)),
        area=session.scalar(select(Area).where(Area.code == "london")),
        role_claim="hub_role",
        role_map=extra.pop("role_map", {"PC": "officer", "SGT": "supervisor"}),
        acr_values=extra.pop("acr_values", []), required_amr=extra.pop("required_amr", ["mfa"]),
        **extra)
    operations.seal_secret(row, provider.client_secret)
    session.add(row)
    session.commit()
    return row


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
