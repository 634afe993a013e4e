"""Lint warnings (`playbook validate`, `--strict-lint`) and events checked against `events:` shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from engine import load_playbook_text
from engine.lint import ShapeChecker, check_event, check_event_shapes, format_warning, lint_file
from engine.sources import SourceEvent
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden" / "lint"


def validate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["validate", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def warnings_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    result = lint_file(str(path))
    assert not result.errors, result.errors
    return [w.message for w in result.warnings]


def test_golden_warnings_word_for_word(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = validate("tests/golden/lint/warnings.yaml")
    assert code == 0  # warnings alone do not fail validate
    assert out == "tests/golden/lint/warnings.yaml: ok (5 rules, 19 warnings)\nok (19 warnings)\n"
    assert err == (GOLDEN / "warnings.out").read_text()
    names = {line.rsplit("[", 1)[1].rstrip("]") for line in err.splitlines()}
    assert names == {"undeclared-type", "unused-fact", "match-type", "unknown-field", "same-vs-match", "constant-where",
                     "within-vs-expire", "unreachable-outcome", "no-actions"}


def test_strict_lint_fails_on_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = validate("tests/golden/lint/warnings.yaml", "--strict-lint")
    assert code == 1
    assert err.endswith("19 warnings (--strict-lint makes warnings fail)\n")
    assert out == "tests/golden/lint/warnings.yaml: ok (5 rules, 19 warnings)\n"


def test_shipped_playbooks_and_examples_are_lint_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    examples = sorted(str(p) for p in (ROOT / "docs" / "examples").glob("*/playbook.yaml"))
    code, out, err = validate("playbooks", *examples, "--strict-lint")
    assert code == 0, err
    assert err == "" and out.endswith("ok\n")


def test_errors_are_not_repeated_as_warnings(tmp_path: Path) -> None:
    # on_match on a response rule: the schema rejects it, so lint never sees the file.
    path = tmp_path / "p.yaml"
    path.write_text("playbook: p\nversion: 1\nrules:\n  - id: a\n    when: x\n    expect: {type: y, within: 1h}\n"
                    "    actions: {on_match: [{do: remind}]}\n")
    result = lint_file(str(path))
    assert result.playbook is None and result.warnings == []
    assert any("unknown key 'on_match'" in d.message for d in result.errors)
    code, _, err = validate(str(path), "--strict-lint")
    assert code == 1 and "warning:" not in err


def test_format_warning() -> None:
    (w,) = lint_file(str(GOLDEN / "warnings.yaml")).warnings[:1]
    assert format_warning(w) == f"{w.file}:{w.line}:{w.col}: warning: {w.message}"
    assert w.severity == "warning" and w.message.endswith("[undeclared-type]")


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # same vs match: pinned in expect, free in when
        ("{id: r, when: ask, expect: {type: answer, match: {t: a}, same: [t], within: 1h}, actions: {on_breach: [{do: x}]}}",
         "a trigger whose t is anything else can never be fulfilled"),
        # ... covered by when: no warning
        ("{id: r, when: {type: ask, match: {t: a}}, expect: {type: answer, match: {t: [a, b]}, same: [t], within: 1h}, "
         "actions: {on_breach: [{do: x}]}}", None),
        ("{id: r, when: ask, expect: {type: answer, within: 1h, same: [t], before: {type: c, match: {t: a}}}, "
         "actions: {on_breach: [{do: x}]}}", "a trigger whose t is anything else can never be preempted"),
        ("{id: r, when: {type: ask, where: 'null'}, actions: {on_match: [{do: x}]}}",
         'where "null" is always false: the pattern never matches'),
        ("{id: r, when: ask, unless: 'true', actions: {on_match: [{do: x}]}}",
         'unless "true" is always true: every trigger is ignored'),
        ("{id: r, when: {type: ask, where: 'facts.x == 1 or true'}, actions: {on_match: [{do: x}]}}", None),
        ("{id: r, when: ask, expect: {type: answer, within: 31d}, actions: {on_breach: [{do: x}]}}",
         "within (31d) is longer than expire (30d) (the default)"),
        ("{id: r, when: ask, expect: {type: answer, within: 2d}, expire: 2d, actions: {on_breach: [{do: x}]}}", None),
        ("{id: r, every: 1d, start: s, expect: e, actions: {on_due_soon: [{do: x}], on_breach: [{do: y}]}}",
         "on_due_soon never fires: the rule has no remind_before"),
        ("{id: r, when: ask, actions: {}}", "rule 'r' has no actions"),
        ("{id: r, when: ask, actions: {on_match: [{do: x, y: '{{ subject.city }}'}]}}",
         "reads subject.city, but the rule has no subject field 'city'"),
    ],
)
def test_rule_warnings(tmp_path: Path, rule: str, expected: str | None) -> None:
    text = f"playbook: p\nversion: 1\nfacts:\n  x: {{from: f, value: v}}\nrules:\n  - {rule}\n"
    found = [w for w in warnings_of(tmp_path, text) if "unused-fact" not in w]
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0], found


def test_unused_fact_and_dynamic_fact_reads(tmp_path: Path) -> None:
    base = "playbook: p\nversion: 1\nfacts:\n  a: {from: f, value: v}\n  b: {from: f, value: v}\nrules:\n"
    found = warnings_of(tmp_path, base + "  - {id: r, when: {type: x, where: 'facts.a > 1'}, actions: {on_match: [{do: y}]}}\n")
    assert found == ["fact 'b' is never used: no expression or template reads facts.b [unused-fact]"]
    # facts read by a computed name may read any fact: no warning.
    found = warnings_of(tmp_path, base + "  - {id: r, when: x, actions: {on_match: [{do: y, v: '{{ facts[key] }}'}]}}\n")
    assert found == []


EVENTS_PLAYBOOK = """
playbook: shapes
version: 1
events:
  ask: {thread: string, channel: [string, "null"], n: integer, roi: object, meta.source: string}
