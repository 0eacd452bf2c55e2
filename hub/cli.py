"""The `hub` command: a Flask CLI group for operators."""

from __future__ import annotations

import os
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup

from hub.config import ConfigError
from hub.policy import PolicyError, load_policy


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


@click.command("seed-demo")
def seed_demo():
    """Create the demo agencies, users and cases (idempotent)."""
    from hub.seed import seed_demo as run

    if not current_app.config["HUB_DEMO"]:
        raise click.ClickException("demo data is refused outside demo mode (HUB_DEMO)")
    created = run()
    click.echo("demo data: " + ", ".join(f"{n} {k} created" for k, n in created.items()))


@click.group()
def policy():
    """Validate and explain the access policy."""


def _load(policy_dir: str | None):
    from hub.config import SETTINGS

    default = next(s.default for s in SETTINGS if s.key == "HUB_POLICY_DIR")
    try:
        return load_policy(policy_dir or os.environ.get("HUB_POLICY_DIR") or default)
    except PolicyError as exc:
        raise click.ClickException(f"policy is invalid: {exc}") from None


@policy.command("check")
@click.option("--dir", "policy_dir", help="policy folder (default: HUB_POLICY_DIR)")
def policy_check(policy_dir):
    """Validate `policies/`; non-zero with a clear message when invalid."""
    loaded = _load(policy_dir)
    click.echo(f"policy OK: {len(loaded.set.base_rules)} base rules, "
               f"{len(loaded.set.area_rules)} areas, digest {loaded.digest}")


@policy.command("matrix")
@click.option("--dir", "policy_dir", help="policy folder (default: HUB_POLICY_DIR)")
@click.option("--area", help="only this area")
def policy_matrix(policy_dir, area):
    """Print the effective access matrix (agency/role x class x action) as Markdown."""
    loaded = _load(policy_dir)
    rows = loaded.matrix()
    for area_code in sorted({r["area"] for r in rows}):
        if area and area != area_code:
            continue
        click.echo(f"\n## {area_code}\n")
        click.echo("| agency/role | class | read | write | break-glass read |")
        click.echo("|---|---|---|---|---|")
        for r in rows:
            if r["area"] == area_code and (r["read"] != "-" or r["write"]):
                click.echo(f"| {r['agency']}/{r['role']} | {r['class']} | {r['read']} | "
                           f"{'W' if r['write'] else '-'} | {r['break_glass_read']} |")


cli.add_command(policy)  # needs no app: it must work when the policy stops the app loading
