"""Users with roles, their TOTP codes, and small helpers for reading the hub's HTML pages.

Users are real rows made through the hub's own code (argon2id hashes, sealed TOTP seeds),
inside the test's rolled-back transaction.
"""

from __future__ import annotations

import base64
import html
import itertools
import re
import time
from html.parser import HTMLParser

from sqlalchemy import func, select, update

from hub.accounts import operations, security
from hub.accounts.models import Agency, Area, User
from hub.auditlog.models import AuditEvent
from hub.extensions import db

DEMO_PASSWORD = security.DEMO_PASSWORD
PASSWORD = "a long passphrase nobody guesses 7"
COOKIE = "hub_session"
_serial = itertools.count(1)


def leave_team(username: str, case_id: int) -> None:
    """Take a demo user off one case's team (every demo user with a case role is on every
    demo case), so a test can exercise what a non-member may do there."""
    from hub.cases.models import Membership
    from hub.timeutil import utcnow

    user_id = db.session.scalar(select(User.id).where(User.username == username))
    db.session.execute(update(Membership).where(Membership.case_id == case_id,
                                                Membership.user_id == user_id)
                       .values(removed_at=utcnow()))
    db.session.flush()


def make_user(agency: str = "nhs", role: str = "clinician", *, password: str = PASSWORD,
              totp: bool = True, username: str | None = None, area: str | None = "london",
              demo: bool = False) -> User:
    """A user of ``agency`` with ``role``. ``totp=True`` means enrolment was completed a
    while ago (a code was accepted 90 s back); ``totp=False`` means never enrolled."""
    user = User(username=username or f"{agency}.{role}.{next(_serial)}",
                display_name=f"Test {role}", role=role, is_demo=demo,
                agency=db.session.scalar(select(Agency).where(Agency.code == agency)),
                area=db.session.scalar(select(Area).where(Area.code == area)) if area else None,
                password_hash=security.hash_password(password))
    db.session.add(user)
    db.session.flush()
    if totp:
        operations.set_totp_seed(user, security.new_totp_seed())
        earlier = time.time() - 90
        user.totp_last_step = security.check_totp(
            seed_of(user), security.totp_now(seed_of(user), earlier), None, earlier)
    db.session.commit()
    return user


def seed_of(user: User) -> bytes:
    return operations.totp_seed(user)


def code_for(user_or_seed: User | bytes, at: float | None = None) -> str:
    seed = user_or_seed if isinstance(user_or_seed, bytes) else seed_of(user_or_seed)
    return security.totp_now(seed, at)


def seed_from_base32(secret: str) -> bytes:
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def user_named(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


# -- the audit log, read directly --------------------------------------------------------------
def last_seq() -> int:
    return db.session.scalar(select(func.max(AuditEvent.seq))) or 0


def events_since(seq: int, action_prefix: str = "") -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)
    if action_prefix:
        query = query.where(AuditEvent.action.startswith(action_prefix))
    return list(db.session.scalars(query))


# -- the web, as a browser sees it -------------------------------------------------------------
def sign_in(client, username: str, password: str = DEMO_PASSWORD, **form):
    """Post the sign-in form and assert it was accepted. Demo users land on their home page;
    users with an authenticator are sent to the code page."""
    response = client.post("/sign-in", data={"username": username, "password": password, **form})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def cookie(client) -> str | None:
    found = client.get_cookie(COOKIE)
    return found.value if found else None


def with_cookie(client, value: str):
    """A second browser that carries ``value`` as its session cookie (a replayed cookie)."""
    other = type(client)(client.application, client.application.response_class)
    other.set_cookie(COOKIE, value)
    return other


def signed_in(client) -> bool:
    """Whether the browser is fully signed in (past MFA), probed with a cheap page that
    sends signed-in users on to their home page, and everyone else elsewhere."""
    response = client.get("/sign-in/code")
    return response.status_code == 302 and response.headers["Location"] == "/"


def page_text(markup: str) -> str:
    """The visible text of a page, whitespace collapsed."""
    without = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S | re.I)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", without)).split())


class _ById(HTMLParser):
    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                      "meta", "source", "track", "wbr"})

    def __init__(self, wanted: str):
        super().__init__(convert_charrefs=True)
        self.wanted, self.depth, self.parts, self.found = wanted, 0, [], False

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += tag not in self.VOID
        elif dict(attrs).get("id") == self.wanted and tag not in self.VOID:
            self.depth, self.found = 1, True

    def handle_endtag(self, tag):
        if self.depth and tag not in self.VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def text_by_id(markup: str, element_id: str) -> str | None:
    """The text inside the element with ``id``, or None when the page has no such element."""
    parser = _ById(element_id)
    parser.feed(markup)
    return " ".join(" ".join(parser.parts).split()) if parser.found else None


def links(markup: str, pattern: str) -> list[str]:
    hrefs = (html.unescape(h) for h in re.findall(r'href="([^"]+)"', markup))
    return [h for h in hrefs if re.search(pattern, h)]
