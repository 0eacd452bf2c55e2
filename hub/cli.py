"""The `hub` command: a Flask CLI group for operators."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import FlaskGroup

from hub.admin.cli import agency as agency_commands
from hub.admin.cli import area as area_commands
from hub.auditlog.cli import audit as audit_commands
from hub.config import ConfigError
from hub.dpo.cli import dpo as dpo_commands
from hub.policy import PolicyError
from hub.policy.commands import policy as policy_commands


def _create_app():
    from hub import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def cli():
    """STAC Hub operator commands."""


def main() -> None:
    try:
        cli.main(prog_name="hub")
    except (ConfigError, PolicyError) as exc:
        click.echo(f"hub: cannot start: {exc}", err=True)
        sys.exit(2)


def register(app) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(dpo_commands)
    app.cli.add_command(audit_commands)
    app.cli.add_command(area_commands)
    app.cli.add_command(agency_commands)


@click.command("seed-demo")
def seed_demo():
    """Create the demo agencies, users and cases (idempotent)."""
    from hub.seed import seed_demo as run

    if not current_app.config["HUB_DEMO"]:
        raise click.ClickException("demo data is refused outside demo mode (HUB_DEMO)")
    created = run()
    click.echo("demo data: " + ", ".join(f"{n} {k} created" for k, n in created.items()))


cli.add_command(policy_commands)  # needs no app: it must work when the policy stops the app loading
