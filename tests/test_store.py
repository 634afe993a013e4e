"""The SQLite store: incremental runs, duplicates, late events, changed playbooks, bad files."""

from __future__ import annotations

import errno
import io
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import main
from engine import Engine, load_playbook
from engine.actions import dumps
from engine.durable import DurableRun
from engine.errors import StateError, UsageError
from engine.store import STORE_VERSION, SQLiteStore, _time_sql
from engine.timecalc import format_time
from tests.conftest import ROOT

SHIPPED = str(ROOT / "playbooks" / "us-retention.yaml")
SAMPLE = ROOT / "examples" / "events.jsonl"
EXPECTED = (ROOT / "tests" / "golden" / "sample" / "expected.jsonl").read_text()


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def count_validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files checked against the schema from now on, in order (the check still runs)."""
    from engine import schema

    calls: list[str] = []
    validate = schema.validate
    monkeypatch.setattr(schema, "validate", lambda data, pos: calls.append(pos.file) or validate(data, pos))
    return calls


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line if line.endswith("\n") else line + "\n" for line in lines))
    return path


def test_two_halves_equal_one_run(tmp_path: Path) -> None:
    lines = SAMPLE.read_text().splitlines()
    first = write_lines(tmp_path / "a.jsonl", lines[:200])
    second = write_lines(tmp_path / "b.jsonl", lines[200:])
    db = str(tmp_path / "cs.db")
    r1 = cli("run", SHIPPED, "--events", str(first), "--db", db)
    r2 = cli("run", SHIPPED, "--events", str(second), "--db", db)
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.stderr + r2.stderr
    assert r1.stdout + r2.stdout == EXPECTED
    ledger = cli("actions", "--db", db)
    assert sorted(ledger.stdout.splitlines()) == sorted(EXPECTED.splitlines())


def test_rerun_and_overlapping_export_emit_nothing_twice(tmp_path: Path) -> None:
    lines = SAMPLE.read_text().splitlines()
    db = str(tmp_path / "cs.db")
    r1 = cli("run", SHIPPED, "--events", str(write_lines(tmp_path / "a.jsonl", lines[:300])), "--db", db)
    overlap = write_lines(tmp_path / "b.jsonl", lines[250:])
    r2 = cli("run", SHIPPED, "--events", str(overlap), "--db", db)
    assert "50 duplicate events skipped" in r2.stderr
    assert r1.stdout + r2.stdout == EXPECTED
    r3 = cli("run", SHIPPED, "--events", str(SAMPLE), "--db", db)
    assert r3.exit_code == 0 and r3.stdout == ""
    assert "400 duplicate events skipped" in r3.stderr and "0 new actions" in r3.stderr


def test_late_events_are_kept_and_reported(tmp_path: Path) -> None:
    db = tmp_path / "cs.db"
    pb = str(ROOT / "tests/golden/response/playbook.yaml")
    ask = {"id": "e1", "time": "2026-03-02T14:00:00Z", "type": "ask", "account": "a", "thread": "t", "channel": "email"}
    tick = {"id": "e2", "time": "2026-03-02T18:00:00Z", "type": "tick", "account": "a"}
    cli("run", pb, "--events", str(write_lines(tmp_path / "1.jsonl", [json.dumps(ask), json.dumps(tick)])), "--db", str(db))
    late = {"id": "e3", "time": "2026-03-02T14:30:00Z", "type": "answer", "account": "a", "thread": "t"}
    r = cli("run", pb, "--events", str(write_lines(tmp_path / "2.jsonl", [json.dumps(late)])), "--db", str(db))
    assert r.exit_code == 0 and r.stdout == ""
    assert "1 late events set aside" in r.stderr
    rows = list(sqlite3.connect(db).execute("SELECT id, reason FROM late_events"))
    assert rows == [("e3", "earlier than the stored clock 2026-03-02T18:00:00Z")]


def test_allowed_lateness_processes_late_events_in_order(tmp_path: Path) -> None:
    db = str(tmp_path / "cs.db")
    pb = str(ROOT / "tests/golden/response/playbook.yaml")
    ask = {"id": "e1", "time": "2026-03-02T14:00:00Z", "type": "ask", "account": "a", "thread": "t", "channel": "email"}
    tick = {"id": "e2", "time": "2026-03-02T15:30:00Z", "type": "tick", "account": "a"}
    r1 = cli("run", pb, "--events", str(write_lines(tmp_path / "1.jsonl", [json.dumps(ask), json.dumps(tick)])),
             "--db", db, "--allowed-lateness", "1h")
    # The clock stays at 14:30: the 15:00 deadline has not passed, the tick is held back.
    assert r1.stdout == "" and "1 held back" in r1.stderr
    late_answer = {"id": "e3", "time": "2026-03-02T14:45:00Z", "type": "answer", "account": "a", "thread": "t"}
    r2 = cli("run", pb, "--events", str(write_lines(tmp_path / "2.jsonl", [json.dumps(late_answer)])),
             "--db", db, "--allowed-lateness", "1h")
    # Not late: after the clock (14:30), so it waits in order with the tick.
    assert r2.stdout == "" and "0 late events" in r2.stderr and "2 held back" in r2.stderr
    later = {"id": "e4", "time": "2026-03-02T16:30:00Z", "type": "tick", "account": "a"}
    r3 = cli("run", pb, "--events", str(write_lines(tmp_path / "3.jsonl", [json.dumps(later)])),
             "--db", db, "--allowed-lateness", "1h")
    # The clock reaches 15:30: the answer (14:45) came before the 15:00 deadline.
    assert [(json.loads(x)["outcome"], json.loads(x)["at"]) for x in r3.stdout.splitlines()] == [
        ("met", "2026-03-02T14:45:00Z")]


def test_a_held_back_event_given_again_is_a_duplicate(tmp_path: Path) -> None:
    db = str(tmp_path / "cs.db")
    pb = str(ROOT / "tests/golden/response/playbook.yaml")
    ask = {"id": "e1", "time": "2026-03-02T14:00:00Z", "type": "ask", "account": "a", "thread": "t", "channel": "email"}
    answer = {"id": "e2", "time": "2026-03-02T14:40:00Z", "type": "answer", "account": "a", "thread": "t"}
    tick = {"id": "e3", "time": "2026-03-02T15:30:00Z", "type": "tick", "account": "a"}
    first = [json.dumps(ask), json.dumps(answer), json.dumps(tick)]
    r1 = cli("run", pb, "--events", str(write_lines(tmp_path / "1.jsonl", first)), "--db", db, "--allowed-lateness", "1h")
    assert "2 held back" in r1.stderr  # the answer and the tick
    r2 = cli("run", pb, "--events", str(write_lines(tmp_path / "2.jsonl", first[1:])), "--db", db, "--until",
             "2026-03-02T16:00:00Z", "--allowed-lateness", "1h")
    assert "2 duplicate events skipped" in r2.stderr and "0 held back" in r2.stderr
    assert [json.loads(x)["outcome"] for x in r2.stdout.splitlines()] == ["met"]
    runs = sqlite3.connect(db).execute("SELECT events_processed FROM runs ORDER BY id").fetchall()
    assert runs == [(1,), (2,)]


def test_ids_with_lone_surrogates_are_stored_and_recognised(tmp_path: Path) -> None:
    """JSON may escape a lone surrogate ("\\ud800"), which SQLite text cannot hold."""
    db = str(tmp_path / "cs.db")
    pb = str(ROOT / "tests/golden/response/playbook.yaml")
    lines = ['{"id": "e\\ud800x", "type": "ask", "time": "2026-03-02T14:00:00Z", "account": "a", "thread": "t", '
             '"channel": "email"}',
             '{"id": "e2", "type": "tick\\udc80", "time": "2026-03-02T19:00:00Z", "account": "a"}']
    events = write_lines(tmp_path / "1.jsonl", lines)
    r1 = cli("run", pb, "--events", str(events), "--db", db)
    assert r1.exit_code == 0, r1.stderr
    assert [json.loads(x)["trigger"]["id"] for x in r1.stdout.splitlines()] == ["e\ud800x"]
    r2 = cli("run", pb, "--events", str(events), "--db", db)  # a rerun: both are duplicates
    assert r2.exit_code == 0 and r2.stdout == "" and "2 duplicate events skipped" in r2.stderr, r2.stderr
    late = write_lines(tmp_path / "2.jsonl", [lines[0].replace("e\\ud800x", "e3\\ud800")])
    r3 = cli("run", pb, "--events", str(late), "--db", db)
    assert r3.exit_code == 0 and "1 late events set aside" in r3.stderr, r3.stderr
    assert cli("ingest", str(events), "--db", db).exit_code == 0


def test_changed_playbook_is_refused_unless_reset_or_migratable(tmp_path: Path) -> None:
    src = (ROOT / "tests/golden/response/playbook.yaml").read_text()
    pb = tmp_path / "p.yaml"
    pb.write_text(src)
    db = str(tmp_path / "cs.db")
    events = write_lines(tmp_path / "e.jsonl", [json.dumps(
        {"id": "e1", "time": "2026-03-02T14:00:00Z", "type": "ask", "account": "a", "thread": "t", "channel": "email"})])
    assert cli("run", str(pb), "--events", str(events), "--db", db).exit_code == 0
    pb.write_text(src.replace("within: 1h", "within: 2h"))
    r = cli("run", str(pb), "--events", str(events), "--db", db)
    assert r.exit_code == 1 and "rule ack changed" in r.stderr and "--reset-state" in r.stderr
    r = cli("run", str(pb), "--events", str(events), "--db", db, "--reset-state")
    assert r.exit_code == 0 and "saved state reset" in r.stderr
    # Adding a rule and changing only actions and descriptions is a migration, reported.
    pb.write_text(src.replace("within: 1h", "within: 2h").replace("do: ok, elapsed", "do: fine, elapsed")
                  + "  - {id: extra, when: ping, actions: {on_match: [{do: pong}]}}\n")
    r = cli("run", str(pb), "--events", str(events), "--db", db)
    assert r.exit_code == 0 and "new rule extra starts fresh" in r.stderr


def test_ingest_and_run_from_the_events_table(tmp_path: Path) -> None:
    db = str(tmp_path / "cs.db")
    r = cli("ingest", str(SAMPLE), "--db", db)
    assert r.exit_code == 0 and "400 events loaded" in r.stderr
    r = cli("ingest", str(SAMPLE), "--db", db)
    assert "0 events loaded" in r.stderr and "400 already there" in r.stderr
    r = cli("run", SHIPPED, "--events", "db", "--db", db)
    assert r.exit_code == 0 and r.stdout == EXPECTED
    r = cli("run", SHIPPED, "--events", "db", "--db", db)
    assert r.stdout == ""
    r = cli("actions", "--db", db, "--rule", "qbr-every-90d", "--outcome", "breach", "--format", "table")
    assert r.exit_code == 0 and r.stdout.count("qbr-every-90d") == 2
    r = cli("actions", "--db", db, "--since", "2026-04-01T00:00:00Z", "--key", "hooli")
    assert r.stdout and all(json.loads(x)["key"] == "hooli" and x >= "" for x in r.stdout.splitlines())
    assert cli("run", SHIPPED, "--events", "db").exit_code == 2  # --events db needs --db


def test_the_readable_tables(tmp_path: Path) -> None:
    db = tmp_path / "cs.db"
    cli("run", SHIPPED, "--events", str(SAMPLE), "--db", str(db))
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM actions").fetchone()[0] == len(EXPECTED.splitlines())
    kinds = dict(con.execute("SELECT kind, count(*) FROM obligations GROUP BY kind").fetchall())
    assert kinds.get("cadence") == 7
    run = con.execute("SELECT status, events_read, events_processed, actions_new FROM runs").fetchall()
    assert run == [("completed", 400, 400, len(EXPECTED.splitlines()))]
    assert con.execute("SELECT count(*) FROM processed").fetchone()[0] == 400


def _obligation_rows(snapshot: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What the ``obligations`` view must show, computed from the engine's snapshot in Python."""
    rows = []
    for saved in snapshot["playbooks"]:
        for rule_id, state in saved["state"]["rules"].items():
            for ob in state.get("obligations", []):
                rows.append((saved["name"], rule_id, "response", dumps(ob["key"]), dumps(ob["subject"]),
                             "open" if ob["status"] == 0 else "breached", ob["trigger"]["id"], ob["trigger"]["type"],
                             format_time(ob["trigger"]["t"]),
                             None if ob["deadline"] is None else format_time(ob["deadline"]),
                             None if ob["breach_at"] is None else format_time(ob["breach_at"]), None))
            for cad in state.get("cadences", []):
                rows.append((saved["name"], rule_id, "cadence", dumps(cad["key"]), "{}",
                             "overdue" if cad["periods_missed"] else "running", cad["trigger"]["id"],
                             cad["trigger"]["type"], format_time(cad["trigger"]["t"]), format_time(cad["due"]),
                             None if cad["first_missed"] is None else format_time(cad["first_missed"]),
                             cad["periods_missed"]))
    return sorted(rows, key=repr)