rules:
  - id: r
    when: {type: ask, where: "roi.usd > 0 and meta.source == 'x' and n > 0"}
    actions: {on_match: [{do: x, t: "{{ thread }} {{ trigger.thread }} {{ event.nope }}"}]}
"""


def test_fields_are_checked_against_declared_shapes(tmp_path: Path) -> None:
    found = warnings_of(tmp_path, EVENTS_PLAYBOOK)
    assert found == ["on_match t reads event.nope, which is not a field of ask as declared under events: "
                     "(declared: channel, meta.source, n, roi, thread) [unknown-field]"]


def test_check_event_shapes() -> None:
    pb = load_playbook_text(EVENTS_PLAYBOOK)
    assert check_event(pb, {"type": "ask", "time": 1, "account": "a", "thread": "t", "n": 2, "roi": {}, "meta": {"source": "s"}}) == []
    assert check_event(pb, {"type": "other", "anything": 1}) == []
    assert check_event(pb, {"type": "ask", "thread": 3, "n": 2.5, "roi": {}, "meta": {"source": "s", "x": 1}, "extra": 1}) == [
        "field 'thread' is integer, declared string",
        "field 'n' is number, declared integer",
        "field 'meta.x' is not declared",
        "field 'extra' is not declared",
    ]
    assert check_event(pb, {"type": "ask", "n": 2.0, "roi": {}, "meta": {"source": "s"}}) == ["missing field 'thread'"]
    events = [
        SourceEvent({"type": "ask", "thread": "t", "n": 1, "roi": {}, "meta": {"source": "s"}}, "e.jsonl:1"),
        SourceEvent({"type": "ask", "thread": 1, "n": 1, "roi": {}, "meta": {"source": "s"}}, "e.jsonl:2"),
        SourceEvent(None, "e.jsonl:3", "invalid JSON"),
        {"type": "ask", "n": 1, "roi": {}, "meta": {"source": "s"}},
    ]
    report = check_event_shapes(pb, events)
    assert (report.checked, report.misfits) == (3, 2)
    assert report.lines() == [
        "events not fitting their declared shape (shapes): 2 of 3 checked",
        "  ask: field 'thread' is integer, declared string: 1",
        "    e.jsonl:2",
        "  ask: missing field 'thread': 1",
        "    <event>",
    ]
    checker = ShapeChecker(pb)
    assert list(checker.wrap(events)) == events  # passes every event through unchanged
    assert checker.report.misfits == 2
    assert check_event_shapes(load_playbook_text("playbook: p\nversion: 1\nrules: [{id: r, when: x, actions: {}}]\n"),
                              events).lines() == []


# -- the SLA additions: targets per trigger, deadlines, pause and resume, ladders ---------------------


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # a stage at 100 % is on_breach
        ("{id: r, when: ask, expect: {type: answer, within: 1h}, actions: {on_progress: [{at: 100%, actions: [{do: x}]}]}}",
         "a stage at 100% fires at the deadline, with the breach: that is on_breach: put these actions under on_breach "
         "[ladder]"),
        # a percentage after the obligation is dropped (deadline + expire)
        ("{id: r, when: ask, expect: {type: answer, within: 1h}, expire: 1h, "
         "actions: {on_progress: [{at: 300%, actions: [{do: x}]}]}}",
         "stage 300% comes 2h after the deadline (within 1h), but a breached obligation is dropped expire (1h) after "
         "its deadline: it can never fire; put it below 200% or write a longer expire [ladder]"),
        ("{id: r, when: ask, expect: {type: answer, within: 1h}, expire: 1h, "
         "actions: {on_progress: [{at: 200%, actions: [{do: x}]}]}}",
         "it comes at the very instant the obligation is dropped"),
        ("{id: r, when: ask, expect: {type: answer, within: 1h}, expire: 1h, "
         "actions: {on_progress: [{at: 150%, actions: [{do: x}]}]}}", None),
        ("{id: r, when: ask, expect: {type: answer, within: 10d}, "
         "actions: {on_progress: [{at: 500%, actions: [{do: x}]}]}}",
         "stage 500% comes 960h after the deadline (within 10d), but a breached obligation is dropped expire (30d, the "
         "default) after its deadline: it can never fire; put it below 400%"),
        # a duration after the obligation is dropped
        ("{id: r, when: ask, expect: {type: answer, within: 1h}, expire: 1h, "
         "actions: {on_progress: [{at: 3h, actions: [{do: x}]}]}}",
         "stage 3h comes 2h after the deadline (within 1h), but a breached obligation is dropped expire (1h) after its "
         "deadline: it can never fire; put it earlier or write a longer expire [ladder]"),
        ("{id: r, when: ask, expect: {type: answer, within: 1h}, expire: 1h, "
         "actions: {on_progress: [{at: 90m, actions: [{do: x}]}]}}", None),
        ("{id: r, when: ask, expect: {type: answer, before: {type: c}}, expire: 2h, "
         "actions: {on_progress: [{at: 3h, actions: [{do: x}]}]}}",
         "stage 3h comes 3h after the trigger, but an obligation without a deadline is dropped expire (2h) after its "
         "trigger: it can never fire"),
        # tables: a percentage by the shortest case, a duration by the longest
        ("{id: r, when: ask, expect: {type: answer, within: {by: p, cases: {P1: 1h, P2: 8h}}}, expire: 8h, "
         "actions: {on_progress: [{at: 1000%, actions: [{do: x}]}]}}",
         "stage 1000% comes 9h after the deadline (within 1h for case P1; 8h for case P2 for the longest), but a breached "
         "obligation is dropped expire (8h) after its deadline: it can never fire; put it below 900%"),
        ("{id: r, when: ask, expect: {type: answer, within: {by: p, cases: {P1: 1h, P2: 8h}}}, expire: 8h, "
         "actions: {on_progress: [{at: 850%, actions: [{do: x}]}]}}", None),
        ("{id: r, when: ask, expect: {type: answer, within: {by: p, cases: {P1: 1h}, default: 8h}}, expire: 8h, "
         "actions: {on_progress: [{at: 17h, actions: [{do: x}]}]}}",
         "stage 17h comes 9h after the deadline (within 8h for default)"),
        ("{id: r, when: ask, expect: {type: answer, within: {by: p, cases: {P1: 1h}, default: 8h}}, expire: 8h, "
         "actions: {on_progress: [{at: 15h, actions: [{do: x}]}]}}", None),
        # templates are known only at the trigger: nothing to compare
        ("{id: r, when: ask, expect: {type: answer, within: '{{ sla }}'}, expire: '{{ keep }}', "
         "actions: {on_progress: [{at: 900%, actions: [{do: x}]}, {at: 90d, actions: [{do: y}]}]}}", None),
        # on_due_soon on a response rule without remind_before
        ("{id: r, when: ask, expect: {type: answer, within: 1h}, actions: {on_due_soon: [{do: x}], on_breach: [{do: y}]}}",
         "on_due_soon never fires: the rule has no remind_before (add one, e.g. remind_before: 1h, or remove these "
         "actions) [unreachable-outcome]"),
        ("{id: r, when: ask, expect: {type: answer, within: 2h}, remind_before: 1h, actions: {on_due_soon: [{do: x}]}}",
         None),
        # within and expire as tables or templates
        ("{id: r, when: ask, expect: {type: answer, within: {by: p, cases: {P1: 1h, P2: 40d}}}, actions: {on_breach: [{do: x}]}}",
         "within (40d for case P2) is longer than expire (30d) (the default): a breached obligation waits only 30d"),
        ("{id: r, when: ask, expect: {type: answer, within: {by: p, cases: {P1: 1h}, default: 2d}}, "
         "expire: {by: tier, cases: {gold: 1d}, default: 3d}, actions: {on_breach: [{do: x}]}}", None),
        ("{id: r, when: ask, expect: {type: answer, within: '{{ sla }}'}, expire: 1h, actions: {on_breach: [{do: x}]}}", None),
        ("{id: r, when: ask, expect: {type: answer, within: 1h}, expire: {by: tier, cases: {a: 400d}, default: 1d}, "
         "actions: {on_breach: [{do: x}]}}", "expire 400d for case a is over a year"),
        # a deadline from a date is a deadline: no open-state warning
        ("{id: r, when: ask, expect: {type: answer, deadline: {at: '{{ trigger.due }}', offset: -1d}}, "
         "actions: {on_breach: [{do: x}]}}", None),
        ("{id: r, when: ask, expect: {type: answer, deadline: {at: '{{ trigger.due }}'}}, overlap: each, "
         "actions: {on_breach: [{do: x}]}}", None),
        ("{id: r, when: ask, expect: {type: answer, before: {type: c}}, overlap: each, expire: '{{ keep }}', "
         "actions: {on_breach: [{do: x}]}}", "or until its expire, so unanswered triggers accumulate"),
        # stage templates: subject fields as elsewhere
        ("{id: r, when: ask, expect: {type: answer, same: [t], within: 1h}, "
         "actions: {on_progress: [{at: 50%, actions: [{do: x, y: '{{ subject.city }} {{ stage }}'}]}]}}",
         "on_progress 50% y reads subject.city, but the rule has no subject field 'city' (its subject fields are t)"),
    ],
)
def test_sla_rule_warnings(tmp_path: Path, rule: str, expected: str | None) -> None:
    text = f"playbook: p\nversion: 1\nrules:\n  - {rule}\n"
    found = warnings_of(tmp_path, text)
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0], found


def test_ladder_on_a_calendar_compares_open_hours_only(tmp_path: Path) -> None:
    base = ("playbook: p\nversion: 1\ncalendars:\n  support: {hours: {mon-fri: '09:00-17:00'}}\nrules:\n"
            "  - {id: r, when: ask, expect: {type: answer, within: WITHIN, calendar: support}, expire: EXPIRE, "
            "actions: {on_progress: [{at: AT, actions: [{do: x}]}]}}\n")
    # Hours of open time: 3h after a 1h deadline is at least 2h of elapsed time after it.
    found = warnings_of(tmp_path, base.replace("WITHIN", "1h").replace("AT", "300%").replace("EXPIRE", "2h"))
    assert len(found) == 1 and "stage 300% comes 2h after the deadline (within 1h)" in found[0]
    found = warnings_of(tmp_path, base.replace("WITHIN", "1h").replace("AT", "4h").replace("EXPIRE", "2h"))
    assert len(found) == 1 and "stage 4h comes 3h after the deadline" in found[0]
    # Business days have no fixed number of open hours: not compared.
    assert warnings_of(tmp_path, base.replace("WITHIN", "3d").replace("AT", "5000%").replace("EXPIRE", "3d")) == []
    assert warnings_of(tmp_path, base.replace("WITHIN", "1h").replace("AT", "5d").replace("EXPIRE", "2h")) == []


SHAPED_SLA = """
playbook: p
version: 1
events:
  ticket.created: {ticket: string, priority: string}
  agent.reply: {ticket: string}
  ticket.status_changed: {ticket: string, status: string}
  ticket.held: {reason: string}
