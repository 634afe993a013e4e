"""The command line: each command's success, failure and usage-error paths."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"
PLAYBOOK = str(GOLDEN / "response" / "playbook.yaml")

EVENTS = [
    {"id": "e1", "time": "2026-03-02T14:00:00Z", "type": "ask", "account": "a", "thread": "t1", "channel": "email"},
    {"id": "e2", "time": "2026-03-02T16:00:00Z", "type": "answer", "account": "a", "thread": "t1"},
]


def invoke(*args: str, input: str | None = None) -> CliResult:
    result = CliRunner().invoke(main, list(args), input=input)
    return CliResult(result.exit_code, result.stdout, result.stderr, result.exception)


class CliResult:
    def __init__(self, code: int, out: str, err: str, exc: BaseException | None):
        self.code, self.out, self.err, self.exc = code, out, err, exc


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    return path


def test_run_prints_actions_and_a_summary(log: Path) -> None:
    r = invoke("run", PLAYBOOK, "--events", str(log))
    assert r.code == 0, r.err
    records = [json.loads(line) for line in r.out.splitlines()]
    assert [(a["rule"], a["outcome"], a["at"]) for a in records] == [
        ("ack", "breach", "2026-03-02T15:00:00Z"),
        ("ack", "late", "2026-03-02T16:00:00Z"),
    ]
    assert records[0]["trigger"] == {"id": "e1", "type": "ask", "time": "2026-03-02T14:00:00Z"}
    assert records[0]["event"] is None and records[1]["event"]["id"] == "e2"
    assert list(records[0]) == ["id", "playbook", "rule", "outcome", "reason", "do", "at", "key", "subject",
                                "deadline", "trigger", "event", "params"]
    assert "events: 2 read, 2 processed, 0 skipped" in r.err
    assert "outcomes: breach 1, late 1; actions: 2" in r.err
    assert "events/s" in r.err


def test_run_output_is_byte_identical_across_runs(log: Path) -> None:
    assert invoke("run", PLAYBOOK, "--events", str(log)).out == invoke("run", PLAYBOOK, "--events", str(log)).out


def test_run_formats_and_out_file(log: Path, tmp_path: Path) -> None:
    r = invoke("run", PLAYBOOK, "--events", str(log), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert [row["outcome"] for row in rows] == ["breach", "late"]
    assert rows[0]["trigger_id"] == "e1" and json.loads(rows[0]["subject"]) == {"thread": "t1"}
    r = invoke("run", PLAYBOOK, "--events", str(log), "--format", "table")
    assert r.out.splitlines()[0].split()[:3] == ["AT", "RULE", "OUTCOME"]
    assert "breach (deadline)" in r.out
    out = tmp_path / "actions.jsonl"
    r = invoke("run", PLAYBOOK, "--events", str(log), "--out", str(out), "-q")
    assert r.code == 0 and r.out == "" and r.err == ""
    assert len(out.read_text().splitlines()) == 2


def test_run_reads_stdin_and_csv(tmp_path: Path) -> None:
    text = "".join(json.dumps(e) + "\n" for e in EVENTS)
    r = invoke("run", PLAYBOOK, "--events", "-", input=text)
    assert r.code == 0 and len(r.out.splitlines()) == 2
    path = tmp_path / "events.csv"
    path.write_text("id,time,type,account,thread,channel\ne1,2026-03-02T14:00:00Z,ask,a,t1,email\ne2,2026-03-02T16:00:00Z,answer,a,t1,\n")
    r = invoke("run", PLAYBOOK, "--events", str(path))
    assert r.code == 0, r.err
    assert [json.loads(x)["outcome"] for x in r.out.splitlines()] == ["breach", "late"]


def test_run_until(log: Path) -> None:
    r = invoke("run", PLAYBOOK, "--events", str(log), "--until", "2026-03-02T15:30:00Z")
    assert [json.loads(x)["outcome"] for x in r.out.splitlines()] == ["breach"]
    assert "1 after until" in r.err
    r = invoke("run", PLAYBOOK, "--events", str(log), "--until", "now")
    assert r.code == 0 and len(r.out.splitlines()) == 2
    r = invoke("run", PLAYBOOK, "--events", str(log), "--until", "next tuesday")
    assert r.code == 2 and "invalid until" in r.err


def test_bad_events_are_skipped_with_their_place(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps(EVENTS[0]) + "\n"
        "{not json\n"
        "[1, 2]\n"
        '{"type": "ask", "account": "a"}\n'
        '{"type": "ask", "time": "yesterday", "account": "a"}\n'
        '{"time": "2026-03-02T14:00:00Z", "account": "a"}\n'
        '{"type": "ask", "time": "2026-03-02T14:00:00Z", "thread": "t2", "channel": "email"}\n'
        + json.dumps(EVENTS[1]) + "\n"
    )
    r = invoke("run", PLAYBOOK, "--events", str(path))
    assert r.code == 0
    assert len(r.out.splitlines()) == 2
    assert "8 read, 3 processed, 5 skipped, 1 without key" in r.err
    assert f"{path}:2: invalid JSON" in r.err
    assert f"{path}:3: not a JSON object" in r.err
    assert f"{path}:4: missing 'time'" in r.err
    assert f"{path}:5: bad 'time'" in r.err
    assert f"{path}:6: missing 'type'" in r.err
    assert "Traceback" not in r.err
    strict = invoke("run", PLAYBOOK, "--events", str(path), "--strict")
    assert strict.code == 1
    assert f"{path}:2: invalid JSON" in strict.err and "--strict" in strict.err


def test_run_with_an_invalid_playbook_exits_1(log: Path) -> None:
    bad = str(GOLDEN / "invalid" / "many-errors.yaml")
    r = invoke("run", bad, "--events", str(log))
    assert r.code == 1
    assert r.err.count("many-errors.yaml:") >= 15 and r.out == ""


def test_usage_errors_exit_2(log: Path, tmp_path: Path) -> None:
    assert invoke("run", PLAYBOOK).code == 2  # --events missing
    r = invoke("run", PLAYBOOK, "--events", str(tmp_path / "missing.jsonl"))
    assert r.code == 2 and "no such file" in r.err
    r = invoke("run", str(tmp_path / "nope.yaml"), "--events", str(log))
    assert r.code == 2 and "no such file or directory" in r.err
    r = invoke("run", PLAYBOOK, "--events", str(log), "--format", "xml")
    assert r.code == 2
    assert invoke("validate").code == 2
    assert invoke("frobnicate").code == 2
    (tmp_path / "empty").mkdir()
    assert invoke("validate", str(tmp_path / "empty")).code == 2


def test_run_takes_a_directory_of_playbooks(log: Path, tmp_path: Path) -> None:
    d = tmp_path / "pbs"
    d.mkdir()
    (d / "a.yaml").write_text(Path(PLAYBOOK).read_text())
    (d / "b.yml").write_text(Path(PLAYBOOK).read_text().replace("golden-response", "second"))
    r = invoke("run", str(d), "--events", str(log))
    assert r.code == 0
    # Same instant: playbook order decides (files in name order).
    assert [json.loads(x)["playbook"] for x in r.out.splitlines()] == ["golden-response", "second"] * 2


def test_validate() -> None:
    r = invoke("validate", str(ROOT / "playbooks"))
    assert r.code == 0 and r.out.strip().endswith("ok")
    r = invoke("validate", PLAYBOOK, str(GOLDEN / "invalid" / "yaml-syntax.yaml"))
    assert r.code == 1 and "yaml-syntax.yaml:6:1: YAML syntax error" in r.err


def test_test_command(tmp_path: Path) -> None:
    r = invoke("test", str(GOLDEN / "response" / "test.yaml"))
    assert r.code == 0 and "passed, 0 failed" in r.out and r.out.count("PASS ") >= 10
    (tmp_path / "playbook.yaml").write_text(Path(PLAYBOOK).read_text())
    bad = (GOLDEN / "response" / "test.yaml").read_text().replace("params: {late_by: 1,", "params: {late_by: 7,")
    (tmp_path / "t.yaml").write_text(bad)
    r = invoke("test", str(tmp_path / "t.yaml"))
    assert r.code == 1 and "FAIL " in r.out and "1 failed" in r.out
    assert '"late_by": 7' in r.out and '"late_by": 1' in r.out
    (tmp_path / "broken.yaml").write_text("playbooks: [nope.yaml]\ncases:\n  - {name: x, events: [], expect: []}\n")
    r = invoke("test", str(tmp_path / "broken.yaml"))
    assert r.code == 1 and "playbook file not found: nope.yaml" in r.err
    assert invoke("test", str(tmp_path / "missing")).code == 2


def test_version_and_help() -> None:
    assert invoke("--version").out.startswith("playbook, version")
    for cmd in ("run", "validate", "test", "schema"):
        r = invoke(cmd, "--help")
        assert r.code == 0 and "Usage:" in r.out


def test_run_reports_events_that_do_not_fit_their_declared_shape(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps({"id": "x1", "type": "customer.message", "time": "2026-01-06T14:00:00Z",
                                "account": "acme", "thread_id": 5, "channel": "email", "from": "a@b.c"}) + "\n")
    r = invoke("run", str(ROOT / "playbooks" / "us-retention.yaml"), "--events", str(path))
    assert r.code == 0
    assert "events not fitting their declared shape (us-retention): 1 of 1 checked" in r.err
    assert "field 'thread_id' is integer, declared string" in r.err and f"{path}:1" in r.err


def test_missing_required_keys_are_each_reported_once() -> None:
    from engine import PlaybookError, load_playbook_text

    with pytest.raises(PlaybookError) as info:
        load_playbook_text("rules:\n  - {id: a, when: x, actions: {}}\n")
    messages = [d.message for d in info.value.diagnostics]
    assert messages.count("missing required key 'playbook' at the top of the playbook") == 1
    assert messages.count("missing required key 'version' at the top of the playbook") == 1


def test_console_entry_keeps_output_and_exit_codes(tmp_path: Path, log: Path) -> None:
    """``playbook`` (cli.main:entry, in a process of its own) prints and exits as ``main`` does."""
    import subprocess
    import sys
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["playbook"] == "cli.main:entry"
    command = [sys.executable, "-c", "from cli.main import entry; entry()"]
    ok = subprocess.run([*command, "run", PLAYBOOK, "--events", str(log), "-q"], capture_output=True, text=True,
                        cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    expected = invoke("run", PLAYBOOK, "--events", str(log), "-q").out
    assert ok.stdout == expected and expected.count("\n") >= 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("playbook: x\nversion: 1\nrules: 3\n")
    failed = subprocess.run([*command, "validate", str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert failed.returncode == 1 and f"{bad}:3:" in failed.stderr


def test_command_modules_do_not_import_the_group() -> None:
    """``cli.main`` imports the command modules; none of them imports ``cli.main`` back
    (what two commands share lives in ``cli.common``), so there is no import cycle."""
    import ast

    cli_dir = Path(__file__).resolve().parent.parent / "cli"
    offenders = []
    for path in sorted(cli_dir.glob("*.py")):
        if path.name == "main.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if any(n == "cli.main" for n in names if n):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_a_playbook_over_the_size_limit_is_refused_before_parsing(tmp_path: Path, log: Path) -> None:
    """Over 1 MiB by default: refused at once with the limit and the option, never parsed
    (this file is invalid YAML: parsing would report a syntax error, not the size)."""
    big = tmp_path / "big.yaml"
    big.write_text("rules: [\n" + "# padding\n" * 110_000)
    size = big.stat().st_size
    message = f"big.yaml: the file is {size:,} bytes, over the limit of 1,048,576 bytes for a playbook"
    test_file = tmp_path / "t.yaml"
    test_file.write_text("playbooks: [big.yaml]\ncases:\n  - {name: x, events: [], expect: []}\n")
    for args in (["run", str(big), "--events", str(log)], ["validate", str(big)], ["test", str(test_file)],
                 ["explain", str(big), "--events", str(log), "--rule", "ack"]):
        r = invoke(*args)
        assert r.code == 1, (args, r.err)
        assert message in r.err and "--max-playbook-bytes" in r.err, (args, r.err)
        assert "syntax" not in r.err
    # Raised, the limit lets the file be parsed: now it is the YAML error that is reported.
    r = invoke("validate", str(big), "--max-playbook-bytes", str(size))
    assert r.code == 1 and "YAML syntax error" in r.err and "over the limit" not in r.err
    # A playbook under a lowered limit is refused too; the shipped one passes the default.
    r = invoke("run", PLAYBOOK, "--events", str(log), "--max-playbook-bytes", "100")
    assert r.code == 1 and "over the limit of 100 bytes" in r.err
    assert invoke("run", PLAYBOOK, "--events", str(log), "-q").code == 0
    assert invoke("validate", PLAYBOOK, "--max-playbook-bytes", "0").code == 2


def test_load_playbook_takes_the_size_limit() -> None:
    from engine import PlaybookError, load_playbook

    with pytest.raises(PlaybookError, match=r"over the limit of 100 bytes for a playbook.*max_bytes="):
        load_playbook(PLAYBOOK, max_bytes=100)
    size = Path(PLAYBOOK).stat().st_size
    assert load_playbook(PLAYBOOK, max_bytes=size).name == load_playbook(PLAYBOOK, max_bytes=None).name


def test_a_large_document_without_aliases_is_not_called_an_alias_bomb(tmp_path: Path) -> None:
    from engine import PlaybookError, load_playbook

    path = tmp_path / "many.yaml"
    path.write_text("playbook: x\nversion: 1\nrules: [" + "1, " * 250_000 + "]\n")  # 750 kB: under the size limit
    with pytest.raises(PlaybookError) as info:
        load_playbook(str(path))
    message = str(info.value)
    assert "more than 200,000 nodes" in message and "alias" not in message


def _log_with_bad_lines(tmp_path: Path, bad: int) -> Path:
    """EVENTS (2 actions) and ``bad`` events without 'type' (skipped)."""
    path = tmp_path / "mixed.jsonl"
    lines = [json.dumps(e) for e in EVENTS]
    lines += [json.dumps({"id": f"b{i}", "time": "2026-03-02T16:30:00Z", "account": "a"}) for i in range(bad)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_run_whose_events_are_mostly_unused_warns_even_when_quiet(tmp_path: Path) -> None:
    path = tmp_path / "wrong-key.jsonl"  # every event keyed by 'customer', the playbook reads 'account'
    path.write_text("".join(json.dumps({**e, "customer": e["account"], "account": None}) + "\n" for e in EVENTS))
    r = invoke("run", PLAYBOOK, "--events", str(path), "-q")
    assert r.code == 0 and r.out == ""
    assert "warning: 2 of 2 events (100.0%) were skipped or had no key field: 0 skipped as invalid, " \
           "2 without the 'account' field" in r.err
    r = invoke("run", PLAYBOOK, "--events", str(_log_with_bad_lines(tmp_path, 3)), "-q")
    assert r.code == 0 and len(r.out.splitlines()) == 2
    assert "warning: 3 of 5 events (60.0%)" in r.err
    assert f"skipped (missing 'type'): 3, e.g. {tmp_path / 'mixed.jsonl'}:3: missing 'type'" in r.err
    # At most 10% unused: no warning.
    lines = [json.dumps({**EVENTS[0], "id": f"e{i}", "thread": f"t{i}"}) for i in range(19)] + ['{"id": "bad"}']
    (tmp_path / "few.jsonl").write_text("\n".join(lines) + "\n")
    r = invoke("run", PLAYBOOK, "--events", str(tmp_path / "few.jsonl"), "-q")
    assert r.code == 0 and r.err == ""


def test_max_skipped_fails_the_run_after_writing_its_actions(tmp_path: Path) -> None:
    log = _log_with_bad_lines(tmp_path, 3)
    r = invoke("run", PLAYBOOK, "--events", str(log), "-q", "--max-skipped", "50%")
    assert r.code == 1 and len(r.out.splitlines()) == 2
    assert "error: 3 of 5 events (60.0%) were skipped" in r.err
    assert "error: more than 50% of the events read skipped or without a key field (--max-skipped 50%)" in r.err
    assert invoke("run", PLAYBOOK, "--events", str(log), "-q", "--max-skipped", "60%").code == 0
    assert invoke("run", PLAYBOOK, "--events", str(log), "--max-skipped", "3").code == 0
    r = invoke("run", PLAYBOOK, "--events", str(log), "--max-skipped", "2")
    assert r.code == 1 and "more than 2 events skipped" in r.err and "outcomes:" in r.err
    # With --db too: the actions are in the ledger and written out, then the run fails.
    out, db = tmp_path / "actions.jsonl", tmp_path / "s.db"
    r = invoke("run", PLAYBOOK, "--events", str(log), "--db", str(db), "--out", str(out), "-q", "--max-skipped", "0")
    assert r.code == 1 and "more than 0 events skipped" in r.err
    assert len(out.read_text().splitlines()) == 2
    assert len(invoke("actions", "--db", str(db)).out.splitlines()) == 2
    for bad in ("x", "-1", "120%", "5 %%"):
        r = invoke("run", PLAYBOOK, "--events", str(log), "--max-skipped", bad)
        assert r.code == 2 and "--max-skipped" in r.err, bad


def test_max_skipped_in_the_python_api(tmp_path: Path) -> None:
    from engine import Engine, load_playbook, read_events
    from engine.summary import MaxSkipped

    engine = Engine([load_playbook(PLAYBOOK)])
    engine.run(read_events(str(_log_with_bad_lines(tmp_path, 3))))
    summary = engine.summary
    assert summary.events_unused == 3
    assert MaxSkipped.parse("50%").exceeded_by(summary) and not MaxSkipped.parse("60%").exceeded_by(summary)
    assert MaxSkipped.parse("2").exceeded_by(summary) and not MaxSkipped.parse("3").exceeded_by(summary)
    warning = summary.unused_warning(["account"])
    assert warning is not None and warning.startswith("3 of 5 events (60.0%) were skipped")
    with pytest.raises(ValueError, match="not a number of events"):
        MaxSkipped.parse("lots")


CALENDAR_PLAYBOOK = """playbook: cal
version: 1
calendars:
  support: {timezone: UTC, hours: {mon-fri: "09:00-17:00"}}
