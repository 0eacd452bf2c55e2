"""Flask extensions, created once and initialised by the factory."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine

# Stable constraint names so that Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Objects keep their values after a commit. Each request commits its audit event before
# the page is rendered; expiring then made every later attribute read (the signed-in
# user's name in the header, each entry on the case page) reload its row in a new
# transaction, which on SQLite waits for the write lock, after the read was recorded.
db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING),
                session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@event.listens_for(Engine, "connect")
def _connection_settings(dbapi_connection, _record):
    """Make SQLite behave: foreign keys on, WAL, and real transactions (savepoints work).

    On PostgreSQL, turn JIT compilation off: the hub's queries are short, and compiling the
    policy-filtered searches took 1.5 s where running them takes 20 ms (bench/RESULTS.md).
    """
    if type(dbapi_connection).__module__.startswith("psycopg"):
        dbapi_connection.execute("SET jit = off")
        dbapi_connection.commit()
        return
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    dbapi_connection.isolation_level = None  # SQLAlchemy issues BEGIN itself, below
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # A writer waits its turn for up to 20 s (gunicorn's worker timeout is 30 s): on a
    # machine short of CPU, eight clients and the sequencer queueing for the one write lock
    # took longer than 5 s now and then, and the request failed closed with 503 though
    # nothing was wrong with the log.
    cursor.execute("PRAGMA busy_timeout=20000")
    cursor.close()


# Execution option for a connection that only reads (`hub audit verify`'s workers), whose
# transactions may then begin as readers beside a writer.
READ_ONLY = {"hub_read_only": True}


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    """On SQLite, every transaction begins as a writer (BEGIN IMMEDIATE).

    Each request records an audit event, so each transaction writes in the end. One that
    began as a reader cannot become a writer once another process has committed: SQLite
    answers SQLITE_BUSY at once, without waiting out the busy timeout, and the request would
    fail closed with 503. Beginning as a writer waits its turn instead (up to busy_timeout).
    """
    if conn.dialect.name == "sqlite":
        read_only = conn.get_execution_options().get("hub_read_only")
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
