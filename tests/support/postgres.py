"""A real, private PostgreSQL server for the test suite.

    with PostgresServer(tmp_path / "pg") as pg:
        pg.create_role("hub_app", "secret")
        pg.create_database("hub", owner="hub_app")
        url = pg.url("hub_app", "secret", "hub")   # postgresql+psycopg://...

The server uses Debian's binaries from the newest /usr/lib/postgresql/*/bin
(``scripts/install-system-deps.sh`` installs them). ``initdb`` and ``pg_ctl``
refuse to run as root, so when the tests run as root the server runs as an
unprivileged system user (``hubpg``, created on first use; ``nobody`` if that
fails) and owns ``base_dir``. Clients connect over TCP to 127.0.0.1 on a free
port with password (SCRAM) authentication; the Unix socket lives in a private
directory inside ``base_dir``, never in /var/run/postgresql.

The server is stopped by ``stop()``, by leaving the ``with`` block, at
interpreter exit (atexit), and, if the test process is killed outright, by a
small watchdog process that stops it when the test process's pipe closes.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import secrets
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import psycopg
from psycopg import sql

SERVER_USER = "hubpg"
FALLBACK_SERVER_USER = "nobody"
SUPERUSER = "postgres"
HOST = "127.0.0.1"
# sun_path is 108 bytes on Linux; ".s.PGSQL.NNNNN" is appended to the directory.
_MAX_SOCKET_DIR_LEN = 107 - len("/.s.PGSQL.65535")

# Settings that make the server faster but lose recent commits if the server
# crashes (synchronous_commit) or the machine does (fsync, full_page_writes).
_FAST_SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}


class PostgresError(RuntimeError):
    """The server could not be set up, started or stopped."""


def find_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin that has a usable server."""
    candidates = []
    for bin_dir in Path("/usr/lib/postgresql").glob("*/bin"):
        version = bin_dir.parent.name
        needed = ("initdb", "pg_ctl", "postgres")
        if version.isdigit() and all(os.access(bin_dir / n, os.X_OK) for n in needed):
            candidates.append((int(version), bin_dir))
    if not candidates:
        raise PostgresError(
            "no PostgreSQL server found in /usr/lib/postgresql/*/bin; "
            "run scripts/install-system-deps.sh"
        )
    return max(candidates)[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def libpq_params(url: str) -> dict[str, str]:
    """Split a postgresql[+driver]://user:password@host:port/dbname URL for libpq."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgresql"):
        raise ValueError(f"not a PostgreSQL URL: {parts.scheme}://...")
    params = {
        "host": parts.hostname or HOST,
        "port": str(parts.port or 5432),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "dbname": unquote(parts.path.lstrip("/")) or "postgres",
    }
    return {k: v for k, v in params.items() if v}


def apply_sql_file(
    path: str | os.PathLike[str],
    dbname: str | None,
    user_url: str,
    variables: Mapping[str, str] | None = None,
    *,
    psql: str | os.PathLike[str] | None = None,
) -> str:
    """Run a psql script as the user in ``user_url`` and return psql's output.

    ``dbname`` (when given) overrides the URL's database. ``variables`` become
    ``-v name=value`` so the script can use ``:name``, ``:'name'`` and ``:"name"``.
    Stops at the first error (``ON_ERROR_STOP=1``) and raises PostgresError with
    psql's messages. The password goes through PGPASSWORD, not the command line.
    """
    params = libpq_params(user_url)
    if dbname:
        params["dbname"] = dbname
    psql = psql or find_bin_dir() / "psql"
    cmd = [
        str(psql),
        "--no-psqlrc",
        "--quiet",
        "--set=ON_ERROR_STOP=1",
        f"--host={params['host']}",
        f"--port={params['port']}",
        f"--username={params.get('user', SUPERUSER)}",
        f"--dbname={params['dbname']}",
    ]
    for name, value in (variables or {}).items():
        cmd.append(f"--set={name}={value}")
    cmd.append(f"--file={os.fspath(path)}")
    env = _clean_env()
    if "password" in params:
        env["PGPASSWORD"] = params["password"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise PostgresError(
            f"psql {os.fspath(path)} failed (exit {result.returncode}):\n{result.stderr.strip()}"
        )
    return result.stdout


def _clean_env() -> dict[str, str]:
    """The environment without PG* variables that could point tools elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


class PostgresServer:
    """One private PostgreSQL cluster in ``base_dir``, started and stopped by the tests.

    ``durable=False`` (the default) turns off fsync, full_page_writes and
    synchronous_commit for speed: an immediate stop may then lose the last
    commits. Crash tests pass ``durable=True``.
    """

    def __init__(self, base_dir: Path, *, durable: bool = False, timeout: float = 30) -> None:
        self.base_dir = Path(base_dir).absolute()
        self.durable = durable
        self.timeout = timeout
        self.bin_dir = find_bin_dir()
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "socket"
        self.log_file = self.base_dir / "postgresql.log"
        self.port: int | None = None
        if len(os.fsencode(self.socket_dir)) > _MAX_SOCKET_DIR_LEN:
            raise PostgresError(f"base_dir path too long for a Unix socket: {self.base_dir}")
        self.run_as = _server_user() if os.geteuid() == 0 else None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._atexit_registered = False

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        """Create the cluster if needed, start the server and wait until it accepts
        connections. Keeps the same port across restarts."""
        if self.is_running():
            return
        self._prepare_dirs()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if self.port is None:
            self.port = free_port()
        self._write_settings()
        if not self._atexit_registered:
            atexit.register(self.cleanup)
            self._atexit_registered = True
        result = self._run_pg(
            "pg_ctl",
            "start",
            "--wait",
            f"--timeout={int(self.timeout)}",
            f"--pgdata={self.data_dir}",
            f"--log={self.log_file}",
            check=False,
        )
        if result.returncode != 0 or not self.is_running():
            with contextlib.suppress(PostgresError):
                self.stop("immediate")
            raise PostgresError(
                f"PostgreSQL did not start on {HOST}:{self.port} "
                f"(pg_ctl exit {result.returncode}):\n{result.stdout}{result.stderr}"
                f"--- last lines of {self.log_file} ---\n{self.log_tail()}"
            )
        self._start_watchdog()

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: mode "smart", "fast" (default) or "immediate" (a crash:
        no checkpoint, recovery from the WAL on the next start)."""
        if mode not in {"smart", "fast", "immediate"}:
            raise ValueError(f"unknown shutdown mode: {mode}")
        if self.is_running():
            result = self._run_pg(
                "pg_ctl",
                "stop",
                "--wait",
                f"--timeout={int(self.timeout)}",
                f"--pgdata={self.data_dir}",
                f"--mode={mode}",
                check=False,
            )
            if result.returncode != 0 and self.is_running():
                raise PostgresError(
                    f"pg_ctl stop -m {mode} failed:\n{result.stdout}{result.stderr}"
                )
        self._stop_watchdog()

    def restart(self) -> None:
        self.stop()
        self.start()

    def is_running(self) -> bool:
        """Whether the postmaster named in postmaster.pid is alive."""
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, but owned by someone else
            return True
        return True

    def pid(self) -> int | None:
        """The postmaster's process id, or None when there is no postmaster.pid."""
        try:
            first_line = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
            return int(first_line)
        except (FileNotFoundError, ValueError):
            return None

    def cleanup(self) -> None:
        """Stop the server whatever happens (used by __exit__ and atexit)."""
        try:
            self.stop("fast")
        except PostgresError:
            self.stop("immediate")
        finally:
            self._stop_watchdog()
            if self._atexit_registered:
                atexit.unregister(self.cleanup)
                self._atexit_registered = False

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()

    # -- connecting ----------------------------------------------------------

    @property
    def superuser_password(self) -> str:
        return (self.base_dir / "superuser-password").read_text().strip()

    def url(self, user: str, password: str, dbname: str = "postgres") -> str:
        """A SQLAlchemy URL, e.g. for DATABASE_URL."""
        if self.port is None:
            raise PostgresError("the server has not been started")
        return (
            f"postgresql+psycopg://{quote(user, safe='')}:{quote(password, safe='')}"
            f"@{HOST}:{self.port}/{quote(dbname, safe='')}"
        )

    def superuser_url(self, dbname: str = "postgres") -> str:
        return self.url(SUPERUSER, self.superuser_password, dbname)

    def connect(self, dbname: str = "postgres", **kwargs: object) -> psycopg.Connection:
        """A psycopg connection as the superuser (caller closes it)."""
        params = libpq_params(self.superuser_url(dbname))
        return psycopg.connect(**params, **kwargs)  # type: ignore[arg-type]

    def execute(
        self,
        query: str | sql.Composable,
        params: Iterable[object] | Mapping[str, object] | None = None,
        dbname: str = "postgres",
    ) -> list[tuple[object, ...]]:
        """Run one statement as the superuser in autocommit mode; returns its rows
        (empty when it returns none)."""
        with self.connect(dbname, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(query, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def create_role(self, name: str, password: str, login: bool = True) -> None:
        self.execute(
            sql.SQL("CREATE ROLE {} {} PASSWORD {}").format(
                sql.Identifier(name),
                sql.SQL("LOGIN" if login else "NOLOGIN"),
                sql.Literal(password),
            )
        )

    def create_database(self, name: str, owner: str) -> None:
        self.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)
            )
        )

    def apply_sql_file(
        self,
        path: str | os.PathLike[str],
        dbname: str = "postgres",
        user_url: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> str:
        """Run a psql script (as the superuser unless ``user_url`` says otherwise)."""
        return apply_sql_file(
            path,
            dbname,
            user_url or self.superuser_url(dbname),
            variables,
            psql=self.bin_dir / "psql",
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no server log)"

    # -- internals -----------------------------------------------------------

    def _command(self, args: list[str]) -> list[str]:
        """Run as the server user when we are root (initdb/pg_ctl refuse root)."""
        if self.run_as is None:
            return args
        if shutil.which("runuser"):
            return ["runuser", "-u", self.run_as, "--", *args]
        return ["su", "-s", "/bin/sh", self.run_as, "-c", shlex.join(args)]

    def _run_pg(
        self, program: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = self._command([str(self.bin_dir / program), *args])
        result = subprocess.run(  # noqa: S603 - argv built here, no shell
            cmd,
            cwd=self.base_dir,
            env=_clean_env(),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=self.timeout + 30,
            check=False,
        )
        if check and result.returncode != 0:
            raise PostgresError(
                f"{program} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
            )
        return result

    def _prepare_dirs(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        password_file = self.base_dir / "superuser-password"
        if not password_file.exists():
            password_file.write_text(secrets.token_urlsafe(24) + "\n")
        password_file.chmod(0o600)
        self.base_dir.chmod(0o700)
        if self.run_as is not None:
            user = pwd.getpwnam(self.run_as)
            for path in [self.base_dir, *self.base_dir.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
            _allow_traversal(self.base_dir.parent)

    def _initdb(self) -> None:
        self._run_pg(
            "initdb",
            f"--pgdata={self.data_dir}",
            f"--username={SUPERUSER}",
            f"--pwfile={self.base_dir / 'superuser-password'}",
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
            "--no-instructions",
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude 'stac_hub.conf'\n")

    def _write_settings(self) -> None:
        settings = {
            "listen_addresses": f"'{HOST}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "max_connections": "100",
            "shared_buffers": "32MB",
            "log_min_messages": "warning",
            "log_line_prefix": "'%m [%p] %q%u@%d '",
        }
        if not self.durable:
            settings.update(_FAST_SETTINGS)
        conf = self.data_dir / "stac_hub.conf"
        conf.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        if self.run_as is not None:
            user = pwd.getpwnam(self.run_as)
            os.chown(conf, user.pw_uid, user.pw_gid)

    def _start_watchdog(self) -> None:
        """A child process that stops the server (immediate) when our end of its
        stdin pipe closes: on normal exit, or when this process is killed."""
        pg_ctl = shlex.join(
            [str(self.bin_dir / "pg_ctl"), "stop", f"--pgdata={self.data_dir}", "--mode=immediate"]
        )
        self._watchdog = subprocess.Popen(  # noqa: S603 - fixed argv, no user input
            self._command(["/bin/sh", "-c", f"cat >/dev/null; {pg_ctl} >/dev/null 2>&1"]),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.base_dir,
            env=_clean_env(),
            start_new_session=True,
        )

    def _stop_watchdog(self) -> None:
        """Call after the server has stopped: the watchdog's stop is then a no-op."""
        if self._watchdog is None:
            return
        watchdog, self._watchdog = self._watchdog, None
        if watchdog.stdin:
            watchdog.stdin.close()
        try:
            watchdog.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            watchdog.kill()
            watchdog.wait()


def _server_user() -> str:
    """The unprivileged account that runs the server when the tests run as root."""
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(SERVER_USER).pw_name
    cmd = [
        "useradd",
        "--system",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        "--comment",
        "STAC Hub test PostgreSQL",
        SERVER_USER,
    ]
    with contextlib.suppress(OSError):
        subprocess.run(cmd, capture_output=True, check=False)  # noqa: S603
    try:  # created now, or by a parallel test process in the meantime
        return pwd.getpwnam(SERVER_USER).pw_name
    except KeyError:
        return FALLBACK_SERVER_USER


def _allow_traversal(directory: Path) -> None:
    """Let the server user reach base_dir, which it owns.

    Inside the system temp directory, add search permission for others (x, never
    r) to ancestors we own that lack it, e.g. pytest's 0700 /tmp/pytest-of-root.
    Elsewhere change nothing and refuse with a clear message instead.
    """
    temp_root = Path(tempfile.gettempdir()).resolve()
    me = os.geteuid()
    for path in [directory, *directory.parents]:
        st = path.stat()
        if st.st_mode & stat.S_IXOTH:
            continue
        if st.st_uid == me and path.resolve().is_relative_to(temp_root) and path != temp_root:
            path.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
        else:
            raise PostgresError(
                f"the server user cannot reach {directory}: {path} has no search permission "
                f"for others; put base_dir under {temp_root} or run as a non-root user"
            )


__all__ = [
    "PostgresError",
    "PostgresServer",
    "apply_sql_file",
    "find_bin_dir",
    "free_port",
    "libpq_params",
]
