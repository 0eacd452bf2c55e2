"""`hub dpo ...`: the DPO's operator commands."""

from __future__ import annotations

from datetime import timedelta

import click


@click.group("dpo")
def dpo():
    """Data protection officer's tools."""


@dpo.command("scan")
@click.option("--hours", type=click.IntRange(1, 24 * 366), default=24, show_default=True,
              help="look back this many hours")
def scan(hours: int):
    """Evaluate the anomaly rules over recent audit events and raise alerts."""
    from hub.dpo import rules  # late: needs the models, which need the app's extensions
    from hub.extensions import db
    from hub.timeutil import utcnow

    try:
        loaded = rules.load()
    except rules.RuleError as exc:
        raise click.ClickException(f"anomaly rules are invalid: {exc}") from None
    until = utcnow()
    raised = rules.scan(until - timedelta(hours=hours), until, loaded)
    db.session.commit()
    click.echo(f"scanned {hours}h with {len(loaded)} rules: {len(raised)} new alerts")
    for alert in raised:
        click.echo(f"  #{alert.id} [{alert.severity}] {alert.rule}: {alert.title}")