rules:
  - id: ack
    when: {type: ask}
    expect: {type: answer, same: [thread], within: 1h, calendar: "{{ trigger.desk }}"}
    actions: {on_breach: [{do: escalate}]}
"""


def test_an_undeclared_calendar_from_a_template_is_a_warning_even_when_quiet(tmp_path: Path) -> None:
    playbook = tmp_path / "cal.yaml"
    playbook.write_text(CALENDAR_PLAYBOOK)
    log = tmp_path / "e.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in [
        {"id": "a1", "time": "2026-03-02T10:00:00Z", "type": "ask", "account": "a", "thread": "t1", "desk": "support"},
        {"id": "a2", "time": "2026-03-02T10:00:00Z", "type": "ask", "account": "a", "thread": "t2", "desk": "emea"},
        {"id": "z", "time": "2026-03-03T10:00:00Z", "type": "other", "account": "a"},
    ]))
    r = invoke("run", str(playbook), "--events", str(log), "-q")
    assert r.code == 0 and len(r.out.splitlines()) == 2
    assert r.err.splitlines() == [
        "warning: cal/ack: 1 trigger or start whose calendar template named no declared calendar",
        f"  {log}:2: the calendar template gave 'emea', not a declared calendar: exact time (24/7) used",
        "warning: declare these calendars or fix the template (--strict-calendars makes this fail the run)",
    ]
    r = invoke("run", str(playbook), "--events", str(log), "-q", "--strict-calendars")
    assert r.code == 1 and len(r.out.splitlines()) == 2  # the actions are written, then the run fails
    assert r.err.startswith("error: cal/ack: 1 trigger or start whose calendar template named no declared calendar")
    out, db = tmp_path / "actions.jsonl", tmp_path / "s.db"
    r = invoke("run", str(playbook), "--events", str(log), "--db", str(db), "--out", str(out), "--strict-calendars")
    assert r.code == 1 and "error: cal/ack: 1 trigger" in r.err and len(out.read_text().splitlines()) == 2
    # Every trigger naming a declared calendar: nothing to say.
    log.write_text(log.read_text().replace('"emea"', '"support"'))
    r = invoke("run", str(playbook), "--events", str(log), "-q", "--strict-calendars")
    assert r.code == 0 and r.err == ""


def test_calendar_fallbacks_in_the_python_api(tmp_path: Path) -> None:
    from engine import Engine, load_playbook_text

    engine = Engine([load_playbook_text(CALENDAR_PLAYBOOK)])
    engine.run([{"id": "a2", "time": "2026-03-02T10:00:00Z", "type": "ask", "account": "a", "thread": "t2",
                 "desk": "emea"}], until="2026-03-03T00:00:00Z")
    assert engine.summary.rules["cal/ack"].calendar_fallbacks == 1
    assert engine.summary.to_dict()["calendar_fallbacks"]["cal/ack"]["count"] == 1
    assert engine.summary.calendar_warnings()[0].startswith("cal/ack: 1 trigger or start")


PROGRESS_LINE = re.compile(r"\r([\d,]+) events read, ([\d,]+) events/s, \d+:\d\d:\d\d elapsed *")


def _on_a_terminal(args: list[str], tmp_path: Path, stdout_on_terminal: bool = False) -> tuple[int, str]:
    """Run ``playbook ARGS`` in a process whose stderr (and stdout, if asked) is a pseudo-terminal;
    returns the exit code and everything written to the terminal. The progress line is redrawn
    at every look at the clock (PLAYBOOK_PROGRESS_INTERVAL=0), so no timing is assumed."""
    import os
    import pty
    import select
    import subprocess
    import sys

    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PLAYBOOK_PROGRESS_INTERVAL": "0"}
    with open(tmp_path / "stdout", "w") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from cli.main import entry; entry()", *args],
                                stdin=subprocess.DEVNULL, stdout=slave if stdout_on_terminal else out,
                                stderr=slave, cwd=ROOT, env=env)
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            assert ready, "the command wrote nothing for 120 s"
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every end of the terminal the child held is closed
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        code = proc.wait(timeout=120)
    return code, b"".join(chunks).decode().replace("\r\n", "\n")


def test_progress_line_on_a_terminal(tmp_path: Path) -> None:
    log = tmp_path / "many.jsonl"
    log.write_text("".join(json.dumps({**EVENTS[i % 2], "id": f"e{i}", "thread": f"t{i // 2}"}) + "\n"
                           for i in range(3000)))
    code, text = _on_a_terminal(["run", PLAYBOOK, "--events", str(log), "--out", str(tmp_path / "a.jsonl")], tmp_path)
    assert code == 0, text
    shown = PROGRESS_LINE.findall(text)
    counts = [int(n.replace(",", "")) for n, _ in shown]
    assert counts and counts == sorted(counts) and counts[-1] <= 3000 and all(n % 256 == 0 for n in counts)
    # The last line drawn is cleared (overwritten with spaces) before the summary is printed.
    last = list(PROGRESS_LINE.finditer(text))[-1]
    width = len(last.group(0)) - 1
    assert "\r" + " " * width + "\r" + "events: 3,000 read" in text
    summary = text[text.index("events: 3,000 read"):]
    assert "events read," not in summary
    # --quiet: nothing at all; actions on the same terminal: no progress line between them.
    code, text = _on_a_terminal(["run", PLAYBOOK, "--events", str(log), "--out", str(tmp_path / "a.jsonl"), "-q"],
                                tmp_path)
    assert code == 0 and text == ""
    code, text = _on_a_terminal(["run", PLAYBOOK, "--events", str(log)], tmp_path, stdout_on_terminal=True)
    assert code == 0 and '"rule": ' not in text and '"rule":"ack"' in text and "events read," not in text
    # With --db, and while ingesting.
    db = tmp_path / "s.db"
    code, text = _on_a_terminal(["ingest", str(log), "--db", str(db)], tmp_path)
    assert code == 0 and PROGRESS_LINE.search(text) and "3,000 events loaded" in text
    code, text = _on_a_terminal(["run", PLAYBOOK, "--events", "db", "--db", str(db), "--out",
                                 str(tmp_path / "b.jsonl")], tmp_path)
    assert code == 0 and PROGRESS_LINE.search(text) and "events: 3,000 read" in text, text
    # Not a terminal: no progress line.
    r = invoke("run", PLAYBOOK, "--events", str(log), "--out", str(tmp_path / "c.jsonl"))
    assert r.code == 0 and "events read," not in r.err
