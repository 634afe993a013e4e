"""--db: an id is processed at most once per store, wherever commits and look-ups fall (review #5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.durable
from engine import Engine, load_playbook_text
from engine.durable import DurableRun
from engine.store import SQLiteStore

PLAYBOOK = """playbook: fails
version: 1
rules:
  - id: two-fails
    when: {type: login.failed}
    threshold: {count: 2, within: 6h}
    actions:
      on_match: [{do: lock}]
  - id: answer
    when: {type: login.failed}
    expect: {type: login.ok, within: 90m}
    actions:
      on_breach: [{do: call}]
      on_met: [{do: thank}]
"""
BASE = 1772359200  # 2026-03-01T10:00:00Z


def run_parts(db: Path, parts: list[list[dict[str, Any]]], commit_every: int, background: bool) -> tuple[list[str], int]:
    """The actions written out and the duplicates counted by --db runs over the parts, one after another."""
    lines: list[str] = []
    duplicates = 0
    for part in parts:
        store = SQLiteStore(str(db))
        try:
            summary = DurableRun(Engine(load_playbook_text(PLAYBOOK, "fails.yaml")), store,
                                 commit_every=commit_every, background=background).run(part, emit=lines.extend)
        finally:
            store.close()
        duplicates += summary.duplicates
    return sorted(lines), duplicates


def test_copies_hours_apart_in_one_look_up_are_duplicates(tmp_path: Path) -> None:
    events = [{"id": "a", "type": "login.failed", "time": BASE, "account": "x"},
              {"id": "a", "type": "login.failed", "time": BASE + 7200, "account": "x"}]  # the same id 2 hours later
    one, dup_one = run_parts(tmp_path / "one.db", [events], 50_000, True)
    two, dup_two = run_parts(tmp_path / "two.db", [events[:1], events[1:]], 50_000, True)
    assert (one, dup_one) == (two, dup_two)
    assert dup_one == 1 and not any('"rule":"two-fails"' in line for line in one)


def test_an_event_skipped_for_its_key_does_not_spend_its_id(tmp_path: Path) -> None:
    """An event with an invalid key is skipped, not processed: its corrected copy (same id)
    is processed, in the same input or in a later run, as without a store."""
    bad = {"id": "a", "type": "login.failed", "time": BASE, "account": {"x": 1}}
    good = {"id": "a", "type": "login.failed", "time": BASE, "account": "x"}
    plain = sorted(a.to_json() for a in Engine(load_playbook_text(PLAYBOOK, "fails.yaml")).run([bad, good], until=BASE + 86400))
    for parts in ([[bad, good]], [[bad], [good]]):
        db = tmp_path / f"{len(parts)}.db"
        lines, duplicates = run_parts(db, [*parts[:-1], [*parts[-1], {**good, "id": "z", "account": "other", "time": BASE + 86400}]], 50_000, True)
        assert duplicates == 0
        assert [line for line in lines if '"key":"x"' in line] == [line for line in plain if '"key":"x"' in line] != []


EVENT = st.tuples(
    st.sampled_from(["a", "b", "c", "d", "e"]),
    st.sampled_from(["login.failed", "login.failed", "login.ok"]),
    st.sampled_from([0, 10, 50, 70, 130, 200, 400]),
    st.sampled_from(["x", "y"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(raw=st.lists(EVENT, min_size=1, max_size=14), cuts=st.lists(st.integers(0, 14), max_size=3),
       commit_every=st.integers(1, 5), lookup=st.integers(1, 4), background=st.booleans())
def test_any_split_of_a_log_gives_what_one_run_gives(tmp_path_factory: Any, raw: list[tuple[str, str, int, str]],
                                                     cuts: list[int], commit_every: int, lookup: int,
                                                     background: bool) -> None:
    """Copies of an id (within the dedupe window or hours apart), wherever the commits
    (commit_every), the store's look-ups (every `lookup` events) and the runs (split
    points) fall: the same actions, the same number of duplicates."""
    events = sorted(({"id": i, "type": ty, "time": BASE + 60 * m, "account": acc} for i, ty, m, acc in raw),
                    key=lambda e: e["time"])
    points = sorted({min(c, len(events)) for c in cuts} | {0, len(events)})
    parts = [events[a:b] for a, b in zip(points, points[1:], strict=False)]
    tmp = tmp_path_factory.mktemp("split")
    with mock.patch.object(engine.durable, "_LOOKUP", lookup):
        one = run_parts(tmp / "one.db", [events], 50_000, background)
        split = run_parts(tmp / "split.db", parts, commit_every, background)
    assert split == one
    ids = [e["id"] for e in events]
    assert one[1] == len(ids) - len(set(ids))  # every copy is a duplicate: each id processed once
