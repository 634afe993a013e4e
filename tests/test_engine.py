"""The Python API: load_playbook, Engine.feed / advance / run, the summary."""

from __future__ import annotations

import json
import pickle
from datetime import UTC
from pathlib import Path

import pytest

from engine import Engine, EventError, PlaybookError, SourceEvent, UsageError, load_playbook, load_playbook_text
from engine.errors import Diagnostic
from tests.conftest import ROOT

RESPONSE = load_playbook(str(ROOT / "tests/golden/response/playbook.yaml"))

ASK = {"id": "e1", "time": "2026-03-02T14:00:00Z", "type": "ask", "account": "a", "thread": "t1", "channel": "email"}
ANSWER = {"id": "e2", "time": "2026-03-02T14:30:00Z", "type": "answer", "account": "a", "thread": "t1"}


def test_run_returns_action_records() -> None:
    actions = Engine(RESPONSE).run([ANSWER, ASK])  # unsorted input is sorted by time
    assert [(a.rule, a.outcome) for a in actions] == [("ack", "met")]
    rec = actions[0].record()
    assert rec["at"] == "2026-03-02T14:30:00Z" and rec["deadline"] == "2026-03-02T15:00:00Z"
    assert rec["params"] == {"elapsed": 1800}
    assert rec["key"] == "a" and rec["subject"] == {"thread": "t1"}


def test_streaming_feed_and_advance() -> None:
    engine = Engine([RESPONSE])
    assert engine.feed(ASK) == []
    assert engine.advance("2026-03-02T15:00:00Z") == []  # the deadline itself has not passed
    breach = engine.advance("2026-03-02T15:00:01Z")
    assert [(a.outcome, a.record()["at"]) for a in breach] == [("breach", "2026-03-02T15:00:00Z")]
    late = engine.feed({**ANSWER, "time": "2026-03-02T16:00:00Z"})
    assert [(a.outcome, a.params["late_by"]) for a in late] == [("late", 3600)]


def test_an_event_earlier_than_the_clock_is_skipped_as_late() -> None:
    engine = Engine(RESPONSE)
    engine.feed(ANSWER)
    engine.feed(ASK)
    assert engine.summary.late_events == 1
    assert engine.summary.skipped["earlier than the clock"].count == 1


def test_strict_mode_raises_with_the_place() -> None:
    engine = Engine(RESPONSE, strict=True)
    with pytest.raises(EventError) as info:
        engine.feed({"type": "ask", "account": "a"}, source="log.jsonl:7")
    assert str(info.value) == "log.jsonl:7: missing 'time'"
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value)


def test_errors_pickle() -> None:
    err = PlaybookError([Diagnostic("f.yaml", 3, 4, "bad")])
    assert str(pickle.loads(pickle.dumps(err))) == "f.yaml:3:4: bad"


def test_summary_counts_what_did_not_become_an_action() -> None:
    engine = Engine(RESPONSE)
    engine.run([
        ASK,
        {"time": "2026-03-02T14:00:00Z", "type": "ask", "account": "a", "channel": "email"},  # no thread
        {"time": "2026-03-02T14:01:00Z", "type": "ask", "thread": "t9", "channel": "email"},  # no account
        {"time": "2026-03-02T14:02:00Z", "type": "ask", "account": "b", "thread": "t3", "channel": "email"},
    ], until="2026-03-02T14:30:00Z")
    s = engine.summary
    assert s.without_key == 1
    stats = s.rules["golden-response/ack"]
    assert stats.triggers_missing_same == 1
    assert stats.pending == 2 and stats.overdue == 0
    assert s.outcomes == {}


def test_runtime_expression_errors_count_as_false_and_are_reported() -> None:
    pb = load_playbook_text("""
playbook: p
version: 1
rules:
  - id: r
    when: {type: x, where: "10 / n > 1"}
    actions: {on_match: [{do: a, ratio: "{{ 1 / n }}", text: "n={{ n }}"}]}
""")
    engine = Engine(pb)
    actions = engine.run([
        {"type": "x", "time": 0, "account": "a", "n": 0},
        {"type": "x", "time": 1, "account": "a", "n": 2},
        {"type": "x", "time": 2, "account": "a", "n": "two"},
    ])
    assert [a.params for a in actions] == [{"ratio": 0.5, "text": "n=2"}]
    errors = engine.summary.expression_errors["p: r when.where"]
    assert errors.count == 2
    assert "division by zero" in errors.samples[0][1]