def test_the_obligations_view_shows_the_saved_state(tmp_path: Path) -> None:
    import random

    rng = random.Random(2)
    generated = [{  # times with fractions of a second; obligations open and breached at the end
        "id": f"e{i}", "type": rng.choice(TYPES), "time": 1_767_225_600 + rng.randrange(0, 40) * 3 * 3600
        + rng.randrange(0, 10**6) / 1e6, "account": rng.choice("abc"), "thread": rng.choice(["t1", "t2"]),
        "incident": "i1", "channel": "email", "severity": "sev1", "region": "APAC", "location": "Austin",
        "roi": {"value_usd": rng.randrange(-1, 3)},
    } for i in range(80)]
    sample = [json.loads(x) for x in SAMPLE.read_text().splitlines()]  # cadences running and overdue
    statuses = set()
    for n, (playbooks, events) in enumerate([([load_playbook(SHIPPED)], sample), ([PB, CADENCE, SIGNAL], generated)]):
        engine = Engine(playbooks)
        store = SQLiteStore(str(tmp_path / f"{n}.db"))
        DurableRun(engine, store).run(events, emit=lambda lines: None)
        view = sorted(store.db.execute("SELECT * FROM obligations").fetchall(), key=repr)
        store.close()
        expected = _obligation_rows(engine.snapshot())
        assert view == expected
        statuses |= {row[5] for row in expected}
    assert statuses == {"open", "breached", "running", "overdue"}


