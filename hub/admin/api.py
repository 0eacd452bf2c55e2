"""Admin routes of the JSON API. Every one needs Permission.ADMIN_MANAGE (403, audited,
otherwise); every read and write is audited; nothing here reads a case."""

from __future__ import annotations

from flask import g, jsonify

from hub import access
from hub.admin import operations, queries
from hub.admin import schemas as s
from hub.api import BadInput, bp, error, load, query_args
from hub.auditlog import writer as audit
from hub.errors import Conflict
from hub.policy import Permission, current_policy


@bp.errorhandler(operations.AdminError)
def _admin_refused(exc: operations.AdminError):
    codes = {400: "invalid", 403: "forbidden", 409: "conflict"}
    return error(exc.status, codes.get(exc.status, "error"), exc.message, exc.field)


def _admin(action: str, **details):
    """The caller must be an administrator; the read is on record before it is answered."""
    who = access.require(Permission.ADMIN_MANAGE)
    audit.record_now(action, details=details)
    return who


@bp.get("/admin/users")
def admin_users():
    access.require(Permission.ADMIN_MANAGE)
    args = query_args(s.UserSearchIn())
    rows, total = queries.users(args["q"], args.get("agency"), args["page"], args["per_page"])
    _admin("admin:user:list", total=total, page=args["page"])
    return jsonify(items=[s.user_out(u) for u in rows], total=total, page=args["page"])


@bp.get("/admin/users/<int:user_id>")
def admin_user(user_id: int):
    access.require(Permission.ADMIN_MANAGE)
    user = access.found(queries.user(user_id), "admin:user:read", requested_id=user_id)
    _admin("admin:user:read", target_user_id=user.id)
    return jsonify(s.user_out(user))


@bp.patch("/admin/users/<int:user_id>")
def admin_update_user(user_id: int):
    access.require(Permission.ADMIN_MANAGE)
    user = access.found(queries.user(user_id), "admin:user:update", requested_id=user_id)
    changes = load(s.UserUpdateIn())
    if not changes:
        raise BadInput("send role or display_name", "body")
    operations.update_user(user, changes, g.user)
    return jsonify(s.user_out(user))


@bp.post("/admin/users")
def admin_create_user():
    """Create a local user; the answer holds their one-time temporary password."""
    access.require(Permission.ADMIN_MANAGE)
    user, password = operations.create_local_user(load(s.UserCreateIn()), g.user)
    return jsonify(s.temporary_password_out(user, password)), 201


@bp.post("/admin/users/<int:user_id>/reset-sign-in")
def admin_reset_sign_in(user_id: int):
    """A one-time temporary password, no authenticator, every session and token ended."""
    access.require(Permission.ADMIN_MANAGE)
    user = access.found(queries.user(user_id), "admin:user:reset-sign-in", requested_id=user_id)
    password = operations.reset_sign_in(user, g.user)
    return jsonify(s.temporary_password_out(user, password))


@bp.post("/admin/users/<int:user_id>/deactivate")
def admin_deactivate_user(user_id: int):
    access.require(Permission.ADMIN_MANAGE)
    user = access.found(queries.user(user_id), "admin:user:deactivate", requested_id=user_id)
    operations.deactivate_user(user, g.user)
    return jsonify(s.user_out(user))


@bp.post("/admin/users/<int:user_id>/reactivate")
def admin_reactivate_user(user_id: int):
    access.require(Permission.ADMIN_MANAGE)
    user = access.found(queries.user(user_id), "admin:user:reactivate", requested_id=user_id)
    operations.reactivate_user(user, g.user)
    return jsonify(s.user_out(user))


# -- areas and agencies ------------------------------------------------------------------
@bp.get("/admin/areas")
def admin_areas():
    _admin("admin:area:list")
    return jsonify(items=[s.area_out(a) for a in queries.areas()])


@bp.post("/admin/areas")
def admin_create_area():
    """A new area; its cases are open to nobody until the policy has its file."""
    access.require(Permission.ADMIN_MANAGE)
    return jsonify(s.area_out(operations.create_area(load(s.AreaIn()), g.user))), 201


