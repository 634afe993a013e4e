"""A calendar read in the key's own time zone: ``calendar: {use: NAME, timezone: ZONE}``.

The golden cases (tests/golden/calendar-zone/) show the deadlines; here: the derived
calendars and their cache, the names saved state finds them by, the fallback and its
counts, the compile-time checks, and batch = streaming = resumed from saved state.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Engine, PlaybookError, load_playbook, load_playbook_text
from engine import calendars as calendars_mod
from engine.durable import DurableRun
from engine.runtime.context import RunContext, calendar_named
from engine.store import SQLiteStore
from engine.summary import RunSummary
from engine.timecalc import parse_duration
from tests.conftest import ROOT
from tests.test_cli import invoke

GOLDEN = ROOT / "tests" / "golden" / "calendar-zone" / "playbook.yaml"
PLAYBOOK = load_playbook(str(GOLDEN))
PARIS = ZoneInfo("Europe/Paris")


def _lines(actions: list[Any]) -> list[str]:
    return [a.to_json() for a in actions]


# --- derived calendars -------------------------------------------------------------------


def test_a_calendar_in_another_zone_is_named_after_both_and_kept() -> None:
    support = PLAYBOOK.calendars["support"]
    paris = support.in_zone(PARIS)
    assert paris.name == "support@Europe/Paris" and paris.tz.key == "Europe/Paris"
    assert paris.hours == support.hours and paris.holidays == support.holidays
    assert support.in_zone(ZoneInfo("Europe/Paris")) is paris  # cached
    assert paris.in_zone(PARIS) is paris and paris.base is support
    assert paris.in_zone(ZoneInfo("Asia/Tokyo")) is support.in_zone(ZoneInfo("Asia/Tokyo"))  # from the declared one
    assert support.in_zone(ZoneInfo("America/New_York")) is support  # its own zone: itself
    assert paris.in_zone(ZoneInfo("America/New_York")) is support


def test_at_most_so_many_derived_calendars_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    cal = load_playbook_text(GOLDEN.read_text()).calendars["support"]
    monkeypatch.setattr(calendars_mod, "_ZONE_CACHE_LIMIT", 2)
    kept = [cal.in_zone(ZoneInfo(z)) for z in ("Europe/Paris", "Asia/Tokyo")]
    lima = cal.in_zone(ZoneInfo("America/Lima"))
    assert [cal.in_zone(ZoneInfo(z)) for z in ("Europe/Paris", "Asia/Tokyo")] == kept
    assert cal.in_zone(ZoneInfo("Europe/Paris")) is kept[0]
    again = cal.in_zone(ZoneInfo("America/Lima"))
    assert again is not lima and again == lima  # built on demand, the same calendar
    assert again.add(0, parse_duration("1h")) == lima.add(0, parse_duration("1h"))


def test_zone_names_come_from_the_tz_database_only() -> None:
    assert calendars_mod.zone_named("Europe/Paris") == PARIS
    for bad in (None, "", " ", "europe/paris", "Paris", "Mars/Olympus", "../etc/passwd", "/etc/localtime",
                "localtime", 3, ["Europe/Paris"]):
        assert calendars_mod.zone_named(bad) is None, bad


def test_saved_state_finds_a_derived_calendar_by_its_name() -> None:
    run = RunContext(PLAYBOOK, 0, RunSummary(), [])
    support = PLAYBOOK.calendars["support"]
    assert calendar_named(run, "support") is support
    assert calendar_named(run, "support@Europe/Paris") is support.in_zone(PARIS)
    assert calendar_named(run, "support@Mars/Olympus") is support  # a zone no longer known: its own zone
    assert calendar_named(run, "support@") is support
    assert calendar_named(run, "nope@Europe/Paris") is None
    assert calendar_named(run, None) is None


# --- runs ----------------------------------------------------------------------------------

SETUP = [
    {"id": "u1", "time": "2026-03-01T00:00:00Z", "type": "account.updated", "account": "p", "tz": "Europe/Paris"},
    {"id": "u2", "time": "2026-03-01T00:00:00Z", "type": "account.updated", "account": "x", "tz": "Mars/Olympus"},
    {"id": "u3", "time": "2026-03-01T00:00:00Z", "type": "account.updated", "account": "e", "tz": ""},
]


def test_fallbacks_are_counted_per_rule_with_their_places() -> None:
    engine = Engine([PLAYBOOK])
    events = SETUP + [
        {"id": f"t{k}", "time": "2026-03-02T15:30:00Z", "type": "ticket", "account": k, "thread": "t"}
        for k in ("p", "x", "e", "z")
    ]
    engine.run(events, until="2026-03-03T00:00:00Z")
    summary = engine.summary
    stats = summary.rules["golden-calendar-zone/ack"]
    assert stats.timezone_fallbacks == 3 and stats.calendar_fallbacks == 0  # x, e and z (no tz fact); not p
    problem = summary.timezone_fallbacks["golden-calendar-zone/ack"]
    assert problem.count == 3
    messages = [m for _, m in problem.samples]
    assert "gave 'Mars/Olympus', not an IANA time zone: calendar 'support' in its own zone America/New_York used" \
        in messages[0]
    assert "gave no time zone" in messages[1] and "gave no time zone" in messages[2]
    as_dict = summary.to_dict()
    assert as_dict["timezone_fallbacks"]["golden-calendar-zone/ack"]["count"] == 3
    assert as_dict["rules"]["golden-calendar-zone/ack"]["timezone_fallbacks"] == 3
    assert summary.timezone_warnings()[0] == ("golden-calendar-zone/ack: 3 triggers or starts whose calendar "
                                              "timezone gave no known time zone")


def test_a_zone_template_that_fails_is_an_expression_error_and_a_fallback() -> None:
    text = GOLDEN.read_text().replace('timezone: "{{ facts.tz }}"}}\n    actions:\n      on_breach: [{do: escalate',
                                      'timezone: "{{ facts.tz + 1 }}"}}\n    actions:\n      on_breach: [{do: escalate')
    assert text != GOLDEN.read_text()
    engine = Engine([load_playbook_text(text)])
    actions = engine.run(SETUP[:1] + [{"id": "t", "time": "2026-03-02T15:30:00Z", "type": "ticket", "account": "p",
                                      "thread": "t"}], until="2026-03-03T00:00:00Z")
    assert [a.params["due"] for a in actions] == ["Mon 12:30 EST"]
    assert engine.summary.rules["golden-calendar-zone/ack"].timezone_fallbacks == 1
    assert list(engine.summary.expression_errors) == ["golden-calendar-zone: ack calendar timezone"]


def test_the_cli_reports_fallbacks_with_file_and_line(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    events = SETUP + [{"id": "t1", "time": "2026-03-02T15:30:00Z", "type": "ticket", "account": "x", "thread": "t"}]
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    r = invoke("run", str(GOLDEN), "--events", str(log), "--until", "2026-03-03T00:00:00Z")
    assert r.code == 0, r.err
    assert "golden-calendar-zone/ack: overdue 1, time zone fallbacks 1" in r.err
    assert "warning: golden-calendar-zone/ack: 1 trigger or start whose calendar timezone gave no known time zone" in r.err
    assert f"  {log}:4: the calendar's timezone template gave 'Mars/Olympus'" in r.err
    r = invoke("run", str(GOLDEN), "--events", str(log), "--until", "2026-03-03T00:00:00Z", "-q", "--strict-calendars")
    assert r.code == 1 and "error: golden-calendar-zone/ack: 1 trigger" in r.err
    assert len(r.out.splitlines()) == 1  # the actions are written first
    # Every zone known: nothing to say.
    log.write_text(log.read_text().replace("Mars/Olympus", "Asia/Tokyo").replace('"tz": ""', '"tz": "UTC"'))
    r = invoke("run", str(GOLDEN), "--events", str(log), "-q", "--strict-calendars")
    assert r.code == 0 and r.err == ""


def test_local_shows_the_time_in_the_derived_zone() -> None:
    engine = Engine([PLAYBOOK])
    actions = engine.run([SETUP[0], {"id": "t", "time": "2026-03-02T15:30:00Z", "type": "ticket", "account": "p",
                                     "thread": "t"}], until="2026-03-04T00:00:00Z")
    assert [(a.key, a.params["due"]) for a in actions] == [("p", "Tue 10:30 CET")]


# --- compile time ---------------------------------------------------------------------------


def _errors(calendar: str) -> str:
    text = GOLDEN.read_text().replace('calendar: {use: support, timezone: Europe/Paris}', f"calendar: {calendar}")
    with pytest.raises(PlaybookError) as info:
        load_playbook_text(text, "pb.yaml")
    return str(info.value)


def test_a_fixed_zone_is_checked_with_a_suggestion() -> None:
    assert "pb.yaml:25:74: unknown time zone 'Europe/Pari' (did you mean 'Europe/Paris'?): use an IANA name" in \
        _errors('{use: support, timezone: "Europe/Pari"}')
    assert "pb.yaml:25:74: empty time zone" in _errors('{use: support, timezone: ""}')
    assert "pb.yaml:25:74: expected a string, got null" in _errors("{use: support, timezone: null}")


def test_the_mapping_form_has_use_and_timezone_only() -> None:
    assert "pb.yaml:25:64: unknown key 'timzone' in a calendar choice (did you mean 'timezone'?)" in \
        _errors("{use: support, timzone: Europe/Paris}")
    # Without timezone the mapping is the calendar in its own zone, as calendar: support.
    own = load_playbook_text(GOLDEN.read_text().replace('calendar: {use: support, timezone: Europe/Paris}',
                                                        "calendar: {use: support}"), "pb.yaml")
    plain = load_playbook_text(GOLDEN.read_text().replace('calendar: {use: support, timezone: Europe/Paris}',
                                                          "calendar: support"), "pb.yaml")
    assert [r.calendar.fixed for r in own.rules if getattr(r, "calendar", None) is not None] == \
        [r.calendar.fixed for r in plain.rules if getattr(r, "calendar", None) is not None]
    assert "pb.yaml:25:39: missing required key 'use' in a calendar choice" in _errors("{timezone: Europe/Paris}")
    assert "pb.yaml:25:55: unknown calendar 'suport' (did you mean 'support'?)" in \
        _errors("{use: suport, timezone: Europe/Paris}")
    assert "pb.yaml:25:55: expected a string, got a number" in _errors("{use: 3, timezone: Europe/Paris}")
    assert "unknown fact 'facts.tzz'" in _errors('{use: support, timezone: "{{ facts.tzz }}"}')


def test_a_fixed_zone_is_applied_at_compile_time() -> None:
    rule = next(r for r in PLAYBOOK.rules if r.id == "ack-paris")
    assert rule.calendar is not None and rule.calendar.fixed is not None
    assert rule.calendar.fixed.name == "support@Europe/Paris"


# --- batch = streaming = resumed -------------------------------------------------------------

BASE = 1_772_323_200  # 2026-03-01T00:00:00Z
ZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "Mars/Olympus", "", None]
TYPES = ["ticket", "reply", "incident", "question", "onboarded", "call.held", "account.updated"]

event_st = st.fixed_dictionaries(
    {
        "type": st.sampled_from(TYPES),
        # Hours over five weeks: both March DST changes, weekends and cadence periods.
        "time": st.integers(0, 35 * 24).map(lambda h: BASE + h * 3600),
        "account": st.sampled_from(["p", "n", "t", "x"]),
    },
    optional={
        "thread": st.sampled_from(["t1", "t2"]),
        "tz": st.sampled_from(ZONES),
        "desk": st.sampled_from(["support", "emea", "nope"]),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(event_st, max_size=40), st.lists(st.integers(0, 40), max_size=3), st.integers(1, 5))
def test_batch_streaming_and_resumed_runs_agree(tmp_path: Path, events: list[dict[str, Any]], cuts: list[int],
                                               flush: int) -> None:
    ordered = sorted(({**e, "id": f"e{i}"} for i, e in enumerate(events)), key=lambda e: e["time"])
    until = BASE + 40 * 24 * 3600
    whole = _lines(Engine([PLAYBOOK]).run(ordered, until=until))
    # Streaming: fed one by one, then advanced; and stream().
    engine = Engine([PLAYBOOK])
    fed = [a for e in ordered for a in engine.feed(e)] + engine.advance(until)
    fed.sort(key=lambda a: a.sort_key)
    assert _lines(fed) == whole
    assert _lines(list(Engine([PLAYBOOK]).stream(ordered, until=until, flush_every=flush))) == whole
    # In slices, each resumed from the snapshot of the one before (through JSON).
    cuts = [c for c in cuts if 0 < c < len(ordered) and ordered[c - 1]["time"] != ordered[c]["time"]]
    bounds = sorted(set(cuts) | {0, len(ordered)})
    produced: list[Any] = []
    snapshot = None
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        engine = Engine([PLAYBOOK])
        if snapshot is not None:
            assert engine.restore(orjson.loads(orjson.dumps(snapshot))) == []
        produced.extend(engine.run(ordered[lo:hi]))
        snapshot = engine.snapshot()
    engine = Engine([PLAYBOOK])
    if snapshot is not None:
        engine.restore(orjson.loads(orjson.dumps(snapshot)))
    produced.extend(engine.advance(until))
    produced.sort(key=lambda a: a.sort_key)
    assert _lines(produced) == whole
    # And through a store (--db), run by run.
    db = str(tmp_path / f"{uuid.uuid4().hex}.db")
    written: list[Any] = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        store = SQLiteStore(db)
        try:
            DurableRun(Engine([PLAYBOOK]), store).run(ordered[lo:hi], emit=written.extend)
        finally:
            store.close()
    store = SQLiteStore(db)
    try:
        DurableRun(Engine([PLAYBOOK]), store).run([], until=until, emit=written.extend)
    finally:
        store.close()
    assert written == whole


def test_a_snapshot_names_the_derived_calendar_and_a_restored_run_uses_it() -> None:
    engine = Engine([PLAYBOOK])
    engine.run([SETUP[0], {"id": "t", "time": "2026-03-02T15:30:00Z", "type": "ticket", "account": "p",
                           "thread": "t"}])
    snapshot = engine.snapshot()
    assert "support@Europe/Paris" in json.dumps(snapshot)
    resumed = Engine([PLAYBOOK])
    assert resumed.restore(orjson.loads(orjson.dumps(snapshot))) == []
    assert [(a.key, a.params["due"]) for a in resumed.advance("2026-03-04T00:00:00Z")] == [("p", "Tue 10:30 CET")]
    # A zone the tz database no longer knows: the calendar's own zone.
    damaged = json.loads(json.dumps(snapshot).replace("support@Europe/Paris", "support@Mars/Olympus"))
    resumed = Engine([PLAYBOOK])
    resumed.restore(damaged)
    actions = resumed.advance("2026-03-04T00:00:00Z")
    # The deadline was computed before the snapshot; only local() reads the calendar now.
    assert [(a.key, a.params["due"]) for a in actions] == [("p", "Tue 04:30 EST")]


def test_explain_shows_the_zone_the_run_used(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    events = SETUP + [{"id": f"t{k}", "time": "2026-03-02T15:30:00Z", "type": "ticket", "account": k, "thread": "t"}
                      for k in ("p", "x")]
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    r = invoke("explain", str(GOLDEN), "--events", str(log), "--rule", "ack", "--until", "2026-03-04T00:00:00Z")
    assert r.code == 0, r.err
    assert "calendar support in the time zone {{ facts.tz }}" in r.out
    assert "deadline Tue 2026-03-03 10:30 CET = 2026-03-03T09:30:00Z (2h on calendar support@Europe/Paris)" in r.out
    assert ("(2h on calendar support; in its own zone America/New_York: the timezone template gave \"Mars/Olympus\", "
            "not an IANA time zone)") in r.out


def test_the_docs_show_the_example_playbook_that_its_tests_run() -> None:
    """docs/language.md shows docs/examples/account-zone/playbook.yaml as it is (tests/test_golden.py runs its tests)."""
    shown = (ROOT / "docs" / "language.md").read_text()
    example = (ROOT / "docs" / "examples" / "account-zone" / "playbook.yaml").read_text()
    assert f"```yaml\n{example}```" in shown
    assert (ROOT / "docs" / "examples" / "account-zone" / "test.yaml").exists()
    # The fallback case of its tests is counted.
    engine = Engine([load_playbook_text(example)])
    engine.run([{"time": "2026-03-01T00:00:00Z", "type": "account.updated", "account": "acme", "timezone": "Paris"},
                {"time": "2026-03-02T14:00:00Z", "type": "ticket.created", "account": "acme", "ticket_id": 3}],
               until="2026-03-04T00:00:00Z")
    assert engine.summary.rules["account-zone/first-reply-8-business-hours"].timezone_fallbacks == 1


# --- lint ----------------------------------------------------------------------------------------

LINTED = """\
playbook: tz-lint
version: 1
timezone: America/New_York
events:
  ticket: {account: string, tz: string}
  reply: {account: string}
