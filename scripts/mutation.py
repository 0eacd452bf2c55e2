"""Mutation testing of the modules whose mistakes would leak or lose data (`make mutation`).

For each module in scripts/mutation.yaml, mutmut mutates that module alone and runs each
mutant against those of the module's tests that call the mutated function (on SQLite, one
process at a time). Each module gets its own workspace under build/mutation/, so that its
test selection and mutmut's cache are its own; a second run retests only what changed.

Prints killed / total per module and every surviving mutant, with its reason when
scripts/mutation.yaml accepts it. Exits non-zero when a module is below the target and
has a survivor that is not accepted there.

    .venv/bin/python scripts/mutation.py                   # every module
    .venv/bin/python scripts/mutation.py hub/access.py     # one or more modules
    .venv/bin/python scripts/mutation.py --report          # the last results, no run
    MUTATION_CHILDREN=2 .venv/bin/python scripts/mutation.py   # two mutants at a time
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "scripts" / "mutation.yaml"
WORK = ROOT / "build" / "mutation"
MUTMUT = Path(sys.executable).with_name("mutmut")
# What the hub and its tests read at run time; mutmut copies it next to the mutated code
# (GOV.UK Frontend's built assets too, which git ignores and mutmut would leave out).
RUNTIME = ["policies", "templates", "migrations", "deploy", "wsgi.py", "hub/static/govuk"]
# mutmut's exit codes (mutmut/stats.py): a failing test run or a timeout kills a mutant.
KILLED = {1, 3, 36, -24, 24, 152, 255}
TIMEOUTS = {-24, 24, 152}  # counted as killed, but shown apart: a slow survivor looks alike
NOT_RUN = {None, 2, 34}
# Mutants tested at once: one by default, for a machine shared with other work; on a quiet
# machine, MUTATION_CHILDREN=2 (one per core here) halves the time.
CHILDREN = int(os.environ.get("MUTATION_CHILDREN", "1"))


def slug(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


def workspace(module: str, tests: list[str]) -> Path:
    """build/mutation/<module>/: the repository by symlink, with mutmut's settings for it."""
    ws = WORK / slug(module)
    ws.mkdir(parents=True, exist_ok=True)
    for name in ["hub", "audit", "tests", *(p for p in RUNTIME if "/" not in p)]:
        link = ws / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name)
    settings = {
        "source_paths": ["hub", "audit"],
        "only_mutate": [module],
        "also_copy": RUNTIME,
        # No xdist inside a mutant's run (mutmut runs CHILDREN of them at once); SQLite only.
        # pytest's unraisable-exception plugin spends 0.6 s a session in gc.collect().
        "pytest_add_cli_args": ["-n", "0", "-p", "no:cacheprovider",
                                "-p", "no:unraisableexception"],
        "pytest_add_cli_args_test_selection": tests,
        # mutmut limits a mutant's CPU time to (estimate + 1) x multiplier x 2, where the
        # estimate is what its stats run traced for the tests, which can be far below a
        # full run of them (hub/access.py: estimated 10 s, ran 56 s): at 5, surviving
        # mutants were stopped for "timeout" and counted as killed.
        "timeout_multiplier": 20.0,
        # Logging calls only word a message for the operator; not worth a mutant each.
        "do_not_mutate_patterns": [r"^\s*log\.(debug|info|warning|error|exception)\("],
    }
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    pyproject = (ROOT / "pyproject.toml").read_text()
    (ws / "pyproject.toml").write_text(pyproject + "\n[tool.mutmut]\n" + "\n".join(lines) + "\n")
    return ws


