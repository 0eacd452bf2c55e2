"""`hub seed-demo` is idempotent: run twice, the second run creates and changes nothing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.support.apps import ROOT

HUB = Path(sys.executable).with_name("hub")
TABLES = ("areas", "agencies", "users", "cases", "people", "case_parties", "case_members",
          "entries", "entry_versions", "data_keys")


def _hub(instance: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "DATABASE_"))}
    env.update(HUB_ENV="development", HUB_DEMO="1", HUB_INSTANCE_DIR=str(instance),
               DATABASE_URL=f"sqlite:///{instance / 'hub.sqlite3'}")
    result = subprocess.run([str(HUB), *args], env=env, cwd=ROOT, capture_output=True,  # noqa: S603
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _snapshot(database: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(database) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()  # noqa: S608 -- our names
                for t in TABLES}


def test_seeding_twice_creates_and_changes_nothing_the_second_time(tmp_path):
    _hub(tmp_path, "db", "upgrade")
    first = _hub(tmp_path, "seed-demo")
    assert "0 cases created" not in first.stdout
    once = _snapshot(tmp_path / "hub.sqlite3")
    assert all(once[t] for t in TABLES)

    second = _hub(tmp_path, "seed-demo")

    assert second.stdout.strip() == "demo data: " + ", ".join(
        f"0 {kind} created" for kind in ("areas", "agencies", "users", "cases"))
    assert _snapshot(tmp_path / "hub.sqlite3") == once
