"""The SLA-policy additions to response rules (docs/language.md, "SLA policies"): what the
golden cases (tests/golden/sla) cannot show — validation errors, counted run-time errors,
the record's fields and ids, and state saved mid-pause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from engine import Engine, PlaybookError, load_playbook_text

HEAD = """playbook: p
version: 1
timezone: America/New_York
calendars:
  support: {hours: {mon-fri: "09:00-17:00"}}
rules:
"""


def _errors(rules: str) -> list[str]:
    with pytest.raises(PlaybookError) as info:
        load_playbook_text(HEAD + rules, "p.yaml")
    return [str(d) for d in info.value.diagnostics]


def _run(rules: str, events: list[dict], until: str | None = None) -> tuple[list[dict], Engine]:
    engine = Engine(load_playbook_text(HEAD + rules, "p.yaml"))
    return [a.record() for a in engine.run(events, until=until)], engine


def test_within_and_deadline_together_is_an_error() -> None:
    errors = _errors("""  - id: r
    when: a
    expect: {type: b, within: 1h, deadline: {at: "{{ trigger.end }}"}}
""")
    assert any(e.startswith("p.yaml:9:") and "either 'within'" in e for e in errors), errors


@pytest.mark.parametrize(("rule", "where", "says"), [
    ("""  - id: r
    when: a
    expect: {type: b, before: {type: c}}
    remind_before: 1h
""", ":10:5:", "remind_before needs a deadline"),
    ("""  - id: r
    when: a
    expect: {type: b, within: 1h}
    pause: c
""", ":10:5:", "'pause' needs 'resume'"),
    ("""  - id: r
    when: a
    expect: {type: b, before: {type: c}}
    actions: {on_progress: [{at: 50%, actions: [{do: x}]}]}
""", ":10:", "a percentage of the target, but the rule has no deadline"),
    ("""  - id: r
    when: a
    expect: {type: b, within: 1h}
    actions: {on_progress: [{at: 50%, actions: [{do: x}]}, {at: 50%, actions: [{do: y}]}]}
""", ":10:", "listed twice"),
    ("""  - id: r
    when: a
    expect: {type: b, within: 1h}
    actions: {on_progress: [{at: 0%, actions: [{do: x}]}]}
""", ":10:", "above 0"),
    ("""  - id: r
    when: a
    expect: {type: b, within: 1h}
    remind_before: 2h
""", ":10:", "must be shorter than within"),
    ("""  - id: r
    when: a
    expect: {type: b, within: {by: priority, cases: {P1: 1w}}, calendar: support}
""", ":9:", "'w' cannot be used with a calendar"),
    ("""  - id: r
    when: a
    expect: {type: b, deadline: {at: "next tuesday"}}
""", ":9:", "unparseable time"),
])
def test_invalid_sla_rules_say_where_and_what(rule: str, where: str, says: str) -> None:
    errors = _errors(rule)
    assert any(where in e and says in e for e in errors), errors


def test_a_value_without_a_case_opens_nothing_and_is_counted_with_its_place(tmp_path: Path) -> None:
    pb = tmp_path / "p.yaml"
    pb.write_text(HEAD + """  - id: r
    when: a
    expect: {type: b, same: [t], within: {by: priority, cases: {P1: 1h}}}
    actions: {on_breach: [{do: x}]}
