"""`playbook explain` for response rules written as SLA policies (tests/golden/sla/playbook.yaml):
the target each trigger chose, triggers whose target could not be chosen, pauses and resumes,
reminders, the stages of a ladder and obligations dropped while paused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import main
from engine import Engine, load_playbook, load_playbook_text
from engine.explain import Explanation, KeyReport, Step, explain
from engine.timecalc import format_time
from tests.conftest import ROOT

SLA = ROOT / "tests" / "golden" / "sla"


@pytest.fixture(scope="module")
def playbook() -> Any:
    return load_playbook(str(SLA / "playbook.yaml"))


def steps(report: KeyReport) -> list[Step]:
    return [s for u in report.units for s in u.steps] + report.other


def lines(report: KeyReport) -> list[str]:
    """Each step's text and its further lines."""
    return [text for s in steps(report) for text in (s.text, *s.extra)]


def key_report(x: Explanation, key: str) -> KeyReport:
    return next(k for k in x.keys if k.key == key)


def ticket(time: str, etype: str, account: str = "a", **fields: Any) -> dict[str, Any]:
    return {"time": time, "type": etype, "account": account, "ticket": "t1", **fields}


# -- the target each trigger chose ------------------------------------------------------------------


def test_the_target_chosen_by_case_by_default_and_by_template(playbook: Any) -> None:
    events = [ticket("2026-12-07T09:00:00", "ticket.created", "a", priority="P2"),
              ticket("2026-12-07T09:00:00", "ticket.created", "b", priority="P9")]
    x = explain(playbook, events, "ack-by-priority", until="2026-12-08T00:00:00Z")
    assert "deadline Mon 2026-12-07 17:00 EST = 2026-12-07T22:00:00Z (within 8h by priority: \"P2\"; on calendar support)" \
        in lines(key_report(x, "a"))
    assert "deadline Thu 2026-12-10 09:00 EST = 2026-12-10T14:00:00Z (within 3d: the default, no case for priority = \"P9\"; " \
        "on calendar support)" in lines(key_report(x, "b"))
    summary = dict(x.summary)
    assert "within by priority (P1: 1h, P2: 8h, default: 3d)" in summary["expect"]
    assert summary["pause"] == 'ticket.status_changed; status = "pending"'

    events = [{"time": "2026-12-01T00:00:00Z", "type": "account.updated", "account": "b", "sla": "30m"},
              {"time": "2026-12-07T10:00:00", "type": "question.asked", "account": "b", "question": "q1"}]
    x = explain(playbook, events, "ack-by-template", until="2026-12-08T00:00:00Z")
    assert "deadline Mon 2026-12-07 10:30 EST = 2026-12-07T15:30:00Z (within 30m: the template " \
        "\"{{ coalesce(facts.sla, '2h') }}\" gave \"30m\")" in lines(x.keys[0])


def test_a_deadline_from_a_date_with_its_offset_and_its_reminder(playbook: Any) -> None:
    events = [{"time": "2026-01-05T00:00:00Z", "type": "contract.signed", "account": "a", "contract_end": "2027-01-05"},
              {"time": "2026-12-01T12:00:00Z", "type": "contract.signed", "account": "b", "contract_end": "2027-02-01"}]
    x = explain(playbook, events, "renewal", until="2026-12-02T00:00:00Z")
    a = lines(key_report(x, "a"))
    assert "deadline Mon 2026-09-07 01:00 EDT = 2026-09-07T05:00:00Z (deadline.at \"{{ trigger.contract_end }}\" gave " \
        "\"2027-01-05\" = 2027-01-05T05:00:00Z, offset -120d)" in a
    assert "reminder: due_soon, the deadline 2026-09-07T05:00:00Z is 14d away" in a
    reminder = next(s for s in steps(key_report(x, "a")) if s.kind == "due_soon")
    assert format_time(reminder.at) == "2026-08-24T05:00:00Z" and reminder.extra == ["actions: remind"]
    b = lines(key_report(x, "b"))
    assert "the deadline is already past: it breaches at once" in b
    assert "the deadline was already past when the trigger opened it: breach (deadline)" in b
    # Also when the run ends at that trigger.
    x = explain(playbook, events[1:], "renewal")
    assert "the deadline was already past when the trigger opened it: breach (deadline)" in lines(x.keys[0])
    assert not x.keys[0].other


# -- triggers that opened nothing ------------------------------------------------------------------