def test_template_errors_render_null() -> None:
    pb = load_playbook_text("""
playbook: p
version: 1
rules:
  - id: r
    when: x
    actions: {on_match: [{do: a, ratio: "{{ 1 / n }}"}]}
""")
    engine = Engine(pb)
    actions = engine.run([{"type": "x", "time": 0, "account": "a", "n": 0}])
    assert actions[0].params == {"ratio": None}
    assert engine.summary.expression_errors["p: r on_match[0].ratio"].count == 1


def test_renamed_fields_custom_key_and_local_times() -> None:
    pb = load_playbook_text("""
playbook: p
version: 1
timezone: America/New_York
key: customer.id
fields: {type: event, time: timestamp, id: message_id}
rules:
  - id: r
    when: hello
    actions: {on_match: [{do: a, local: "{{ local(at, '%H:%M') }}", who: "{{ key }}"}]}
""")
    actions = Engine(pb).run([
        {"event": "hello", "timestamp": "2026-07-01T09:00:00", "message_id": "m1", "customer": {"id": "c1"}},
        {"event": "hello", "timestamp": 1782914400, "customer": {"id": 7}},
    ])
    recs = [a.record() for a in actions]
    assert recs[0]["at"] == "2026-07-01T13:00:00Z"  # naive time read in the playbook's zone (EDT)
    assert recs[0]["params"] == {"local": "09:00", "who": "c1"} and recs[0]["trigger"]["id"] == "m1"
    assert recs[1]["key"] == 7 and recs[1]["trigger"]["id"].startswith("ev-")


def test_two_playbooks_in_one_engine_are_independent() -> None:
    other = load_playbook_text(
        (ROOT / "tests/golden/response/playbook.yaml").read_text().replace("golden-response", "copy")
    )
    actions = Engine([RESPONSE, other]).run([ASK, ANSWER])
    assert [(a.playbook, a.outcome) for a in actions] == [("golden-response", "met"), ("copy", "met")]
    with pytest.raises(UsageError):
        Engine([RESPONSE, RESPONSE])
    with pytest.raises(UsageError):
        Engine([])


def test_identical_events_without_ids_get_distinct_ids() -> None:
    pb = load_playbook_text("playbook: p\nversion: 1\nrules:\n  - {id: r, when: x, actions: {on_match: [{do: a}]}}\n")
    e = {"type": "x", "time": 5, "account": "a"}
    actions = Engine(pb).run([e, dict(e)])
    assert len({a.id for a in actions}) == 2
    assert len({a.trigger.id for a in actions if a.trigger}) == 2
    assert [a.id for a in Engine(pb).run([e, dict(e)])] == [a.id for a in actions]


def test_facts_accessor_and_bad_until() -> None:
    engine = Engine(RESPONSE)
    engine.run([{"type": "account.updated", "time": 0, "account": "a", "tier": "pro", "csm": "kim"}])
    assert engine.facts("a") == {"tier": "pro", "csm": "kim"}
    assert engine.facts("zzz") == {"tier": None, "csm": None}
    with pytest.raises(UsageError):
        engine.advance("not a time")
    with pytest.raises(UsageError):
        engine.facts("a", playbook="nope")


def test_time_fast_path_agrees_with_the_full_parser() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from engine import timecalc

    @settings(max_examples=300, deadline=None)
    @given(st.integers(0, 4_102_444_800), st.sampled_from(["Z", "+00:00", "-05:00", "+05:30", "-09:30"]))
    def check(seconds: int, offset: str) -> None:
        from datetime import datetime, timedelta, timezone

        if offset == "Z":
            zone = UTC
        else:
            sign = -1 if offset[0] == "-" else 1
            zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
        local = datetime.fromtimestamp(seconds, zone).strftime("%Y-%m-%dT%H:%M:%S") + offset
        fast = timecalc.parse_time(local)
        slow = timecalc.parse_time(" " + local)  # leading space: the general parser
        assert fast == slow == seconds * timecalc.US

    check()