""")
    log = tmp_path / "events.jsonl"
    log.write_text("\n".join(json.dumps(e) for e in [
        {"type": "a", "time": "2026-03-02T10:00:00Z", "account": "k", "t": 1, "priority": "P1"},
        {"type": "a", "time": "2026-03-02T10:00:00Z", "account": "k", "t": 2, "priority": "P7"},
        {"type": "z", "time": "2026-03-03T00:00:00Z", "account": "k"},
    ]) + "\n")
    result = CliRunner().invoke(main, ["run", str(pb), "--events", str(log)])
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["subject"] for r in records] == [{"t": 1}]
    assert "r expect.within" in result.stderr and "events.jsonl:2" in result.stderr
    assert "no case for 'P7'" in result.stderr and "add the case or a 'default'" in result.stderr


@pytest.mark.parametrize(("field", "value", "says"), [
    ("within", '"{{ sla }}"', "invalid duration 'soon'"),
    ("deadline", '{at: "{{ sla }}"}', "unparseable time 'soon'"),
])
def test_a_template_giving_no_duration_or_time_opens_nothing(field: str, value: str, says: str) -> None:
    records, engine = _run(f"""  - id: r
    when: a
    expect: {{type: b, {field}: {value}}}
    actions: {{on_breach: [{{do: x}}]}}
""", [{"type": "a", "time": "2026-03-02T10:00:00Z", "account": "k", "sla": "soon"},
      {"type": "z", "time": "2027-03-02T10:00:00Z", "account": "k"}])
    assert records == []
    problems = engine.summary.to_dict()["expression_errors"]
    (where, problem), = problems.items()
    assert where == f"p: r expect.{field}" and problem["count"] == 1
    assert says in json.dumps(problem["samples"]) and "no obligation opened" in json.dumps(problem["samples"])


def test_a_week_from_a_template_on_a_calendar_opens_nothing() -> None:
    records, engine = _run("""  - id: r
    when: a
    expect: {type: b, within: "{{ sla }}", calendar: support}
    actions: {on_breach: [{do: x}]}
""", [{"type": "a", "time": "2026-03-02T10:00:00Z", "account": "k", "sla": "1w"},
      {"type": "z", "time": "2027-03-02T10:00:00Z", "account": "k"}])
    assert records == [] and "weeks ('w') cannot be used" in json.dumps(engine.summary.to_dict()["expression_errors"])


def test_stage_and_paused_for_appear_only_where_they_apply() -> None:
    records, _ = _run("""  - id: plain
    when: a
    expect: {type: b, within: 1h}
    actions: {on_breach: [{do: x, stage: "{{ stage }}"}]}
  - id: pausable
    when: a
    expect: {type: b, within: 2h}
    pause: p
    resume: q
    actions:
      on_breach: [{do: y}]
      on_progress: [{at: 50%, actions: [{do: s, stage: "{{ stage }}", paused: "{{ paused_for }}"}]}]
""", [{"type": "a", "time": "2026-03-02T10:00:00Z", "account": "k", "stage": "from the event"},
      {"type": "z", "time": "2026-03-03T00:00:00Z", "account": "k"}])
    by_rule = {(r["rule"], r["outcome"]): r for r in records}
    plain = by_rule[("plain", "breach")]
    assert "stage" not in plain and "paused_for" not in plain
    assert plain["params"] == {"stage": "from the event"}  # outside a stage, `stage` is the event's field
    progress = by_rule[("pausable", "progress")]
    assert progress["stage"] == "50%" and progress["paused_for"] == 0
    assert progress["params"] == {"stage": "50%", "paused": 0}
    breach = by_rule[("pausable", "breach")]
    assert "stage" not in breach and breach["paused_for"] == 0
    assert list(plain) == ["id", "playbook", "rule", "outcome", "reason", "do", "at", "key", "subject", "deadline",
                           "trigger", "event", "params"]


def test_two_stages_at_one_instant_have_their_own_ids_in_the_order_written() -> None:
    records, _ = _run("""  - id: r
    when: a
    expect: {type: b, within: 2h}
    actions:
      on_progress:
        - {at: 1h, actions: [{do: second}]}
        - {at: 50%, actions: [{do: first}]}
""", [{"type": "a", "time": "2026-03-02T10:00:00Z", "account": "k"},
      {"type": "z", "time": "2026-03-03T00:00:00Z", "account": "k"}])
    assert [(r["stage"], r["do"], r["at"]) for r in records] == [
        ("1h", "second", "2026-03-02T11:00:00Z"), ("50%", "first", "2026-03-02T11:00:00Z")]
    assert len({r["id"] for r in records}) == 2


def test_a_target_read_from_the_facts_before_the_trigger() -> None:
    records, _ = _run("""  - id: r
    when: a
    expect: {type: b, within: {by: prev.facts.tier, cases: {gold: 1h}, default: 4h}}
    actions: {on_breach: [{do: x}]}