def run(module: str, tests: list[str]) -> None:
    ws = workspace(module, tests)
    # The seeded database every test session copies (tests/support/apps.py: demo_app),
    # built afresh by mutmut's first, unmutated session.
    template = ws / "template"
    shutil.rmtree(template, ignore_errors=True)
    env = {**os.environ, "HUB_TEST_BACKENDS": "sqlite", "HUB_TEST_TEMPLATE": str(template)}
    retest_survivors(module)
    print(f"== {module}: mutmut against {' '.join(tests)}", flush=True)
    started = time.monotonic()
    with (ws / "mutmut.log").open("w") as log:
        subprocess.run([str(MUTMUT), "run", "--max-children", str(CHILDREN)], cwd=ws,  # noqa: S603
                       env=env, check=False, stdout=log, stderr=subprocess.STDOUT)
    print(f"   {time.monotonic() - started:.0f} s (log: {ws / 'mutmut.log'})", flush=True)


def retest_survivors(module: str) -> None:
    """mutmut keeps every verdict until the mutated function changes; a survivor (or a
    timeout, which may have been a slow survivor) is tested again on every run, since the
    tests may have grown since (a failing test stays a kill)."""
    meta = WORK / slug(module) / "mutants" / f"{module}.meta"
    if meta.exists():
        data = json.loads(meta.read_text())
        codes = data["exit_code_by_key"]
        for name, code in codes.items():
            if code not in NOT_RUN and (code not in KILLED or code in TIMEOUTS):
                codes[name] = None
        meta.write_text(json.dumps(data))


def results(module: str) -> dict[str, int | None]:
    meta = WORK / slug(module) / "mutants" / f"{module}.meta"
    if not meta.exists():
        return {}
    return json.loads(meta.read_text())["exit_code_by_key"]


def diff(module: str, name: str) -> str:
    shown = subprocess.run([str(MUTMUT), "show", name], cwd=WORK / slug(module),  # noqa: S603 -- fixed command
                           capture_output=True, text=True, check=False)
    return "\n".join(line for line in shown.stdout.splitlines()[1:]
                     if line[:1] in "+-" and line[:3] not in ("+++", "---"))


def report(config: dict, modules: list[str]) -> bool:
    accepted: dict[str, str] = config.get("survivors") or {}
    target = config["target"]
    ok = True
    table, survivors = [], []
    for module in modules:
        codes = results(module)
        total = sum(code not in NOT_RUN for code in codes.values())
        killed = sum(code in KILLED for code in codes.values())
        timeouts = sum(code in TIMEOUTS for code in codes.values())
        lived = sorted(name for name, code in codes.items()
                       if code not in NOT_RUN and code not in KILLED)
        unexplained = [name for name in lived if name not in accepted]
        score = 100 * killed / total if total else 0.0
        passed = total > 0 and (score >= target or not unexplained)
        ok &= passed
        table.append(f"| {module} | {killed} / {total} | {timeouts} | {score:.1f}% | "
                     f"{len(lived) - len(unexplained)} of {len(lived)} | "
                     f"{'ok' if passed else 'FAIL'} |")
        survivors += [(module, name) for name in lived]
    print("\n| module | killed / total | of them timeouts | score | survivors accepted | |")
    print("|---|---|---|---|---|---|")
    print("\n".join(table))
    if survivors:
        print("\nSurvivors:")
    for module, name in survivors:
        reason = accepted.get(name, "NOT ACCEPTED in scripts/mutation.yaml")
        print(f"- {name}: {reason}")
        if name not in accepted:
            print("    " + diff(module, name).replace("\n", "\n    "))
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="modules to run (default: all)")
    parser.add_argument("--report", action="store_true", help="report the last run only")
    args = parser.parse_args()
    config = yaml.safe_load(CONFIG.read_text())
    modules = args.modules or list(config["modules"])
    unknown = set(modules) - set(config["modules"])
    if unknown:
        parser.error(f"not in {CONFIG.name}: {', '.join(sorted(unknown))}")
    started = time.monotonic()
    if not args.report:
        for module in modules:
            run(module, config["modules"][module])
        print(f"\nWall time: {(time.monotonic() - started) / 60:.1f} min")
    return 0 if report(config, modules) else 1


if __name__ == "__main__":
    sys.exit(main())
