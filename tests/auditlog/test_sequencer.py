"""The sequencer: every committed event gets exactly one leaf, whatever the concurrency,
and the signed tree verifies afterwards."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
from sqlalchemy import func, insert, select

from hub.accounts import operations
from hub.accounts.models import User
from hub.auditlog import sequencer
from hub.auditlog.models import AuditEvent
from hub.auditlog.tree import AuditCheckpoint, AuditLeaf
from hub.extensions import db
from tests.auditlog.conftest import HUB, backends, hub, leaf_seqs, record_events
from tests.support.apps import BACKENDS, child_env, demo_case_ids


def event_seqs(app) -> list[int]:
    with app.app_context():
        seqs = list(db.session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
        db.session.remove()
    return seqs


def token_for(app, username: str) -> dict[str, str]:
    with app.test_request_context():
        user = db.session.scalar(select(User).where(User.username == username))
        token, _ttl = operations.issue_token(user)
        db.session.remove()
    return {"Authorization": f"Bearer {token}"}


@backends
def test_batches_and_reruns_integrate_each_event_once(fresh, backend):
    app = fresh(backend)
    record_events(app, 25)
    with app.app_context():
        first = sequencer.run_once(batch_size=7)
        again = sequencer.run_once(batch_size=7)
        sizes = list(db.session.scalars(select(AuditCheckpoint.tree_size)))
        db.session.remove()
    assert first.integrated == first.tree_size == len(event_seqs(app))
    assert first.checkpoint == first.tree_size  # signed by its last batch, and said so
    assert (again.integrated, again.checkpoint) == (0, None)
    assert sizes == [first.tree_size]  # one checkpoint per run, not per batch
    assert leaf_seqs(app) == event_seqs(app)


@pytest.mark.skipif("postgres" not in BACKENDS, reason="HUB_TEST_BACKENDS leaves it out")
@pytest.mark.postgres
def test_an_event_that_commits_late_is_integrated_later_not_skipped(fresh):
    app = fresh("postgres")
    with app.app_context():
        late = db.engine.connect()  # a slow request: its seq is taken, its commit waits
        late.execute(insert(AuditEvent).values(
            at=func.now(), action="case:read", outcome="allowed", subject_ids=[],
            classes=[], details={}))
        record_events(app, 3)  # later seqs, committed first
        first = sequencer.run_once()
        late.commit()
        late.close()
        second = sequencer.run_once()
        db.session.remove()
    assert second.integrated == 1
    assert sorted(leaf_seqs(app)) == event_seqs(app)
    assert leaf_seqs(app)[-1] < max(leaf_seqs(app)[:first.tree_size])  # out of seq order
    assert hub(app, "audit", "verify").returncode == 0


@backends
def test_concurrent_case_views_while_sequencers_run(fresh, backend):
    app = fresh(backend)
    with app.app_context():
        case_id = next(iter(demo_case_ids(db.session).values()))
        db.session.remove()
    headers = [token_for(app, u) for u in ("nhs.clinician", "police.officer", "advocate")]
    statuses: list[int] = []
    stop = threading.Event()

    def viewer(header):
        client = app.test_client()
        for _ in range(15):
            statuses.append(client.get(f"/api/v1/cases/{case_id}", headers=header).status_code)

    def sequencing():
        while not stop.is_set():
            with app.app_context():
                sequencer.run_once(batch_size=5)
                db.session.remove()

    viewers = [threading.Thread(target=viewer, args=(h,)) for h in headers]
    seq_thread = threading.Thread(target=sequencing)
    others = [subprocess.Popen([str(HUB), "audit", "checkpoint"], env=_env(app),  # noqa: S603
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
              for _ in range(2)]
    for thread in [*viewers, seq_thread]:
        thread.start()
    for thread in viewers:
        thread.join()
    stop.set()
    seq_thread.join()
    outputs = [p.communicate(timeout=120) for p in others]
    assert [p.returncode for p in others] == [0, 0], outputs
    _check_statuses(backend, statuses)
    with app.app_context():
        sequencer.run_once()
        db.session.remove()
    leaves = leaf_seqs(app)
    assert sorted(leaves) == event_seqs(app)  # every event, exactly once (seq is UNIQUE)
    assert hub(app, "audit", "verify").returncode == 0


def _check_statuses(backend: str, statuses: list[int]) -> None:
    """On PostgreSQL every view succeeds. SQLite has one writer at a time and a request
    that read before another commit cannot then write (SQLITE_BUSY_SNAPSHOT): the audit
    insert fails and the hub answers 503 without the case, which is fail-closed."""
    assert len(statuses) == 45
    if backend == "postgres":
        assert set(statuses) == {200}
    else:
        assert set(statuses) <= {200, 503} and statuses.count(200) > 0


def _env(app) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "DATABASE_"))}
    return child_env({**env, "HUB_ENV": "test",
                      "HUB_INSTANCE_DIR": app.config["HUB_INSTANCE_DIR"],
                      "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]})


def test_the_hub_runs_the_sequencer_on_a_schedule(fresh):
    app = fresh("sqlite", HUB_SEQUENCER_INTERVAL=0.2)
    record_events(app, 3)
    app.test_client().get("/api/v1/openapi.json")  # the first request starts the thread
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(leaf_seqs(app)) < len(event_seqs(app)):
        time.sleep(0.1)
    assert leaf_seqs(app) == event_seqs(app)
    sequencer.stop(app)
    assert "audit-sequencer" not in [thread.name for thread in threading.enumerate()]


def test_interval_defaults_off_in_test_and_on_in_development(tmp_path):
    from hub import config

    assert config.load({"HUB_ENV": "test", "HUB_INSTANCE_DIR": str(tmp_path)})[
        "HUB_SEQUENCER_INTERVAL"] == 0
    assert config.load({"HUB_ENV": "development", "HUB_INSTANCE_DIR": str(tmp_path)})[
        "HUB_SEQUENCER_INTERVAL"] == 5


@backends
def test_checkpoint_command_writes_a_witness_copy(fresh, backend, tmp_path):
    app = fresh(backend)
    result = hub(app, "audit", "checkpoint", "--witness", str(tmp_path / "w"), script=True)
    assert result.returncode == 0, result.stderr
    size = len(leaf_seqs(app))
    copy = tmp_path / "w" / f"checkpoint-{size:020d}"
    with app.app_context():
        note = db.session.scalar(select(AuditCheckpoint.note))
        assert db.session.scalar(select(func.count()).select_from(AuditLeaf)) == size
        db.session.remove()
    assert copy.read_text() == note
