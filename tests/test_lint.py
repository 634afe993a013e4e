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
