"""`playbook explain`: the timeline of each obligation, cadence and signal group, and why not.

Each rule kind's outcomes are explained on small logs written here; the shipped
sample log checks that every action the engine produces is placed in a timeline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import main
from engine import Engine, load_playbook, load_playbook_text, read_events
from engine.explain import Explanation, KeyReport, Step, explain
from tests.conftest import ROOT

PLAYBOOK = """
playbook: explain-me
version: 1
timezone: America/New_York
facts:
  tier: {from: account.updated, value: tier}
rules:
  - id: ack
    when: {type: ask, match: {channel: [email, slack]}, where: "len(body) > 0 and internal != true"}
    unless: "facts.tier == 'free'"
    expect: {type: answer, same: [thread], within: 1h, before: {type: complaint}}
    expire: 2h
    actions:
      on_breach: [{do: escalate}]
      on_late: [{do: apologise}]
  - id: qbr
    every: 10d
    start: contract.signed
    stop: contract.ended
    expect: {type: qbr.held, where: "roi > 0"}
    remind_before: 2d
    actions:
      on_due_soon: [{do: remind}]
      on_breach: [{do: escalate}]
      on_met: [{do: ok}]
      on_late: [{do: late}]
  - id: hiring
    when: {type: signal.hiring, where: "department == 'sales'"}
    threshold: {count: 2, within: 5d}
    cooldown: 10d
    group_by: [city]
    actions: {on_match: [{do: propose}]}
