"""prev.facts: a key's facts as they were before the current event (facts update first)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from engine import Engine, PlaybookError, load_playbook_text
from engine.explain import explain

DROP = """
playbook: usage
version: 1
facts:
  wau: {from: usage.weekly, value: wau}
rules:
  - id: usage-drop
    when: {type: usage.weekly, where: "wau < 0.5 * prev.facts.wau"}
    actions:
      on_match: [{do: alert, before: "{{ prev.facts.wau }}", now: "{{ facts.wau }}"}]
"""


def week(n: int, wau: int, account: str = "acme") -> dict[str, Any]:
    return {"id": f"w{n}-{account}", "time": 1767225600 + n * 7 * 86400, "type": "usage.weekly", "account": account, "wau": wau}


def test_prev_facts_reads_the_value_before_this_event() -> None:
    actions = Engine(load_playbook_text(DROP)).run([week(0, 100), week(1, 90), week(2, 40), week(3, 30), week(0, 10, "b")])
    assert [(a.trigger.id, a.params) for a in actions] == [("w2-acme", {"before": 90, "now": 40})]


def test_facts_in_the_same_comparison_never_fires_and_lint_says_so(tmp_path: Path) -> None:
    text = DROP.replace("prev.facts.wau\"", "facts.wau\"")
    assert Engine(load_playbook_text(text)).run([week(0, 100), week(1, 40)]) == []
    path = tmp_path / "p.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0
    (line,) = [x for x in result.stderr.splitlines() if "[fact-fed-by-trigger]" in x]
    assert line.startswith(f"{path}:8:40: warning: 'wau < 0.5 * facts.wau' compares facts.wau with the event's own wau")
    assert "write prev.facts.wau" in line
    path.write_text(DROP)  # with prev.facts: no warning
    assert "fact-fed-by-trigger" not in CliRunner().invoke(main, ["validate", str(path)]).stderr


@pytest.mark.parametrize(("facts", "where", "warned"), [
    ("usage: {from: usage.weekly, value: wau}", "facts.usage > event.wau", True),      # the fact's value field
    ("wau: {from: 'usage.*', value: wau}", "wau < facts.wau", True),                  # a prefix glob feeds it
    ("wau: {from: usage.monthly, value: wau}", "wau < 0.5 * facts.wau", False),       # fed by another type
    ("wau: {from: usage.weekly, value: wau, collect: max}", "wau < facts.wau", False),  # not the same value
    ("wau: {from: usage.weekly, value: wau}", "wau < 0.5 * prev.facts.wau", False),
])
def test_lint_fact_fed_by_trigger(tmp_path: Path, facts: str, where: str, warned: bool) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(f"playbook: p\nversion: 1\nfacts:\n  {facts}\nrules:\n  - id: r\n"
                    f"    when: {{type: usage.weekly, where: \"{where}\"}}\n    actions: {{on_match: [{{do: x}}]}}\n")
    err = CliRunner().invoke(main, ["validate", str(path)]).stderr
    assert ("[fact-fed-by-trigger]" in err) is warned, err


def test_prev_facts_of_an_unknown_fact_is_an_error() -> None:
    with pytest.raises(PlaybookError) as info:
        load_playbook_text(DROP.replace("prev.facts.wau\"", "prev.facts.wua\""), "p.yaml")
    assert "p.yaml:8:" in str(info.value) and "unknown fact 'facts.wua'" in str(info.value)


def test_prev_facts_outside_an_event_and_before_any_event() -> None:
    pb = load_playbook_text("""
playbook: p
version: 1
facts:
  n: {from: ping, value: 1, collect: count}
rules:
  - id: ack
    when: ask
    expect: {type: answer, within: 1h}
    actions:
      on_breach: [{do: x, prev: "{{ prev.facts.n }}", now: "{{ facts.n }}"}]
  - id: first
    when: {type: ping, where: "prev.facts.n == 0"}
    actions: {on_match: [{do: first, prev: "{{ prev.facts.n }}"}]}
""")
    actions = Engine(pb).run([
        {"time": 0, "type": "ping", "account": "a"},
        {"time": 10, "type": "ask", "account": "a"},
        {"time": 20, "type": "ping", "account": "a"},
        {"time": 7200, "type": "ping", "account": "a"},
    ])
    # the first ping sees n == 0 before it; the breach (no event) sees the facts as they are
    assert [(a.rule, a.params) for a in actions] == [("first", {"prev": 0}), ("ack", {"prev": 2, "now": 2})]


def test_explain_evaluates_prev_facts() -> None:
    pb = load_playbook_text(DROP)
    x = explain(pb, [week(0, 100), week(1, 40), week(2, 30)], "usage-drop")
    (report,) = x.keys
    steps = sorted([s for u in report.units for s in u.steps] + report.other, key=lambda s: s.at)
    assert [s.counted for s in steps] == [False, True, False]
    assert steps[1].text == "fires: match"
    assert steps[2].text.endswith("is false (wau = 30, prev.facts.wau = 40)")


def test_an_event_field_called_prev_still_reads_as_before() -> None:
    """Only ``prev.facts`` is reserved: a playbook that read an event field ``prev``
    (alone or ``prev.x``) before ``prev.facts`` existed still reads that field."""
    pb = load_playbook_text(
        """
playbook: p
version: 1
rules:
  - id: s
    when: {type: t, where: "prev != null"}
    actions: {on_match: [{do: note, x: "{{ prev.x }}", whole: "{{ prev }}"}]}
"""
    )
    actions = Engine(pb).run([{"type": "t", "time": 0, "account": "k", "prev": {"x": 1}},
                              {"type": "t", "time": 1, "account": "k"}])
    assert [a.params for a in actions] == [{"x": 1, "whole": {"x": 1}}]