NO_DEFAULT = """
playbook: no-default
version: 1
rules:
  - id: ack
    when: ticket.created
    expect: {type: agent.reply, same: [ticket], within: {by: priority, cases: {P1: 1h}}}
    actions: {on_breach: [{do: escalate}]}
"""


def run_cli(tmp_path: Path, playbook: str, events: list[dict[str, Any]], *args: str) -> str:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    result = CliRunner().invoke(main, ["explain", playbook, "--events", str(path), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_trigger_whose_target_could_not_be_chosen_says_where_and_why(tmp_path: Path) -> None:
    pb = tmp_path / "no-default.yaml"
    pb.write_text(NO_DEFAULT, encoding="utf-8")
    out = run_cli(tmp_path, str(pb), [ticket("2026-12-07T09:00:00Z", "ticket.created", priority="P1"),
                                      ticket("2026-12-07T09:00:00Z", "ticket.created", "b", priority="P3")], "--rule", "ack")
    events = tmp_path / "events.jsonl"
    assert f"({events}:2): opens nothing: its target could not be chosen: expect.within: no case for 'P3' " \
        "(cases: 'P1') and no default: no obligation opened; add the case or a 'default'" in out
    assert f"({events}:1): opens the obligation" in out

    sla = str(SLA / "playbook.yaml")
    out = run_cli(tmp_path, sla, [{"time": "2026-12-01T00:00:00Z", "type": "account.updated", "account": "c", "sla": "soon"},
                                  {"time": "2026-12-07T10:00:00Z", "type": "question.asked", "account": "c", "question": "q"}],
                  "--rule", "ack-by-template")
    assert f"({events}:2): opens nothing: its target could not be chosen: expect.within: invalid duration 'soon'" in out
    assert "(counted as false/null)" not in out  # the note of the expression error says what it did instead
    out = run_cli(tmp_path, sla, [{"time": "2026-12-01T12:00:00Z", "type": "contract.signed", "account": "c",
                                   "contract_end": "someday"}], "--rule", "renewal")
    assert f"({events}:1): opens nothing: its target could not be chosen: expect.deadline: unparseable time 'someday'" in out


# -- pauses and resumes ----------------------------------------------------------------------------


def test_a_pause_freezes_the_remaining_time_and_the_resume_sets_the_new_deadline(playbook: Any) -> None:
    events = [ticket("2026-12-07T09:00:00", "ticket.created", priority="P2"),
              ticket("2026-12-07T15:00:00", "ticket.status_changed", status="pending"),
              ticket("2026-12-09T09:00:00", "ticket.status_changed", status="open")]
    r = explain(playbook, events, "ack-by-priority", until="2026-12-10T00:00:00Z").keys[0]
    shown = lines(r)
    assert "pauses the clock: 6h of the 8h target used (open time on calendar support), 2h left, frozen while paused" in shown
    assert "still paused at Wed 2027-01-06 15:00 EST = 2027-01-06T20:00:00Z (expire 30d), it is dropped without action" in shown
    assert "resumes the clock after 1d 18h paused: 2h left (open time on calendar support)" in shown
    assert "new deadline Wed 2026-12-09 11:00 EST = 2026-12-09T16:00:00Z (the resume + 2h of open time on calendar support)" \
        in shown
    assert "deadline passed: breach (deadline)" in shown
    # The pausing event is not also shown failing as a resume, nor the resuming one as a pause.
    assert not [s for s in steps(r) if s.text.startswith("does not")]
    assert [(s.role, s.counted) for s in steps(r)] == [("trigger", True), ("pause", True), ("resume", True), (None, True)]


def test_what_a_pause_does_not_change(playbook: Any) -> None:
    events = [ticket("2026-12-07T09:00:00", "ticket.created", priority="P2"),
              ticket("2026-12-07T10:00:00", "ticket.status_changed", status="open"),
              ticket("2026-12-07T15:00:00", "ticket.status_changed", status="pending"),
              ticket("2026-12-08T12:00:00", "ticket.status_changed", status="pending"),
              ticket("2026-12-08T13:00:00", "agent.reply")]
    r = explain(playbook, events, "ack-by-priority", until="2026-12-10T00:00:00Z").keys[0]
    shown = lines(r)
    assert "changes nothing: the clock is running (not paused)" in shown
    assert "changes nothing: the obligation is already paused (since 2026-12-07T20:00:00Z)" in shown
    assert "fulfils: met (while paused since 2026-12-07T20:00:00Z)" in shown
    assert r.units[0].status == "met"

    events = [ticket("2026-12-07T10:00:00", "ticket.created", priority="P1"),
              ticket("2026-12-07T10:30:00", "ticket.status_changed", status="pending"),
              ticket("2026-12-07T10:30:00", "ticket.status_changed", status="open")]
    shown = lines(explain(playbook, events, "ack-by-priority", until="2026-12-08T00:00:00Z").keys[0])
    assert "resumes at the instant it paused: nothing moves" in shown


def test_an_obligation_paused_past_expire_is_dropped(playbook: Any) -> None:
    events = [ticket("2026-01-05T09:00:00", "ticket.created", priority="P2"),
              ticket("2026-01-05T10:00:00", "ticket.status_changed", status="pending"),
              ticket("2026-02-10T09:00:00", "ticket.status_changed", status="open")]
    x = explain(playbook, events, "ack-by-priority", key="a", until="2026-03-01T00:00:00Z", why_not=True)
    r = x.keys[0]
    dropped = next(s for s in steps(r) if s.kind == "expired")
    assert dropped.text == ("expired: paused since 2026-01-05T15:00:00Z for expire 30d without a resume; "
                            "dropped without action (a later resume changes nothing)")
    assert r.units[0].status == "expired: paused for expire without a resume, dropped without action"
    # One type pauses (status pending) and resumes (status open): an event is shown in the role its status has.
    assert [s.text for s in r.other] == ["resumes nothing: no obligation is open for this key and not yet breached"]
    text = x.to_text()
    assert "2026-02-04T15:00:00Z  expired: paused since" in text

    # Still paused at the end of the run: the status says until when.
    r = explain(playbook, events[:2], "ack-by-priority", until="2026-01-10T00:00:00Z").keys[0]
    assert r.units[0].status == ("paused since 2026-01-05T15:00:00Z at the end of the run (2026-01-10T00:00:00Z); "
                                 "dropped at 2026-02-04T15:00:00Z unless resumed")


# -- ladders ----------------------------------------------------------------------------------------


def test_each_stage_of_a_ladder_with_its_at(playbook: Any) -> None:
    events = [{"time": "2026-12-04T15:00:00", "type": "incident.opened", "account": "a", "incident": "i1"}]
    x = explain(playbook, events, "incident-ladder", until="2026-12-08T00:00:00Z")
    r = x.keys[0]
    fired = [(format_time(s.at), s.text, s.extra) for s in steps(r) if s.kind in ("progress", "deadline")]
    assert fired == [
        ("2026-12-04T22:00:00Z", "stage at 50% of the target reached: progress", ["actions: remind"]),  # Fri 17:00 EST
        ("2026-12-04T22:00:00Z", "stage at 2h after the trigger reached: progress", ["actions: check"]),
        ("2026-12-07T16:00:00Z", "deadline passed: breach (deadline)", ["actions: escalate"]),  # Mon 11:00 EST
        ("2026-12-07T20:00:00Z", "stage at 200% of the target reached: progress (after the breach, awaiting a late "
         "fulfilment)", ["actions: escalate"]),  # Mon 15:00 EST
    ]
    assert dict(x.summary)["on_progress"] == "50%: remind, 2h: check, 200%: escalate"
    doc = json.loads(x.to_json())
    stages = [s["outcome"]["stage"] for s in doc["keys"][0]["units"][0]["steps"] if s["kind"] == "progress"]
    assert stages == ["50%", "2h", "200%"]
    # Each stage's real action is placed with its stage, even two stages at one instant.
    assert [[a["params"].get("to") for a in s.outcome.actions] for s in steps(r) if s.outcome is not None
            and s.kind == "progress"] == [[None], [None], ["vp"]]


# -- agreement with the engine ----------------------------------------------------------------------


def test_every_action_of_the_sla_golden_cases_is_placed_in_a_timeline() -> None:
    spec = yaml.safe_load((SLA / "test.yaml").read_text(encoding="utf-8"))
    pb = load_playbook(str(SLA / "playbook.yaml"))
    for case in spec["cases"]:
        events = case["events"]
        until = case.get("until")
        engine = Engine([pb])
        actions = [a.record() for a in engine.run(events)]
        if until is not None:
            actions += [a.record() for a in engine.advance(until)]
        for rule in pb.rules:
            if rule.kind != "response":
                continue
            x = explain(pb, events, rule.id, until=until)
            placed = [a for k in x.keys for o in k.outcomes for a in o.actions]
            produced = [a for a in actions if a["rule"] == rule.id]
            assert sorted(a["id"] for a in placed) == sorted(a["id"] for a in produced), (case["name"], rule.id)
            assert not [n for k in x.keys for n in k.notes], (case["name"], rule.id)
            assert not [s for k in x.keys for s in k.other if s.kind in ("outcome", "deadline", "expired")], \
                (case["name"], rule.id)


def test_rules_without_the_additions_explain_as_before() -> None:
    pb = load_playbook_text("""
playbook: plain
version: 1
rules:
  - id: ack
    when: ask
    expect: {type: answer, within: 1h}
    expire: 2h
    actions: {on_breach: [{do: escalate}]}
""", "plain.yaml")
    r = explain(pb, [{"time": "2026-03-02T10:00:00Z", "type": "ask", "account": "a"}], "ack",
                until="2026-03-02T14:00:00Z").keys[0]
    assert lines(r) == ["opens the obligation", "deadline Mon 2026-03-02 11:00 UTC = 2026-03-02T11:00:00Z (1h)",
                        "deadline passed: breach (deadline)", "actions: escalate",
                        "expired: no fulfilment within expire 2h of the breach; dropped without action"]


LADDERS = """
playbook: ladders
version: 1
timezone: America/New_York
calendars:
  support: {hours: {mon-fri: "09:00-17:00"}}
rules:
  - id: each
    when: open
    expect: {type: done, same: [t], within: {by: p, cases: {a: 2h, b: 1d}}, before: {type: cancel}}
    overlap: each
    expire: {by: p, cases: {a: 3h}, default: 1d}
    pause: {type: hold}
    resume: {type: go}
    remind_before: 30m
    actions:
      on_due_soon: [{do: remind}]
      on_progress:
        - {at: 50%, actions: [{do: half}]}
        - {at: 1h, actions: [{do: hour}]}
        - {at: 150%, actions: [{do: later}]}
        - {at: 4h, actions: [{do: four}]}
      on_breach: [{do: breach}]
      on_met: [{do: met}]
  - id: on-calendar
    when: open
    expect: {type: done, same: [t], within: "{{ w }}", calendar: support}
    pause: {type: hold, where: "t == trigger.t"}
    resume: {type: go}
    actions:
      on_progress:
        - {at: 50%, actions: [{do: half}]}
        - {at: 300%, actions: [{do: triple}]}
      on_breach: [{do: breach}]
  - id: no-deadline
    when: open
    expect: {type: done, same: [t], before: {type: cancel}}
    expire: 5h
    pause: {type: hold}
    resume: {type: go}
    actions:
      on_progress: [{at: 2h, actions: [{do: two}]}]
      on_breach: [{do: breach}]
"""

LADDER_EVENT = st.fixed_dictionaries({
    "type": st.sampled_from(["open", "open", "done", "cancel", "hold", "hold", "go", "go"]),
    "time": st.integers(min_value=0, max_value=60).map(lambda n: 1796000000 + 1800 * n),  # ties are likely
    "account": st.just("k"),
    "t": st.sampled_from(["x", "y"]),
    "p": st.sampled_from(["a", "b", "c"]),
    "w": st.sampled_from(["1h", "3h", "2d", "bad"]),
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(LADDER_EVENT, min_size=1, max_size=14), more=st.sampled_from([0, 1, 10, 100]))
def test_explain_agrees_with_the_engine_on_any_log_of_sla_rules(events: list[dict[str, Any]], more: int) -> None:
    pb = load_playbook_text(LADDERS, "ladders.yaml")
    until = max(e["time"] for e in events) + 1800 * more
    produced = [a.record() for a in Engine([pb]).run(events, until=until)]
    for rule in pb.rules:
        x = explain(pb, events, rule.id, until=until)
        placed = sorted(a["id"] for k in x.keys for o in k.outcomes for a in o.actions)
        assert placed == sorted(a["id"] for a in produced if a["rule"] == rule.id)
        assert not [n for k in x.keys for n in k.notes]
        assert not [s for k in x.keys for s in k.other if s.kind in ("outcome", "deadline", "expired")]
        x.to_text()
        json.loads(x.to_json())
