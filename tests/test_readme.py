"""The README's test command works on a fresh machine without a C compiler, and CI runs it
as written, then the differential test against durable_rules (which needs one)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import ROOT

#: Extras whose packages build a C extension from a source archive (durable_rules 2.0.28
#: has no wheel): left out of the README's test command, installed by CI in addition.
NEEDS_COMPILER = {"oracle"}


def readme_test_command() -> str:
    quick = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", quick, flags=re.S)[1].strip()


def installed_extras(command: str) -> set[str]:
    found = re.match(r"pip install -e '\.\[([a-z0-9_,-]+)\]' && ", command)
    assert found, f"the README's test command does not start with pip install -e '.[...]': {command!r}"
    return set(found.group(1).split(","))


def test_readme_test_command_installs_every_pure_python_extra_and_nothing_else() -> None:
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    assert extras >= NEEDS_COMPILER, "NEEDS_COMPILER names an extra pyproject.toml does not have"
    command = readme_test_command()
    assert installed_extras(command) == extras - NEEDS_COMPILER
    assert command.endswith("python -m pytest -q")


def _stub(path: Path, body: str) -> None:
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_ci_runs_the_readme_command_as_written_then_the_oracle_test_required(tmp_path: Path) -> None:
    """.ci/run, with python3, python and pip replaced by stubs that record their arguments
    (and whether PLAYBOOK_REQUIRE_ORACLE is set): the order of what it would run."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    log = tmp_path / "log"
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    venv_bin = tmp_path / ".ci" / "venv" / "bin"
    record = f'echo "$(basename "$0") $* [${{PLAYBOOK_REQUIRE_ORACLE:-}}]" >> {log}\n'
    _stub(stubs / "python3", record + f'mkdir -p {venv_bin}\necho "PATH={stubs}/venv:$PATH" > {venv_bin}/activate\n')
    (stubs / "venv").mkdir()
    _stub(stubs / "venv" / "python", record)
    _stub(stubs / "venv" / "pip", record)
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}"}
    env.pop("PLAYBOOK_REQUIRE_ORACLE", None)
    done = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    ran = log.read_text().splitlines()
    readme = readme_test_command().replace("'", "").split(" && ")
    pip_test, pytest_all = (f"{c} []" for c in readme)
    assert pip_test in ran and pytest_all in ran, ran
    # The README's command first (as a user without a compiler runs it), the oracle after it.
    oracle_installs = [i for i, line in enumerate(ran) if line.startswith("pip install") and "oracle" in line]
    assert oracle_installs and min(oracle_installs) > ran.index(pytest_all), ran
    assert ran[-1] == "python -m pytest -q tests/test_oracle_durable.py [1]", ran


def _run_oracle_test_without_durable(tmp_path: Path, **env_extra: str) -> subprocess.CompletedProcess[str]:
    # A plugin loaded before collection hides durable_rules: find_spec then returns None.
    (tmp_path / "hide_durable.py").write_text(
        "import sys\nsys.modules['durable'] = None\nsys.modules['durable_rules_engine'] = None\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]), **env_extra}
    if "PLAYBOOK_REQUIRE_ORACLE" not in env_extra:
        env.pop("PLAYBOOK_REQUIRE_ORACLE", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "hide_durable", "-p", "no:cacheprovider",
         "tests/test_oracle_durable.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_without_durable_rules_the_differential_test_is_skipped_saying_why(tmp_path: Path) -> None:
    done = _run_oracle_test_without_durable(tmp_path)
    assert done.returncode in (0, 5), done.stdout + done.stderr  # 5: pytest ran no test (the module skipped)
    assert "1 skipped" in done.stdout
    assert "durable_rules is not installed" in done.stdout and "C compiler" in done.stdout
    assert "pip install -e '.[test,oracle]'" in done.stdout


def test_ci_makes_a_missing_durable_rules_a_failure(tmp_path: Path) -> None:
    done = _run_oracle_test_without_durable(tmp_path, PLAYBOOK_REQUIRE_ORACLE="1")
    assert done.returncode != 0
    assert "PLAYBOOK_REQUIRE_ORACLE is set but durable_rules is not installed" in done.stdout + done.stderr
