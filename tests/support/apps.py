"""How the tests build the hub: a migrated database on SQLite or on the private PostgreSQL
server, set up as deploy/ describes, and the demo users and cases they sign in as."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from flask_migrate import upgrade

from hub import create_app
from hub.extensions import db

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = [b for b in os.environ.get("HUB_TEST_BACKENDS", "sqlite,postgres").split(",") if b]
DEMO_USERS = ["police.officer", "police.supervisor", "nhs.clinician", "probation.officer",
              "cps.prosecutor", "advocate", "outsider.officer", "coordinator", "dpo", "admin"]



def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (by default this process's) for a child process that runs the `hub` command
    or the auditor's tool: it imports the very code these tests imported, so that under
    mutation testing (scripts/mutation.py) a child runs the mutated copy too."""
    import hub

    env = dict(os.environ if env is None else env)
    code = str(Path(hub.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (code, env.get("PYTHONPATH")) if p)
    return env


def under_mutation() -> bool:
    """Whether mutmut is running these tests (scripts/mutation.py). It sees and mutates only
    the code that runs in the test's own process."""
    return "MUTANT_UNDER_TEST" in os.environ


def hub_in_process(env: dict[str, str], args) -> subprocess.CompletedProcess[str]:
    """The `hub` command run inside this process with ``env``'s HUB_ and DATABASE_
    settings, answered as a finished child process: seconds faster than the console
    script, and seen by mutmut under mutation testing. The command's apps are closed."""
    from click.testing import CliRunner

    import hub
    from hub.cli import cli
    from hub.extensions import db

    ours = ("HUB_", "DATABASE_")
    settings = {k: v for k, v in env.items() if k.startswith(ours)}
    settings |= {k: None for k in os.environ if k.startswith(ours) and k not in settings}
    made, create_app = [], hub.create_app

    def create_and_keep(*args, **kwargs):
        made.append(create_app(*args, **kwargs))
        return made[-1]

    hub.create_app = create_and_keep  # the command's app, to close its connections after
    try:
        result = CliRunner().invoke(cli, list(args), env=settings)
    finally:
        hub.create_app = create_app
        for app in made:
            with app.app_context():
                db.engine.dispose()
    return subprocess.CompletedProcess(["hub", *args], result.exit_code, result.stdout,
                                       result.stderr)


def postgres_database(pg, name: str) -> tuple[str, str]:
    """A database set up as deploy/ describes: (owner URL for migrations, app URL)."""
    from tests.support.postgres import apply_sql_file

    apply_sql_file(ROOT / "deploy/postgres/roles.sql", "postgres", pg.superuser_url(),
                   {"dbname": name, "owner_password": "owner-pw", "app_password": "app-pw"})
    return pg.url("hub_owner", "owner-pw", name), pg.url("hub_app", "app-pw", name)


def apply_grants(pg, owner_url: str) -> None:
    from tests.support.postgres import apply_sql_file

    apply_sql_file(ROOT / "deploy/postgres/grants.sql", None, owner_url)


def hub_settings(instance: Path, **overrides) -> dict:
    return {"HUB_ENV": "test", "HUB_INSTANCE_DIR": str(instance), "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": False, "TESTING": True, **overrides}


def sqlite_url(instance: Path) -> str:
    return f"sqlite:///{instance / 'hub.sqlite3'}"


def build_app(backend: str, instance: Path, request, **overrides):
    """Migrate a fresh database for ``backend`` and return the hub connected to it."""
    base = hub_settings(instance, **overrides)
    if backend == "sqlite":
        owner_url = app_url = sqlite_url(instance)
    else:
        pg = request.getfixturevalue("pg_server")
        owner_url, app_url = postgres_database(pg, f"hub_{instance.name.replace('-', '_')}")
    with create_app({**base, "SQLALCHEMY_DATABASE_URI": owner_url}).app_context():
        upgrade()
        db.engine.dispose()
    if backend == "postgres":
        apply_grants(pg, owner_url)
    app = create_app({**base, "SQLALCHEMY_DATABASE_URI": app_url})
    app.config["BACKEND"] = backend
    return app



def demo_app(backend: str, instance: Path, request):
    """The hub with the demo seeded, as every test session starts from.

    Under mutation testing (scripts/mutation.py) each mutant starts a test session of its
    own; there HUB_TEST_TEMPLATE names a folder where the first session leaves its migrated,
    seeded SQLite instance (database and generated keys) and later sessions copy it, which
    saves three seconds a mutant. The first session runs with no mutant active.
    """
    from hub.seed import seed_demo

    template = os.environ.get("HUB_TEST_TEMPLATE")
    if backend == "sqlite" and template and Path(template, "hub.sqlite3").exists():
        shutil.copytree(template, instance, dirs_exist_ok=True)
        app = create_app(hub_settings(instance, SQLALCHEMY_DATABASE_URI=sqlite_url(instance)))
        app.config["BACKEND"] = backend
        return _policy_recorded(app)
    app = build_app(backend, instance, request)
    with app.app_context():
        seed_demo()
    _policy_recorded(app)
    if backend == "sqlite" and template:
        shutil.copytree(instance, template, dirs_exist_ok=True)
    return app


def _policy_recorded(app):
    """Record the policy now, as the process's first request would: otherwise whichever
    test comes first finds a `policy:change` event among the events it counts."""
    from hub.policy import changes

    with app.test_request_context():
        changes.check_once()
    return app


def demo_case_ids(session) -> dict[str, int]:
    from sqlalchemy import select

    from hub.cases.models import Case
    from hub.seed import CASES

    return {c.reference: c.id for c in session.scalars(select(Case).where(
        Case.summary.in_([spec["summary"] for spec in CASES])).order_by(Case.id))}