facts:
  tier: {from: a, value: tier}
""", [{"type": "a", "time": "2026-03-02T10:00:00Z", "account": "k", "tier": "gold"},
      {"type": "z", "time": "2026-03-03T00:00:00Z", "account": "k"}])
    # The trigger itself sets tier gold, but the table reads the facts from before it: 4h.
    assert [r["at"] for r in records] == ["2026-03-02T14:00:00Z"]


def test_state_saved_while_paused_resumes_to_the_same_actions() -> None:
    rules = """  - id: r
    when: a
    expect: {type: b, within: 8h, calendar: support}
    pause: p
    resume: q
    remind_before: 1h
    actions:
      on_breach: [{do: x}]
      on_due_soon: [{do: r}]
      on_progress: [{at: 50%, actions: [{do: s}]}, {at: 150%, actions: [{do: t}]}]
"""
    events = [{"type": "a", "time": "2026-12-07T09:00:00-05:00", "account": "k"},
              {"type": "p", "time": "2026-12-07T15:00:00-05:00", "account": "k"},
              {"type": "q", "time": "2026-12-09T09:00:00-05:00", "account": "k"}]
    until = "2026-12-12T00:00:00Z"
    whole, _ = _run(rules, events, until)
    assert [(r["outcome"], r.get("stage"), r["at"]) for r in whole] == [
        ("progress", "50%", "2026-12-07T18:00:00Z"), ("due_soon", None, "2026-12-09T15:00:00Z"),
        ("breach", None, "2026-12-09T16:00:00Z"), ("progress", "150%", "2026-12-09T20:00:00Z")]
    for cut in range(1, len(events) + 1):
        first = Engine(load_playbook_text(HEAD + rules, "p.yaml"))
        out = [a.record() for a in first.run(events[:cut], until=events[cut - 1]["time"])]
        second = Engine(load_playbook_text(HEAD + rules, "p.yaml"))
        second.restore(json.loads(json.dumps(first.snapshot())))
        out += [a.record() for a in second.run(events[cut:], until=until)]
        assert out == whole, cut


def test_a_deadline_before_the_first_supported_time_opens_nothing_instead_of_crashing() -> None:
    records, engine = _run("""  - id: r
    when: a
    expect: {type: b, deadline: {at: "{{ end }}", offset: -100d}}
    actions: {on_breach: [{do: x, due: "{{ deadline }}"}]}
""", [{"type": "a", "time": "2026-01-01T00:00:00Z", "account": "k", "end": "0001-01-02T00:00:00Z"},
      {"type": "z", "time": "2026-01-02T00:00:00Z", "account": "k"}])
    assert records == []
    assert "goes beyond the year 1; no obligation opened" in json.dumps(engine.summary.to_dict()["expression_errors"])


def test_a_stage_at_the_instant_of_the_expiry_fires_after_a_restore_as_in_one_run() -> None:
    rules = """  - id: r
    when: a
    expect: {type: b, within: 1h}
    expire: 1h
    actions:
      on_progress: [{at: 200%, actions: [{do: s}]}]
