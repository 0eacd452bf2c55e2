"""The DPO's questions about the log, as filtered, stably ordered, correctly counted queries.

Every list has a total order ending in ``seq`` (unique), so pages never overlap or skip, and
every total is exactly the number of events the same filtered SELECT returns: counted
directly, or (for the broad filters that match millions of events) from stored counts of
sealed event ranges plus a direct count of the events after them (``count``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from sqlalchemy import BigInteger, Column, Integer, func, insert, literal, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from hub.auditlog.models import AuditEvent, AuditSubject
from hub.extensions import db
from hub.timeutil import UTCDateTime, utcnow

log = logging.getLogger(__name__)

EQUALITY_FILTERS = ("username", "user_id", "agency", "role", "action", "outcome", "case_id",
                    "purpose")
BREAK_GLASS = "break-glass"


def _equalities(columns, args: dict) -> list:
    """``column == value`` for each equality filter given (break-glass is a purpose)."""
    conditions = [columns[name] == args[name] for name in EQUALITY_FILTERS
                  if args.get(name) not in (None, "")]
    if args.get("break_glass"):
        conditions.append(columns["purpose"] == BREAK_GLASS)
    return conditions


def filtered(args: dict):
    """A SELECT of events matching every given filter (unordered)."""
    query = select(AuditEvent).where(*_equalities(AuditEvent.__table__.c, args))
    if args.get("person_id") is not None:
        query = query.where(AuditEvent.seq.in_(
            select(AuditSubject.seq).where(AuditSubject.person_id == args["person_id"])))
    if args.get("since") is not None:
        query = query.where(AuditEvent.at >= args["since"])
    if args.get("until") is not None:
        query = query.where(AuditEvent.at < args["until"])
    return query


def ordering(args: dict) -> tuple:
    """Newest first. With a date range, by time (then seq, to break ties) so PostgreSQL
    walks the (column, at) or (at) index inside the range instead of scanning back through
    every later event by seq; otherwise by seq, served by the (column, seq) indexes."""
    if args.get("since") is not None or args.get("until") is not None:
        return AuditEvent.at.desc(), AuditEvent.seq.desc()
    return (AuditEvent.seq.desc(),)


def count(args: dict) -> int:
    """The exact number of events matching ``args``, as ``count(*)`` of ``filtered`` gives.

    Filters only on the columns audit_counts keeps (agency, role, action, outcome, purpose,
    break-glass, or none at all) can match millions of events, so their total is the stored
    counts of every sealed batch plus a direct count of the events after the last batch.
    Any other filter (a user, a case, a person, a date range) is counted directly: its own
    index makes that cheap for one user, case or person, and stored counts cannot answer it.
    """
    if _active_filters(args) <= SUMMABLE_FILTERS:
        return _stored_plus_tail(args)
    return direct_count(args)


def direct_count(args: dict, after_seq: int = 0) -> int:
    """count(*) of the matching events (with seq above ``after_seq``, if given)."""
    query = filtered(args).with_only_columns(func.count(), maintain_column_froms=True)
    if after_seq:
        query = query.where(AuditEvent.seq > after_seq)
    return db.session.scalar(query) or 0


def page(args: dict, page_no: int, per_page: int) -> tuple[list[AuditEvent], int]:
    rows = db.session.scalars(filtered(args).order_by(*ordering(args))
                              .limit(per_page).offset((page_no - 1) * per_page)).all()
    return list(rows), count(args)


def iterate(args: dict, limit: int) -> Iterator[AuditEvent]:
    """Events for an export, newest first, at most ``limit``, fetched in batches."""
    query = filtered(args).order_by(*ordering(args)).limit(limit)
    yield from db.session.scalars(query.execution_options(yield_per=1000))


def history(args: dict) -> list[dict]:
    """Who saw what: one row per user, agency, role and purpose, with the classes seen.

    Counts only allowed accesses; denials are answered by the search (outcome=denied).
    """
    query = filtered({**args, "outcome": "allowed"}).with_only_columns(
        AuditEvent.username, AuditEvent.agency, AuditEvent.role, AuditEvent.purpose,
        AuditEvent.at, AuditEvent.classes).order_by(AuditEvent.seq)
    groups: dict[tuple, dict] = {}
    for username, agency, role, purpose, at, classes in db.session.execute(query):
        row = groups.setdefault((username, agency, role, purpose), {
            "username": username, "agency": agency, "role": role, "purpose": purpose,
            "first_at": at.isoformat(), "count": 0, "classes": set()})
        row["count"] += 1
        row["last_at"] = at.isoformat()
        row["classes"].update(classes or [])
    rows = [{**r, "classes": sorted(r["classes"])} for r in groups.values()]
    return sorted(rows, key=lambda r: (r["last_at"], r["username"] or ""), reverse=True)


KNOWN_ACTIONS_LIMIT = 500


def known_actions() -> list[str]:
    """Every action tag in the log, for the search's pick-list. A loose index scan: one
    probe of the (action, at) index per tag, never a read of millions of events."""
    return list(db.session.scalars(text(
        "WITH RECURSIVE tags(action, n) AS ("
        " SELECT min(action), 1 FROM audit_events"
        " UNION ALL"
        " SELECT (SELECT min(e.action) FROM audit_events e WHERE e.action > tags.action), n + 1"
        " FROM tags WHERE tags.action IS NOT NULL AND n < :most)"
        " SELECT action FROM tags WHERE action IS NOT NULL"), {"most": KNOWN_ACTIONS_LIMIT}))


def event_out(event: AuditEvent, reasons: dict[int, str] | None = None) -> dict:
    body = {"seq": event.seq, "at": event.at.isoformat(), "username": event.username,
            "agency": event.agency, "role": event.role, "action": event.action,
            "case_id": event.case_id, "classes": event.classes, "subject_ids": event.subject_ids,
            "outcome": event.outcome, "purpose": event.purpose, "rule": event.rule,
            "request_id": event.request_id, "client_addr": event.client_addr,
            "details": event.details}
    if event.grant_id is not None and reasons is not None:
        body["reason"] = reasons.get(event.grant_id)
    return body


def grant_reasons(events: list[AuditEvent]) -> dict[int, str]:
    from hub.cases.models import BreakGlassGrant

    ids = {e.grant_id for e in events if e.grant_id is not None}
    if not ids:
        return {}
    return dict(db.session.execute(
        select(BreakGlassGrant.id, BreakGlassGrant.reason).where(BreakGlassGrant.id.in_(ids))
    ).all())


# --- exact totals for broad filters: sealed count batches plus a counted tail -----------
#
# The log is append-only. Once no transaction can still add an event with a seq at or below
# some seq S ("S is sealed"), the events up to S never change, so counts over them can be
# stored once and summed for ever. refresh_counts stores, for each new range (from, upto]
# with upto sealed, the number of events per (agency, role, action, outcome, purpose); the
# search adds those to a count(*) of the events after the last range, which the
# (column, seq) indexes and the primary key make a short range scan. No insert ever waits:
# counts are written by a background job, in batches, as new rows (never a hot counter).

SUMMED_COLUMNS = ("agency", "role", "action", "outcome", "purpose")
SUMMABLE_FILTERS = frozenset(SUMMED_COLUMNS) | {"break_glass"}
COUNT_BATCH = 50_000  #: seqs to accrue before counting a new batch: bounds the direct tail
COUNT_CHUNK = 250_000  #: seqs counted per transaction (a catch-up holds no lock for long)
SEAL_WAIT_S = 2.0  #: how long to wait for in-flight inserts before trying again next time

Seq = BigInteger().with_variant(Integer(), "sqlite")
count_batches = db.Table(  # created by migration 0007, append-only
    "audit_count_batches",
    Column("from_seq", Seq, primary_key=True, autoincrement=False),
    Column("upto_seq", Seq, nullable=False, unique=True),
    Column("counted_at", UTCDateTime, nullable=False))
stored_counts = db.Table(  # created by migration 0007, append-only
    "audit_counts",
    Column("upto_seq", Seq, nullable=False),
    *(Column(name, AuditEvent.__table__.c[name].type) for name in SUMMED_COLUMNS),
    Column("n", Seq, nullable=False))


def _active_filters(args: dict) -> set[str]:
    """The names of the filters ``filtered`` applies for these arguments."""
    names = {name for name in EQUALITY_FILTERS if args.get(name) not in (None, "")}
    names |= {name for name in ("person_id", "since", "until") if args.get(name) is not None}
    if args.get("break_glass"):
        names.add("break_glass")
    return names


def _stored_plus_tail(args: dict) -> int:
    """Stored counts up to the last batch, read with that batch in one statement (one
    snapshot), plus count(*) of the matching events after it. A later statement sees the
    same events up to the last batch (they are sealed), so the sum is exact for it."""
    head = select(func.max(count_batches.c.upto_seq)).scalar_subquery()
    stored = select(func.coalesce(func.sum(stored_counts.c.n), 0)).where(
        *_equalities(stored_counts.c, args)).scalar_subquery()
    upto, counted = db.session.execute(select(head, stored)).one()
    if upto is None:  # nothing counted yet
        return direct_count(args)
    return int(counted) + direct_count(args, after_seq=upto)


def counted_upto() -> int:
    """The seq up to which events are counted in audit_counts (0: none yet)."""
    return db.session.scalar(select(func.max(count_batches.c.upto_seq))) or 0


def refresh_counts(min_events: int | None = None, upto: int | None = None,
                   wait_seconds: float = SEAL_WAIT_S) -> int:
    """Count the sealed events after the last batch, once ``min_events`` (default
    COUNT_BATCH) seqs have accrued.

    Returns how many seqs the new batches cover (0 if none was due, the newest events are
    not sealed within ``wait_seconds``, or another process counted them first). ``upto``
    caps the range (tests and the benchmark use it to leave a tail). Commits: each chunk of
    COUNT_CHUNK seqs is its own transaction.
    """
    min_events = COUNT_BATCH if min_events is None else min_events
    session = db.session
    start = counted_upto()
    newest = session.scalar(select(func.max(AuditEvent.seq))) or 0
    session.commit()  # end the read: on SQLite a stale read snapshot would block writing
    if newest - start < min_events:
        return 0
    sealed = _sealed_seq(wait_seconds)
    session.commit()
    if sealed is None:
        return 0
    target = sealed if upto is None else min(sealed, upto)
    covered = 0
    while start < target:
        end = min(start + COUNT_CHUNK, target)
        try:
            if counted_upto() != start:  # another process got here first
                session.rollback()
                return covered
            _count_range(start, end)
            session.commit()
        except IntegrityError:  # it inserted the same batch concurrently
            session.rollback()
            return covered
        covered, start = covered + end - start, end
    return covered


def refresh_counts_after_batch() -> None:
    """The audit sequencer's hook: keep the stored counts current. A failure here is
    logged, never raised: the sequencer's own batch is already committed, and the search
    stays exact without new batches (it only counts a longer tail)."""
    try:
        refresh_counts()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("audit search counts not refreshed")


def _count_range(start: int, end: int) -> None:
    """Insert the batch (start, end] and its counts per combination, in this transaction."""
    db.session.execute(insert(count_batches).values(
        from_seq=start, upto_seq=end, counted_at=utcnow()))
    columns = [AuditEvent.__table__.c[name] for name in SUMMED_COLUMNS]
    per_combination = select(literal(end, Seq), *columns, func.count()).where(
        AuditEvent.seq > start, AuditEvent.seq <= end).group_by(*columns)
    db.session.execute(insert(stored_counts).from_select(
        ["upto_seq", *SUMMED_COLUMNS, "n"], per_combination))


def _sealed_seq(wait_seconds: float) -> int | None:
    """The newest seq at or below which no event can still appear; None if not known in time.

    SQLite has one writer at a time, and a new row's seq is above every committed one, so
    the newest committed seq is sealed already. On PostgreSQL, seqs come from a sequence,
    so a transaction can take seq 10 and commit after another has committed 11. But
    nextval runs inside an INSERT that holds RowExclusiveLock on audit_events until its
    transaction ends, and later nextvals return larger seqs. So: read the newest committed
    seq, then list the transactions holding that lock, and wait until all of them have
    ended (committed or rolled back). The counting statements run after that, each with a
    fresh snapshot (READ COMMITTED), so they see every event that will ever exist up to it.
    """
    session = db.session
    newest = session.scalar(select(func.max(AuditEvent.seq))) or 0
    if session.get_bind().dialect.name != "postgresql":
        return newest
    isolation = session.scalar(text("SHOW transaction_isolation"))
    if isolation != "read committed":  # a snapshot older than the wait would miss events
        raise RuntimeError(f"refresh_counts needs READ COMMITTED, not {isolation}")
    waiting = _inserting_transactions()
    deadline = time.monotonic() + wait_seconds
    while waiting:
        if time.monotonic() > deadline:
            log.info("audit counts: %d inserts still in flight; trying later", len(waiting))
            return None
        time.sleep(0.02)
        waiting &= _inserting_transactions()
    return newest


def _inserting_transactions() -> set[str]:
    """Other transactions (by virtual id) that hold RowExclusiveLock on audit_events.
    Prepared transactions have no pid, hence IS DISTINCT FROM."""
    return set(db.session.scalars(text(
        "SELECT virtualtransaction FROM pg_locks WHERE locktype = 'relation' "
        "AND relation = 'audit_events'::regclass AND mode = 'RowExclusiveLock' "
        "AND pid IS DISTINCT FROM pg_backend_pid()")))
