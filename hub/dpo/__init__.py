"""The DPO's console: alerts and anomaly rules, exports, subject rights, retention, dashboard.

DPOs see the audit log and record metadata, never case content; the one exception is the
subject access bundle, whose purpose is to hand a person their own data.
"""


def connect() -> None:
    """Subscribe the console to what it watches: the log and break-glass grants."""
    from hub import signals

    signals.batch_integrated.connect(_refresh_counts)
    signals.break_glass_granted.connect(_alert_break_glass)


def _refresh_counts(_sender, **_kwargs) -> None:
    from hub.dpo import queries

    queries.refresh_counts_after_batch()


def _alert_break_glass(grant, *, event) -> None:
    from hub.dpo import alerts

    alerts.on_break_glass(grant, event)
