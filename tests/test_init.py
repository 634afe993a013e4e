"""`playbook init DIR`: starter files that pass validate (lint-clean) and test out of the box."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from engine import load_playbook
from engine.lint import check_event_shapes
from engine.scaffold import default_name
from engine.sources import read_events
from tests.conftest import ROOT


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def test_the_starter_passes_validate_test_run_and_explain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = invoke("init", "my-playbook")
    assert code == 0
    assert out.splitlines()[:4] == [
        "created my-playbook/playbook.yaml",
        "created my-playbook/playbook.schema.json",
        "created my-playbook/events.jsonl",
        "created my-playbook/tests/playbook.test.yaml",
    ]
    # Every command the init output suggests works as printed.
    suggested = [line.strip().split()[1:] for line in out.splitlines() if line.startswith("  playbook ")]
    assert [c[0] for c in suggested] == ["validate", "test", "run", "explain"]
    for command in suggested:
        code, cmd_out, err = invoke(*command)
        assert code == 0, (command, cmd_out, err)
        if command[0] == "validate":
            assert err == "" and cmd_out.endswith("ok\n")  # no warnings either
        if command[0] == "test":
            assert cmd_out.endswith("6 passed, 0 failed\n")
        if command[0] == "run":
            assert len(cmd_out.splitlines()) == 5  # a header and four actions
    pb = load_playbook("my-playbook/playbook.yaml")
    assert pb.name == "my-playbook" and {r.kind for r in pb.rules} == {"response", "cadence", "signal"}
    # The sample log fits the shapes the playbook declares.
    report = check_event_shapes(pb, read_events("my-playbook/events.jsonl"))
    assert report.checked == 14 and report.misfits == 0
    # Editors find the schema the playbook points at.
    first = Path("my-playbook/playbook.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=playbook.schema.json"
    assert json.loads(Path("my-playbook/playbook.schema.json").read_text()) == json.loads(
        (ROOT / "schemas" / "playbook.schema.json").read_text())


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    target = tmp_path / "pb"
    assert invoke("init", str(target))[0] == 0
    (target / "playbook.yaml").write_text("# mine\n")
    code, out, err = invoke("init", str(target))
    assert code == 1 and out == ""
    assert "already exist" in err and "--force" in err
    assert (target / "playbook.yaml").read_text() == "# mine\n"
    code, _, _ = invoke("init", str(target), "--force", "--name", "renamed")
    assert code == 0 and load_playbook(str(target / "playbook.yaml")).name == "renamed"


def test_init_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    code, _, err = invoke("init", str(tmp_path / "file"))
    assert code == 2 and "not a directory" in err
    code, _, err = invoke("init", str(tmp_path / "x"), "--name", "Not Valid")
    assert code == 2 and "invalid playbook name" in err
    assert invoke("init")[0] == 2


@pytest.mark.parametrize(("directory", "name"), [("My Playbooks", "my-playbooks"), ("cs_ops.v2", "cs_ops.v2"),
                                                 ("---", "starter"), (".", None)])
def test_default_name(directory: str, name: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    if name is None:  # the current directory: named after it
        name = default_name(str(tmp_path))
    assert default_name(directory) == name
