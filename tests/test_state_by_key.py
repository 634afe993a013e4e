"""The store keeps the state key by key: a run loads and saves only the keys it touches."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Engine, load_playbook, load_playbook_text
from engine.durable import DurableRun
from engine.runtime import row_key
from engine.store import _OBLIGATIONS, SQLiteStore
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"
PLAYBOOKS = [
    load_playbook(str(GOLDEN / "response" / "playbook.yaml")),
    load_playbook(str(GOLDEN / "cadence" / "playbook.yaml")),
    load_playbook(str(GOLDEN / "signal" / "playbook.yaml")),
    # Facts retired two days after a key's last event: a timer per key, kept through the store.
    load_playbook_text((GOLDEN / "response" / "playbook.yaml").read_text()
                       .replace("playbook: golden-response", "playbook: golden-retained")
                       .replace("version: 1\n", "version: 1\nretention: {facts: 2d}\n")),
]
TYPES = [
    "ask", "answer", "incident.opened", "status.posted", "complaint", "contract.signed", "contract.ended",
    "qbr.held", "signed", "renewed", "signal.expansion", "signal.hiring", "module.purchased", "ping",
    "account.updated", "noise",
]
BASE = 1_767_225_600  # 2026-01-01T00:00:00Z
ACCOUNTS = [f"acct-{i}" for i in range(25)] + [7, 7.0, 8.5, "é ☕"]

event_st = st.fixed_dictionaries(
    {
        "type": st.sampled_from(TYPES),
        # Hours over five days (deadlines, expiries) or two months (cadences' dues and reminders).
        "time": st.one_of(st.integers(0, 120), st.integers(0, 1440)).map(lambda h: BASE + h * 3600),
        "account": st.sampled_from(ACCOUNTS),
    },
    optional={
        "thread": st.sampled_from(["t1", "t2"]),
        "incident": st.sampled_from(["i1", "i2"]),
        "channel": st.sampled_from(["email", "phone"]),
        "severity": st.sampled_from(["sev1", "sev3"]),
        "region": st.sampled_from(["APAC", "EMEA"]),
        "module": st.sampled_from(["multilingual", "sso"]),
        "urgent": st.booleans(),
        "tier": st.sampled_from(["free", "pro"]),
        "roi": st.fixed_dictionaries({"value_usd": st.integers(-1, 3)}),
    },
)


def _lines(actions: list[Any]) -> list[str]:
    return [a.to_json() for a in actions]


def _durable(db: str, events: list[dict[str, Any]], commit_every: int = 50_000) -> tuple[list[str], Engine]:
    out: list[str] = []
    engine = Engine(PLAYBOOKS)
    store = SQLiteStore(db)
    try:
        DurableRun(engine, store, commit_every=commit_every).run(events, emit=out.extend)
    finally:
        store.close()
    return out, engine


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(event_st, min_size=1, max_size=120), st.lists(st.integers(0, 120), max_size=5),
       st.integers(1, 40))
def test_a_log_in_incremental_runs_equals_one_run(tmp_path: Path, events: list[dict[str, Any]], cuts: list[int],
                                                  commit_every: int) -> None:
    """A log split at random points into incremental --db runs (many keys, each run loading
    only the keys it touches or whose instants pass) writes what one plain run writes, in
    the same order, and leaves the open state one run leaves."""
    ordered = sorted(({**e, "id": f"e{i}"} for i, e in enumerate(events)), key=lambda e: e["time"])
    plain = Engine(PLAYBOOKS)
    whole = _lines(plain.run(ordered))
    # Cut between different times: events of one instant split over two runs are written
    # run by run, not in the contract's order for that instant (as ever).
    cuts = [c for c in cuts if 0 < c < len(ordered) and ordered[c - 1]["time"] != ordered[c]["time"]]
    bounds = sorted(set(cuts) | {0, len(ordered)})
    db = str(tmp_path / f"{uuid.uuid4().hex}.db")  # tmp_path is one for every example
    written: list[str] = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        out, engine = _durable(db, ordered[lo:hi], commit_every)
        written.extend(out)
    assert written == whole
    # What is open at the end: the counts of the last run (of keys loaded or not), and the store's state.
    assert _open_counts(engine) == _open_counts(plain)
    store = SQLiteStore(db)
    saved = store.load_state()
    store.close()
    assert saved is not None
    assert _open(saved) == _open(plain.snapshot())


def _open_counts(engine: Engine) -> dict[str, tuple[int, ...]]:
    return {name: (r.pending, r.overdue, r.cadences_running, r.cadences_overdue, r.groups)
            for name, r in engine.count_open().rules.items()}


def _open(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A saved state's contents, whatever the order of its keys."""
    out = {}
    for p in snapshot["playbooks"]:
        state = p["state"]
        out[p["name"]] = (state["clock"], sorted(json.dumps(f, sort_keys=True) for f in state["facts"]),
                          {rid: sorted(json.dumps(x, sort_keys=True) for items in r.values() for x in items)
                           for rid, r in state["rules"].items()})
    return out


