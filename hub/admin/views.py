"""Admin pages (Permission.ADMIN_MANAGE): users, roles, identity providers; areas and
agencies are in hub/admin/agency_views.py, on the same blueprint.

The same operations as the JSON API; every page view is audited; no case content.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from hub import access
from hub.admin import operations, queries
from hub.admin import schemas as s
from hub.auditlog import writer as audit
from hub.policy import Permission, current_policy

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _administrators_only():
    if g.get("user") is None:
        return redirect(url_for("accounts.sign_in"))
    access.require(Permission.ADMIN_MANAGE)
    return None


def _page(template: str, action: str, **context):
    audit.record_now(action, details=context.pop("audit", {}))
    return render_template(template, **context)


@bp.get("/")
def index():
    return _page("admin/index.html", "admin:home")


@bp.get("/users")
def users():
    q = request.args.get("q", "")[:64]
    rows, total = queries.users(q, None, 1, 200)
    return _page("admin/users.html", "admin:user:list", users=rows, total=total, q=q,
                 audit={"total": total})


def _user_or_404(user_id: int):
    return access.found(queries.user(user_id), "admin:user:read", requested_id=user_id)


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    """Create a local user. The answer to the POST shows their temporary password once."""
    errors, form = {}, request.form
    if request.method == "POST":
        agency, _, role = form.get("agency_role", "").partition(":")
        raw = {"username": form.get("username", "").strip(),
               "display_name": form.get("display_name", "").strip(),
               "agency": agency[:32], "role": role[:32], "area": form.get("area") or None}
        data, errors = _user_input(raw)
        if not errors:
            try:
                created, password = operations.create_local_user(data, g.user)
            except operations.AdminError as exc:
                errors = {_USER_FIELDS.get(exc.field, "username"): exc.message}
            else:
                return render_template("admin/temporary_password.html", target=created,
                                       password=password, created=True)
    else:
        audit.record_now("admin:user:new")
    return render_template("admin/new_user.html", errors=errors, values=form,
                           agency_roles=_agency_roles(), areas=queries.areas()), \
        400 if errors else 200


# Schema fields as the form names them.
_USER_FIELDS = {"agency": "agency_role", "role": "agency_role", "username": "username",
                "display_name": "display_name", "area": "area"}


def _user_input(raw: dict) -> tuple[dict, dict]:
    from marshmallow import ValidationError

    try:
        return s.UserCreateIn().load(raw), {}
    except ValidationError as exc:
        messages = {
            "username": "Enter a username of 2 to 64 lower-case letters, digits, "
                        "full stops, hyphens or underscores",
            "display_name": "Enter the person's name, up to 120 characters",
            "agency": "Choose an agency and role", "role": "Choose an agency and role",
            "area": "Choose an area"}
        return {}, {_USER_FIELDS[k]: messages[k] for k in exc.messages if k in messages}


def _agency_roles() -> list[tuple[str, str, list[str]]]:
    """(agency code, agency name, the roles of its kind) for the form's grouped choice."""
    policy = current_policy()
    return [(a.code, a.name, sorted(policy.roles(a.kind))) for a in queries.agencies()
            if policy.is_known_kind(a.kind)]


@bp.post("/users/<int:user_id>/reset-sign-in")
def reset_sign_in(user_id: int):
    target = _user_or_404(user_id)
    try:
        password = operations.reset_sign_in(target, g.user)
    except operations.AdminError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".user", user_id=target.id)), 303
    return render_template("admin/temporary_password.html", target=target, password=password,
                           created=False)


@bp.get("/users/<int:user_id>")
def user(user_id: int):
    target = _user_or_404(user_id)
    return _page("admin/user.html", "admin:user:read", target=target,
                 roles=sorted(current_policy().roles(target.agency.kind)),
                 audit={"target_user_id": target.id})


@bp.post("/users/<int:user_id>/role")
def set_role(user_id: int):
    target = _user_or_404(user_id)
    try:
        operations.update_user(target, {"role": request.form.get("role", "")[:32]}, g.user)
    except operations.AdminError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".user", user_id=target.id)), 303
    flash(f"{target.username} is now {target.role.replace('_', ' ')}.")
    return redirect(url_for(".user", user_id=target.id)), 303


@bp.post("/users/<int:user_id>/deactivate")
def deactivate(user_id: int):
    target = _user_or_404(user_id)
    try:
        operations.deactivate_user(target, g.user)
    except operations.AdminError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".user", user_id=target.id)), 303
    flash(f"{target.username} is deactivated and signed out everywhere.")
    return redirect(url_for(".user", user_id=target.id)), 303