"""


def ev(time: str, etype: str, **fields: Any) -> dict[str, Any]:
    return {"time": time, "type": etype, "account": fields.pop("account", "acme"), **fields}


@pytest.fixture(scope="module")
def playbook() -> Any:
    return load_playbook_text(PLAYBOOK, "explain-me.yaml")


def steps(report: KeyReport) -> list[Step]:
    return [s for u in report.units for s in u.steps] + report.other


def texts(report: KeyReport) -> list[str]:
    return [s.text for s in steps(report)]


def one_key(x: Explanation) -> KeyReport:
    assert len(x.keys) == 1
    return x.keys[0]


# -- response rules -------------------------------------------------------------------------------

ASK = {"channel": "email", "body": "help"}


def test_response_met_breach_late_and_preempted(playbook: Any) -> None:
    events = [
        ev("2026-03-02T10:00:00Z", "ask", thread="t1", **ASK),
        ev("2026-03-02T10:30:00Z", "answer", thread="t1"),                 # met
        ev("2026-03-02T12:00:00Z", "ask", thread="t2", **ASK),
        ev("2026-03-02T13:30:00Z", "answer", thread="t2"),                 # breach 13:00, then late
        ev("2026-03-02T14:00:00Z", "ask", thread="t3", **ASK),
        ev("2026-03-02T14:10:00Z", "complaint", thread="t3"),              # preempted
    ]
    r = one_key(explain(playbook, events, "ack"))
    t1, t2, t3 = r.units
    assert (t1.subject, t1.status) == ({"thread": "t1"}, "met")
    assert [s.text for s in t1.steps] == ["opens the obligation", "fulfils: met"]
    assert t1.steps[1].outcome is not None and t1.steps[1].outcome.actions == []  # no on_met: an outcome, no action
    assert [s.kind for s in t2.steps] == ["event", "deadline", "event"]
    assert t2.steps[1].text == "deadline passed: breach (deadline)"
    assert t2.steps[1].outcome is not None and [a["do"] for a in t2.steps[1].outcome.actions] == ["escalate"]
    assert t2.steps[2].text == "fulfils: late (the obligation had breached)"
    assert t2.status == "breached, then fulfilled late"
    assert t3.steps[1].text.startswith("preempts: breach (preempted)")
    assert t3.status.startswith("breached; still waiting for a late fulfilment until 2026-03-02T16:10:00Z")
    # The deadline is shown in local time and in UTC.
    assert "deadline Mon 2026-03-02 06:00 EST = 2026-03-02T11:00:00Z (1h)" in t1.steps[0].extra
    assert [a["do"] for a in r.actions] == ["escalate", "apologise", "escalate"]


def test_response_names_the_failing_part_of_a_trigger(playbook: Any) -> None:
    events = [
        ev("2026-03-02T09:00:00Z", "ask", thread="a", channel="phone", body="x"),
        ev("2026-03-02T09:01:00Z", "ask", thread="b", channel="email", body=""),
        ev("2026-03-02T09:02:00Z", "ask", thread="c", channel="email", body="x", internal=True),
        ev("2026-03-02T09:03:00Z", "ask", channel="email", body="x"),
        ev("2026-03-02T09:04:00Z", "account.updated", tier="free"),
        ev("2026-03-02T09:05:00Z", "ask", thread="d", **ASK),
    ]
    r = one_key(explain(playbook, events, "ack"))
    assert r.units == []
    assert texts(r) == [
        'not a trigger: channel is "phone", not one of "email", "slack"',
        'not a trigger: where "len(body) > 0 and internal != true": "len(body) > 0" is false (body = "")',
        'not a trigger: where "len(body) > 0 and internal != true": "internal != true" is false (internal = true)',
        "opens nothing: thread is missing (same)",
        """trigger ignored: unless "facts.tier == 'free'" is true (facts.tier = "free")""",
    ]
    parts = [[c.part for c in s.checks if not c.ok] for s in r.other]
    assert parts == [["match"], ["where"], ["where"], ["same"], ["unless"]]
    assert r.other[0].failing[0].field == "channel"


def test_response_same_overlap_pending_and_expiry(playbook: Any) -> None:
    events = [
        ev("2026-03-02T10:00:00Z", "ask", thread="t1", **ASK),
        ev("2026-03-02T10:10:00Z", "ask", thread="t1", **ASK),             # overlap: first
        ev("2026-03-02T10:20:00Z", "answer", thread="t9"),                 # another thread
        ev("2026-03-02T13:00:01Z", "ask", thread="t2", **ASK),             # t1 expires at 13:00 (11:00 + 2h)
        ev("2026-03-02T13:30:00Z", "answer", thread="t1"),                 # too late: expired
    ]
    r = one_key(explain(playbook, events, "ack", until="2026-03-02T13:45:00Z"))
    t1, t2 = r.units
    assert [s.text for s in t1.steps] == [
        "opens the obligation",
        "opens nothing: obligation 1 is still open (overlap: first)",
        "deadline passed: breach (deadline)",
        "expired: no fulfilment within expire 2h of the breach; dropped without action",
    ]
    assert t1.steps[1].failing[0].part == "overlap"
    assert t2.status == "pending: the deadline 2026-03-02T14:00:01Z is not past at the end of the run (2026-03-02T13:45:00Z)"
    other = {s.event.data["thread"]: s for s in r.other if s.event is not None}
    assert other["t9"].text == 'fulfils nothing: no open obligation has the same thread (thread is "t9")'
    assert other["t9"].failing[0].part == "same"
    assert other["t1"].text.startswith("fulfils nothing")


# -- cadence rules --------------------------------------------------------------------------------


def test_cadence_timeline(playbook: Any) -> None:
    events = [
        ev("2026-03-01T00:00:00Z", "qbr.held", roi=5),                     # nothing running yet
        ev("2026-03-02T00:00:00Z", "contract.signed"),                     # due 03-12
        ev("2026-03-03T00:00:00Z", "contract.signed"),                     # already running
        ev("2026-03-05T00:00:00Z", "qbr.held", roi=0),                     # does not qualify
        ev("2026-03-06T00:00:00Z", "qbr.held", roi=10),                    # met, due 03-16
        ev("2026-03-20T00:00:00Z", "qbr.held", roi=10),                    # breach 03-16, late
        ev("2026-03-21T00:00:00Z", "contract.ended"),
    ]
    r = one_key(explain(playbook, events, "qbr"))
    (run,) = r.units
    assert [(s.kind, s.text) for s in run.steps] == [
        ("event", "starts the cadence"),
        ("event", "start ignored: the cadence is already running"),
        ("event", 'does not qualify: where "roi > 0" is false (roi = 0)'),
        ("event", "qualifies: met"),
        ("due_soon", "reminder: due_soon, the due time 2026-03-16T00:00:00Z is 2d away"),
        ("due", "due time passed without a qualifying event: breach (deadline)"),
        ("event", "qualifies: late"),
        ("event", "stops the cadence"),
    ]
    assert run.status == "stopped"
    assert run.steps[0].extra == ["first due Wed 2026-03-11 20:00 EDT = 2026-03-12T00:00:00Z (10d)"]
    assert r.other[0].text.startswith("ignored: no cadence is running for this key")
    assert [o.outcome for o in r.outcomes] == ["met", "due_soon", "breach", "late"]


# -- signal rules ---------------------------------------------------------------------------------


def test_signal_window_threshold_and_cooldown(playbook: Any) -> None:
    hire = {"department": "sales"}
    events = [
        ev("2026-03-01T00:00:00Z", "signal.hiring", city="Austin", **hire),
        ev("2026-03-07T00:00:00Z", "signal.hiring", city="Austin", **hire),   # the first left the 5d window
        ev("2026-03-08T00:00:00Z", "signal.hiring", city="Austin", **hire),   # 2 of 2: fires
        ev("2026-03-09T00:00:00Z", "signal.hiring", city="Austin", **hire),   # cooldown
        ev("2026-03-09T00:00:00Z", "signal.hiring", city="Denver", **hire),
        ev("2026-03-10T00:00:00Z", "signal.hiring", city="Austin", department="legal"),
        ev("2026-03-11T00:00:00Z", "signal.hiring", **hire),
    ]
    r = one_key(explain(playbook, events, "hiring"))
    austin, denver = r.units
    assert austin.subject == {"city": "Austin"} and denver.subject == {"city": "Denver"}
    assert [s.text for s in austin.steps] == [
        "counts: 1 of 2 matches within 5d",
        "counts: 1 of 2 matches within 5d",
        "fires: match (2 of 2 matches within 5d)",
        "suppressed: cooldown 10d after the match at 2026-03-08T00:00:00Z lasts until 2026-03-18T00:00:00Z (not counted)",
    ]
    assert austin.steps[3].failing[0].part == "cooldown"
    assert denver.status == "fired 0 times, 1 of 2 matches in the window at the end"
    assert [s.text for s in r.other] == [
        """no match: where "department == 'sales'" is false (department = "legal")""",
        "ignored: city is missing (group_by)",
    ]


# -- why not --------------------------------------------------------------------------------------


def test_why_not_names_the_failing_condition(playbook: Any) -> None:
    events = [
        ev("2026-03-02T09:00:00Z", "ask", thread="a", channel="phone", body="x"),
        ev("2026-03-02T09:05:00Z", "ask", thread="b", channel="fax", body=""),
    ]
    x = explain(playbook, events, "ack", key="acme", why_not=True)
    r = one_key(x)
    assert r.actions == []
    nearest = r.misses[0]
    assert nearest.event is not None and nearest.event.data["thread"] == "a"  # one failing condition, not two
    assert [(c.part, c.field) for c in nearest.failing] == [("match", "channel")]
    assert r.why_not[0].startswith("2 events failed as trigger at match channel, e.g. ")
    text = x.to_text()
    assert "why not" in text and '[match] channel is "phone", not one of "email", "slack"' in text


def test_why_not_suggests_a_type_or_a_key_that_is_close(playbook: Any) -> None:
    events = [ev("2026-03-02T09:00:00Z", "asks", thread="a", **ASK)]
    r = one_key(explain(playbook, events, "ack", key="acme", why_not=True))
    assert r.misses and r.misses[0].failing[0].part == "type"
    assert r.misses[0].failing[0].text == 'type is "asks", not ask (did you mean "ask"?)'
    r = one_key(explain(playbook, events, "ack", key="acmee", why_not=True))
    assert r.why_not == ["no event has account = \"acmee\" (did you mean 'acme'?)"]


def test_why_not_outcome_without_actions_and_deadline_after_the_end(playbook: Any) -> None:
    events = [ev("2026-03-02T10:00:00Z", "ask", thread="t1", **ASK), ev("2026-03-02T10:30:00Z", "answer", thread="t1"),
              ev("2026-03-02T11:00:00Z", "ask", thread="t2", **ASK)]
    r = one_key(explain(playbook, events, "ack", key="acme", why_not=True))
    assert r.why_not[:2] == [
        "outcome met at 2026-03-02T10:30:00Z happened, but the rule has no on_met actions",
        "obligation 2: pending: the deadline 2026-03-02T12:00:00Z is not past at the end of the run (2026-03-02T11:00:00Z)",
    ]


def test_subject_filter(playbook: Any) -> None:
    events = [ev("2026-03-02T10:00:00Z", "ask", thread="t1", **ASK), ev("2026-03-02T10:00:00Z", "ask", thread="t2", **ASK)]
    r = one_key(explain(playbook, events, "ack", subject={"thread": "t2"}))
    assert [u.subject for u in r.units] == [{"thread": "t2"}]


# -- agreement with the engine -------------------------------------------------------------------


def test_every_action_of_the_sample_log_is_placed_in_a_timeline() -> None:
    pb = load_playbook(str(ROOT / "playbooks" / "us-retention.yaml"))
    events = list(read_events(str(ROOT / "examples" / "events.jsonl")))
    actions = [a.record() for a in Engine([pb]).run(events)]
    for rule in pb.rules:
        x = explain(pb, events, rule.id)
        placed = [a for k in x.keys for o in k.outcomes for a in o.actions]
        produced = [a for a in actions if a["rule"] == rule.id]
        assert sorted(a["id"] for a in placed) == sorted(a["id"] for a in produced), rule.id
        assert not [n for k in x.keys for n in k.notes], rule.id
        assert not [s for k in x.keys for s in k.other if s.kind == "outcome"], rule.id


# -- the command ----------------------------------------------------------------------------------


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["explain", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


SHIPPED = ("playbooks/us-retention.yaml", "--events", "examples/events.jsonl")


def test_command_text_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = invoke(*SHIPPED, "--rule", "disclose-before-notice", "--key", "hooli")
    assert code == 0
    assert "customer.ticket ev-000252 (examples/events.jsonl:252): preempts: breach (preempted)" in out
    code, out, _ = invoke(*SHIPPED, "--rule", "qbr-every-90d", "--key", "hooli", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["rule"] == "qbr-every-90d" and doc["keys"][0]["key"] == "hooli"
    assert doc["keys"][0]["outcomes"] == {"breach": 1, "due_soon": 1, "late": 1}
    failing = [c for s in doc["keys"][0]["units"][0]["steps"] for c in s["checks"] if not c["ok"]]
    assert failing[0] == {"part": "where", "ok": False, "text": 'where "roi.value_usd > 0" is false (roi.value_usd = null)'}


def test_command_why_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = invoke(*SHIPPED, "--rule", "propose-onboarding", "--key", "hooli", "--why-not")
    assert code == 0
    assert "3 events failed as signal at threshold" in out
    code, out, _ = invoke(*SHIPPED, "--rule", "ack-within-4h", "--key", "umbrella", "--why-not")
    assert code == 0 and """4 events failed as trigger at unless, e.g. ev-000309: unless "facts.tier == 'free'" is true""" in out


def test_command_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, _, err = invoke(*SHIPPED, "--rule", "ack-within-4hh")
    assert code == 2 and "did you mean 'ack-within-4h'" in err
    assert invoke(*SHIPPED)[0] == 2                                       # --rule missing
    code, _, err = invoke(*SHIPPED, "--rule", "ack-within-4h", "--subject", "thread_id")
    assert code == 2 and "FIELD=VALUE" in err
    code, _, err = invoke(*SHIPPED, "--rule", "qbr-every-90d", "--subject", "x=1")
    assert code == 2 and "no subject field" in err
    code, _, err = invoke(*SHIPPED, "--rule", "ack-within-4h", "--why-not")
    assert code == 2 and "--why-not needs --key" in err
    code, _, err = invoke("playbooks/us-retention.yaml", "--events", str(tmp_path / "none.jsonl"), "--rule", "ack-within-4h")
    assert code == 2 and "no such file" in err
    code, _, err = invoke("nope.yaml", "--events", "examples/events.jsonl", "--rule", "x")
    assert code == 2
    code, _, err = invoke("tests/golden/invalid/many-errors.yaml", "--events", "examples/events.jsonl", "--rule", "x")
    assert code == 1 and "many-errors.yaml:" in err
    code, _, err = invoke(*SHIPPED, "--rule", "ack-within-4h", "--until", "someday")
    assert code == 2 and "invalid until" in err


# -- property: on any log, explain places every action and agrees with the engine -----------------

EVENT = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["ask", "answer", "complaint", "contract.signed", "contract.ended", "qbr.held",
                                 "signal.hiring", "account.updated"]),
        "time": st.integers(min_value=0, max_value=30 * 86400).map(lambda s: 1772409600 + s),
        "account": st.sampled_from(["a", "b"]),
    },
    optional={
        "thread": st.sampled_from(["t1", "t2"]),
        "channel": st.sampled_from(["email", "phone"]),
        "body": st.sampled_from(["", "x", None]),
        "internal": st.booleans(),
        "roi": st.integers(min_value=-1, max_value=2),
        "department": st.sampled_from(["sales", "legal"]),
        "city": st.sampled_from(["Austin", "Denver"]),
        "tier": st.sampled_from(["free", "pro"]),
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(EVENT, max_size=25), until_days=st.one_of(st.none(), st.integers(min_value=0, max_value=40)))
def test_explain_agrees_with_the_engine_on_any_log(events: list[dict[str, Any]], until_days: int | None) -> None:
    pb = load_playbook_text(PLAYBOOK, "explain-me.yaml")
    until = None if until_days is None else 1772409600 + until_days * 86400
    produced = [a.record() for a in Engine([pb]).run(events, until=until)]
    for rule in pb.rules:
        x = explain(pb, events, rule.id, until=until)
        placed = sorted(a["id"] for k in x.keys for o in k.outcomes for a in o.actions)
        assert placed == sorted(a["id"] for a in produced if a["rule"] == rule.id)
        assert not [n for k in x.keys for n in k.notes]
        assert not [s for k in x.keys for s in k.other if s.kind in ("outcome", "deadline")]
        x.to_text()
        json.loads(x.to_json())


# -- duplicates: explain shows what run does (review #7) -------------------------------------------

TWO_FAILS = """playbook: sig2
version: 1
rules:
  - id: two-fails
    when: {type: login.failed}
    threshold: {count: 2, within: 3h}
    actions:
      on_match: [{do: lock}]
  - id: answer
    when: {type: login.failed}
    expect: {type: login.ok, within: 90m}
    actions:
      on_breach: [{do: call}]
