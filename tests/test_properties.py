"""Properties that must hold for every input (hypothesis)."""

from __future__ import annotations

import contextlib
import random
from collections import defaultdict
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Engine, EngineError, load_playbook, load_playbook_text
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"
PLAYBOOKS = [
    load_playbook(str(GOLDEN / "response" / "playbook.yaml")),
    load_playbook(str(GOLDEN / "cadence" / "playbook.yaml")),
    load_playbook(str(GOLDEN / "signal" / "playbook.yaml")),
]
TYPES = [
    "ask", "answer", "incident.opened", "status.posted", "complaint", "contract.signed", "contract.ended",
    "qbr.held", "signed", "renewed", "signal.expansion", "signal.hiring", "module.purchased", "ping",
    "account.updated", "noise",
]
BASE = 1_767_225_600  # 2026-01-01T00:00:00Z

event_st = st.fixed_dictionaries(
    {
        "type": st.sampled_from(TYPES),
        "time": st.integers(0, 40).map(lambda h: BASE + h * 3 * 3600),
        "account": st.sampled_from(["a", "b"]),
    },
    optional={
        "thread": st.sampled_from(["t1", "t2"]),
        "incident": st.sampled_from(["i1", "i2"]),
        "channel": st.sampled_from(["email", "phone"]),
        "severity": st.sampled_from(["sev1", "sev3"]),
        "region": st.sampled_from(["APAC", "EMEA"]),
        "location": st.sampled_from(["Austin", "Boston"]),
        "module": st.sampled_from(["multilingual", "sso"]),
        "urgent": st.booleans(),
        "tier": st.sampled_from(["free", "pro"]),
        "roi": st.fixed_dictionaries({"value_usd": st.integers(-1, 3)}),
    },
)
events_st = st.lists(event_st, max_size=40)


def _jsonl(actions: list[Any]) -> str:
    return "\n".join(a.to_json() for a in actions)


def _shuffle_keeping_ties(events: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """A random permutation in which events with equal times keep their relative order."""
    rng = random.Random(seed)
    order = list(range(len(events)))
    rng.shuffle(order)
    by_time: dict[Any, list[int]] = defaultdict(list)
    for i, e in enumerate(events):
        by_time[e["time"]].append(i)
    queues = {t: iter(ix) for t, ix in by_time.items()}
    return [events[next(queues[events[i]["time"]])] for i in order]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events_st, st.integers(0, 2**32))
def test_order_independence(events: list[dict[str, Any]], seed: int) -> None:
    """Shuffled input that keeps equal-time order gives byte-identical output."""
    first = _jsonl(Engine(PLAYBOOKS).run(events))
    again = _jsonl(Engine(PLAYBOOKS).run(_shuffle_keeping_ties(events, seed)))
    assert first == again


@settings(max_examples=150, deadline=None)
@given(events_st, st.integers(0, 200))
def test_run_equals_feed_then_advance(events: list[dict[str, Any]], extra_hours: int) -> None:
    """Batch mode is streaming mode: feed the sorted events, then advance."""
    until = BASE + 41 * 3 * 3600 + extra_hours * 3600
    batch = Engine(PLAYBOOKS).run(events, until=until)
    engine = Engine(PLAYBOOKS)
    streamed = []
    for e in sorted(events, key=lambda e: e["time"]):
        streamed.extend(engine.feed(e))
    streamed.extend(engine.advance(until))
    streamed.sort(key=lambda a: a.sort_key)
    assert _jsonl(batch) == _jsonl(streamed)


@settings(max_examples=100, deadline=None)
@given(events_st)
def test_same_input_same_ids(events: list[dict[str, Any]]) -> None:
    a = Engine(PLAYBOOKS).run(events)
    b = Engine(PLAYBOOKS).run([dict(e) for e in events])
    assert [x.id for x in a] == [x.id for x in b]
    assert len({x.id for x in a}) == len(a)


json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
json_value = st.recursive(json_scalar, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=6), c, max_size=3)), max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(json_value, st.dictionaries(st.sampled_from(["type", "time", "account", "thread", "roi", "region"]), json_value, max_size=5)), max_size=15))
def test_arbitrary_events_never_crash(raw: list[Any]) -> None:
    """Whatever the events, a non-strict run skips what it cannot read and finishes."""
    engine = Engine(PLAYBOOKS)
    engine.run(raw)
    assert engine.summary.events_read == len(raw)


KEYS = ["playbook", "version", "rules", "facts", "id", "when", "expect", "every", "start", "stop", "type", "match",
        "where", "unless", "within", "before", "same", "actions", "on_breach", "on_match", "do", "threshold",
        "count", "cooldown", "group_by", "calendars", "hours", "timezone", "from", "value", "collect", "remind_before"]
yaml_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 200), st.sampled_from(["4h", "1d", "x", "{{ a }}", "{{", "a ==", "ok", "mon-fri", "09:00-17:00"])),
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.sampled_from(KEYS), c, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(yaml_value.map(lambda v: yaml.safe_dump(v)), st.text(max_size=200)))
def test_only_engine_errors_escape_load_playbook(text: str) -> None:
    with contextlib.suppress(EngineError):
        load_playbook_text(text, "fuzz.yaml")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.sampled_from(["a", "b"]), st.sampled_from(["x", "y", "z"])), max_size=30))