"""
    events = [{"type": "a", "time": "2026-03-02T10:00:00Z", "account": "k"},
              {"type": "z", "time": "2026-03-02T11:30:00Z", "account": "k"}]
    whole, _ = _run(rules, events, "2026-03-03T00:00:00Z")
    assert [(r["stage"], r["at"]) for r in whole] == [("200%", "2026-03-02T12:00:00Z")]
    first = Engine(load_playbook_text(HEAD + rules, "p.yaml"))
    assert list(first.run(events, until="2026-03-02T11:30:00Z")) == []
    second = Engine(load_playbook_text(HEAD + rules, "p.yaml"))
    second.restore(json.loads(json.dumps(first.snapshot())))
    assert [a.record() for a in second.run([], until="2026-03-03T00:00:00Z")] == whole


def test_a_100_percent_stage_is_the_deadline_itself_also_at_a_business_days_opening() -> None:
    # Friday 17:30 (closed) + 1 business day: Monday's opening + 1 day = Tuesday 09:00. The open
    # time up to it ran out at Monday's closing, but 100 % of the target is the deadline.
    records, _ = _run("""  - id: r
    when: a
    expect: {type: b, within: 1d, calendar: support}
    actions:
      on_progress: [{at: 100%, actions: [{do: s}]}]
      on_breach: [{do: x}]
""", [{"type": "a", "time": "2026-12-04T17:30:00-05:00", "account": "k"}], "2026-12-09T00:00:00Z")
    assert [(r["outcome"], r["at"]) for r in records] == [("breach", "2026-12-08T14:00:00Z"),
                                                          ("progress", "2026-12-08T14:00:00Z")]


@pytest.mark.parametrize(("hold", "unhold", "due"), [
    # Deadline Saturday 12:00 (a date, in closed time); paused Friday 18:00-19:00: nothing moves.
    ("2026-12-04T18:00:00-05:00", "2026-12-04T19:00:00-05:00", "2026-12-05T17:00:00Z"),
    # Paused over the deadline and Monday's first open hour: no time was left, due at the resume.
    ("2026-12-04T18:00:00-05:00", "2026-12-07T10:00:00-05:00", "2026-12-07T15:00:00Z"),
    # Paused over the deadline but in closed time only (resumed Sunday): due at the resume.
    ("2026-12-04T18:00:00-05:00", "2026-12-06T10:00:00-05:00", "2026-12-06T15:00:00Z"),
])
def test_a_pause_around_a_deadline_in_closed_time(hold: str, unhold: str, due: str) -> None:
    records, _ = _run("""  - id: r
    when: a
    expect: {type: b, deadline: {at: "{{ end }}"}, calendar: support}
    pause: hold
    resume: unhold
    actions: {on_breach: [{do: x}]}
""", [{"type": "a", "time": "2026-12-01T10:00:00-05:00", "account": "k", "end": "2026-12-05T12:00:00-05:00"},
      {"type": "hold", "time": hold, "account": "k"}, {"type": "unhold", "time": unhold, "account": "k"}],
        "2026-12-10T00:00:00Z")
    assert [(r["outcome"], r["at"]) for r in records] == [("breach", due)]


def test_pausing_many_times_keeps_one_paused_expiry_timer() -> None:
    rules = """  - id: r
    when: a
    expect: {type: b, within: 400h}
    pause: p
    resume: q
    actions: {on_breach: [{do: x}]}
"""
    engine = Engine(load_playbook_text(HEAD + rules, "p.yaml"))
    events = [{"type": "a", "time": 1_767_225_600, "account": "k"}]
    for i in range(1, 2001):
        events.append({"type": "p" if i % 2 else "q", "time": 1_767_225_600 + i, "account": "k"})
    list(engine.run(events))
    runtime = engine._runs[0]
    expiries = [entry for entry in runtime.ctx.timers.heap if getattr(entry[2], "__name__", "") == "_expire_paused"]
    assert len(expiries) == 1


@pytest.mark.parametrize(("first", "second"), [("50%", "50.0%"), ("30m", "0.5h")])
def test_two_stages_at_one_value_are_an_error_whatever_their_spelling(first: str, second: str) -> None:
    errors = _errors(f"""  - id: r
    when: a
    expect: {{type: b, within: 2h}}
    actions: {{on_progress: [{{at: {first}, actions: [{{do: x}}]}}, {{at: {second}, actions: [{{do: y}}]}}]}}
""")
    assert any(f"stage '{second}' is the same instant as stage '{first}'" in e for e in errors), errors