def test_playbooks_that_read_events_differently_count_each_event_once() -> None:
    utc = load_playbook_text("playbook: u\nversion: 1\nrules:\n  - {id: r, when: x, actions: {on_match: [{do: a}]}}\n")
    ny = load_playbook_text(
        "playbook: n\nversion: 1\ntimezone: America/New_York\nrules:\n  - {id: r, when: x, actions: {on_match: [{do: a}]}}\n"
    )
    engine = Engine([utc, ny])
    actions = engine.run([
        {"type": "x", "time": "2026-07-01T12:00:00", "account": "a"},
        {"type": "x", "time": "2026-07-01T13:00:00Z"},
        {"type": "x"},
    ])
    assert [(a.playbook, a.record()["at"]) for a in actions] == [
        ("u", "2026-07-01T12:00:00Z"), ("n", "2026-07-01T16:00:00Z"),
    ]
    s = engine.summary
    assert (s.events_read, s.without_key, s.skipped_total) == (3, 1, 1)


def test_templates_read_every_name_of_an_action() -> None:
    # Names that take work to make (at, deadline, elapsed, late_by) are made only for
    # templates that read them: each must still be there for those that do.
    pb = load_playbook_text("""
playbook: names
version: 1
rules:
  - id: ack
    when: {type: ask}
    expect: {type: answer, same: [thread], within: 1h}
    actions:
      on_breach:
        - {do: a, at: "{{ at }}", deadline: "{{ deadline }}", elapsed: "{{ elapsed }}", late_by: "{{ late_by }}"}
        - {do: b, rule: "{{ rule }}", outcome: "{{ outcome }}", reason: "{{ reason }}", key: "{{ key }}"}
      on_late:
        - {do: c, text: "{{ local(at, '%H:%M') }} / {{ local(deadline, '%H:%M') }} / {{ late_by }} / {{ elapsed }}"}
        - {do: d, subject: "{{ subject.thread }}", trigger: "{{ trigger.thread }}", event: "{{ event.type }}"}
""", "names.yaml")
    actions = Engine(pb).run([ASK, {**ANSWER, "time": "2026-03-02T16:30:00.5Z"}])
    assert [a.params for a in actions] == [
        {"at": "2026-03-02T15:00:00Z", "deadline": "2026-03-02T15:00:00Z", "elapsed": 3600, "late_by": None},
        {"rule": "ack", "outcome": "breach", "reason": "deadline", "key": "a"},
        {"text": "16:30 / 15:00 / 5400.5 / 9000.5"},
        {"subject": "t1", "trigger": "t1", "event": "answer"},
    ]


