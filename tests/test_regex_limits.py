"""matches() with a pattern from an event: bounded in length and in RE2's program size,
compiled once per text in a bounded (LRU) cache; over a bound, an expression error at run
time (false, reported) and a validation error for a literal pattern."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from engine import Engine, PlaybookError, load_playbook
from engine import expressions as ex
from engine.expressions import MAX_PATTERN, EvalError, ExprError, Scope, compile_expression

HUGE_PROGRAM = "[a-z]{1000}" * 90  # 990 characters; took 45 s per 100,000-character text


def matches(text: str, rx: Any) -> Any:
    return compile_expression("matches(s, rx)").evaluate(Scope({}, {"s": text, "rx": rx}, UTC))


def test_a_pattern_from_data_is_bounded_in_length() -> None:
    assert matches("a" * 10, "a" * MAX_PATTERN) is False
    with pytest.raises(EvalError, match=f"is {MAX_PATTERN + 1} characters long; the limit is {MAX_PATTERN}"):
        matches("a", "a" * (MAX_PATTERN + 1))
    with pytest.raises(EvalError, match="the limit is"):
        matches("a", "(a|b)" * 20_000)  # 99 KB


def test_a_pattern_whose_program_is_too_large_is_refused() -> None:
    with pytest.raises(EvalError, match="too large once compiled"):
        matches("b", HUGE_PROGRAM)
    with pytest.raises(EvalError, match="too large once compiled"):
        matches("b", ".{1000}" * 4)
    # Ordinary patterns, even long alternations, are fine.
    words = "|".join(f"word{i:04d}" for i in range(300))
    assert matches("x word0299 y", words) is True
    assert matches("x", "a.{1000}c") is False


def test_literal_patterns_over_a_bound_are_validation_errors() -> None:
    with pytest.raises(ExprError) as info:
        compile_expression(f"matches(body, {HUGE_PROGRAM!r})")
    assert info.value.offset == 14 and "too large once compiled" in info.value.message
    with pytest.raises(ExprError) as info:
        compile_expression(f"matches(body, {'a' * (MAX_PATTERN + 1)!r})")
    assert info.value.offset == 14 and f"the limit is {MAX_PATTERN}" in info.value.message


def test_validate_reports_a_literal_pattern_at_its_place(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "playbook: rx\nversion: 1\nrules:\n  - id: sig\n"
        f"    when: {{type: ping, where: \"matches(body, '{HUGE_PROGRAM}')\"}}\n"
        "    actions: {on_match: [{do: note}]}\n"
    )
    with pytest.raises(PlaybookError) as info:
        load_playbook(str(path))
    (d,) = info.value.diagnostics
    assert (d.line, d.col) == (5, 46)  # the pattern itself
    assert "too large once compiled" in d.message


def test_a_refused_pattern_from_an_event_counts_as_false_and_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "playbook: rx\nversion: 1\nrules:\n  - id: sig\n"
        "    when: {type: ping, where: \"matches(body, rx)\"}\n"
        "    actions: {on_match: [{do: note}]}\n"
    )
    log = tmp_path / "e.jsonl"
    events = [
        {"type": "ping", "time": "2026-03-02T14:00:00Z", "account": "a", "body": "b" * 1000, "rx": HUGE_PROGRAM},
        {"type": "ping", "time": "2026-03-02T14:00:01Z", "account": "a", "body": "ab", "rx": "a" * 5000},
        {"type": "ping", "time": "2026-03-02T14:00:02Z", "account": "a", "body": "ab", "rx": "^a"},
    ]
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    engine = Engine([load_playbook(str(path))])
    from engine import read_events

    actions = list(engine.run(read_events(str(log))))
    assert [a.trigger.id for a in actions if a.trigger] == [actions[0].trigger.id] and len(actions) == 1
    problem = engine.summary.expression_errors["rx: sig when.where"]
    assert problem.count == 2
    assert [s[0] for s in problem.samples] == [f"{log}:1", f"{log}:2"]


def test_patterns_are_compiled_once_per_text_in_a_bounded_lru_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ex, "_REGEX_CACHE", ex.OrderedDict())
    calls: list[str] = []
    real = ex.re2.compile

    def counting(rx: str, *args: Any) -> Any:
        calls.append(rx)
        return real(rx, *args)

    monkeypatch.setattr(ex.re2, "compile", counting)
    for _ in range(3):
        assert matches("x1", r"x\d") is True
        with pytest.raises(EvalError, match="invalid regular expression"):
            matches("x", "(a")  # a failure is cached too
    assert calls == [r"x\d", "(a"]
    for i in range(ex._REGEX_CACHE_MAX * 3):
        matches("x1", rf"x\d|p{i}")
        matches("x1", r"x\d")  # used all the time: stays cached
    assert len(ex._REGEX_CACHE) == ex._REGEX_CACHE_MAX
    assert calls.count(r"x\d") == 1
    assert "(a" not in ex._REGEX_CACHE  # the least recently used went first