@bp.post("/users/<int:user_id>/reactivate")
def reactivate(user_id: int):
    target = _user_or_404(user_id)
    operations.reactivate_user(target, g.user)
    flash(f"{target.username} can sign in again.")
    return redirect(url_for(".user", user_id=target.id)), 303


@bp.get("/roles")
def roles():
    policy = current_policy()
    rows = [(code, policy.set.agencies[code]["name"], role, sorted(perms))
            for code in sorted(policy.set.agencies)
            for role, perms in sorted(policy.roles(code).items())]
    return _page("admin/roles.html", "admin:role:list", rows=rows)


@bp.get("/identity-providers")
def providers():
    return _page("admin/providers.html", "admin:idp:list", providers=queries.providers())


@bp.route("/identity-providers/new", methods=["GET", "POST"])
def new_provider():
    return _provider_form(None)


@bp.route("/identity-providers/<int:provider_id>", methods=["GET", "POST"])
def edit_provider(provider_id: int):
    provider = queries.provider(provider_id)
    if provider is None:
        abort(404)
    return _provider_form(provider)


def _provider_form(provider):
    errors, form = {}, request.form
    if request.method == "POST":
        data, errors = _provider_input(form, provider)
        if not errors:
            saved = operations_save(provider, data, errors)
            if saved is not None:
                flash(f"Identity provider {saved.slug} saved.")
                return redirect(url_for(".providers")), 303
    values = form if request.method == "POST" else _form_values(provider)
    if request.method == "GET":
        audit.record_now("admin:idp:read", details={"provider_id": provider.id if provider
                                                     else None})
    return render_template("admin/provider_form.html", provider=provider, values=values,
                           errors=errors, agencies=queries.agencies()), 400 if errors else 200


def operations_save(provider, data, errors):
    try:
        return operations.save_provider(provider, data, g.user)
    except operations.AdminError as exc:
        errors[exc.field or "slug"] = exc.message
        return None


def _provider_input(form, provider) -> tuple[dict, dict]:
    """Form fields in the shape the API takes, validated by the same schema."""
    from marshmallow import ValidationError

    raw = {k: form.get(k, "").strip() for k in ("slug", "name", "issuer", "client_id",
                                                 "client_secret", "agency", "role_claim")}
    raw["role_map"] = _pairs(form.get("role_map", ""))
    raw["acr_values"] = form.get("acr_values", "").split()
    raw["required_amr"] = form.get("required_amr", "").split()
    raw["active"] = form.get("active") == "yes"
    if provider is not None:
        raw.pop("slug")
        raw = {k: v for k, v in raw.items() if v != "" or k not in ("client_secret",)}
    schema = s.ProviderIn() if provider is None else s.ProviderUpdateIn(partial=True)
    try:
        data = schema.load(raw)
    except ValidationError as exc:
        return {}, {k: "; ".join(map(str, v)) if isinstance(v, list) else str(v)
                    for k, v in exc.messages.items()}
    return _resolve(data, provider)


def _resolve(data: dict, provider) -> tuple[dict, dict]:
    agency = queries.agency_by_code(data.get("agency", ""))
    if agency is None:
        return {}, {"agency": "Choose an agency"}
    data["agency"] = agency
    if queries.issuer_taken(data["issuer"], provider.id if provider else None):
        return {}, {"issuer": "Another provider already has this issuer"}
    if provider is None and queries.slug_taken(data["slug"]):
        return {}, {"slug": "This short name is in use"}
    return data, {}


def _pairs(text: str) -> dict:
    """``value = role`` lines into a mapping."""
    pairs = {}
    for line in text.splitlines()[:50]:
        value, sep, role = line.partition("=")
        if sep and value.strip() and role.strip():
            pairs[value.strip()[:64]] = role.strip()[:32]
    return pairs


def _form_values(provider) -> dict:
    if provider is None:
        return {"active": "yes"}
    return {"slug": provider.slug, "name": provider.name, "issuer": provider.issuer,
            "client_id": provider.client_id, "agency": provider.agency.code,
            "role_claim": provider.role_claim,
            "role_map": "\n".join(f"{k} = {v}" for k, v in provider.role_map.items()),
            "acr_values": " ".join(provider.acr_values),
            "required_amr": " ".join(provider.required_amr),
            "active": "yes" if provider.active else ""}


from hub.admin import agency_views  # noqa: E402,F401  -- its routes join bp