@bp.get("/admin/areas/<int:area_id>")
def admin_area(area_id: int):
    access.require(Permission.ADMIN_MANAGE)
    area = access.found(queries.area(area_id), "admin:area:read", requested_id=area_id)
    _admin("admin:area:read", area_id=area.id)
    return jsonify(s.area_out(area))


@bp.patch("/admin/areas/<int:area_id>")
def admin_update_area(area_id: int):
    access.require(Permission.ADMIN_MANAGE)
    area = access.found(queries.area(area_id), "admin:area:update", requested_id=area_id)
    changes = load(s.AreaUpdateIn())
    if not changes:
        raise BadInput("send the name to change", "body")
    return jsonify(s.area_out(operations.update_area(area, changes, g.user)))


@bp.get("/admin/agencies")
def admin_agencies():
    _admin("admin:agency:list")
    return jsonify(items=[s.agency_out(a) for a in queries.agencies()])


@bp.post("/admin/agencies")
def admin_create_agency():
    """A new agency of a kind in the policy, which it works under from now on."""
    access.require(Permission.ADMIN_MANAGE)
    return jsonify(s.agency_out(operations.create_agency(load(s.AgencyIn()), g.user))), 201


@bp.get("/admin/agencies/<int:agency_id>")
def admin_agency(agency_id: int):
    access.require(Permission.ADMIN_MANAGE)
    agency = access.found(queries.agency(agency_id), "admin:agency:read", requested_id=agency_id)
    _admin("admin:agency:read", agency_id=agency.id)
    return jsonify(s.agency_out(agency))


@bp.patch("/admin/agencies/<int:agency_id>")
def admin_update_agency(agency_id: int):
    """Rename, re-area, correct the kind of, suspend or reactivate an agency."""
    access.require(Permission.ADMIN_MANAGE)
    agency = access.found(queries.agency(agency_id), "admin:agency:update", requested_id=agency_id)
    changes = load(s.AgencyUpdateIn())
    if not changes:
        raise BadInput("send at least one of name, kind, area and active", "body")
    return jsonify(s.agency_out(operations.update_agency(agency, changes, g.user)))


@bp.get("/admin/roles")
def admin_roles():
    _admin("admin:role:list")
    policy = current_policy()
    return jsonify(items=[{"agency": code, "role": role, "permissions": sorted(perms)}
                          for code in sorted(policy.set.agencies)
                          for role, perms in sorted(policy.roles(code).items())])


@bp.get("/admin/identity-providers")
def admin_providers():
    _admin("admin:idp:list")
    return jsonify(items=[s.provider_out(p) for p in queries.providers()])


@bp.get("/admin/identity-providers/<int:provider_id>")
def admin_provider(provider_id: int):
    access.require(Permission.ADMIN_MANAGE)
    provider = access.found(queries.provider(provider_id), "admin:idp:read",
                            requested_id=provider_id)
    _admin("admin:idp:read", provider_id=provider.id)
    return jsonify(s.provider_out(provider))


@bp.post("/admin/identity-providers")
def admin_create_provider():
    access.require(Permission.ADMIN_MANAGE)
    data = load(s.ProviderIn())
    if queries.slug_taken(data["slug"]):
        raise Conflict("slug: already in use", "slug")  # valid, but taken: as a username
    data = _provider_data(data)
    provider = operations.save_provider(None, data, g.user)
    return jsonify(s.provider_out(provider)), 201


@bp.patch("/admin/identity-providers/<int:provider_id>")
def admin_update_provider(provider_id: int):
    access.require(Permission.ADMIN_MANAGE)
    provider = access.found(queries.provider(provider_id), "admin:idp:update",
                      requested_id=provider_id)
    data = _provider_data(load(s.ProviderUpdateIn(partial=True)), provider.id)
    if not data:
        raise BadInput("send at least one field", "body")
    return jsonify(s.provider_out(operations.save_provider(provider, data, g.user)))


def _provider_data(data: dict, provider_id: int | None = None) -> dict:
    """Agency codes become agencies; an issuer is used by one provider only."""
    if "agency" in data:
        agency = queries.agency_by_code(data["agency"])
        if agency is None:
            raise BadInput("agency: unknown agency", "agency")
        data["agency"] = agency
    if "issuer" in data and queries.issuer_taken(data["issuer"], provider_id):
        raise Conflict("issuer: another provider already has this issuer", "issuer")
    return data