def test_the_ledger_columns_are_read_from_the_action_line(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "cs.db"))
    DurableRun(Engine(load_playbook(SHIPPED)), store).run([json.loads(x) for x in SAMPLE.read_text().splitlines()],
                                                          emit=lambda lines: None)
    rows = store.db.execute("SELECT playbook, rule, outcome, reason, do, at, key, subject, deadline, trigger_id, "
                            "trigger_time, event_id, params, record, printed FROM actions").fetchall()
    assert len(rows) == len(EXPECTED.splitlines())
    for *columns, record, printed in rows:
        a = json.loads(record)
        assert columns == [a["playbook"], a["rule"], a["outcome"], a["reason"], a["do"], a["at"], dumps(a["key"]),
                           dumps(a["subject"]), a["deadline"], (a["trigger"] or {}).get("id"),
                           (a["trigger"] or {}).get("time"), (a["event"] or {}).get("id"), dumps(a["params"])]
        assert printed == 1
    store.close()


@settings(max_examples=300, deadline=None)
@given(st.integers(-62_135_596_800 * 10**6, 253_402_300_799 * 10**6) | st.integers(-(10**7), 10**7))
def test_times_in_sql_are_written_as_the_engine_writes_them(us: int) -> None:
    """Years 1 to 9999, fractions of a second, before 1970."""
    con = sqlite3.connect(":memory:")
    assert con.execute(f"WITH v(us) AS (SELECT ?) SELECT {_time_sql('us')} FROM v", [us]).fetchone()[0] == format_time(us)


def test_a_version_1_store_is_migrated_and_continues(tmp_path: Path) -> None:
    """A store written by the first release: its ledger, processed events and state carry over.

    The store holds what release 1 made of its sample's first 300 lines with its shipped
    playbook: both are kept as they were then in tests/data/release1/ (with the actions
    they give), since today's sample and playbook have grown since."""
    release1 = ROOT / "tests" / "data" / "release1"
    shipped, sample = str(release1 / "us-retention.yaml"), release1 / "events.jsonl"
    expected = (release1 / "expected.jsonl").read_text()
    db = tmp_path / "v1.db"
    con = sqlite3.connect(db)
    con.executescript((ROOT / "tests" / "data" / "store-v1.sql").read_text())  # the sample's first 300 lines
    con.close()
    rest = write_lines(tmp_path / "rest.jsonl", sample.read_text().splitlines()[300:])
    r = cli("run", shipped, "--events", str(rest), "--db", str(db))
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "".join(line + "\n" for line in expected.splitlines()[48:])  # the first 48 came from release 1
    assert sorted(cli("actions", "--db", str(db)).stdout.splitlines()) == sorted(expected.splitlines())
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM store_meta WHERE key = 'version'").fetchone()[0] == STORE_VERSION
    kinds = dict(con.execute("SELECT type, name FROM sqlite_master WHERE name IN ('obligations', 'actions_v1')"))
    assert kinds == {"view": "obligations"}
    assert con.execute("SELECT count(*) FROM processed").fetchone()[0] == 400
    assert cli("run", shipped, "--events", str(sample), "--db", str(db)).stdout == ""  # all 400 are duplicates


def test_bad_store_files_give_clear_errors(tmp_path: Path) -> None:
    events = str(SAMPLE)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    r = cli("run", SHIPPED, "--events", events, "--db", str(junk))
    assert r.exit_code == 1 and "not a playbook store" in r.stderr and "Traceback" not in r.stderr
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE customers (id INTEGER)").connection.commit()
    r = cli("run", SHIPPED, "--events", events, "--db", str(foreign))
    assert r.exit_code == 1 and "not a playbook store" in r.stderr and "customers" in r.stderr
    assert cli("actions", "--db", str(tmp_path / "missing.db")).exit_code == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_folder(tmp_path: Path) -> None:  # pragma: no cover - CI runs as root
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    r = cli("run", SHIPPED, "--events", str(SAMPLE), "--db", str(ro / "cs.db"))
    assert r.exit_code == 1 and "cannot write" in r.stderr


def test_read_only_database_file(tmp_path: Path) -> None:
    db = tmp_path / "cs.db"
    store = SQLiteStore(str(db))
    store.close()
    uri = f"file:{db}?mode=ro"
    engine = Engine(load_playbook(SHIPPED))
    ro = SQLiteStore.__new__(SQLiteStore)
    ro.path = str(db)
    import threading

    import sqlite_utils

    ro._lock = threading.RLock()

    ro.db = sqlite_utils.Database(sqlite3.connect(uri, uri=True))
    with pytest.raises(StateError, match="cannot write"):
        DurableRun(engine, ro).run([], emit=lambda lines: None)


def test_disk_full_leaves_the_last_good_state(tmp_path: Path) -> None:
    db = str(tmp_path / "cs.db")
    pb = load_playbook(SHIPPED)
    lines = [json.loads(x) for x in SAMPLE.read_text().splitlines()]
    store = SQLiteStore(db)
    DurableRun(Engine(pb), store).run(lines[:100], emit=lambda x: None)
    before = store.load_state()
    store.close()
    pages = sqlite3.connect(db).execute("PRAGMA page_count").fetchone()[0]
    tiny = SQLiteStore(db, max_pages=pages + 1)
    with pytest.raises(StateError, match="disk is full"):
        DurableRun(Engine(pb), tiny).run(lines[100:], emit=lambda x: None)
    tiny.close()
    assert SQLiteStore(db).load_state() == before


TYPES = ["ask", "answer", "incident.opened", "status.posted", "complaint", "contract.signed", "contract.ended",
         "qbr.held", "signal.expansion", "signal.hiring", "ping", "tick"]
