"""Every administrative write: users, agencies, identity providers, and issuing temporary
passwords. Each is audited in the same transaction as the change, and none touches case
content."""

from __future__ import annotations

from sqlalchemy import select, update

from hub.accounts import operations as accounts
from hub.accounts.models import Agency, ApiToken, Area, User, UserSession
from hub.auditlog import writer as audit
from hub.extensions import db
from hub.oidc import client as oidc_client
from hub.oidc import operations as oidc
from hub.oidc.models import IdentityProvider
from hub.policy import current_policy
from hub.timeutil import utcnow


class AdminError(Exception):
    """A refused change: 400 with the field that failed, or 409."""

    def __init__(self, message: str, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.message, self.field, self.status = message, field, status


def _require_role(agency: Agency, role: str) -> None:
    if not current_policy().is_known_role(agency.code, role):
        raise AdminError(f"{agency.code} has no role {role!r}", "role")


def update_user(user: User, changes: dict, by: User) -> None:
    if user.id == by.id and "role" in changes:
        raise AdminError("you cannot change your own role", "role", 409)
    if "role" in changes:
        _require_role(user.agency, changes["role"])
    before = {k: getattr(user, k) for k in changes}
    for key, value in changes.items():
        setattr(user, key, value)
    audit.record("admin:user:update", details={
        "target_user_id": user.id, "fields": sorted(changes),
        **({"role": [before["role"], user.role]} if "role" in changes else {})}, user=by)
    audit.commit()


def deactivate_user(user: User, by: User) -> None:
    """Immediate: every session and API token of the user stops working now."""
    if user.id == by.id:
        raise AdminError("you cannot deactivate yourself", "id", 409)
    accounts.deactivate(user, by)


def reset_sign_in(user: User, by: User) -> str:
    """Give a local user a one-time temporary password and remove their authenticator, and
    end all their sessions and API tokens now. Returns the password, to be shown once to
    the administrator and never stored in clear. The user must then choose a password and
    enrol an authenticator again (ASVS 6.4.3, 6.4.4)."""
    if user.id == by.id:
        raise AdminError("you cannot reset your own sign-in; change your password instead",
                         "id", 409)
    if user.oidc_issuer is not None:
        raise AdminError("this user signs in with single sign-on and has no password here",
                         "id", 409)
    password = accounts.issue_temporary_password(user)
    sessions, tokens = accounts.revoke_credentials(user)
    audit.record("admin:user:reset-sign-in", details={
        "target_user_id": user.id, "sessions_ended": sessions, "tokens_ended": tokens},
        user=by)
    audit.commit()
    return password


def create_local_user(data: dict, by: User) -> tuple[User, str]:
    """A new user who signs in with a password: the administrator gets a one-time
    temporary password to hand over; the user chooses their own and enrols TOTP."""
    agency = db.session.scalar(select(Agency).where(Agency.code == data["agency"]))
    if agency is None:
        raise AdminError("unknown agency", "agency")
    _require_role(agency, data["role"])
    area = None
    if data.get("area"):
        area = db.session.scalar(select(Area).where(Area.code == data["area"]))
        if area is None:
            raise AdminError("unknown area", "area")
    if db.session.scalar(select(User.id).where(User.username == data["username"])):
        raise AdminError("this username is in use", "username", 409)
    user = User(username=data["username"], display_name=data["display_name"], agency=agency,
                role=data["role"], area=area)
    db.session.add(user)
    db.session.flush()
    password = accounts.issue_temporary_password(user)
    audit.record("admin:user:create", details={
        "target_user_id": user.id, "agency": agency.code, "role": user.role,
        "area": area.code if area else None}, user=by)
    audit.commit()
    return user, password


def reactivate_user(user: User, by: User) -> None:
    user.active, user.deactivated_at = True, None
    audit.record("admin:user:reactivate", details={"target_user_id": user.id}, user=by)
    audit.commit()


# The agency whose users are the hub's own administrators and DPOs. Suspending it would lock
# out everyone who could undo the suspension or review the log, so nobody may.
HUB_AGENCY = "hub"
HUB_REFUSAL = ("The hub's own agency cannot be suspended: its users are the hub's "
               "administrators and data protection officers, and all of them would be locked out.")


def check_suspension(agency: Agency, by: User) -> None:
    """Raise (and audit) if ``by`` may not suspend ``agency``; asked before confirming too."""
    if agency.code == HUB_AGENCY:
        audit.record_now("admin:agency:suspend", "denied", rule="the hub's own agency",
                         details={"agency_id": agency.id, "agency": agency.code}, user=by)
        raise AdminError(HUB_REFUSAL, "active", 403)
    if agency.id == by.agency_id:
        raise AdminError("you cannot suspend your own agency", "active", 409)


def set_agency_active(agency: Agency, active: bool, by: User) -> None:
    if not active:
        check_suspension(agency, by)
    agency.active = active
    if not active:
        _revoke_agency_credentials(agency)
    audit.record("admin:agency:" + ("reactivate" if active else "suspend"),
                 details={"agency_id": agency.id, "agency": agency.code}, user=by)
    audit.commit()


def _revoke_agency_credentials(agency: Agency) -> None:
    """Suspension ends every session and token of the agency's staff at once."""
    now, members = utcnow(), User.__table__.c
    staff = db.select(members.id).where(members.agency_id == agency.id).scalar_subquery()
    db.session.execute(update(UserSession).where(UserSession.user_id.in_(staff),
                                                 UserSession.revoked_at.is_(None))
                       .values(revoked_at=now))
    db.session.execute(update(ApiToken).where(ApiToken.user_id.in_(staff),
                                              ApiToken.revoked_at.is_(None))
                       .values(revoked_at=now))


PROVIDER_FIELDS = ("name", "issuer", "client_id", "agency", "role_claim", "role_map",
                   "acr_values", "required_amr", "active")


def save_provider(provider: IdentityProvider | None, data: dict, by: User) -> IdentityProvider:
    """Create (``provider`` None) or change a provider; the secret is sealed, never logged."""
    created = provider is None
    provider = provider or IdentityProvider(slug=data["slug"])
    _check_provider(provider, data)
    for key in PROVIDER_FIELDS:
        if key in data:
            setattr(provider, key, data[key])
    if data.get("client_secret"):
        oidc.seal_secret(provider, data["client_secret"])
    if created:
        db.session.add(provider)
    db.session.flush()
    audit.record("admin:idp:" + ("create" if created else "update"), details={
        "provider_id": provider.id, "provider": provider.slug,
        "fields": sorted(k for k in data if k != "slug")}, user=by)
    audit.commit()
    return provider


def _check_provider(provider: IdentityProvider, data: dict) -> None:
    if provider.id is None and not data.get("client_secret"):
        raise AdminError("a new provider needs its client secret", "client_secret")
    if "issuer" in data:
        try:
            oidc_client.check_url(data["issuer"])
        except oidc_client.OidcError as exc:
            raise AdminError(exc.reason, "issuer") from None
    agency = data.get("agency") or provider.agency
    for role in (data.get("role_map") or provider.role_map or {}).values():
        _require_role(agency, role)
