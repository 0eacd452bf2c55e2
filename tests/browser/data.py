"""Data a browser journey needs that the demo does not have, made through the hub's own
operations (so it is audited like everything else)."""

from __future__ import annotations

import itertools
import time

from sqlalchemy import select

from hub.accounts import operations as accounts
from hub.accounts.models import Agency, Area, User
from hub.accounts.security import hash_password, new_totp_seed, totp_now
from hub.cases import operations as cases
from hub.cases.models import Case
from hub.extensions import db
from tests.browser.support import Hub

PASSWORD = "a long browser-test passphrase"
_serial = itertools.count(1)


def _user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def make_user(hub: Hub, *, agency: str = "police", role: str = "officer",
              totp: bool = True) -> tuple[str, bytes | None]:
    """A real (non-demo) user who must use an authenticator app: (username, seed or None).

    Without ``totp`` the user has no seed yet, so their first sign-in enrols one.
    """
    username = f"browser.user{next(_serial)}"
    with hub.app.test_request_context():
        user = User(username=username, display_name=f"Browser Tester {username[-1]}",
                    agency=db.session.scalar(select(Agency).where(Agency.code == agency)),
                    area=db.session.scalar(select(Area).where(Area.code == "london")),
                    role=role, password_hash=hash_password(PASSWORD), is_demo=False)
        db.session.add(user)
        db.session.flush()
        seed = new_totp_seed() if totp else None
        if seed is not None:  # enrolled: set up, and one code (a minute old) already used
            accounts.set_totp_seed(user, seed)
            assert accounts.accept_totp(user, totp_now(seed, time.time() - 30))
        db.session.commit()
    return username, seed


def new_case(hub: Hub, by: str = "police.officer",
             summary: str = "Browser-test referral.") -> tuple[int, str]:
    """A case whose team is only its referrer, so everyone else is not on it: (id, reference)."""
    with hub.app.test_request_context():
        case = cases.create_case(_user(by), {
            "risk_level": "high", "summary": summary,
            "perpetrator": {"name": f"Perry Browsertest {next(_serial)}"},
            "victims": [{"name": "Vera Browsertest", "address": "1 Test Row, London E2 0ZZ"}]})
        return case.id, case.reference


def break_glass(hub: Hub, case_id: int, username: str, reason: str) -> None:
    with hub.app.test_request_context():
        cases.break_glass(_user(username), db.session.get(Case, case_id), reason)
        db.session.commit()


def case_id(hub: Hub, reference: str) -> int:
    with hub.app.app_context():
        return db.session.scalar(select(Case.id).where(Case.reference == reference))


def withheld_via_api(hub: Hub, username: str, case: int) -> list[str]:
    """What the JSON API says ``username`` may not see on the case, for comparison."""
    with hub.app.test_request_context():
        token, _ttl = accounts.issue_token(_user(username))
    response = hub.app.test_client().get(f"/api/v1/cases/{case}",
                                         headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return sorted(response.get_json()["withheld"])