PB = load_playbook(str(ROOT / "tests/golden/response/playbook.yaml"))
CADENCE = load_playbook(str(ROOT / "tests/golden/cadence/playbook.yaml"))
SIGNAL = load_playbook(str(ROOT / "tests/golden/signal/playbook.yaml"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 6), st.integers(0, 2**16))
def test_slices_run_with_a_store_equal_one_run(tmp_path_factory: pytest.TempPathFactory, slices: int, seed: int) -> None:
    import random

    rng = random.Random(seed)
    events = []
    for i in range(60):
        events.append({
            "id": f"e{i}", "type": rng.choice(TYPES), "time": 1_767_225_600 + rng.randrange(0, 40) * 3 * 3600,
            "account": rng.choice("ab"), "thread": rng.choice(["t1", "t2"]), "incident": "i1", "channel": "email",
            "severity": "sev1", "region": "APAC", "location": "Austin", "roi": {"value_usd": rng.randrange(-1, 3)},
        })
    events.sort(key=lambda e: e["time"])
    whole = sorted(a.to_json() for a in Engine([PB, CADENCE, SIGNAL]).run(events))
    db = str(tmp_path_factory.mktemp("s") / "cs.db")
    written: list[str] = []
    bounds = sorted({0, len(events), *(rng.randrange(len(events)) for _ in range(slices - 1))})
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        store = SQLiteStore(db)
        DurableRun(Engine([PB, CADENCE, SIGNAL]), store, commit_every=rng.choice([1, 7, 1000]),
                   background=rng.random() < 0.5).run(events[lo:hi], emit=written.extend, ordered=rng.random() < 0.5)
        store.close()
    assert sorted(written) == whole


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 4), st.integers(0, 2**16), st.sampled_from([0, 3600, 10 * 3600]), st.booleans())
def test_ordered_runs_equal_sorted_runs(tmp_path_factory: pytest.TempPathFactory, slices: int, seed: int,
                                        lateness_s: int, with_until: bool) -> None:
    """Streaming events given in time order (ordered=True) is the same as reading them whole
    and sorting: the same actions written, and the same duplicates, late and held-back counts,
    with overlapping and late slices, lateness and until."""
    import random

    rng = random.Random(seed)
    events = [{
        "id": f"e{i}", "type": rng.choice(TYPES), "time": 1_767_225_600 + rng.randrange(0, 30) * 3 * 3600,
        "account": rng.choice("ab"), "thread": rng.choice(["t1", "t2"]), "incident": "i1", "channel": "email",
        "severity": "sev1", "region": "APAC", "location": "Austin", "roi": {"value_usd": rng.randrange(-1, 3)},
    } for i in range(50)]
    parts = [rng.sample(events, rng.randrange(1, len(events))) for _ in range(slices)]  # overlapping, any order
    until = [1_767_225_600 + rng.randrange(0, 100) * 3600 if with_until and rng.random() < 0.5 else None
             for _ in parts]
    results = []
    for ordered in (False, True):
        db = str(tmp_path_factory.mktemp("o") / "cs.db")
        written: list[str] = []
        counts = []
        for part, end in zip(parts, until, strict=True):
            given_events = sorted(part, key=lambda e: e["time"]) if ordered else part
            store = SQLiteStore(db)
            summary = DurableRun(Engine([PB, CADENCE, SIGNAL]), store, allowed_lateness_us=lateness_s * 1_000_000,
                                 commit_every=rng.choice([1, 5, 1000]), background=not ordered).run(
                given_events, emit=written.extend, until=end, ordered=ordered)
            store.close()
            counts.append((summary.duplicates, summary.late, summary.held_back, summary.actions_new))
        results.append((written, counts))
    assert results[0] == results[1]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(2, 5), st.integers(0, 2**16), st.sampled_from([3600, 5 * 3600, 20 * 3600]), st.booleans())
def test_events_within_the_allowed_lateness_are_processed_in_order(
        tmp_path_factory: pytest.TempPathFactory, slices: int, seed: int, lateness_s: int, ordered: bool) -> None:
    """Slices whose events arrive up to the allowed lateness after their time, then a run
    up to the last event's time: exactly the actions of one run over the whole log."""
    import random

    rng = random.Random(seed)
    times = sorted(rng.sample(range(0, 60 * 3600, 600), 40))  # distinct: no ties to reorder
    events = [{
        "id": f"e{i}", "type": rng.choice(TYPES), "time": 1_767_225_600 + t,
        "account": rng.choice("ab"), "thread": rng.choice(["t1", "t2"]), "incident": "i1", "channel": "email",
        "severity": "sev1", "region": "APAC", "location": "Austin", "roi": {"value_usd": rng.randrange(-1, 3)},
    } for i, t in enumerate(times)]
    bounds = sorted({0, len(events), *(rng.randrange(1, len(events)) for _ in range(slices - 1))})
    parts = [events[lo:hi] for lo, hi in zip(bounds, bounds[1:], strict=False)]
    for k in range(len(parts) - 1):  # some events arrive with the next slice, still within the lateness
        newest = max(e["time"] for e in parts[k])
        moved = [e for e in parts[k] if newest - lateness_s <= e["time"] < newest and rng.random() < 0.5]
        parts[k] = [e for e in parts[k] if e not in moved]
        parts[k + 1] = parts[k + 1] + moved
    end = events[-1]["time"]
    whole = sorted(a.to_json() for a in Engine([PB, CADENCE, SIGNAL]).run(events, until=end))
    db = str(tmp_path_factory.mktemp("l") / "cs.db")
    written: list[str] = []
    for part in [*parts, []]:
        store = SQLiteStore(db)
        DurableRun(Engine([PB, CADENCE, SIGNAL]), store, allowed_lateness_us=lateness_s * 1_000_000,
                   commit_every=rng.choice([1, 5, 1000])).run(
            sorted(part, key=lambda e: e["time"]) if ordered else part, emit=written.extend,
            until=end if not part else None, ordered=ordered)
        store.close()
    assert sorted(written) == whole


def test_lateness_holds_back_what_the_newest_event_leaves_open(tmp_path: Path) -> None:
    hours = [0, 80, 86, 87]
    events = [{"id": f"e{i}", "type": "ask", "time": 1_767_225_600 + h * 3600, "account": "a", "thread": f"t{i}",
               "channel": "email"} for i, h in enumerate(hours)]
    for ordered in (False, True):
        store = SQLiteStore(str(tmp_path / f"{ordered}.db"))
        engine = Engine(PB)
        summary = DurableRun(engine, store, allowed_lateness_us=10 * 3600 * 1_000_000).run(
            events, emit=lambda lines: None, ordered=ordered)
        store.close()
        # The clock stops 10 h before the newest event (87 h): 80, 86 and 87 h wait.
        assert summary.held_back == 3
        assert engine.clock == 1_767_225_600_000_000 + 77 * 3600 * 1_000_000


