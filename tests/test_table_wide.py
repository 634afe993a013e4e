"""--format table cuts long parameters with "…" and says so; --wide shows them whole."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from engine import Engine, load_playbook, read_events
from engine.output import write_actions

MESSAGE = ("No reply to acme after 4h: the customer wrote about a failed invoice export "
           "and is waiting; call them today")
PLAYBOOK = f"""playbook: esc
version: 1
rules:
  - id: sig
    when: {{type: ping}}
    actions:
      on_match: [{{do: escalate, to: cs-leads, message: "{MESSAGE}"}}]
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    pb = tmp_path / "esc.yaml"
    pb.write_text(PLAYBOOK)
    log = tmp_path / "esc.jsonl"
    log.write_text(json.dumps({"type": "ping", "time": "2026-03-02T14:00:00Z", "account": "acme"}) + "\n")
    return pb, log


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_table_cuts_long_parameters_and_says_how_to_see_them(files: tuple[Path, Path]) -> None:
    pb, log = files
    code, out, err = invoke("run", str(pb), "--events", str(log), "--format", "table")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2 and MESSAGE not in out and lines[1].endswith("…")
    # The hint goes with the summary on stderr, not into the table.
    assert err.splitlines()[-1] == "note: the parameters of 1 action were cut at 80 characters with '…'; --wide shows them whole"
    assert "--wide" not in invoke("run", str(pb), "--events", str(log), "--format", "table", "--wide")[2]


def test_wide_shows_the_whole_message(files: tuple[Path, Path], tmp_path: Path) -> None:
    pb, log = files
    code, out, _ = invoke("run", str(pb), "--events", str(log), "--format", "table", "-q", "--wide")
    assert code == 0
    header, row = out.splitlines()
    assert row.endswith(json.dumps({"message": MESSAGE, "to": "cs-leads"}, separators=(",", ":")))
    assert header.split() == ["AT", "RULE", "OUTCOME", "KEY", "SUBJECT", "DO", "PARAMS"]
    # Also from a store's ledger.
    db = tmp_path / "cs.db"
    assert invoke("run", str(pb), "--events", str(log), "--db", str(db), "-q")[0] == 0
    code, out, err = invoke("actions", "--db", str(db), "--format", "table", "--wide")
    assert code == 0 and MESSAGE in out and "cut at" not in err
    code, out, err = invoke("actions", "--db", str(db), "--format", "table")
    assert code == 0 and MESSAGE not in out and "--wide shows them whole" in err


def test_wide_needs_the_table_format(files: tuple[Path, Path], tmp_path: Path) -> None:
    pb, log = files
    code, _, err = invoke("run", str(pb), "--events", str(log), "--wide")
    assert code == 2 and "--wide applies to --format table" in err
    code, _, err = invoke("actions", "--db", str(tmp_path / "x.db"), "--wide")
    assert code == 2 and "--wide applies to --format table" in err


def test_write_actions_wide_from_python(files: tuple[Path, Path]) -> None:
    pb, log = files
    actions = list(Engine([load_playbook(str(pb))]).run(read_events(str(log))))
    narrow, wide = io.StringIO(), io.StringIO()
    notes: list[str] = []
    write_actions(actions, narrow, "table", notes=notes)
    write_actions(actions, wide, "table", wide=True)
    assert MESSAGE in wide.getvalue() and MESSAGE not in narrow.getvalue()
    assert len(wide.getvalue().splitlines()) == 2 and len(narrow.getvalue().splitlines()) == 2
    assert notes == ["note: the parameters of 1 action were cut at 80 characters with '…'; --wide shows them whole"]
