"""`hub policy ...`: validate, print, test and explain the access policy.

None of these needs the app: they must work when a broken policy stops the hub loading,
which is exactly when an operator needs them.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from hub.policy.engine import Policy, Principal
from hub.policy.loader import PolicyError
from hub.policy.permissions import ClassAction, Relationship

DIR_HELP = "policy folder (default: HUB_POLICY_DIR, else ./policies of the hub)"


@click.group("policy")
def policy():
    """Validate, print, test and explain the access policy."""


def policy_dir(option: str | None) -> Path:
    from hub.config import SETTINGS

    default = next(s.default for s in SETTINGS if s.key == "HUB_POLICY_DIR")
    return Path(option or os.environ.get("HUB_POLICY_DIR") or default)


def _load(option: str | None) -> Policy:
    from hub.policy import load_policy

    try:
        return load_policy(policy_dir(option))
    except PolicyError as exc:
        raise click.ClickException(f"policy is invalid: {exc}") from None


@policy.command("check")
@click.option("--dir", "option", help=DIR_HELP)
def check(option):
    """Validate `policies/`; non-zero with a clear message when invalid."""
    loaded = _load(option)
    rules = len(loaded.set.base_rules) + sum(len(r) for r in loaded.set.area_rules.values())
    click.echo(f"policy OK: {len(loaded.set.base_rules)} base rules, "
               f"{len(loaded.set.area_rules)} areas, {rules} rules in all, "
               f"digest {loaded.digest}")


@policy.command("matrix")
@click.option("--dir", "option", help=DIR_HELP)
@click.option("--area", help="only this area")
def matrix(option, area):
    """Print the effective access matrix (agency/role x class x action) as Markdown."""
    rows = _load(option).matrix()
    for area_code in sorted({r["area"] for r in rows}):
        if area and area != area_code:
            continue
        click.echo(f"\n## {area_code}\n")
        click.echo("| agency/role | class | read | write | break-glass read |")
        click.echo("|---|---|---|---|---|")
        for r in rows:
            if r["area"] == area_code and (r["read"] != "-" or r["write"]):
                click.echo(f"| {r['agency']}/{r['role']} | {r['class']} | {r['read']} | "
                           f"{r['write_cell']} | {r['break_glass_read']} |")


@policy.command("test")
@click.option("--dir", "option", help=DIR_HELP)
@click.option("--suites", "suites_dir", help="test suites folder (default: <policy>/tests)")
def test(option, suites_dir):
    """Run the policy test suites; non-zero when any test fails."""
    from hub.policy.suites import load_suites, run

    loaded = _load(option)
    try:
        suites = load_suites(suites_dir or policy_dir(option) / "tests")
    except PolicyError as exc:
        raise click.ClickException(f"policy tests are invalid: {exc}") from None
    report = run(loaded, suites)
    for failure in report.failures:
        click.echo(f"FAIL {failure}", err=True)
    if not report.ok:
        raise click.ClickException(f"{len(report.failures)} of {report.tests} policy tests "
                                   "failed")
    click.echo(f"{report.tests} policy tests passed in {len(suites)} suites "
               f"(digest {loaded.digest})")


@policy.command("explain")
@click.option("--dir", "option", help=DIR_HELP)
@click.option("--agency", required=True)
@click.option("--role", required=True)
@click.option("--area", default="london", show_default=True)
@click.option("--status", default="active", show_default=True)
@click.option("--relationship", type=click.Choice(["member", "break_glass", "none"]),
              default="member", show_default=True)
def explain(option, agency, role, area, status, relationship):
    """Show, for every class, whether it may be read and written, and the deciding rule."""
    loaded = _load(option)
    if not loaded.is_known_role(agency, role):
        raise click.ClickException(f"no role {role!r} in agency {agency!r} in the policy")
    rel = None if relationship == "none" else Relationship(relationship)
    decision = loaded.case_decision(Principal(0, "explain", agency, role), area, rel, status)
    for name in loaded.classes:
        for action in ClassAction:
            why = decision.explain(name, action)
            click.echo(f"{name:24} {action.value:6} {why.effect:6} {why.rule:45} {why}")