def _log(n_accounts: int) -> list[dict[str, Any]]:
    events = []
    for i in range(n_accounts):
        events.append({"id": f"a{i}", "type": "ask", "time": BASE + i, "account": f"acct-{i}", "thread": "t1",
                       "channel": "email"})
    return events


def test_a_run_loads_and_saves_only_the_keys_it_touches(tmp_path: Path) -> None:
    """An incremental run over a store of 200 accounts with one new event reads the saved
    state of that event's account only (and of accounts whose deadline the clock passes),
    and writes only theirs: the other rows of state_key are left as they are."""
    db = str(tmp_path / "s.db")
    _durable(db, _log(200))
    con = sqlite3.connect(db)
    before = dict(con.execute("SELECT key, rowid FROM state_key WHERE playbook = 'golden-response'"))
    con.close()
    assert len(before) == 200
    asked: list[str] = []
    original = SQLiteStore.key_states

    def spy(self: SQLiteStore, playbook: str, keys: list[str]) -> dict[str, Any]:
        asked.extend(keys)
        return original(self, playbook, keys)

    SQLiteStore.key_states = spy  # type: ignore[method-assign]
    try:
        # 150 s later: the deadline of none of the first asks has passed.
        out, _ = _durable(db, [{"id": "n1", "type": "answer", "time": BASE + 300, "account": "acct-3",
                                "thread": "t1", "channel": "email"}])
    finally:
        SQLiteStore.key_states = original  # type: ignore[method-assign]
    assert set(asked) == {row_key("acct-3")}
    con = sqlite3.connect(db)
    after = dict(con.execute("SELECT key, rowid FROM state_key WHERE playbook = 'golden-response'"))
    con.close()
    changed = {k for k in before if after.get(k) != before[k]}
    assert changed == {row_key("acct-3")}


def test_a_version_2_store_is_migrated_and_continues(tmp_path: Path) -> None:
    """A store of the whole-state layout (version 2): its state is taken whole once, and
    written key by key from then on; the actions are one run's."""
    ordered = sorted(({"id": f"e{i}", "type": t, "time": BASE + (i * 7919 % 100) * 3600, "account": f"a{i % 13}",
                       "thread": "t1", "channel": "email", "incident": "i1", "severity": "sev1"}
                      for i, t in enumerate(TYPES * 8)), key=lambda e: e["time"])
    whole = _lines(Engine(PLAYBOOKS).run(ordered))
    db = str(tmp_path / "v2.db")
    first, _ = _durable(db, ordered[:60])
    con = sqlite3.connect(db)
    con.executescript(f"""
        CREATE TABLE state_v2 AS SELECT playbook, clock, clock_time, run_id, snapshot FROM state;
        DROP VIEW obligations; DROP VIEW state; DROP TABLE state_head; DROP TABLE state_key;
        ALTER TABLE state_v2 RENAME TO state;
        CREATE VIEW obligations AS {_OBLIGATIONS.split(" AS ", 1)[1]};
        UPDATE store_meta SET value = '2' WHERE key = 'version';
    """)
    con.close()
    second, _ = _durable(db, ordered[60:100])
    third, _ = _durable(db, ordered[100:])
    assert first + second + third == whole
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM store_meta WHERE key = 'version'").fetchone()[0] == "3"
    assert con.execute("SELECT count(DISTINCT key) FROM state_key").fetchone()[0] > 0
    con.close()


def test_keys_with_lone_surrogates_and_nan_values_are_saved_and_loaded(tmp_path: Path) -> None:
    """A key "\\udfff" (which orjson cannot write) beside a NaN in the same batch's state:
    the rows are saved one by one and the next run finds that key's open obligation."""
    ordered = [
        {"id": "e1", "type": "ask", "time": BASE, "account": "\udfff", "thread": "t1", "channel": "email",
         "score": float("nan")},
        {"id": "e2", "type": "ask", "time": BASE + 60, "account": "b", "thread": "t1", "channel": "email",
         "score": float("nan")},
        {"id": "e3", "type": "answer", "time": BASE + 600, "account": "\udfff", "thread": "t1"},
        {"id": "e4", "type": "noise", "time": BASE + 7200, "account": "b"},
    ]
    whole = _lines(Engine(PLAYBOOKS).run(ordered))
    db = str(tmp_path / "s.db")
    first, _ = _durable(db, ordered[:2])
    second, _ = _durable(db, ordered[2:])
    assert first + second == whole
    assert any('"outcome":"met"' in line and '"key":"\\udfff"' in line for line in second)


