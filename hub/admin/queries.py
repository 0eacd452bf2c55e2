"""Admin reads. Users, areas, agencies and providers; of the case tables, only who holds a
place on a team, counted, and never any case content."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from hub.accounts.models import Agency, Area, User
from hub.cases.models import Case, Membership
from hub.extensions import db
from hub.oidc.models import IdentityProvider
from hub.sql import LIKE_ESCAPE, contains


def users(q: str = "", agency: str | None = None, page: int = 1, per_page: int = 50):
    query = select(User).join(Agency, User.agency_id == Agency.id)
    if q:
        pattern = contains(q)
        query = query.where(or_(User.username.ilike(pattern, escape=LIKE_ESCAPE),
                                User.display_name.ilike(pattern, escape=LIKE_ESCAPE)))
    if agency:
        query = query.where(Agency.code == agency)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(User.username)
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return rows, total


def user(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def agencies() -> list[Agency]:
    return list(db.session.scalars(select(Agency).order_by(Agency.code)))


def areas() -> list[Area]:
    return list(db.session.scalars(select(Area).order_by(Area.name)))


def area(area_id: int) -> Area | None:
    return db.session.get(Area, area_id)


def area_by_code(code: str) -> Area | None:
    return db.session.scalar(select(Area).where(Area.code == code))


def agency_in_use(agency: Agency) -> bool:
    """Whether anyone or anything depends on the agency's kind: staff (whose roles are
    the kind's), an identity provider (mapping claims to those roles), team places."""
    used = [select(User.id).where(User.agency_id == agency.id),
            select(IdentityProvider.id).where(IdentityProvider.agency_id == agency.id),
            select(Membership.id).where(Membership.agency_id == agency.id)]
    return any(db.session.scalar(q.limit(1)) is not None for q in used)


def team_places_outside(agency: Agency, area: Area) -> int:
    """Case teams outside ``area`` that hold the agency or any of its staff now."""
    staff = select(User.id).where(User.agency_id == agency.id)
    return db.session.scalar(
        select(func.count(func.distinct(Membership.case_id)))
        .join(Case, Case.id == Membership.case_id)
        .where(Membership.removed_at.is_(None), Case.area_id != area.id,
               or_(Membership.agency_id == agency.id, Membership.user_id.in_(staff)))) or 0


def agency(agency_id: int) -> Agency | None:
    return db.session.get(Agency, agency_id)


def active_staff(agency: Agency) -> int:
    """How many people a suspension of ``agency`` would sign out."""
    return db.session.scalar(select(func.count(User.id)).where(
        User.agency_id == agency.id, User.active.is_(True))) or 0


def agency_by_code(code: str) -> Agency | None:
    return db.session.scalar(select(Agency).where(Agency.code == code))


def providers() -> list[IdentityProvider]:
    return list(db.session.scalars(select(IdentityProvider).order_by(IdentityProvider.slug)))


def provider(provider_id: int) -> IdentityProvider | None:
    return db.session.get(IdentityProvider, provider_id)


def slug_taken(slug: str) -> bool:
    return db.session.scalar(select(IdentityProvider.id).where(
        IdentityProvider.slug == slug)) is not None


def issuer_taken(issuer: str, except_id: int | None = None) -> bool:
    found = db.session.scalar(select(IdentityProvider.id).where(
        IdentityProvider.issuer == issuer))
    return found is not None and found != except_id
