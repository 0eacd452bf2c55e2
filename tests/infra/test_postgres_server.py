"""The private PostgreSQL server the test suite runs against, and the deploy
roles/grants scripts applied to it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tests.support.postgres import PostgresError, PostgresServer, libpq_params

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
ROLES_SQL = REPO / "deploy" / "postgres" / "roles.sql"
GRANTS_SQL = REPO / "deploy" / "postgres" / "grants.sql"


@contextlib.contextmanager
def _own_folder():
    """A folder outside pytest's temporary tree: any pytest process (another run, or a
    parallel worker) that starts resets that tree's root to 0700, which would lock the
    server's user out of its own data directory mid-test."""
    base = Path(tempfile.mkdtemp(prefix="hub-pg-infra-"))
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def pg():
    with _own_folder() as base, PostgresServer(base / "pg") as server:
        yield server


@pytest.fixture
def home():
    with _own_folder() as base:
        yield base


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(**libpq_params(url), autocommit=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead; it only waits for its parent (init) to reap it.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _wait_until_dead(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_runs_queries_over_tcp_with_password(pg: PostgresServer) -> None:
    assert pg.is_running()
    assert pg.execute("SELECT 1 + 1") == [(2,)]
    assert pg.execute("SELECT %s::text", ["x"]) == [("x",)]
    assert pg.execute("SHOW listen_addresses") == [("127.0.0.1",)]
    assert pg.execute("SHOW port") == [(str(pg.port),)]
    assert pg.superuser_url().startswith("postgresql+psycopg://postgres:")
    bad = libpq_params(pg.superuser_url()) | {"password": "wrong"}
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(**bad).close()


def test_socket_is_private_to_base_dir(pg: PostgresServer) -> None:
    assert pg.execute("SHOW unix_socket_directories") == [(str(pg.socket_dir),)]
    assert (pg.socket_dir / f".s.PGSQL.{pg.port}").is_socket()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root needs a separate server user")
def test_server_runs_as_unprivileged_user_when_root(pg: PostgresServer) -> None:
    pid = pg.pid()
    assert pid is not None
    status = Path(f"/proc/{pid}/status").read_text()
    uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
    assert uid != 0
    assert pg.run_as in {"hubpg", "nobody"}


def test_role_and_database(pg: PostgresServer) -> None:
    pg.create_role("alice", "s3cret/with:odd@chars")
    pg.create_database("alice_db", owner="alice")
    url = pg.url("alice", "s3cret/with:odd@chars", "alice_db")
    assert url.startswith("postgresql+psycopg://alice:")

    with _connect(url) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            "alice",
            "alice_db",
        )

    engine = sa.create_engine(url)  # the URL form the app takes from DATABASE_URL
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 1
    finally:
        engine.dispose()


def test_immediate_stop_then_restart_keeps_committed_data(home: Path) -> None:
    with PostgresServer(home / "pg", durable=True) as server:
        assert server.execute("SHOW synchronous_commit") == [("on",)]
        assert server.execute("SHOW fsync") == [("on",)]
        server.execute("CREATE TABLE ledger (n int PRIMARY KEY)")
        for n in range(50):
            server.execute("INSERT INTO ledger VALUES (%s)", [n])
        port = server.port
        pid = server.pid()
        assert pid is not None

        server.stop("immediate")  # a crash: no shutdown checkpoint
        assert not server.is_running()
        assert _wait_until_dead(pid)

        server.start()  # recovers from the WAL
        assert server.port == port
        assert server.execute("SELECT count(*), max(n) FROM ledger") == [(50, 49)]
        assert "database system was interrupted" in server.log_tail(50)


def test_fast_mode_is_the_default(pg: PostgresServer) -> None:
    assert pg.execute("SHOW synchronous_commit") == [("off",)]


def test_restart_keeps_port_and_data(home: Path) -> None:
    with PostgresServer(home / "pg") as server:
        server.execute("CREATE TABLE t (x int)")
        server.execute("INSERT INTO t VALUES (7)")
        port = server.port
        server.restart()
        assert server.port == port
        assert server.execute("SELECT x FROM t") == [(7,)]


def test_leaving_the_block_stops_the_server(home: Path) -> None:
    with PostgresServer(home / "pg") as server:
        pid = server.pid()
        assert pid is not None
    assert not server.is_running()
    assert _wait_until_dead(pid)
    server.cleanup()  # idempotent


def test_start_failure_reports_the_server_log(home: Path) -> None:
    server = PostgresServer(home / "pg")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server.port = taken.getsockname()[1]
        with pytest.raises(PostgresError, match=r"(?s)did not start.*could not (bind|create)"):
            server.start()
    assert not server.is_running()


def test_killed_test_process_does_not_leave_a_server_behind(home: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        sys.path.insert(0, {str(REPO)!r})
        from tests.support.postgres import PostgresServer
        server = PostgresServer(Path({str(home / "pg")!r}))
        server.start()
        print(server.pid(), flush=True)
        time.sleep(60)
        """
    )
    child = subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        pid = int(child.stdout.readline())
        assert _pid_alive(pid)
        child.send_signal(signal.SIGKILL)  # no atexit, no finally
        child.wait()
        assert _wait_until_dead(pid), "the watchdog did not stop the orphaned server"
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


# -- deploy/postgres/roles.sql and grants.sql -----------------------------------------


@pytest.fixture(scope="module")
def hub_db(pg: PostgresServer):
    """roles.sql applied, a schema migrated by hub_owner, then grants.sql."""
    variables = {"dbname": "stac_hub", "owner_password": "owner-pw", "app_password": "app-pw"}
    pg.apply_sql_file(ROLES_SQL, variables=variables)
    pg.apply_sql_file(ROLES_SQL, variables=variables)  # idempotent
    owner_url = pg.url("hub_owner", "owner-pw", "stac_hub")
    with _connect(owner_url) as owner:  # what an Alembic migration would do
        owner.execute(
            """
            CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
            INSERT INTO alembic_version VALUES ('abc123');
            CREATE TABLE cases (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                                reference text NOT NULL);
            CREATE TABLE audit_events (seq bigserial PRIMARY KEY, action text NOT NULL);
            CREATE TABLE audit_leaves (idx bigint PRIMARY KEY, hash bytea NOT NULL);
            CREATE TABLE audit_nodes (level int, idx bigint, hash bytea,
                                      PRIMARY KEY (level, idx));
            CREATE TABLE audit_checkpoints (tree_size bigint PRIMARY KEY, note text);
            """
        )
    pg.apply_sql_file(GRANTS_SQL, dbname="stac_hub", user_url=owner_url)
    pg.apply_sql_file(GRANTS_SQL, dbname="stac_hub", user_url=owner_url)  # idempotent
    return {"owner": owner_url, "app": pg.url("hub_app", "app-pw", "stac_hub")}


def _denied(conn: psycopg.Connection, statement: str) -> bool:
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_app_role_has_full_dml_on_ordinary_tables(hub_db: dict[str, str]) -> None:
    with _connect(hub_db["app"]) as app:
        app.execute("INSERT INTO cases (reference) VALUES ('C-1')")
        app.execute("UPDATE cases SET reference = 'C-2'")
        assert app.execute("SELECT reference FROM cases").fetchall() == [("C-2",)]
        app.execute("DELETE FROM cases")
        assert _denied(app, "TRUNCATE cases")


def test_app_role_is_append_only_on_audit_tables(hub_db: dict[str, str]) -> None:
    with _connect(hub_db["app"]) as app:
        app.execute("INSERT INTO audit_events (action) VALUES ('read')")  # sequence usage
        assert app.execute("SELECT count(*) FROM audit_events").fetchone() == (1,)
        app.execute("INSERT INTO audit_checkpoints VALUES (1, 'note')")
        columns = {
            "audit_events": "action",
            "audit_leaves": "hash",
            "audit_nodes": "hash",
            "audit_checkpoints": "note",
        }
        for table, column in columns.items():
            assert _denied(app, f"UPDATE {table} SET {column} = NULL")  # noqa: S608
            assert _denied(app, f"DELETE FROM {table}")  # noqa: S608
            assert _denied(app, f"TRUNCATE {table}")


def test_app_role_cannot_change_the_schema(hub_db: dict[str, str]) -> None:
    with _connect(hub_db["app"]) as app:
        assert _denied(app, "CREATE TABLE sneaky (x int)")
        assert _denied(app, "CREATE SCHEMA sneaky")
        assert _denied(app, "DROP TABLE cases")
        assert _denied(app, "ALTER TABLE audit_events DISABLE TRIGGER ALL")
        assert _denied(app, "UPDATE alembic_version SET version_num = 'x'")
        assert app.execute("SELECT version_num FROM alembic_version").fetchone() == ("abc123",)
        owned = app.execute(
            "SELECT count(*) FROM pg_class WHERE relowner = 'hub_app'::regrole"
        ).fetchone()
        assert owned == (0,)


def test_default_privileges_cover_tables_created_later(hub_db: dict[str, str]) -> None:
    with _connect(hub_db["owner"]) as owner:
        owner.execute("CREATE TABLE later (id serial PRIMARY KEY, x int)")
    with _connect(hub_db["app"]) as app:
        app.execute("INSERT INTO later (x) VALUES (1)")
        app.execute("UPDATE later SET x = 2")
        app.execute("DELETE FROM later")


def test_other_roles_cannot_connect_to_the_hub_database(pg: PostgresServer, hub_db) -> None:
    pg.create_role("stranger", "pw")
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        _connect(pg.url("stranger", "pw", "stac_hub")).close()


def test_apply_sql_file_stops_at_the_first_error(pg: PostgresServer, home: Path) -> None:
    script = home / "bad.sql"
    script.write_text("CREATE TABLE first_ok (x int);\nSELEC broken;\nCREATE TABLE never (x int);")
    with pytest.raises(PostgresError, match="syntax error"):
        pg.apply_sql_file(script)
    tables = pg.execute("SELECT relname FROM pg_class WHERE relname IN ('first_ok', 'never')")
    assert tables == [("first_ok",)]