def test_ordered_events_out_of_order_are_refused(tmp_path: Path) -> None:
    events = [{"id": "e1", "type": "ask", "time": "2026-03-02T15:00:00Z", "account": "a", "thread": "t"},
              {"id": "e2", "type": "ask", "time": "2026-03-02T14:00:00Z", "account": "a", "thread": "t"}]
    store = SQLiteStore(str(tmp_path / "cs.db"))
    with pytest.raises(UsageError, match="earlier than the event before it"):
        DurableRun(Engine(PB), store).run(events, emit=lambda lines: None, ordered=True)
    store.close()


def test_a_db_run_on_a_file_out_of_order_equals_one_run(tmp_path: Path) -> None:
    """The CLI reads a plain JSON Lines file in time order (two passes, nothing per event
    kept when it is already ordered): a shuffled file gives the same actions."""
    import random

    lines = SAMPLE.read_text().splitlines()
    random.Random(7).shuffle(lines)
    db = str(tmp_path / "cs.db")
    r = cli("run", SHIPPED, "--events", str(write_lines(tmp_path / "shuffled.jsonl", lines)), "--db", db)
    assert r.exit_code == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == sorted(EXPECTED.splitlines())


def test_a_store_spares_the_schema_check_of_a_playbook_it_ran(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store keeps the stamp of the playbook text its last run checked; the next run over
    the same text does not check it against the schema again, an edited text is checked."""
    import hashlib

    from engine import schema
    from engine.store import schema_checked_in

    lines = SAMPLE.read_text().splitlines()
    playbook = tmp_path / "pb.yaml"
    playbook.write_bytes(Path(SHIPPED).read_bytes())
    db = str(tmp_path / "cs.db")
    assert schema_checked_in(db) == frozenset()
    calls = count_validations(monkeypatch)

    r1 = cli("run", str(playbook), "--events", str(write_lines(tmp_path / "a.jsonl", lines[:200])), "--db", db)
    assert r1.exit_code == 0 and calls == [str(playbook)]
    stamp = schema.checked_stamp(hashlib.sha256(playbook.read_bytes()).hexdigest())
    store = SQLiteStore(db)
    assert schema_checked_in(db) == {stamp} == store.schema_checked()
    store.close()

    r2 = cli("run", str(playbook), "--events", str(write_lines(tmp_path / "b.jsonl", lines[200:])), "--db", db)
    assert r2.exit_code == 0 and calls == [str(playbook)]  # not checked again
    assert r1.stdout + r2.stdout == EXPECTED

    playbook.write_bytes(playbook.read_bytes() + b"# edited\n")
    assert cli("run", str(playbook), "--events", str(SAMPLE), "--db", db).exit_code == 0
    assert calls == [str(playbook)] * 2
    assert schema_checked_in(db) != {stamp}  # the edited text's stamp took its place

    # An edit that breaks the schema is reported as ever, with its position.
    playbook.write_text(Path(SHIPPED).read_text().replace("version: 1", "version: one", 1))
    bad = cli("run", str(playbook), "--events", str(SAMPLE), "--db", db)
    assert bad.exit_code == 1 and f"{playbook}:" in bad.stderr and "version" in bad.stderr


@pytest.mark.parametrize("content", [None, b"not a database at all", "foreign", "garbage"])
def test_unreadable_stamps_mean_checking_again(tmp_path: Path, content: bytes | str | None) -> None:
    from engine.store import schema_checked_in

    path = tmp_path / "x.db"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "foreign":
        sqlite3.connect(path).execute("CREATE TABLE t (a)").connection.commit()
    elif content == "garbage":
        SQLiteStore(str(path)).close()
        with sqlite3.connect(path) as conn:
            conn.execute("INSERT INTO store_meta (key, value) VALUES ('schema_checked', '{\"not\": \"a list\"')")
    assert schema_checked_in(str(path)) == frozenset()
    assert schema_checked_in(str(tmp_path)) == frozenset()  # a folder
    if content == "garbage":
        r = cli("run", SHIPPED, "--events", str(SAMPLE), "--db", str(path))
        assert r.exit_code == 0 and r.stdout == EXPECTED


def test_a_batch_waits_for_another_writer(tmp_path: Path) -> None:
    """A batch's transaction starts with a write, so SQLite waits (busy_timeout) for a
    writer holding the store instead of failing at once with "in use"."""
    import threading

    from engine import read_events
    from engine.store import Batch

    db = str(tmp_path / "cs.db")
    engine = Engine(load_playbook(SHIPPED))
    actions = engine.run(read_events(str(SAMPLE)))
    store = SQLiteStore(db)
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    # No timing: the other connection commits once the batch's first statement has started
    # (SQLite's trace says so), and the batch must then finish, not fail with "in use".
    # (A busy timeout longer than the store's 5 s, so that a loaded machine cannot make it run out.)
    store.db.conn.execute("PRAGMA busy_timeout = 600000")
    started = threading.Event()
    store.db.conn.set_trace_callback(lambda sql: started.set() if "INTO ledger" in sql else None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO store_meta (key, value) VALUES ('elsewhere', 'x')")
        result: list[Any] = []
        writer = threading.Thread(target=lambda: result.append(store.write(store.prepare(
            Batch(run_id=1, snapshot=engine.snapshot(), actions=actions, processed=[("e1", 1)])))))
        writer.start()
        assert started.wait(timeout=600)
        assert not result  # it cannot have finished: the other one holds the store
        other.execute("COMMIT")
        writer.join(timeout=600)
        store.db.conn.set_trace_callback(None)
        new = result[0]
        assert new == len({a.id for a in actions}) > 0
        assert store.unprinted_ids() == {a.id for a in actions}
        # Again: nothing new, nothing more to write out.
        assert store.write(store.prepare(Batch(run_id=1, snapshot=engine.snapshot(), actions=actions, processed=[]))) == 0
        assert len(store.unprinted()) == len({a.id for a in actions})
    finally:
        store.close()
        other.close()


@pytest.mark.parametrize("name", ["a b?c#d%20.db", "x\udcff.db"])
def test_stamps_are_read_whatever_the_store_is_named(tmp_path: Path, name: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Names with URI characters or bytes that are not UTF-8; the peek leaves no -wal or -shm."""
    db = str(tmp_path / name)
    assert cli("run", SHIPPED, "--events", str(SAMPLE), "--db", db, "-q").exit_code == 0
    assert sorted(os.listdir(tmp_path)) == [name]
    calls = count_validations(monkeypatch)
    rerun = cli("run", SHIPPED, "--events", str(SAMPLE), "--db", db, "-q")
    assert rerun.exit_code == 0 and rerun.stdout == "" and calls == []
    bad = tmp_path / "bad.yaml"
    bad.write_text("playbook: x\nversion: 1\nrules: 3\n")
    assert cli("run", str(bad), "--events", str(SAMPLE), "--db", db).exit_code == 1
    assert sorted(os.listdir(tmp_path)) == sorted([name, "bad.yaml"])  # the store untouched, nothing beside it


def test_a_wrong_stamp_costs_a_check_not_a_crash(tmp_path: Path) -> None:
    """A stamp planted for an invalid text (a store is a file anyone may edit): the
    playbook is checked after all, with the schema's messages."""
    import hashlib

    from engine.schema import checked_stamp

    bad = tmp_path / "nokey.yaml"
    bad.write_text(Path(SHIPPED).read_text().replace("playbook: us-retention\n", "", 1))
    db = str(tmp_path / "cs.db")
    store = SQLiteStore(db)
    store.note_schema_checked([checked_stamp(hashlib.sha256(bad.read_bytes()).hexdigest())])
    store.close()
    plain = cli("run", str(bad), "--events", str(SAMPLE))
    stamped = cli("run", str(bad), "--events", str(SAMPLE), "--db", db)
    assert plain.exit_code == stamped.exit_code == 1 and stamped.exception is None or isinstance(stamped.exception, SystemExit)
    assert stamped.stderr == plain.stderr and "missing required key 'playbook'" in stamped.stderr


def test_store_columns_are_text_with_their_characters(tmp_path: Path) -> None:
    """The JSON a batch binds as UTF-8 bytes lands as TEXT (what the sqlite3 shell and
    Datasette show as text), non-ASCII characters intact."""
    db = tmp_path / "cs.db"
    pb = str(ROOT / "tests/golden/response/playbook.yaml")
    events = [
        {"id": "é-1", "time": "2026-03-02T14:00:00Z", "type": "ask", "account": "café ☕", "thread": "São Paulo",
         "channel": "email"},
        {"id": "é-2", "time": "2026-03-02T16:00:00Z", "type": "tick", "account": "café ☕"},
    ]
    log = write_lines(tmp_path / "e.jsonl", [json.dumps(e, ensure_ascii=False) for e in events])
    r = cli("run", pb, "--events", str(log), "--db", str(db))
    assert r.exit_code == 0 and "café ☕" in r.stdout, r.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT typeof(snapshot), snapshot LIKE '%São Paulo%' FROM state").fetchall() == [("text", 1)]
    assert {row for row in conn.execute("SELECT typeof(id), typeof(record) FROM ledger")} == {("text", "text")}
    assert [row[0] for row in conn.execute("SELECT id FROM processed ORDER BY id")] == ["é-1", "é-2"]
    ledger = [row[0] for row in conn.execute("SELECT record FROM actions")]
    assert sorted(ledger) == sorted(r.stdout.splitlines())
    assert conn.execute("SELECT key, subject, status FROM obligations").fetchall() == [
        ('"café ☕"', '{"thread":"São Paulo"}', "breached")]


# -- one writer per store ------------------------------------------------------------------


def test_a_second_writer_waits_then_exits_75_naming_the_holder(tmp_path: Path) -> None:
    """While a run holds the store, another run (or ingest) waits --lock-timeout, then
    exits 75 (EX_TEMPFAIL) with the holder's pid, host, command and start; nothing written."""
    import socket

    from engine.errors import StoreBusy

    db = str(tmp_path / "cs.db")
    holder = SQLiteStore(db, command="playbook run nightly --db cs.db")
    try:
        for args in (["run", SHIPPED, "--events", str(SAMPLE)], ["ingest", str(SAMPLE)]):
            r = cli(*args, "--db", db, "--lock-timeout", "0.2")
            assert r.exit_code == 75, r.stderr
            assert f"pid {os.getpid()} on {socket.gethostname()}" in r.stderr
            assert "playbook run nightly --db cs.db" in r.stderr and "since 20" in r.stderr
            assert "--lock-timeout" in r.stderr and "Traceback" not in r.stderr and r.stdout == ""
        with pytest.raises(StoreBusy) as busy:
            SQLiteStore(db, lock_timeout=0)
        assert busy.value.holder["pid"] == os.getpid()
        assert busy.value.holder["command"] == "playbook run nightly --db cs.db"
        assert isinstance(busy.value, StateError)
        con = sqlite3.connect(db)
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 0
        con.close()
    finally:
        holder.close()
    r = cli("run", SHIPPED, "--events", str(SAMPLE), "--db", db, "--lock-timeout", "0")
    assert r.exit_code == 0 and r.stdout == EXPECTED, r.stderr


def test_other_names_of_one_store_share_its_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A symbolic link to the store, or a path spelled another way, is the same store: a
    second writer through it waits for the first, as through the store's own name."""
    from engine.errors import StoreBusy

    db = tmp_path / "cs.db"
    holder = SQLiteStore(str(db))
    try:
        (tmp_path / "link.db").symlink_to(db)
        monkeypatch.chdir(tmp_path)
        for other in (str(tmp_path / "link.db"), "./cs.db", str(tmp_path / "sub" / ".." / "cs.db")):
            (tmp_path / "sub").mkdir(exist_ok=True)
            with pytest.raises(StoreBusy):
                SQLiteStore(other, lock_timeout=0)
    finally:
        holder.close()


def test_readers_never_wait_for_the_writer(tmp_path: Path) -> None:
    db = str(tmp_path / "cs.db")
    assert cli("run", SHIPPED, "--events", str(SAMPLE), "--db", db, "-q").exit_code == 0
    holder = SQLiteStore(db)
    try:
        r = cli("actions", "--db", db)
        assert r.exit_code == 0 and sorted(r.stdout.splitlines()) == sorted(EXPECTED.splitlines())
    finally:
        holder.close()


def test_a_dead_holder_never_blocks_the_next_run(tmp_path: Path) -> None:
    """A holder killed with SIGKILL leaves its record in the lock file; the kernel has
    released the lock, so the next run does not wait at all."""
    import signal
    import subprocess
    import sys

    db = str(tmp_path / "cs.db")
    code = ("import sys, time\nfrom engine.store import SQLiteStore\n"
            f"s = SQLiteStore({db!r})\nprint('held', flush=True)\ntime.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        r = cli("run", SHIPPED, "--events", str(SAMPLE), "--db", db, "--lock-timeout", "0")
        assert r.exit_code == 75 and f"pid {proc.pid}" in r.stderr
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert f'"pid":{proc.pid}' in Path(db + ".lock").read_text()  # a stale record
    r = cli("run", SHIPPED, "--events", str(SAMPLE), "--db", db, "--lock-timeout", "0")
    assert r.exit_code == 0 and r.stdout == EXPECTED, r.stderr
    assert not Path(db + ".lock").exists()  # a finished run leaves nothing beside the store


def _overwrite_a_ledger_page(db: str) -> None:
    """Garbage over one page in the middle of the ledger (not its last: runs append there)."""
    con = sqlite3.connect(db)
    pages = [p for (p,) in con.execute("SELECT pageno FROM dbstat WHERE name = 'ledger' AND pagetype = 'leaf' "
                                       "ORDER BY pageno")]
    size = con.execute("PRAGMA page_size").fetchone()[0]
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    assert len(pages) >= 3
    with open(db, "r+b") as f:
        f.seek((pages[len(pages) // 2] - 1) * size)
        f.write(b"\xde\xad\xbe\xef" * (size // 4))


def test_a_store_damaged_in_the_middle_stops_the_run(tmp_path: Path) -> None:
    """A page the run would never read is damaged: run --db says so (exit 1), as actions
    does, instead of counting every event a duplicate with exit 0; nothing is written out."""
    db = str(tmp_path / "cs.db")
    assert cli("run", SHIPPED, "--events", str(SAMPLE), "--db", db, "-q").exit_code == 0
    _overwrite_a_ledger_page(db)
    for args in (["run", SHIPPED, "--events", str(SAMPLE)], ["ingest", str(SAMPLE)], ["actions"]):
        r = cli(*args, "--db", db)
        assert r.exit_code == 1 and "the store is damaged" in r.stderr, (args, r.stderr)
        assert "--db" in r.stderr and "Traceback" not in r.stderr and r.stdout == ""
    con = sqlite3.connect(db)
    assert [r[0] for r in con.execute("SELECT status FROM runs ORDER BY id")] == ["completed", "failed"]


@pytest.mark.parametrize("edit", [
    "'[]'", "NULL", "'3'", "'{}'", "'not json'", "x'00ff'",
    "json_set(snapshot, '$.state.rules', json('[1, 2]'))",
    "json_set(snapshot, '$.state', json('{\"rules\": 5}'))",
    "json_remove(snapshot, '$.rule_digests')",
])
def test_a_hand_edited_state_says_damaged_and_how_to_start_over(tmp_path: Path, edit: str) -> None:
    """UPDATE state SET snapshot = ...: a message naming the store and --reset-state, no
    traceback; --reset-state then recovers (the ledger kept: nothing written twice)."""
    db = str(tmp_path / "cs.db")
    assert cli("run", SHIPPED, "--events", str(SAMPLE), "--db", db, "-q").exit_code == 0
    con = sqlite3.connect(db)
    con.execute(f"UPDATE state SET snapshot = {edit}")
    con.commit()
    con.close()
    r = cli("run", SHIPPED, "--events", str(SAMPLE), "--db", db)
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.exception
    assert f"{db}: the store's saved state is damaged" in r.stderr and "--reset-state" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    r = cli("run", SHIPPED, "--events", str(SAMPLE), "--db", db, "--reset-state")
    assert r.exit_code == 0 and r.stdout == "", r.stderr  # every action was written before
    assert "400 duplicate events" in r.stderr  # the processed events are kept


def test_actions_with_a_lone_surrogate_are_listed_with_the_others(tmp_path: Path) -> None:
    """An event's "\\udfff" ends up in an action (its key): actions --db lists every action
    in every format, and a run writes such an action out when it was left unwritten."""
    pb = str(ROOT / "tests/golden/response/playbook.yaml")
    log = write_lines(tmp_path / "e.jsonl", [
        '{"id": "e1", "time": "2026-03-02T14:00:00Z", "type": "ask", "account": "\\udfff", "thread": "t", "channel": "email"}',
        '{"id": "e2", "time": "2026-03-02T14:00:00Z", "type": "ask", "account": "a", "thread": "t", "channel": "email"}',
        '{"id": "e3", "time": "2026-03-03T14:00:00Z", "type": "tick", "account": "a"}',
    ])
    db = str(tmp_path / "cs.db")
    r = cli("run", pb, "--events", str(log), "--db", db, "-q")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 2, r.stderr
    listed = cli("actions", "--db", db)
    assert listed.exit_code == 0, listed.stderr
    assert sorted(listed.stdout.splitlines()) == sorted(r.stdout.splitlines())
    assert any('"key":"\\udfff"' in line for line in listed.stdout.splitlines())
    for fmt in ("csv", "table"):
        shown = cli("actions", "--db", db, "--format", fmt)
        assert shown.exit_code == 0 and shown.exception is None, shown.exception
        assert "\\udfff" in shown.stdout and len(shown.stdout.splitlines()) == 3
    con = sqlite3.connect(db)
    con.execute("INSERT INTO outbox (id, at_us) SELECT id, at_us FROM ledger")  # as if a kill came before marking
    con.commit()
    con.close()
    again = cli("run", pb, "--events", str(log), "--db", db, "-q")
    assert again.exit_code == 0 and again.stdout == r.stdout, again.exception


def test_an_id_given_again_later_is_a_duplicate_and_a_conflict_is_reported(tmp_path: Path) -> None:
    """The same event ids again with a later time (or other content at the same time): not
    processed again but counted as duplicates, and reported as conflicting duplicates with
    the first one's place; the exact same event again is a duplicate and no conflict."""
    lines = SAMPLE.read_text().splitlines()[:200]
    first = write_lines(tmp_path / "a.jsonl", lines)
    events = [json.loads(line) for line in lines]
    last = events[-1]["time"]
    again = [dict(events[0], time=last), dict(events[1], time=last), dict(events[5], account="someone-else"),
             events[7]]
    second = write_lines(tmp_path / "b.jsonl", [json.dumps(e) for e in again])
    db = str(tmp_path / "cs.db")
    assert cli("run", SHIPPED, "--events", str(first), "--db", db, "-q").exit_code == 0
    before = sorted(cli("actions", "--db", db).stdout.splitlines())
    r = cli("run", SHIPPED, "--events", str(second), "--db", db)
    assert r.exit_code == 0 and r.stdout == "", r.stderr
    assert "4 duplicate events skipped" in r.stderr and "0 processed" in r.stderr
    assert "3 conflicting duplicates" in r.stderr and f"{second}:3" in r.stderr, r.stderr  # the first in time
    assert sorted(cli("actions", "--db", db).stdout.splitlines()) == before
    notes = sqlite3.connect(db).execute("SELECT notes FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert "3 conflicting duplicates" in notes
    # A store made before digests were kept: conflicts by time are still seen.
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE processed DROP COLUMN digest")
    con.commit()
    con.close()
    r = cli("run", SHIPPED, "--events", str(second), "--db", db)
    assert r.exit_code == 0 and r.stdout == "" and "4 duplicate events skipped" in r.stderr, r.stderr
    assert "2 conflicting duplicates" in r.stderr


def test_copies_within_one_input_are_one_event_across_commits_or_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An id is unique (contract section 1): a second copy of an event within one input is
    a duplicate, as it is for the in-memory engine, whether a commit falls between the
    copies or not; the action of the first copy is written once."""
    event = {"id": "e1", "type": "ask", "time": "2026-03-02T14:00:00Z", "account": "a", "thread": "t", "channel": "email"}
    other = {"id": "e2", "type": "ask", "time": "2026-03-02T14:00:00Z", "account": "b", "thread": "t", "channel": "email"}
    plain = Engine(PB).run([event, other, event], until="2026-03-03T00:00:00Z")
    for every in (1, 1000):
        store = SQLiteStore(str(tmp_path / f"{every}.db"))
        lines: list[str] = []
        summary = DurableRun(Engine(PB), store, commit_every=every).run(
            [event, other, event], until="2026-03-03T00:00:00Z", emit=lines.extend)
        store.close()
        assert summary.duplicates == 1
        assert [json.loads(line)["id"] for line in lines] == [a.id for a in plain]
    # Hours apart (beyond the engine's 1 h window of ids): a committed batch's ids are in
    # `processed`, so a later copy looked up after that commit is still a duplicate, reported
    # as a conflict by its time. (Ids are looked up 5,000 events at a time: one per look-up here.)
    monkeypatch.setattr("engine.durable._LOOKUP", 1)
    between = {**other, "id": "e3", "time": "2026-03-02T19:00:00Z"}  # moves the engine's window past e1
    later = {**event, "time": "2026-03-02T20:00:00Z"}
    store = SQLiteStore(str(tmp_path / "apart.db"))
    summary = DurableRun(Engine(PB), store, commit_every=1).run([event, other, between, later], emit=lambda lines: None)
    store.close()
    assert (summary.duplicates, summary.conflicting) == (1, 1)


# -- a full disk -------------------------------------------------------------------------------


class _FillingFile(io.FileIO):
    """A file on a disk that fills up after ``room`` more bytes: the write that crosses it
    writes what fits, then fails with ENOSPC (as a real full disk does)."""

    room = 0

    def write(self, data: Any) -> int:
        import stat

        data = bytes(data)
        if not stat.S_ISREG(os.fstat(self.fileno()).st_mode):  # pointed elsewhere (/dev/null)
            return super().write(data)
        if len(data) > type(self).room:
            fits = type(self).room
            type(self).room = 0
            super().write(data[:fits])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        type(self).room -= len(data)
        return super().write(data)


def _filling_out(monkeypatch: pytest.MonkeyPatch, room: int) -> None:
    import cli.common
    import cli.main

    def open_out(path: str | None, append: bool = False) -> Any:
        assert path is not None
        _FillingFile.room = room
        return io.TextIOWrapper(io.BufferedWriter(_FillingFile(path, "a" if append else "w")), encoding="utf-8",
                                newline="")

    monkeypatch.setattr(cli.common, "open_out", open_out)
    monkeypatch.setattr(cli.main, "open_out", open_out)


@pytest.mark.parametrize("db", [False, True])
def test_a_full_disk_says_so_and_leaves_no_half_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     db: bool) -> None:
    """--out on a disk that fills up half way: "disk full", exit 1, no traceback, no cut
    JSON line. With --db the next run writes exactly the actions not written: the file
    then holds every action once."""
    out = tmp_path / "out.jsonl"
    store = ["--db", str(tmp_path / "cs.db"), "--commit-every", "50"] if db else []
    _filling_out(monkeypatch, len(EXPECTED) // 2)
    r = cli("run", SHIPPED, "--events", str(SAMPLE), "--out", str(out), *store)
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.exception
    assert "error: disk full: cannot write the actions to" in r.stderr and "Traceback" not in r.stderr
    written = out.read_text()
    assert written == "" or written.endswith("\n")
    assert all(json.loads(line) for line in written.splitlines())
    if not db:
        return
    assert "the next run over it writes them" in r.stderr
    assert 0 < len(written.splitlines()) < len(EXPECTED.splitlines())  # earlier batches were written
    monkeypatch.undo()
    again = cli("run", SHIPPED, "--events", str(SAMPLE), "--out", str(out), *store)
    assert again.exit_code == 0, again.stderr
    assert sorted(out.read_text().splitlines()) == sorted(EXPECTED.splitlines())


@pytest.mark.parametrize("where", ["stdout", "--out"])
@pytest.mark.parametrize("db", [False, True])
def test_output_to_dev_full_says_disk_full_and_the_next_run_writes_it(tmp_path: Path, where: str, db: bool) -> None:
    import subprocess
    import sys

    store = ["--db", str(tmp_path / "cs.db")] if db else []
    command = [sys.executable, "-m", "cli.main", "run", SHIPPED, "--events", str(SAMPLE), "-q", *store]
    with open("/dev/full", "w") as full:
        proc = subprocess.run(command + (["--out", "/dev/full"] if where == "--out" else []), cwd=ROOT,
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "Exception" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: disk full: cannot write the actions to ")
    assert proc.stderr.count("\n") == 1
    if db:
        assert "the next run over it writes them" in proc.stderr
        again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and again.stdout == EXPECTED, again.stderr


def test_every_command_says_disk_full_even_for_output_smaller_than_a_buffer(tmp_path: Path) -> None:
    """A few bytes of output stay in the stream's buffer until it is flushed at the end: a
    full disk then must still be a message and exit 1, not a traceback at close or exit."""
    import subprocess
    import sys

    log = tmp_path / "one.jsonl"
    log.write_text(SAMPLE.read_text().splitlines()[0] + "\n")
    db = str(tmp_path / "cs.db")
    assert cli("run", SHIPPED, "--events", str(SAMPLE), "--db", db).exit_code == 0
    commands = [
        ["run", SHIPPED, "--events", str(SAMPLE), "--until", "2026-01-20T00:00:00Z", "-q", "--out", "/dev/full"],
        ["run", SHIPPED, "--events", str(SAMPLE), "--until", "2026-01-20T00:00:00Z", "-q"],
        ["schema"],
        ["actions", "--db", db, "--rule", "qbr-every-90d"],
        ["explain", SHIPPED, "--events", str(log), "--rule", "ack-within-4h"],
    ]
    for args in commands:
        with open("/dev/full", "w") as full:
            proc = subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, stdout=full,
                                  stderr=subprocess.PIPE, text=True, timeout=300)
        assert proc.returncode == 1, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and "Exception" not in proc.stderr, (args, proc.stderr)
        assert proc.stderr.startswith("error: disk full: cannot write the "), (args, proc.stderr)
