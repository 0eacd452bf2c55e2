"""Every administrative write: users, areas, agencies, identity providers, and issuing
temporary passwords. Each is audited in the same transaction as the change, and none touches
case content."""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from hub.accounts import operations as accounts
from hub.accounts.models import Agency, ApiToken, Area, User, UserSession
from hub.admin import queries
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
    """Roles belong to the agency's kind (roles.yaml), whichever agency of it this is."""
    if not current_policy().is_known_role(agency.kind, role):
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
    area = _staff_area(agency, data.get("area"))
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


def _staff_area(agency: Agency, code: str | None) -> Area | None:
    """The area a new user works in: their agency's, when it has one."""
    area = _area_named(code)
    if agency.area is not None and area not in (None, agency.area):
        raise AdminError(f"{agency.name} works in {agency.area.name} only", "area")
    return agency.area or area


def reactivate_user(user: User, by: User) -> None:
    user.active, user.deactivated_at = True, None
    audit.record("admin:user:reactivate", details={"target_user_id": user.id}, user=by)
    audit.commit()


# -- areas and agencies --------------------------------------------------------------------
# ``by`` is None when an operator runs a `hub` command: the event says "hub-cli" instead.

def create_area(data: dict, by: User | None) -> Area:
    """A new area (a STAC). Its cases are open to nobody until the policy has a file for it."""
    if _area_named(data["code"], required=False) is not None:
        raise AdminError("an area with this code already exists", "code", 409)
    area = _added(Area(code=data["code"], name=data["name"]), "an area")
    audit.record("admin:area:create", details={"area_id": area.id, "area": area.code}, user=by)
    audit.commit()
    return area


def update_area(area: Area, changes: dict, by: User | None) -> Area:
    """Only the name: the code is the policy file's name and in every case reference."""
    area.name = changes.get("name", area.name)
    audit.record("admin:area:update", details={"area_id": area.id, "area": area.code,
                                               "fields": sorted(changes)}, user=by)
    audit.commit()
    return area


def create_agency(data: dict, by: User | None) -> Agency:
    """A new agency, which gets what the policy gives its kind from this moment."""
    if db.session.scalar(select(Agency.id).where(Agency.code == data["code"])) is not None:
        raise AdminError("an agency with this code already exists", "code", 409)
    _require_kind(data["kind"])
    area = _area_named(data.get("area"))
    agency = _added(Agency(code=data["code"], name=data["name"], kind=data["kind"],
                           area=area), "an agency")
    audit.record("admin:agency:create", details={
        "agency_id": agency.id, "agency": agency.code, "kind": agency.kind,
        "area": area.code if area else None}, user=by)
    audit.commit()
    return agency


def update_agency(agency: Agency, changes: dict, by: User | None) -> Agency:
    """Change any of name, kind, area and active, all or nothing. Everything is checked
    before anything changes, so a refusal leaves the agency as it was."""
    if changes.get("active") is False:
        check_suspension(agency, by)
    details = _checked_changes(agency, changes)
    moved = _apply(agency, changes)
    fields = sorted(k for k in changes if k != "active")
    if fields:
        audit.record("admin:agency:update", details={
            "agency_id": agency.id, "agency": agency.code, "fields": fields, **details,
            **({"staff_moved": moved} if moved else {})}, user=by)
    if "active" in changes:
        _set_active(agency, changes["active"], by)
    audit.commit()
    return agency


def _checked_changes(agency: Agency, changes: dict) -> dict:
    """What a change of kind or area would be, as the audit event records it; raises if
    it may not be made."""
    details = {}
    if "kind" in changes and changes["kind"] != agency.kind:
        _require_kind(changes["kind"])
        if queries.agency_in_use(agency):
            raise AdminError("this agency has staff, an identity provider or places on case "
                             "teams, so its kind cannot change: add a new agency instead",
                             "kind", 409)
        details["kind"] = [agency.kind, changes["kind"]]
    area = _area_named(changes.get("area")) if "area" in changes else agency.area
    if area != agency.area:
        elsewhere = queries.team_places_outside(agency, area) if area else 0
        if elsewhere:
            raise AdminError(f"this agency or its staff are on {elsewhere} case "
                             f"team{'s' if elsewhere > 1 else ''} outside {area.name}: "
                             "take them off first", "area", 409)
        details["area"] = [agency.area.code if agency.area else None,
                           area.code if area else None]
    return details


def _apply(agency: Agency, changes: dict) -> int:
    """Make the (checked) changes; returns how many staff moved to the agency's new area."""
    agency.name = changes.get("name", agency.name)
    agency.kind = changes.get("kind", agency.kind)
    if "area" in changes:
        agency.area = _area_named(changes["area"])
        if agency.area is not None:  # an agency with an area: its staff work there
            return db.session.execute(update(User).where(
                User.agency_id == agency.id,
                or_(User.area_id.is_(None), User.area_id != agency.area.id))
                .values(area_id=agency.area.id)).rowcount
    return 0


def _require_kind(kind: str) -> None:
    policy = current_policy()
    if not policy.is_known_kind(kind):
        raise AdminError(f"unknown kind of agency; the policy has: "
                         f"{', '.join(policy.set.agencies)}", "kind")


def _area_named(code: str | None, required: bool = True) -> Area | None:
    """The area with ``code`` (None for no code). An unknown one is an error if required."""
    if code is None:
        return None
    area = db.session.scalar(select(Area).where(Area.code == code))
    if area is None and required:
        raise AdminError("unknown area", "area")
    return area


def _added(row, what: str):
    """Insert ``row``; a code taken meanwhile by someone else is the same 409 as before."""
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise AdminError(f"{what} with this code already exists", "code", 409) from None
    return row


# Agencies whose kind does no casework (`casework: false` in roles.yaml) hold the hub's own
# staff: its administrators and DPOs. Suspending one would lock out people who undo
# suspensions or review the log, so none may be; their staff are deactivated one by one.
STAFF_REFUSAL = ("The hub's own staff cannot be suspended as an agency: its users are the "
                 "hub's administrators and data protection officers, and all of them would "
                 "be locked out. Deactivate individual users instead.")


def may_be_suspended(agency: Agency) -> bool:
    policy = current_policy()
    return not (policy.is_known_kind(agency.kind) and not policy.does_casework(agency.kind))


def check_suspension(agency: Agency, by: User | None) -> None:
    """Raise (and audit) if ``by`` may not suspend ``agency``; asked before confirming too."""
    if not may_be_suspended(agency):
        audit.record_now("admin:agency:suspend", "denied",
                         rule=f"agency kind {agency.kind} does no casework: the hub's own staff",
                         details={"agency_id": agency.id, "agency": agency.code}, user=by)
        raise AdminError(STAFF_REFUSAL, "active", 403)
    if by is not None and agency.id == by.agency_id:
        raise AdminError("you cannot suspend your own agency", "active", 409)


def set_agency_active(agency: Agency, active: bool, by: User) -> None:
    if not active:
        check_suspension(agency, by)
    _set_active(agency, active, by)
    audit.commit()


def _set_active(agency: Agency, active: bool, by: User | None) -> None:
    agency.active = active
    if not active:
        _revoke_agency_credentials(agency)
    audit.record("admin:agency:" + ("reactivate" if active else "suspend"),
                 details={"agency_id": agency.id, "agency": agency.code}, user=by)


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
