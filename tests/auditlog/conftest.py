"""Fixtures for the audit tree: hubs on their own databases, the `hub` command, and
a database administrator who can switch the append-only triggers off."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select
from sqlalchemy.engine import make_url

from hub import create_app
from hub.auditlog import sequencer
from hub.extensions import db
from tests.support.apps import (
    BACKENDS,
    apply_grants,
    build_app,
    child_env,
    hub_in_process,
    postgres_database,
    under_mutation,
)

HUB = Path(sys.executable).with_name("hub")
AUDIT_TABLES = ("audit_events", "audit_subjects", "audit_leaves", "audit_nodes",
                "audit_checkpoints")
backends = pytest.mark.parametrize("backend", [
    pytest.param(b, marks=[pytest.mark.postgres] if b == "postgres" else []) for b in BACKENDS])


@pytest.fixture(scope="session")
def seeded() -> dict:
    """backend -> a migrated, seeded hub that no test touches: what `fresh` copies."""
    templates = {}
    yield templates
    for app in templates.values():
        _dispose(app)


@pytest.fixture
def fresh(seeded, tmp_path, tmp_path_factory, request):
    """``fresh(backend)``: a newly migrated, seeded hub on its own database (a copy of one
    built once per test process: migrating and seeding cost seconds, copying does not)."""
    def make(backend: str, **overrides):
        from hub.seed import seed_demo

        if backend not in seeded:
            instance = tmp_path_factory.mktemp(f"seeded-{backend}")
            seeded[backend] = build_app(backend, instance, request)
            with seeded[backend].app_context():
                seed_demo()
        # The folder names the PostgreSQL database: unique, so no test sees another's log.
        instance = tmp_path / f"hub-{backend}-{uuid.uuid4().hex[:10]}"
        return clone_app(seeded[backend], instance, request, **overrides)
    return make


def _dispose(app) -> None:
    # A scheduled sequencer left running would go on using `db.session`, which the next
    # test's session fixture points at its own transaction.
    sequencer.stop(app)
    with app.app_context():
        db.engine.dispose()


def clone_app(app, instance: Path, request, **overrides):
    """A copy of ``app``'s hub (instance folder, keys and database) that a test may wreck.

    Building a log costs migrations, seeding and several runs of `hub`; copying one costs
    a file copy (SQLite) or CREATE DATABASE ... TEMPLATE (PostgreSQL). ``app`` must hold
    no open connections.
    """
    _dispose(app)
    shutil.copytree(app.config["HUB_INSTANCE_DIR"], instance)
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        url = url.set(database=str(instance / Path(url.database).name))
    else:
        pg = request.getfixturevalue("pg_server")
        name = f"hub_{instance.name.replace('-', '_')}"
        for statement in (f'CREATE DATABASE "{name}" TEMPLATE "{url.database}" OWNER hub_owner',
                          f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC',
                          f'GRANT CONNECT ON DATABASE "{name}" TO hub_owner, hub_app'):
            pg.execute(statement)
        url = url.set(database=name)
    settings = {key: app.config[key] for key in ("HUB_ENV", "RATELIMIT_ENABLED",
                                                  "WTF_CSRF_ENABLED", "TESTING")}
    copy = create_app({**settings, **overrides, "HUB_INSTANCE_DIR": str(instance),
                       "SQLALCHEMY_DATABASE_URI": url.render_as_string(hide_password=False)})
    copy.config["BACKEND"] = app.config.get("BACKEND")
    request.addfinalizer(lambda: _dispose(copy))
    return copy


def build_on_server(pg, instance: Path, **overrides):
    """Like tests.support.apps.build_app, on a PostgreSQL server the test owns."""
    from hub.seed import seed_demo

    name = f"hub_{instance.name.replace('-', '_')}"
    owner_url, app_url = postgres_database(pg, name)
    base = {"HUB_ENV": "test", "HUB_INSTANCE_DIR": str(instance), "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": False, "TESTING": True, **overrides}
    with create_app({**base, "SQLALCHEMY_DATABASE_URI": owner_url}).app_context():
        upgrade()
        db.engine.dispose()
    apply_grants(pg, owner_url)
    app = create_app({**base, "SQLALCHEMY_DATABASE_URI": app_url})
    with app.app_context():
        seed_demo()
    return app


def hub(app, *args: str, script: bool = False,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the `hub` command against ``app``'s database, as click runs it, in this process;
    with ``script=True`` as the installed console script in a child process, which is what
    an operator types (and costs seconds to start, so tests use it where the entry point
    itself is under test). Under mutation testing always in process, where mutmut sees it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "DATABASE_"))}
    env.update(HUB_ENV="test", HUB_INSTANCE_DIR=app.config["HUB_INSTANCE_DIR"],
               DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"])
    if not script or under_mutation():
        return hub_in_process(env, args)
    return subprocess.run([str(HUB), *args], env=child_env(env), capture_output=True,  # noqa: S603
                          text=True, timeout=timeout, check=False)


def record_events(app, n: int, **kwargs) -> None:
    from hub.auditlog import writer

    with app.app_context():
        for i in range(n):
            writer.record_now("case:read", case_id=1 + i % 3, classes=["case.core"],
                              details={"n": i}, **kwargs)
        db.session.remove()


def leaf_seqs(app) -> list[int]:
    from hub.auditlog.tree import AuditLeaf

    with app.app_context():
        seqs = list(db.session.scalars(select(AuditLeaf.seq).order_by(AuditLeaf.leaf_index)))
        db.session.remove()
    return seqs


class Dba:
    """Someone with full control of the database: triggers off, then any statement."""

    def __init__(self, app, request) -> None:
        self.url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        self.postgres = self.url.get_backend_name() == "postgresql"
        self.pg = request.getfixturevalue("pg_server") if self.postgres else None

    def execute(self, *statements: tuple[str, tuple]) -> None:
        if self.postgres:
            with self.pg.connect(self.url.database) as conn, conn.cursor() as cur:
                for table in AUDIT_TABLES:
                    cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
                for sql, params in statements:
                    cur.execute(sql.replace("?", "%s"), params)
            return
        conn = sqlite3.connect(self.url.database)
        try:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master "
                                                "WHERE type = 'trigger'")]
            for name in names:
                conn.execute(f"DROP TRIGGER {name}")
            for sql, params in statements:
                conn.execute(sql, params)
            conn.commit()
        finally:
            conn.close()

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.postgres:
            with self.pg.connect(self.url.database) as conn, conn.cursor() as cur:
                cur.execute(sql.replace("?", "%s"), params)
                return cur.fetchall()
        conn = sqlite3.connect(self.url.database)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()