rules:
  - id: r
    when: ticket.created
    expect:
      type: agent.reply
      same: [ticket]
      within: {by: priorty, cases: {P1: 1h}, default: 8h}
    expire: "{{ trigger.keep }}"
    pause: {type: ticket.status_changed, match: {state: pending}}
    resume: ticket.held
    actions:
      on_progress:
        - {at: 50%, actions: [{do: x, msg: "{{ stage }} {{ paused_for }} {{ trigger.priority }} {{ trigger.prio }}"}]}
      on_breach: [{do: y, paused: "{{ paused_for }}"}]
  - id: s
    when: ticket.created
    expect: {type: agent.reply, same: [ticket], within: 1h}
    actions:
      on_breach: [{do: y, stage: "{{ stage }}", paused: "{{ paused_for }}"}]
  - id: u
    when: ticket.created
    expect: {type: agent.reply, within: 1h}
    pause: ticket.paused
    resume: ticket.status_changed
    actions: {on_breach: [{do: y}]}
"""


def test_pause_resume_and_the_new_names_are_checked_against_declared_shapes(tmp_path: Path) -> None:
    found = warnings_of(tmp_path, SHAPED_SLA)
    assert found == [
        "'same' field 'ticket' is not a field of ticket.held as declared under events: (declared: reason) [unknown-field]",
        "within by reads priorty, which is not a field of ticket.created as declared under events: "
        "(did you mean 'priority'?) [unknown-field]",
        "expire reads trigger.keep, which is not a field of ticket.created as declared under events: "
        "(declared: priority, ticket) [unknown-field]",
        "match field 'state' is not a field of ticket.status_changed as declared under events: "
        "(did you mean 'status'?) [unknown-field]",
        "on_progress 50% msg reads trigger.prio, which is not a field of ticket.created as declared under events: "
        "(did you mean 'priority'?) [unknown-field]",
        # stage and paused_for are names only where they exist: elsewhere they read the trigger's fields
        "on_breach stage reads stage, which is not a field of ticket.created as declared under events: "
        "(declared: priority, ticket) [unknown-field]",
        "on_breach paused reads paused_for, which is not a field of ticket.created as declared under events: "
        "(declared: priority, ticket) [unknown-field]",
        "event type 'ticket.paused' is not declared under events: (did you mean 'ticket.held'?) [undeclared-type]",
    ]


def test_the_sla_golden_playbook_is_lint_clean() -> None:
    result = lint_file(str(ROOT / "tests" / "golden" / "sla" / "playbook.yaml"))
    assert not result.errors and result.warnings == []


@pytest.mark.parametrize(("rule", "expected"), [
    ("  - id: r\n    when: a\n    expect: {type: b, within: {by: priority, cases: {P1: 15m, P2: 4h}}}\n"
     "    remind_before: 30m\n    actions: {on_due_soon: [{do: x}]}\n",
     "remind_before (30m) is not shorter than within (15m for case P1)"),
    ("  - id: c\n    every: 7d\n    start: s\n    expect: e\n    remind_before: {by: tier, cases: {gold: 8d}, default: 1d}\n"
     "    actions: {on_due_soon: [{do: x}]}\n",
     "remind_before (8d for case gold) is not shorter than every (7d)"),
    ("  - id: r\n    when: a\n    expect: {type: b, within: {by: priority, cases: {P1: 1h, P2: 4h}}}\n"
     "    remind_before: 30m\n    actions: {on_due_soon: [{do: x}]}\n", None),
])
def test_a_reminder_by_case_that_can_never_come(tmp_path: Path, rule: str, expected: str | None) -> None:
    found = [w for w in warnings_of(tmp_path, "playbook: p\nversion: 1\nrules:\n" + rule) if "[unreachable-outcome]" in w]
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0], found