def test_threshold_count_one_is_no_threshold(raw: list[tuple[int, str, str]]) -> None:
    events = [{"type": "ping", "time": BASE + h * 3600, "account": k, "g": g} for h, k, g in raw]
    for cooldown in ("", "cooldown: 3h\n    "):
        text = (
            "playbook: p\nversion: 1\nrules:\n"
            f"  - id: r\n    when: ping\n    {cooldown}group_by: [g]\n    actions: {{on_match: [{{do: x}}]}}\n"
            f"  - id: r1\n    when: ping\n    {cooldown}group_by: [g]\n    threshold: {{count: 1, within: 1h}}\n    actions: {{on_match: [{{do: x}}]}}\n"
        )
        actions = Engine(load_playbook_text(text)).run(events)
        plain = [(a.at, a.key, a.subject) for a in actions if a.rule == "r"]
        once = [(a.at, a.key, a.subject) for a in actions if a.rule == "r1"]
        assert plain == once


FACTS_PLAYBOOK = load_playbook_text(
    """
playbook: folds
version: 1
facts:
  last: {from: f, value: v}
  first: {from: f, value: v, collect: first}
  set: {from: f, value: v, collect: set}
  count: {from: f, value: v, collect: count}
  sum: {from: f, value: v, collect: sum}
  min: {from: f, value: v, collect: min}
  max: {from: f, value: v, collect: max}
rules:
  - {id: r, when: never, actions: {}}
"""
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.one_of(st.none(), st.integers(-50, 50))), max_size=30))
def test_facts_equal_a_plain_fold(raw: list[tuple[str, int | None]]) -> None:
    events = [{"type": "f", "time": BASE + i, "account": k, "v": v} for i, (k, v) in enumerate(raw)]
    engine = Engine(FACTS_PLAYBOOK)
    engine.run(events)
    for key in ("a", "b"):
        values = [v for k, v in raw if k == key]
        present = [v for v in values if v is not None]
        expected = {
            "last": values[-1] if values else None,
            "first": values[0] if values else None,
            "set": sorted(set(present)),
            "count": len(values),
            "sum": sum(present),
            "min": min(present) if present else None,
            "max": max(present) if present else None,
        }
        assert engine.facts(key) == expected


@settings(max_examples=150, deadline=None)
@given(events_st, st.lists(st.integers(0, 40), max_size=3))
def test_slices_with_saved_state_equal_one_run(events: list[dict[str, Any]], cuts: list[int]) -> None:
    """Run the log in slices, saving and restoring state between them: the same actions."""
    import orjson

    # Ids given: identical id-less events in two slices are one event seen twice (documented).
    ordered = sorted(({**e, "id": f"e{i}"} for i, e in enumerate(events)), key=lambda e: e["time"])
    whole = _jsonl(Engine(PLAYBOOKS).run(ordered))
    bounds = sorted({min(c, len(ordered)) for c in cuts} | {0, len(ordered)})
    produced = []
    snapshot = None
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        engine = Engine(PLAYBOOKS)
        if snapshot is not None:
            assert engine.restore(orjson.loads(orjson.dumps(snapshot))) == []
        produced.extend(engine.run(ordered[lo:hi]))
        snapshot = engine.snapshot()
    produced.sort(key=lambda a: a.sort_key)
    assert _jsonl(produced) == whole


@settings(max_examples=100, deadline=None)
@given(events_st, st.integers(1, 5), st.booleans())
def test_stream_equals_run_for_ordered_input(events: list[dict[str, Any]], flush: int, with_until: bool) -> None:
    ordered = sorted(events, key=lambda e: e["time"])
    until = BASE + 200 * 3600 if with_until else None
    streamed = list(Engine(PLAYBOOKS).stream(ordered, until=until, flush_every=flush))
    assert _jsonl(streamed) == _jsonl(Engine(PLAYBOOKS).run(ordered, until=until))


def test_time_ordered_reads_a_file_in_stable_time_order(tmp_path_factory: Any) -> None:
    from engine.sources import time_ordered

    path = tmp_path_factory.mktemp("ordered") / "e.jsonl"
    rows = [{"type": "x", "time": t, "n": i} for i, t in enumerate([5, 3, 5, 1, 3, 9])]
    text = "".join(__import__("json").dumps(r) + "\n" for r in rows[:3]) + "oops\n\n" + "".join(
        __import__("json").dumps(r) + "\n" for r in rows[3:]) + '{"type": "x"}\n'
    path.write_text(text)
    engine = Engine(PLAYBOOKS)
    got = list(time_ordered(str(path), engine.time_of))
    assert [g.error is not None for g in got[:2]] == [True, False] and got[1].data == {"type": "x"}
    assert [g.data["n"] for g in got[2:]] == [3, 1, 4, 0, 2, 5]
    assert [g.source.rsplit(":", 1)[1] for g in got] == ["4", "9", "6", "2", "7", "1", "3", "8"]