def test_ids_of_identical_events_without_id_agree_between_stream_and_run_and_stay_bounded() -> None:
    asks = [{"time": 1772460000 + i // 2, "type": "ask", "account": "a", "thread": "t", "channel": "email"}
            for i in range(2000)]  # each event twice: identical events share their time
    every = load_playbook_text("""
playbook: every
version: 1
rules:
  - {id: each, when: {type: ask}, actions: {on_match: [{do: note}]}}
""", "every.yaml")
    streamed = Engine(every)
    got = [a.trigger.id for a in streamed.stream(asks) if a.trigger is not None]
    ran = [a.trigger.id for a in Engine(every).run(asks) if a.trigger is not None]
    assert len(got) == 2000
    assert got == ran and len(set(got)) == len(got) and any(i.endswith("-2") for i in got)
    # A stream remembers the ids of its current instant only.
    assert len(streamed._readers[0].ids.seen) <= 2


# -- dedupe (issue 20): an id fed twice is processed once ----------------------------------

LOGINS_TEXT = """
playbook: logins
version: 1
rules:
  - id: three-failed
    when: login.failed
    threshold: {count: 3, within: 1h}
    actions: {on_match: [{do: lock}]}
"""
LOGINS = load_playbook_text(LOGINS_TEXT, "logins.yaml")


def _failed(eid: str, minute: int, **extra: object) -> dict[str, object]:
    return {"id": eid, "type": "login.failed", "time": f"2026-03-02T14:{minute:02d}:00Z", "account": "x", **extra}


def test_feed_of_the_same_id_twice_processes_it_once() -> None:
    engine = Engine(LOGINS)
    out = []
    for event in (_failed("a", 0), _failed("b", 1), _failed("b", 1)):  # a webhook retried
        out += engine.feed(event, source=f"hook:{event['id']}")
    assert out == []  # two failed logins, not three
    s = engine.summary
    assert (s.events_read, s.events_processed, s.duplicates.count) == (3, 2, 1)
    assert s.duplicates.samples == [("hook:b", "id 'b' was processed before: skipped as a duplicate")]
    assert [a.rule for a in engine.feed(_failed("c", 2))] == ["three-failed"]
    # Without a source, the duplicate is named by its id.
    engine.feed(_failed("c", 2))
    assert engine.summary.duplicates.samples[-1][0] == "event c"


def test_dedupe_can_be_turned_off() -> None:
    engine = Engine(LOGINS, dedupe=False)
    out = [a for e in (_failed("a", 0), _failed("b", 1), _failed("b", 1)) for a in engine.feed(e)]
    assert [a.rule for a in out] == ["three-failed"] and engine.summary.duplicates.count == 0


def test_run_and_stream_dedupe_by_the_same_rule() -> None:
    events = [_failed("a", 0), _failed("b", 1), _failed("b", 1), _failed("a", 0)]
    ran = Engine(LOGINS)
    assert ran.run(events) == [] and ran.summary.duplicates.count == 2
    streamed = Engine(LOGINS)
    assert list(streamed.stream(sorted(events, key=lambda e: str(e["time"])))) == []
    assert streamed.summary.duplicates.count == 2
    assert len(Engine(LOGINS, dedupe=False).run(events)) == 1


def test_dedupe_is_bounded_by_time_and_by_count() -> None:
    # By time: an id is forgotten once the newest event is more than dedupe_window past it.
    retry = [_failed("a", 0), _failed("b", 50), {**_failed("a", 0), "time": "2026-03-02T15:30:00Z"}]
    short = Engine(LOGINS, dedupe_window="30m")
    for e in retry:
        short.feed(e)
    assert short.summary.duplicates.count == 0 and short.summary.events_processed == 3
    unbounded = Engine(LOGINS, dedupe_window=None)
    for e in retry:
        unbounded.feed(e)
    assert unbounded.summary.duplicates.count == 1
    # By count: at most dedupe_max ids.
    few = Engine(LOGINS, dedupe_max=2)
    for eid in ("a", "b", "c", "a"):
        few.feed(_failed(eid, 0))
    assert few.summary.duplicates.count == 0
    many = Engine(LOGINS)
    for eid in ("a", "b", "c", "a"):
        many.feed(_failed(eid, 0))
    assert many.summary.duplicates.count == 1
    for bad in ({"dedupe_max": 0}, {"dedupe_window": "soon"}, {"dedupe_window": -1}):
        with pytest.raises(UsageError):
            Engine(LOGINS, **bad)  # type: ignore[arg-type]


def test_the_dedupe_window_is_exact_whatever_comes_between() -> None:
    """A copy outside the window is processed whether or not another event came between
    (the window is measured from the newest event when the copy arrives)."""
    first, copy = _failed("a", 0), {**_failed("a", 0), "time": "2026-03-02T16:00:00Z"}
    between = {**_failed("b", 0), "time": "2026-03-02T15:55:00Z"}
    alone, with_between = Engine(LOGINS, dedupe_window="30m"), Engine(LOGINS, dedupe_window="30m")
    for e in (first, copy):
        alone.feed(e)
    for e in (first, between, copy):
        with_between.feed(e)
    assert alone.summary.duplicates.count == with_between.summary.duplicates.count == 0
    # Within the window, a copy is a duplicate even after hundreds of other ids.
    many = Engine(LOGINS, dedupe_window="30m")
    first = {**first, "time": "2026-03-02T15:00:00Z"}
    many.feed(first)
    for i in range(600):
        many.feed({**_failed(f"x{i}", 0), "time": "2026-03-02T15:10:00Z"})
    many.feed({**first, "time": "2026-03-02T15:20:00Z"})
    assert many.summary.duplicates.count == 1


def test_the_ids_remembered_survive_a_snapshot() -> None:
    engine = Engine(LOGINS)
    engine.feed(_failed("a", 0))
    engine.feed(_failed("b", 1))
    again = Engine(LOGINS)
    again.restore(engine.snapshot())
    assert again.feed(_failed("b", 1)) == [] and again.summary.duplicates.count == 1
    assert [a.rule for a in again.feed(_failed("c", 2))] == ["three-failed"]


def test_playbook_run_skips_an_id_given_twice_with_and_without_a_store(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli.main import main

    (tmp_path / "p.yaml").write_text(LOGINS_TEXT)
    log = tmp_path / "e.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in (_failed("a", 0), _failed("b", 1), _failed("b", 1))))
    plain = CliRunner().invoke(main, ["run", str(tmp_path / "p.yaml"), "--events", str(log)])
    assert plain.exit_code == 0 and plain.stdout == ""
    assert "duplicates (an id processed before, skipped): 1" in plain.stderr and "e.jsonl:3: id 'b'" in plain.stderr
    stored = CliRunner().invoke(main, ["run", str(tmp_path / "p.yaml"), "--events", str(log), "--db", str(tmp_path / "s.db")])
    assert stored.exit_code == 0 and stored.stdout == ""
    assert "1 duplicate events skipped" in stored.stderr


# -- allowed lateness (issue 20): the clock held back, late events named --------------------

def _at(event: dict[str, object], hhmm: str) -> dict[str, object]:
    return {**event, "time": f"2026-03-02T{hhmm}:00Z"}


OTHER = {"id": "o1", "type": "account.updated", "account": "b", "tier": "pro"}


def test_a_late_event_is_named_by_its_id_and_the_message_says_feed_in_time_order() -> None:
    engine = Engine(RESPONSE)
    engine.feed(ANSWER)
    engine.feed(ASK)
    problem = engine.summary.skipped["earlier than the clock"]
    assert problem.samples == [("event e1", "event e1 at 2026-03-02T14:00:00Z is earlier than the clock "
                                "(2026-03-02T14:30:00Z): events must be fed in time order (Engine(reorder_window=...), "
                                "also called allowed_lateness, holds events back to put them in order)")]
    anonymous = Engine(RESPONSE)
    anonymous.feed(ANSWER)
    anonymous.feed({k: v for k, v in ASK.items() if k != "id"}, source="hook:9")
    assert anonymous.summary.skipped["earlier than the clock"].samples[0][0] == "hook:9"
    derived = Engine(RESPONSE)
    derived.feed(ANSWER)
    derived.feed({k: v for k, v in ASK.items() if k != "id"})
    assert derived.summary.skipped["earlier than the clock"].samples[0][0].startswith("event ev-")
    strict = Engine(RESPONSE, strict=True)
    strict.feed(ANSWER)
    with pytest.raises(EventError, match=r"^event e1: event e1 at .* must be fed in time order"):
        strict.feed(ASK)


def test_allowed_lateness_processes_a_late_event_in_order() -> None:
    # The answer (14:15) comes after an event at 14:20: late for a plain engine, in time with 10m.
    arrivals = [ASK, _at(OTHER, "14:20"), _at(ANSWER, "14:15")]
    plain = Engine(RESPONSE)
    for e in arrivals:
        plain.feed(e)
    assert plain.summary.late_events == 1
    assert [a.outcome for a in plain.advance("2026-03-02T16:00:00Z")] == ["breach"]

    engine = Engine(RESPONSE, allowed_lateness="10m")
    assert [engine.feed(e) for e in arrivals] == [[], [], []]
    assert engine.clock == engine.parse_until("2026-03-02T14:10:00Z")  # the newest event less the lateness
    met = engine.advance("2026-03-02T16:00:00Z")  # processes what it holds up to 16:00, in time order
    assert [(a.outcome, a.record()["at"]) for a in met] == [("met", "2026-03-02T14:15:00Z")]
    s = engine.summary
    assert (s.events_read, s.events_processed, s.late_events) == (3, 3, 0)
    # More than the lateness behind the newest event is late, named by its id.
    engine.feed(_at({**ASK, "id": "e9"}, "15:49"))
    assert engine.summary.late_events == 1
    assert engine.summary.skipped["earlier than the clock"].samples[0][0] == "event e9"


def test_held_events_come_out_as_time_passes_and_with_flush() -> None:
    engine = Engine(RESPONSE, allowed_lateness=600)  # seconds
    engine.feed(ASK)
    assert engine.feed(_at(ANSWER, "14:30")) == []        # held: the newest (14:30) less 10m is before it
    assert engine.feed(_at(OTHER, "14:41")) != []         # 14:31 passes the answer: met, then nothing more
    engine2 = Engine(RESPONSE, allowed_lateness="1h")
    engine2.feed(ASK)
    engine2.feed(_at(ANSWER, "14:30"))
    assert [a.outcome for a in engine2.flush()] == ["met"]
    assert engine2.clock == engine2.parse_until("2026-03-02T14:30:00Z")


def test_allowed_lateness_gives_the_batch_result_for_events_that_arrive_at_most_that_late() -> None:
    import random

    rng = random.Random(7)
    events = []
    for i in range(200):
        minute = i * 3
        t = f"2026-03-02T{10 + minute // 60:02d}:{minute % 60:02d}:00Z"
        thread = f"t{rng.randrange(20)}"
        kind = rng.choice(["ask", "answer", "answer"])
        events.append({"id": f"x{i}", "type": kind, "time": t, "account": rng.choice("ab"), "thread": thread,
                       "channel": "email"})
    arrivals = list(events)
    for i in range(0, len(arrivals) - 1, 2):  # neighbours (3 minutes apart) swapped
        if rng.random() < 0.5:
            arrivals[i], arrivals[i + 1] = arrivals[i + 1], arrivals[i]
    until = "2026-03-03T00:00:00Z"
    expected = [a.record() for a in Engine(RESPONSE).run(events, until=until)]
    engine = Engine(RESPONSE, allowed_lateness="3m")
    got = [a for e in arrivals for a in engine.feed(e)] + engine.advance(until)
    assert sorted((a.record() for a in got), key=lambda r: (r["at"], r["id"])) == sorted(expected, key=lambda r: (r["at"], r["id"]))
    assert engine.summary.late_events == 0 and engine.summary.events_processed == 200
    # Without lateness the swapped events are late.
    plain = Engine(RESPONSE)
    for e in arrivals:
        plain.feed(e)
    assert plain.summary.late_events > 0


def test_held_events_survive_a_snapshot_and_a_run_flushes_them() -> None:
    engine = Engine(RESPONSE, allowed_lateness="1h")
    engine.feed(ASK)
    engine.feed(_at(ANSWER, "14:30"))
    saved = json.loads(json.dumps(engine.snapshot()))
    again = Engine(RESPONSE, allowed_lateness="1h")
    again.restore(saved)
    assert [a.outcome for a in again.flush()] == ["met"]
    # An engine without lateness processes held events before its next event.
    plain = Engine(RESPONSE)
    plain.restore(saved)
    assert [a.outcome for a in plain.feed(_at(OTHER, "16:00"))] == ["met"]
    # run() over an engine with lateness ends with every event processed (until: the last event).
    batch = Engine(RESPONSE, allowed_lateness="1h")
    assert [a.outcome for a in batch.run([_at(ANSWER, "14:30"), ASK])] == ["met"]
    assert [a.outcome for a in list(Engine(RESPONSE, allowed_lateness="1h").stream([ASK, _at(ANSWER, "14:30")]))] == ["met"]
    # With until, events after it stay held (as a store keeps them for its next run) until a flush.
    limited = Engine(RESPONSE, allowed_lateness="1h")
    assert limited.run([ASK, _at(ANSWER, "14:30")], until="2026-03-02T14:10:00Z") == []
    assert limited.held == 1
    assert [a.outcome for a in limited.flush()] == ["met"] and limited.held == 0


def test_the_dedupe_window_covers_the_allowed_lateness() -> None:
    engine = Engine(LOGINS, allowed_lateness="2h", dedupe_window="1m")
    engine.feed(_failed("a", 0))
    engine.feed(_failed("b", 30))
    engine.feed(_failed("a", 0))  # still within the lateness: a duplicate, not a second failure
    assert engine.summary.duplicates.count == 1 and engine.flush() == []


def test_a_reorder_window_puts_slightly_disordered_events_back_in_order() -> None:
    arrivals = [_at(ANSWER, "14:30"), ASK, _at(OTHER, "14:40")]  # the answer came before its question
    plain = Engine(RESPONSE)
    out = [a for e in arrivals for a in plain.feed(e)] + plain.flush()
    assert out == [] and plain.summary.late_events == 1
    engine = Engine(RESPONSE, reorder_window="30m")
    assert engine.allowed_lateness_us == 30 * 60 * 1_000_000  # the same setting as allowed_lateness
    out = [a for e in arrivals for a in engine.feed(e)]
    assert out == []  # 14:40 less 30m has not passed the question yet
    assert [(a.outcome, a.record()["at"]) for a in engine.flush()] == [("met", "2026-03-02T14:30:00Z")]
    assert engine.summary.late_events == 0
    # stream() takes a reorder window too, and flushes at its end.
    streamed = list(Engine(RESPONSE, reorder_window="30m").stream(arrivals))
    assert [a.outcome for a in streamed] == ["met"]
    with pytest.raises(UsageError, match="one setting"):
        Engine(RESPONSE, reorder_window="1m", allowed_lateness="1m")


# -- times far in the future (issue 20): max_future, and outliers reported --------------------

TYPO = [  # one mistyped year: 2036 for 2026
    {"id": "m1", "type": "ask", "time": "2026-03-02T14:00:00Z", "account": "a", "thread": "t1", "channel": "email"},
    {"id": "m2", "type": "ask", "time": "2036-03-02T15:00:00Z", "account": "a", "thread": "t2", "channel": "email"},
    {"id": "m3", "type": "answer", "time": "2026-03-02T14:30:00Z", "account": "a", "thread": "t1"},
    {"id": "m4", "type": "ask", "time": "2026-03-03T09:00:00Z", "account": "a", "thread": "t3", "channel": "email"},
]


def test_an_outlier_in_time_is_reported_and_max_future_sets_it_aside() -> None:
    trusting = Engine(RESPONSE)
    actions = trusting.run([SourceEvent(e, f"log.jsonl:{i}") for i, e in enumerate(TYPO, 1)])
    assert [a.outcome for a in actions] == ["met", "breach"]  # the clock went to 2036: t3 breached
    outliers = trusting.summary.time_outliers
    assert outliers.count == 1 and outliers.samples[0][0] == "log.jsonl:2"
    assert "2036-03-02T15:00:00Z is 3,652 days after the event before it (2026-03-03T09:00:00Z)" in outliers.samples[0][1]

    careful = Engine(RESPONSE, max_future="30d")
    actions = careful.run([SourceEvent(e, f"log.jsonl:{i}") for i, e in enumerate(TYPO, 1)])
    assert [a.outcome for a in actions] == ["met"]  # until is the last good event: t3 still pending
    s = careful.summary
    assert (s.events_processed, s.skipped_total, s.time_outliers.count) == (3, 1, 0)
    assert s.skipped["time far in the future"].samples == [(
        "log.jsonl:2", "time far in the future: 2036-03-02T15:00:00Z is 3,652 days after the event before it "
        "(2026-03-03T09:00:00Z), more than max_future (--max-future) allows (30 days): set aside (a mistyped year "
        "here, or, if many events are set aside, in an event before them?)")]


def test_max_future_is_relative_to_until_when_given_and_to_the_newest_event_when_fed() -> None:
    engine = Engine(RESPONSE, max_future="2d")
    engine.run(TYPO[:1] + [{**TYPO[3], "time": "2026-03-05T00:00:00Z"}], until="2026-03-01T00:00:00Z")
    problem = engine.summary.skipped["time far in the future"]
    assert problem.count == 1 and "after until (2026-03-01T00:00:00Z)" in problem.samples[0][1]
    assert engine.summary.after_until == 1  # m1 (less than 2 days after until) is after until as before
    fed = Engine(RESPONSE, max_future="1d")
    for e in TYPO:
        fed.feed(e)
    assert fed.summary.skipped["time far in the future"].samples[0][0] == "event m2"
    assert fed.summary.late_events == 0 and fed.clock == fed.parse_until("2026-03-03T09:00:00Z")
    # A restored engine compares its first event with the saved state.
    again = Engine(RESPONSE, max_future="1d")
    again.restore(fed.snapshot())
    again.feed({**TYPO[1], "id": "m5"})
    assert again.summary.skipped_total == 1
    strict = Engine(RESPONSE, max_future="1d", strict=True)
    strict.feed(TYPO[0])
    with pytest.raises(EventError, match=r"^event m2: time far in the future"):
        strict.feed(TYPO[1])


def test_normal_logs_have_no_time_outliers(tmp_path: Path) -> None:
    import subprocess
    import sys

    from engine import read_events

    generated = tmp_path / "year.jsonl"  # a year of 100 accounts from the benchmark's generator
    subprocess.run([sys.executable, str(ROOT / "benchmarks/generate.py"), "--events", "20000", "--accounts", "100",
                    "--seed", "3", "--out", str(generated)], check=True, capture_output=True, timeout=300)
    logs = [ROOT / "examples/events.jsonl", ROOT / "tests/golden/testcmd/events.jsonl", generated]
    for log in logs:
        engine = Engine(RESPONSE)
        engine.run(read_events(str(log)))
        assert engine.summary.time_outliers.count == 0, log
    # Events years apart are no outliers when the log before them lasted longer still.
    years = [{"type": "x", "account": "a", "time": f"{y}-{m:02d}-01T00:00:00Z"} for y in (2020, 2021, 2022)
             for m in range(1, 13)] + [{"type": "x", "account": "a", "time": "2024-06-01T00:00:00Z"}]
    engine = Engine(RESPONSE)
    engine.run(years)
    assert engine.summary.time_outliers.count == 0


def test_playbook_run_max_future(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli.main import main

    log = tmp_path / "e.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in TYPO))
    playbook = str(ROOT / "tests/golden/response/playbook.yaml")
    trusting = CliRunner().invoke(main, ["run", playbook, "--events", str(log)])
    assert trusting.exit_code == 0 and "warning: 1 event far beyond the rest of the log" in trusting.stderr
    assert "e.jsonl:2: 2036-03-02T15:00:00Z is 3,652 days after" in trusting.stderr
    quiet = CliRunner().invoke(main, ["run", playbook, "--events", str(log), "--quiet"])
    assert "warning: 1 event far beyond the rest of the log" in quiet.stderr  # a warning --quiet still prints
    assert "events:" not in quiet.stderr  # but no summary
    for extra in ([], ["--db", str(tmp_path / "s.db")]):
        careful = CliRunner().invoke(main, ["run", playbook, "--events", str(log), "--max-future", "30d", *extra])
        assert careful.exit_code == 0, careful.stderr
        assert [json.loads(line)["outcome"] for line in careful.stdout.splitlines()] == ["met"]
        assert "1 skipped" in careful.stderr and "e.jsonl:2: time far in the future: 2036-03-02T15:00:00Z" in careful.stderr
    until = CliRunner().invoke(main, ["run", playbook, "--events", str(log), "--max-future", "1d",
                                      "--until", "2026-03-02T00:00:00Z"])
    assert "after until (2026-03-02T00:00:00Z)" in until.stderr and "e.jsonl:2" in until.stderr
    bad = CliRunner().invoke(main, ["run", playbook, "--events", str(log), "--max-future", "soon"])
    assert bad.exit_code == 2 and "--max-future: invalid duration 'soon'" in bad.stderr
