"""Hostile JSON values in every field the engine reads: each event is processed or
skipped with its place and a reason; nothing but the engine's own errors escapes,
through ``run``, ``run --db``, ``ingest``, ``explain`` and ``Engine.feed``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cli.main import main
from engine import Engine, EngineError, load_playbook_text
from engine.sources import MAX_DEPTH, parse_json_line

PLAYBOOK = """playbook: hostile
version: 1
facts:
  last_note: {from: m, value: note}
  scores: {from: m, value: score, collect: set}
rules:
  - id: ack
    when: customer.message
    expect: {type: vendor.reply, same: [thread_id], within: 4h}
    actions: {on_breach: [{do: escalate, thread: "{{ thread_id }}", note: "{{ note }}"}]}
  - id: sig
    when: {type: m, where: "score != null or note != null"}
    group_by: [grp]
    cooldown: 1h
    actions: {on_match: [{do: x, note: "{{ note }}", s: "{{ score }}", f: "{{ facts.scores }}", e: "n {{ event }}"}]}
"""

FIELDS = ["type", "time", "id", "account", "thread_id", "grp", "score", "note"]

NASTY = [
    "NaN", "Infinity", "-Infinity", "null", "true", "false", "[]", "{}", '""', "0", "-1", "1.5e308", "1e400",
    "9" * 30, "-" + "9" * 30, "9" * 5000, str(2**64), '"\\udfff"', '"\\ud800x"', '["\\udc00", NaN]',
    '"2026-03-02T14:00:00Z"', '"0001-01-01T00:00:00Z"', '"9999-12-31T23:59:59Z"', "1772460000000",
    "-62135596800", '"x"', '"' + "y" * 200_000 + '"', "[" + ",".join(["0"] * 100_000) + "]",
    '{"a": {"b": [1, {"c": NaN}]}}', '"{{ 1 }}"', '"' + "\\u0000" * 10 + '"',
]


def deep(n: int, opener: str) -> str:
    closer = "]" if opener == "[" else "}"
    inner = "1" if opener == "[" else "1"
    return opener * n + inner + closer * n


nesting = st.builds(deep, st.sampled_from([MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 254, 256, 300,
                                           980, 1000, 1023, 1024, 1100, 3000]) | st.integers(1, 1200),
                    st.sampled_from(["[", '{"a":']))
surrogates = st.text(st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), max_size=5).map(
    lambda s: json.dumps(s, ensure_ascii=True))
json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**70), 2**70)
    | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=8,
).map(lambda v: json.dumps(v, allow_nan=True))
fragments = st.sampled_from(NASTY) | nesting | surrogates | json_values

BASE = {"type": "m", "time": "2026-03-02T16:00:00Z", "account": "acme", "thread_id": "t1", "grp": "g",
        "score": 1, "note": "hi"}
GOOD = [
    json.dumps({"type": "customer.message", "time": "2026-03-02T10:00:00Z", "account": "acme", "thread_id": "t1"}),
    json.dumps({"type": "m", "time": "2026-03-02T11:00:00Z", "account": "acme", "grp": "g", "score": 2}),
]
AFTER = json.dumps({"type": "m", "time": "2026-03-03T12:00:00Z", "account": "acme", "grp": "g", "score": 3})


def hostile_line(field: str, fragment: str, etype: str) -> str:
    parts = {**BASE, "type": etype}
    parts.pop(field, None)
    if field == "id":
        parts.pop("id", None)
    body = [f"{json.dumps(k)}:{json.dumps(v)}" for k, v in parts.items()]
    body.append(f"{json.dumps(field)}:{fragment}")
    return "{" + ",".join(body) + "}"


def counts(stderr: str) -> tuple[int, int, int, int]:
    m = re.search(r"events: ([\d,]+) read, ([\d,]+) processed, ([\d,]+) skipped, [\d,]+ without key, ([\d,]+) after until",
                  stderr)
    assert m, stderr
    read, processed, skipped, after = (int(g.replace(",", "")) for g in m.groups())
    return read, processed, skipped, after


def no_traceback(result) -> None:  # type: ignore[no-untyped-def]
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), repr(exc)
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("hostile")
    (d / "p.yaml").write_text(PLAYBOOK)
    return d


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow, HealthCheck.data_too_large])
@given(field=st.sampled_from(FIELDS), fragment=fragments, etype=st.sampled_from(["m", "vendor.reply"]))
@example(field="time", fragment='"2026-03-02T14:00:00Z"', etype="vendor.reply")  # a reply at the deadline: met
def test_hostile_values_are_processed_or_skipped_through_the_cli(workdir: Path, field: str, fragment: str,
                                                                 etype: str) -> None:
    line = hostile_line(field, fragment, etype)
    events = workdir / "e.jsonl"
    events.write_text("\n".join([*GOOD, line, AFTER]) + "\n")
    pb = str(workdir / "p.yaml")
    runner = CliRunner()

    plain = runner.invoke(main, ["run", pb, "--events", str(events)])
    no_traceback(plain)
    assert plain.exit_code == 0, plain.output
    read, processed, skipped, after = counts(plain.stderr)
    assert read == 4 and read == processed + skipped + after, plain.stderr
    if skipped:
        assert re.search(r"e\.jsonl:3: ", plain.stderr), plain.stderr  # the place of the skipped line

    strict = runner.invoke(main, ["run", pb, "--events", str(events), "--strict"])
    no_traceback(strict)
    assert strict.exit_code in (0, 1), strict.output
    if strict.exit_code == 1:
        assert "e.jsonl:3: " in strict.stderr, strict.stderr

    db = workdir / "s.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    stored = runner.invoke(main, ["run", pb, "--events", str(events), "--db", str(db)])
    no_traceback(stored)
    assert stored.exit_code == 0, stored.output
    # The actions of the good events before the hostile one are written (the store gets past it),
    # as in the plain run: the hostile line may itself be a good reply (at the ack's deadline: met).
    assert '"rule":"sig"' in stored.stdout
    for rule in ("sig", "ack"):
        assert (f'"rule":"{rule}"' in stored.stdout) == (f'"rule":"{rule}"' in plain.stdout), (rule, stored.stdout)

    ingested = runner.invoke(main, ["ingest", str(events), "--db", str(workdir / "i.db")])
    no_traceback(ingested)
    assert ingested.exit_code == 0, ingested.output
    (workdir / "i.db").unlink()

    explained = runner.invoke(main, ["explain", pb, "--events", str(events), "--rule", "sig"])
    no_traceback(explained)
    assert explained.exit_code == 0, explained.output

    # Engine.feed: the same events as Python values (what a line parses to).
    # Not strict: nothing at all may escape; strict: only EngineError (an EventError with the place).
    engine = Engine([load_playbook_text(PLAYBOOK, "p.yaml")])
    strict_engine = Engine([load_playbook_text(PLAYBOOK, "p.yaml")], strict=True)
    for text in [*GOOD, line, AFTER]:
        try:
            value = parse_json_line(text)
        except ValueError:
            continue
        engine.feed(value)
        try:
            strict_engine.feed(value, "e.jsonl:3")
        except EngineError as exc:
            assert "e.jsonl:3" in str(exc)
    s = engine.summary
    assert s.events_read == s.events_processed + s.skipped_total + s.after_until


def test_a_poison_event_too_deep_is_skipped_with_its_place(tmp_path: Path) -> None:
    """The event of the report: no id, nested 1,000 levels (valid JSON orjson accepts)."""
    (tmp_path / "p.yaml").write_text(PLAYBOOK)
    poison = hostile_line("note", deep(1000, "["), "m")
    events = tmp_path / "e.jsonl"
    events.write_text("\n".join([*GOOD, poison, AFTER]) + "\n")
    r = CliRunner().invoke(main, ["run", str(tmp_path / "p.yaml"), "--events", str(events)])
    assert r.exit_code == 0, r.output
    assert f"e.jsonl:3: too deeply nested: more than {MAX_DEPTH} levels" in r.stderr
    strict = CliRunner().invoke(main, ["run", str(tmp_path / "p.yaml"), "--events", str(events), "--strict"])
    assert strict.exit_code == 1 and "e.jsonl:3: too deeply nested" in strict.stderr, strict.output


def test_engine_skips_a_too_deep_python_value() -> None:
    value: list[object] = []
    for _ in range(5000):
        value = [value]
    engine = Engine([load_playbook_text(PLAYBOOK, "p.yaml")])
    engine.feed({"type": "m", "time": "2026-03-02T16:00:00Z", "account": "a", "note": value})
    engine.feed({"type": "m", "time": "2026-03-02T16:00:00Z", "account": "a", "note": 10**5000})
    assert engine.summary.skipped_total == 2 and engine.summary.events_processed == 0
    assert set(engine.summary.skipped) == {"too deeply nested", "number too long"}
    with pytest.raises(EngineError):
        Engine([load_playbook_text(PLAYBOOK, "p.yaml")], strict=True).feed({"type": "m", "time": 0, "note": value})
