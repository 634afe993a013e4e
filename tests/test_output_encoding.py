"""A lone surrogate in event data ("\\udfff" is valid JSON, not valid Unicode text) never
crashes an output: CSV, the table, explain (text and JSON) and test reports write it as
its escape \\udfff, to stdout and to --out; JSON Lines is unchanged (a JSON escape)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import Engine, load_playbook, read_events
from engine.output import write_actions

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = """playbook: sur
version: 1
rules:
  - id: sig
    when: {type: ping}
    actions:
      on_match: [{do: note, message: "hi {{ key }} {{ name }}"}]
"""
# Written as JSON escapes: the file itself is plain ASCII.
LINE = '{"type":"ping","time":"2026-03-02T14:00:00Z","account":"\\udfff","name":"a\\ud800b"}\n'


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    pb = tmp_path / "sur.yaml"
    pb.write_text(PLAYBOOK)
    log = tmp_path / "sur.jsonl"
    log.write_text(LINE)
    return pb, log


def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    """The real command in a process of its own: stdout is a UTF-8 pipe, as in a shell."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=env, capture_output=True, timeout=120)


def test_safe_text_escapes_only_surrogates() -> None:
    from engine.output import safe_text

    assert safe_text("plain é 😀") == "plain é 😀"
    assert safe_text("a\udfffb\ud800") == "a\\udfffb\\ud800"


def test_csv_and_table_write_a_lone_surrogate_as_its_escape(files: tuple[Path, Path], tmp_path: Path) -> None:
    pb, log = files
    r = cli("run", str(pb), "--events", str(log), "--format", "csv", "-q")
    assert r.returncode == 0, r.stderr.decode()
    (row,) = list(csv.DictReader(io.StringIO(r.stdout.decode("utf-8"))))
    assert row["key"] == "\\udfff"
    assert json.loads(row["params"]) == {"message": "hi \udfff a\ud800b"}  # the JSON cell reads back exactly
    r = cli("run", str(pb), "--events", str(log), "--format", "table", "-q")
    assert r.returncode == 0, r.stderr.decode()
    header, line = r.stdout.decode("utf-8").splitlines()
    assert line.split()[3] == "\\udfff"
    for fmt in ("csv", "table"):
        out = tmp_path / f"out.{fmt}"
        r = cli("run", str(pb), "--events", str(log), "--format", fmt, "-q", "--out", str(out))
        assert r.returncode == 0 and r.stderr == b""
        assert "\\udfff" in out.read_text(encoding="utf-8")


def test_json_lines_output_is_unchanged(files: tuple[Path, Path]) -> None:
    pb, log = files
    r = cli("run", str(pb), "--events", str(log), "-q")
    assert r.returncode == 0
    expected = [a.to_json() for a in Engine([load_playbook(str(pb))]).run(read_events(str(log)))]
    assert r.stdout.decode("ascii").splitlines() == expected
    assert '"key":"\\udfff"' in expected[0]


def test_write_actions_works_on_any_utf8_stream(files: tuple[Path, Path]) -> None:
    pb, log = files
    actions = list(Engine([load_playbook(str(pb))]).run(read_events(str(log))))
    for fmt in ("jsonl", "csv", "table"):
        raw = io.BytesIO()
        stream = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
        assert write_actions(actions, stream, fmt) == 1
        stream.flush()
        assert b"udfff" in raw.getvalue()


def test_explain_writes_a_lone_surrogate_in_text_and_json(files: tuple[Path, Path]) -> None:
    pb, log = files
    r = cli("explain", str(pb), "--events", str(log), "--rule", "sig")
    assert r.returncode == 0, r.stderr.decode()
    assert "key \\udfff" in r.stdout.decode("utf-8")
    r = cli("explain", str(pb), "--events", str(log), "--rule", "sig", "--format", "json")
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(r.stdout)["keys"][0]["key"] == "\udfff"  # a JSON escape: reads back the same


def test_test_reports_write_a_lone_surrogate(files: tuple[Path, Path], tmp_path: Path) -> None:
    pb, _ = files
    test_file = tmp_path / "sur_test.yaml"
    test_file.write_text(
        f"playbooks: [{pb}]\ncases:\n  - name: \"surrogate \\udfff case\"\n    events:\n"
        '      - {time: "2026-03-02T14:00:00Z", type: ping, account: "\\udfff", name: x}\n'
        "    expect:\n      - {rule: sig, outcome: breach}\n"
    )
    r = cli("test", str(test_file))
    assert r.returncode == 1 and b"Traceback" not in r.stderr
    assert "surrogate \\udfff case" in r.stdout.decode("utf-8")
    report = tmp_path / "report.xml"
    r = cli("test", str(test_file), "--format", "junit", "--out", str(report))
    assert r.returncode == 1 and b"Traceback" not in r.stderr
    assert "surrogate \\udfff case" in report.read_text(encoding="utf-8")