calendars:
  support:
    hours: {mon-fri: "09:00-17:00"}
  paris:
    timezone: Europe/Paris
    hours: {mon-fri: "09:00-17:00"}
rules:
  - id: ack
    when: ticket
    expect: {type: reply, within: 2h, calendar: {use: support, timezone: America/New_York}}
    actions: {on_breach: [{do: escalate}]}
  - id: ack-paris
    when: ticket
    expect: {type: reply, within: 2h, calendar: {use: paris, timezone: Europe/Paris}}
    actions: {on_breach: [{do: escalate}]}
  - id: ack-elsewhere
    when: ticket
    expect: {type: reply, within: 2h, calendar: {use: paris, timezone: "{{ trigger.tz }}"}}
    actions: {on_breach: [{do: escalate}]}
  - id: ack-desk
    when: ticket
    expect: {type: reply, within: 2h, calendar: {use: "{{ trigger.desk }}", timezone: "{{ trigger.zone }}"}}
    actions: {on_breach: [{do: escalate}]}
  - id: calls
    every: 5d
    calendar: {use: support, timezone: America/New_York}
    start: ticket
    expect: reply
    actions: {on_breach: [{do: call}]}
"""


def test_lint_warns_about_a_zone_that_is_the_calendars_own_and_reads_the_templates(tmp_path: Path) -> None:
    from engine.lint import lint_file

    path = tmp_path / "p.yaml"
    path.write_text(LINTED)
    result = lint_file(str(path))
    assert not result.errors
    found = [f"{d.line}:{d.col}: {d.message}" for d in result.warnings]
    assert found == [
        "16:74: timezone 'America/New_York' is already the time zone of calendar 'support': it changes nothing "
        "(write calendar: support, or a template such as '{{ facts.tz }}') [calendar-own-zone]",
        "20:72: timezone 'Europe/Paris' is already the time zone of calendar 'paris': it changes nothing "
        "(write calendar: paris, or a template such as '{{ facts.tz }}') [calendar-own-zone]",
        "28:59: the calendar reads trigger.desk, which is not a field of ticket as declared under events: "
        "(declared: account, tz) [unknown-field]",
        "28:91: the calendar's timezone reads trigger.zone, which is not a field of ticket as declared under events: "
        "(declared: account, tz) [unknown-field]",
        "32:40: timezone 'America/New_York' is already the time zone of calendar 'support': it changes nothing "
        "(write calendar: support, or a template such as '{{ facts.tz }}') [calendar-own-zone]",
    ]


def test_a_refused_zone_name_does_not_suggest_itself() -> None:
    message = _errors("{use: support, timezone: localtime}")
    assert "unknown time zone 'localtime'" in message and "did you mean 'localtime'" not in message