KEYS_PB = """playbook: keys
version: 1
facts:
  n: {from: ping, value: "n", collect: sum}
rules:
  - id: answer
    when: {type: ping}
    expect: {type: pong, within: 2h}
    actions:
      on_breach: [{do: escalate, message: "late {{ key }} n={{ facts.n }}"}]
      on_met: [{do: record, value: "{{ facts.n }}", big: "{{ trigger.big }}"}]
"""
KEYS_PLUS = KEYS_PB + """  - id: extra
    when: {type: pong}
    actions: {on_match: [{do: notify}]}
"""


def _runs(db: str, parts: list[tuple[str, list[dict[str, Any]]]]) -> list[str]:
    out: list[str] = []
    for text, events in parts:
        store = SQLiteStore(db)
        try:
            DurableRun(Engine(load_playbook_text(text, "keys.yaml")), store).run(events, emit=out.extend)
        finally:
            store.close()
    return out


def test_a_state_sqlite_json_refuses_is_read_exactly_and_migrates(tmp_path: Path) -> None:
    """A key's state holding a NaN (an event gave it) and an integer beyond 64 bits: the store
    is not taken for damaged when a changed playbook makes the next run read it whole, and an
    account number of 30 digits is still its key after a reload (not a float)."""
    ping = {"id": "s1", "type": "ping", "time": BASE, "account": "\udfff", "n": float("nan"), "big": 18446744073709551617}
    pong = {"id": "s3", "type": "pong", "time": BASE + 1800, "account": "\udfff"}
    got = _runs(str(tmp_path / "a.db"), [(KEYS_PB, [ping]), (KEYS_PLUS, [pong])])
    plain = _lines(Engine(load_playbook_text(KEYS_PLUS, "keys.yaml")).run([ping, pong]))
    assert [json.loads(x)["rule"] for x in got] == [json.loads(x)["rule"] for x in plain] == ["answer", "extra"]
    assert json.loads(got[0])["params"]["big"] == 18446744073709551617
    long_key = 123456789012345678901234567890
    ping2 = {"id": "b1", "type": "ping", "time": BASE, "account": long_key, "n": 1}
    pong2 = {"id": "b2", "type": "pong", "time": BASE + 1800, "account": long_key}
    got = _runs(str(tmp_path / "b.db"), [(KEYS_PB, [ping2]), (KEYS_PB, [pong2])])
    assert got == _lines(Engine(load_playbook_text(KEYS_PB, "keys.yaml")).run([ping2, pong2])) != []


def test_nan_and_infinite_keys_are_invalid_keys(tmp_path: Path) -> None:
    """NaN equals no key, not even itself, and a store would keep one row for all of them:
    a NaN or infinite key skips the event as an invalid key, with and without a store."""
    events = [{"id": f"n{i}", "type": "ping", "time": BASE + i, "account": key, "n": 1}
              for i, key in enumerate([float("nan"), float("inf"), float("-inf")])]
    engine = Engine(load_playbook_text(KEYS_PB, "keys.yaml"))
    assert engine.run(events) == []
    assert engine.summary.skipped["invalid key"].count == 3
    assert _runs(str(tmp_path / "n.db"), [(KEYS_PB, events[:1]), (KEYS_PB, events[1:])]) == []


def test_a_hand_edited_key_row_says_damaged_and_reset_state_recovers(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli.main import main

    shipped = str(ROOT / "playbooks" / "us-retention.yaml")
    sample = str(ROOT / "examples" / "events.jsonl")
    for edit in ("UPDATE state_key SET due = 'x' WHERE due IS NOT NULL", "UPDATE state_key SET key = NULL"):
        db = str(tmp_path / f"{uuid.uuid4().hex}.db")
        assert CliRunner().invoke(main, ["run", shipped, "--events", sample, "--db", db, "-q"]).exit_code == 0
        con = sqlite3.connect(db)
        con.execute(edit)
        con.commit()
        con.close()
        r = CliRunner().invoke(main, ["run", shipped, "--events", sample, "--db", db, "-q"])
        assert r.exit_code == 1 and "saved state is damaged" in r.stderr and "--reset-state" in r.stderr, r.stderr
        assert r.exception is None or isinstance(r.exception, SystemExit)
        r = CliRunner().invoke(main, ["run", shipped, "--events", sample, "--db", db, "-q", "--reset-state"])
        assert r.exit_code == 0, r.stderr
