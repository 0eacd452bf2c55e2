"""Anomaly rules over the audit stream, configured as data (hub/dpo/rules.yaml).

``scan`` reads the events of a time window once and hands them to each rule; every finding
has a stable key, so scanning the same window twice raises nothing new.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select

from hub.auditlog.models import AuditEvent
from hub.cases.models import Membership
from hub.dpo.alerts import Finding, raise_alert
from hub.extensions import db

RULES_FILE = Path(__file__).with_name("rules.yaml")
SEVERITIES = ("low", "medium", "high")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CASE_OPEN = "case:read"


class RuleError(Exception):
    """The rules file is invalid; the message names the rule and setting."""


def load(path: Path = RULES_FILE) -> list[dict]:
    try:
        rules = (yaml.safe_load(path.read_text()) or {}).get("rules") or []
    except (OSError, yaml.YAMLError) as exc:
        raise RuleError(f"cannot read {path.name}: {exc}") from None
    seen = set()
    for rule in rules:
        _check(rule, seen)
    return rules


def _check(rule: dict, seen: set) -> None:
    name = rule.get("id") if isinstance(rule, dict) else None
    if not name or name in seen:
        raise RuleError(f"every rule needs a unique id (got {name!r})")
    seen.add(name)
    if rule.get("kind") not in KINDS:
        raise RuleError(f"rule {name}: kind must be one of {', '.join(sorted(KINDS))}")
    if rule.get("severity") not in SEVERITIES:
        raise RuleError(f"rule {name}: severity must be one of {', '.join(SEVERITIES)}")
    if rule["kind"] == "out_of_hours":
        try:
            ZoneInfo(rule.get("timezone", "Europe/London"))
            time.fromisoformat(str(rule["start"])), time.fromisoformat(str(rule["end"]))
        except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise RuleError(f"rule {name}: timezone, start and end: {exc}") from None
        if set(rule.get("weekdays", [])) - set(DAYS):
            raise RuleError(f"rule {name}: weekdays must be among {', '.join(DAYS)}")


def scan(since: datetime, until: datetime, rules: list[dict] | None = None) -> list:
    """Evaluate every rule over events in [since, until); returns the new alerts."""
    rules = load() if rules is None else rules
    events = db.session.execute(
        select(AuditEvent.seq, AuditEvent.at, AuditEvent.user_id, AuditEvent.action,
               AuditEvent.outcome, AuditEvent.case_id, AuditEvent.purpose)
        .where(AuditEvent.at >= since, AuditEvent.at < until, AuditEvent.user_id.is_not(None))
        .order_by(AuditEvent.seq)).all()
    raised = []
    for rule in rules:
        for finding in KINDS[rule["kind"]](rule, events, until):
            alert = raise_alert(finding)
            if alert is not None:
                raised.append(alert)
    return raised


def _finding(rule: dict, key: str, title: str, seqs, user_id, case_id=None) -> Finding:
    return Finding(rule=rule["id"], key=f"{rule['id']}:{key}", severity=rule["severity"],
                   title=title, seqs=list(seqs), user_id=user_id, case_id=case_id)


def out_of_hours(rule: dict, events, _until):
    """Accesses outside working hours, weekends and bank holidays: one alert a user a day."""
    zone = ZoneInfo(rule.get("timezone", "Europe/London"))
    start, end = time.fromisoformat(rule["start"]), time.fromisoformat(rule["end"])
    workdays = {DAYS.index(d) for d in rule.get("weekdays", DAYS[:5])}
    holidays = {date.fromisoformat(str(d)) for d in rule.get("bank_holidays", [])}
    actions = set(rule.get("actions", [CASE_OPEN]))
    found = defaultdict(list)
    for e in events:
        local = e.at.astimezone(zone)
        working = local.weekday() in workdays and local.date() not in holidays \
            and start <= local.time() < end
        if e.action in actions and e.outcome == "allowed" and not working:
            found[(e.user_id, local.date())].append(e.seq)
    for (user_id, day), seqs in found.items():
        yield _finding(rule, f"{user_id}:{day}", f"{len(seqs)} accesses out of working hours "
                       f"on {day} by user {user_id}", seqs, user_id)


def case_volume(rule: dict, events, until: datetime):
    """A user opening far more distinct cases than their own baseline."""
    window = timedelta(hours=rule.get("window_hours", 24))
    start = until - window
    opened = defaultdict(dict)
    for e in events:
        if e.action == CASE_OPEN and e.outcome == "allowed" and e.at >= start:
            opened[e.user_id].setdefault(e.case_id, e.seq)
    for user_id, cases in opened.items():
        baseline = _baseline(user_id, start, rule.get("baseline_days", 28), window)
        if len(cases) >= rule.get("minimum", 10) and \
                len(cases) > rule.get("factor", 3) * max(baseline, 1.0):
            yield _finding(rule, f"{user_id}:{start:%Y-%m-%dT%H}", f"User {user_id} opened "
                           f"{len(cases)} cases (baseline {baseline:.1f})",
                           cases.values(), user_id)


def _baseline(user_id: int, start: datetime, days: int, window: timedelta) -> float:
    """Mean distinct cases a window over the ``days`` before ``start``."""
    rows = db.session.execute(
        select(AuditEvent.at, AuditEvent.case_id).where(
            AuditEvent.user_id == user_id, AuditEvent.action == CASE_OPEN,
            AuditEvent.outcome == "allowed", AuditEvent.at >= start - timedelta(days=days),
            AuditEvent.at < start)).all()
    buckets = {(int((start - at) / window), case) for at, case in rows}
    return len(buckets) / max(1, timedelta(days=days) / window)


def denials(rule: dict, events, _until):
    """Repeated denials by one user within a fixed window."""
    width = timedelta(minutes=rule.get("window_minutes", 60))
    found = defaultdict(list)
    for e in events:
        if e.outcome == "denied":
            bucket = int(e.at.timestamp() // width.total_seconds())
            found[(e.user_id, bucket)].append(e.seq)
    for (user_id, bucket), seqs in found.items():
        if len(seqs) >= rule.get("threshold", 5):
            yield _finding(rule, f"{user_id}:{bucket}",
                           f"User {user_id} was refused {len(seqs)} times", seqs, user_id)


def after_removal(rule: dict, events, _until):
    """Attempts on a case after the user left its team (and was not re-added)."""
    case_events = [e for e in events if e.case_id is not None and e.action.startswith("case:")]
    removed = _removals({(e.user_id, e.case_id) for e in case_events})
    for e in case_events:
        left = removed.get((e.user_id, e.case_id))
        if left is not None and e.at > left:
            yield _finding(rule, str(e.seq), f"User {e.user_id} accessed case {e.case_id} "
                           "after leaving its team", [e.seq], e.user_id, e.case_id)


def _removals(pairs: set) -> dict:
    """(user, case) -> when the user left, for users no longer on the team."""
    if not pairs:
        return {}
    rows = db.session.execute(select(Membership.user_id, Membership.case_id,
                                     Membership.removed_at)
                              .where(Membership.user_id.in_({u for u, _ in pairs}),
                                     Membership.case_id.in_({c for _, c in pairs}))).all()
    out, active = {}, set()
    for user_id, case_id, removed_at in rows:
        if removed_at is None:
            active.add((user_id, case_id))
        else:
            out[(user_id, case_id)] = max(out.get((user_id, case_id), removed_at), removed_at)
    return {k: v for k, v in out.items() if k not in active}


def search_then_open(rule: dict, events, _until):
    """A search followed by opening a case the user is not on (refused or break-glass)."""
    width = timedelta(minutes=rule.get("window_minutes", 30))
    last_search: dict[int, tuple] = {}
    for e in events:
        if e.action == "case:search":
            last_search[e.user_id] = (e.at, e.seq)
            continue
        searched = last_search.get(e.user_id)
        off_team = e.outcome == "denied" or e.purpose == "break-glass"
        if searched and e.action in (CASE_OPEN, "case:break-glass") and off_team \
                and e.at - searched[0] <= width:
            yield _finding(rule, str(e.seq), f"User {e.user_id} searched, then opened case "
                           f"{e.case_id} they are not on", [searched[1], e.seq],
                           e.user_id, e.case_id)


KINDS = {"out_of_hours": out_of_hours, "case_volume": case_volume, "denials": denials,
         "after_removal": after_removal, "search_then_open": search_then_open}