"""


def test_a_copy_skipped_as_a_duplicate_is_shown_as_such_and_does_not_count() -> None:
    pb = load_playbook_text(TWO_FAILS, "sig2.yaml")
    events = [{"id": "r1", "type": "login.failed", "time": "2026-03-01T10:00:00Z", "account": "x"},
              {"id": "r1", "type": "login.failed", "time": "2026-03-01T10:00:00Z", "account": "x"},
              {"id": "r2", "type": "login.failed", "time": "2026-03-01T10:01:00Z", "account": "x"}]
    x = explain(pb, events, "two-fails", key="x")
    report = one_key(x)
    assert [s.text for s in report.units[0].steps] == ["counts: 1 of 2 matches within 3h",
                                                       "fires: match (2 of 2 matches within 3h)"]
    assert [s.text for s in report.other] == ["skipped: id r1 was processed before (a duplicate, not counted)"]
    assert not report.notes


def test_explain_ends_where_run_ends() -> None:
    pb = load_playbook_text(TWO_FAILS, "sig2.yaml")
    events = [{"id": "r1", "type": "login.failed", "time": "2026-03-01T10:00:00Z", "account": "x"},
              {"id": "r9", "type": "login.failed", "time": "2026-03-01T13:00:00Z", "account": ["x"]}]
    engine = Engine([pb])
    produced = engine.run(events)
    x = explain(pb, events, "answer", key="x")
    assert x.until == engine.summary.until
    assert [a["id"] for a in one_key(x).actions] == [a.id for a in produced] == []


DUP_EVENT = st.fixed_dictionaries({
    "id": st.sampled_from(["a", "b", "c", "d"]),
    "type": st.sampled_from(["login.failed", "login.failed", "login.ok"]),
    "time": st.sampled_from([0, 30, 59, 61, 100, 150, 200, 400]).map(lambda m: 1772359200 + 60 * m),
    "account": st.sampled_from(["x", "x", "y"]),
})
#: An event whose key is invalid (skipped by run), at a time that may be the log's last.
BAD_KEY = st.sampled_from([0, 300, 500]).map(
    lambda m: {"id": "z", "type": "login.failed", "time": 1772359200 + 60 * m, "account": ["x"]})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(DUP_EVENT, max_size=12), bad=st.lists(BAD_KEY, max_size=1),
       until=st.sampled_from([None, 1772359200 + 60 * 120]))
def test_explain_agrees_with_run_on_logs_with_duplicates(events: list[dict[str, Any]], bad: list[dict[str, Any]],
                                                         until: int | None) -> None:
    """Copies inside the dedupe window (1 hour) are skipped by both and shown as skipped by
    explain, copies outside it are processed by both; explain ends where run ends and
    places exactly run's actions."""
    events = events + bad
    pb = load_playbook_text(TWO_FAILS, "sig2.yaml")
    engine = Engine([pb])
    produced = [a.record() for a in engine.run(events, until=until)]
    for rule in pb.rules:
        x = explain(pb, events, rule.id, until=until)
        assert x.until == engine.summary.until
        placed = sorted(a["id"] for k in x.keys for o in k.outcomes for a in o.actions)
        assert placed == sorted(a["id"] for a in produced if a["rule"] == rule.id)
        assert not [n for k in x.keys for n in k.notes]
        assert not [s for k in x.keys for s in k.other if s.kind in ("outcome", "deadline")]
        if rule.id == "answer":  # it sees every type: every copy run skipped is shown, none counted
            shown = [s for k in x.keys for s in k.other if s.kind == "duplicate"]
            upto = Engine([pb])  # explain shows no event after the end, copies or not
            upto.run([e for e in events if until is None or e["time"] <= until], until=until)
            assert len(shown) == upto.summary.duplicates.count
            assert not [s for k in x.keys for u in k.units for s in u.steps
                        if s.event is not None and s.event.duplicate]
