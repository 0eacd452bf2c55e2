"""`hub audit export` feeds the auditor's offline verifier (`python -m audit verify`),
which needs nothing from the hub but the exported files and the public key."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys

from audit.__main__ import main as audit_main
from tests.auditlog.conftest import Dba, backends, hub, leaf_seqs, record_events
from tests.support.apps import child_env, under_mutation


def offline_verify(tmp_path, exported: str) -> subprocess.CompletedProcess[str]:
    key = re.search(r"public key: (\S+)", exported).group(1)
    name = re.search(r"key name: (\S+)", exported).group(1)
    args = ["verify", "--events", str(tmp_path / "log.jsonl"), "--checkpoints",
            str(tmp_path / "cps"), "--public-key", key, "--key-name", name]
    if under_mutation():  # in this process, where mutmut sees it
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = audit_main(args)
        return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "audit", *args],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=120,
        env=child_env())


@backends
def test_an_export_verifies_offline_and_a_tampered_one_does_not(fresh, backend, tmp_path,
                                                              request):
    app = fresh(backend)
    record_events(app, 12)
    assert hub(app, "audit", "checkpoint").returncode == 0
    args = ("audit", "export", "--out", str(tmp_path / "log.jsonl"),
            "--checkpoints", str(tmp_path / "cps"))
    exported = hub(app, *args, script=True)
    assert exported.returncode == 0, exported.stderr
    intact = offline_verify(tmp_path, exported.stdout)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert f"{len(leaf_seqs(app))} leaves" in intact.stdout

    seq = leaf_seqs(app)[4]
    Dba(app, request).execute(("UPDATE audit_events SET username = 'advocate' WHERE seq = ?",
                               (seq,)))
    assert hub(app, *args).returncode == 0
    broken = offline_verify(tmp_path, exported.stdout)
    assert broken.returncode == 1
    assert f"first problem: leaf 4 (event seq {seq})" in broken.stdout
