"""`hub area ...` and `hub agency ...`: areas and agencies from the command line.

The same schemas and operations as the pages and the API, so the same checks and the same
audit events; the events name no user and say "hub-cli", as every command's do.
"""

from __future__ import annotations

import click
from marshmallow import Schema, ValidationError


def _checked(schema: Schema, data: dict) -> dict:
    """``data`` through ``schema``; bad input stops the command naming the field."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        field, problems = next(iter(exc.messages.items()))
        raise click.ClickException(f"{field}: {_first(problems)}") from None


def _first(problems) -> str:
    return str(problems[0] if isinstance(problems, list) and problems else problems)


def _run(operation, *args):
    """Run an admin operation; a refusal stops the command naming the field."""
    from hub.admin.operations import AdminError

    try:
        return operation(*args, None)
    except AdminError as exc:
        raise click.ClickException(f"{exc.field or 'body'}: {exc.message}") from None


def _found(finder, code: str, what: str):
    found = finder(code)
    if found is None:
        raise click.ClickException(f"code: no {what} has the code {code!r}")
    return found


# -- areas ---------------------------------------------------------------------------------
@click.group("area")
def area():
    """Areas: each a STAC, with its own file in policies/areas/."""


@area.command("create")
@click.argument("code")
@click.argument("name")
def create_area(code: str, name: str):
    """Add an area. Its cases are open to nobody until policies/areas/CODE.yaml exists."""
    from hub.admin import operations, schemas

    made = _run(operations.create_area, _checked(schemas.AreaIn(), {"code": code,
                                                                     "name": name}))
    click.echo(f"area {made.code} created")


@area.command("edit")
@click.argument("code")
@click.option("--name", help="its new name")
def edit_area(code: str, name: str | None):
    """Rename an area (its code never changes)."""
    from hub.admin import operations, queries, schemas

    found = _found(queries.area_by_code, code, "area")
    changes = _checked(schemas.AreaUpdateIn(), {"name": name} if name is not None else {})
    if not changes:
        raise click.ClickException("body: say what to change (--name)")
    _run(operations.update_area, found, changes)
    click.echo(f"area {found.code} changed")


@area.command("list")
def list_areas():
    """Every area: code, whether the policy has its file, name."""
    from hub.admin import queries
    from hub.policy import current_policy

    rules = current_policy().set.area_rules
    for row in queries.areas():
        policy = f"areas/{row.code}.yaml" if row.code in rules else "no area policy"
        click.echo(f"{row.code:<24} {policy:<24} {row.name}")


# -- agencies ------------------------------------------------------------------------------
@click.group("agency")
def agency():
    """Agencies: each of a kind in policies/roles.yaml, which decides what its staff see."""


@agency.command("create")
@click.argument("code")
@click.argument("name")
@click.option("--kind", required=True, help="a kind of agency in policies/roles.yaml")
@click.option("--area", "area_code", help="the one area it serves (default: every area)")
def create_agency(code: str, name: str, kind: str, area_code: str | None):
    """Add an agency; its staff get what the policy gives its kind from now on."""
    from hub.admin import operations, schemas

    data = _checked(schemas.AgencyIn(), {"code": code, "name": name, "kind": kind,
                                         "area": area_code})
    made = _run(operations.create_agency, data)
    click.echo(f"agency {made.code} created, of kind {made.kind}")


@agency.command("edit")
@click.argument("code")
@click.option("--name", help="its new name")
@click.option("--kind", help="its kind, while it has no staff and is on no team")
@click.option("--area", "area_code", help="the one area it serves from now on")
@click.option("--every-area", is_flag=True, help="serve every area from now on")
def edit_agency(code: str, name: str | None, kind: str | None, area_code: str | None,
                every_area: bool):
    """Change an agency's name, kind or area (its code never changes)."""
    from hub.admin import operations, queries, schemas

    if area_code is not None and every_area:
        raise click.ClickException("area: give --area or --every-area, not both")
    found = _found(queries.agency_by_code, code, "agency")
    raw = {k: v for k, v in (("name", name), ("kind", kind), ("area", area_code))
           if v is not None}
    changes = _checked(schemas.AgencyUpdateIn(), {**raw, **({"area": None} if every_area
                                                            else {})})
    if not changes:
        raise click.ClickException("body: say what to change (--name, --kind, --area or "
                                   "--every-area)")
    _run(operations.update_agency, found, changes)
    click.echo(f"agency {found.code} changed")


@agency.command("list")
def list_agencies():
    """Every agency: code, kind, area, status, name."""
    from hub.admin import queries

    for row in queries.agencies():
        where = row.area.code if row.area else "every area"
        status = "active" if row.active else "suspended"
        click.echo(f"{row.code:<24} {row.kind:<12} {where:<16} {status:<10} {row.name}")
