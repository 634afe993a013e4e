"""Each event counts once, and playbooks do not change each other's actions (issue review #9, #8)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Engine, load_playbook_text

SIG = """playbook: {name}
version: 1
{extra}rules:
  - id: two-fails
    when: {{type: login.failed}}
    threshold: {{count: 2, within: 3h}}
    actions:
      on_match: [{{do: lock}}]
"""


def signal(name: str, extra: str = "") -> Any:
    return load_playbook_text(SIG.format(name=name, extra=extra), f"{name}.yaml")


UTC_PB = signal("sig2")
NY_PB = signal("sig4", "timezone: America/New_York\n")
USER_PB = signal("sig3", "key: user\n")


def _identity(engine: Engine) -> tuple[int, int]:
    s = engine.summary
    return s.events_read, s.events_processed + s.skipped_total + s.after_until + s.duplicates.count


RETRY = [
    {"id": "r1", "type": "login.failed", "time": "2026-03-01T10:00:00Z", "account": "x"},
    {"id": "r1", "type": "login.failed", "time": "2026-03-01T10:00:00Z", "account": "x"},
    {"id": "r2", "type": "login.failed", "time": "2026-03-01T10:01:00Z", "account": "x"},
    {"id": "r3", "type": "login.failed", "time": "2026-03-01T12:01:00Z", "account": "z"},
    {"id": "r3", "type": "login.failed", "time": "2026-03-01T12:01:00Z", "account": "z"},
    {"id": "r4", "type": "login.failed", "time": "2026-03-01T12:02:00Z", "account": "z"},
]


def test_duplicates_count_once_with_two_ways_of_reading() -> None:
    engine = Engine([UTC_PB, NY_PB])
    engine.run(RETRY)
    s = engine.summary
    assert (s.events_read, s.events_processed, s.duplicates.count) == (6, 4, 2)
    assert [src for src, _ in s.duplicates.samples] == ["event r1", "event r3"]


def test_far_future_counts_once_with_two_ways_of_reading() -> None:
    events = [
        {"id": "p0", "type": "login.failed", "time": "2016-03-01T09:00:00Z", "account": "x"},
        {"id": "p1", "type": "login.failed", "time": "2026-03-01T10:00:00Z", "account": "x"},
        {"id": "p2", "type": "login.failed", "time": "2026-03-01T10:01:00Z", "account": "y"},
        {"id": "p3", "type": "login.failed", "time": "2026-03-01T10:02:00Z", "account": "y"},
        {"id": "p4", "type": "login.failed", "time": "2036-03-01T10:02:00Z", "account": "z"},
    ]
    engine = Engine([UTC_PB, NY_PB], max_future="30d")
    engine.run(events, until="2026-03-02T00:00:00Z")
    s = engine.summary
    assert (s.events_read, s.events_processed, s.skipped_total) == (5, 4, 1)


HOURS = ["2026-03-01T10:00:00", "2026-03-01T10:30:00Z", "2026-03-01T11:00:00", "2026-03-01T13:00:00Z",
         "2026-03-01T15:00:00", "2036-03-01T10:00:00Z", "not a time"]
mix_event = st.fixed_dictionaries(
    {"type": st.sampled_from(["login.failed", "login.failed", "other"]), "time": st.sampled_from(HOURS)},
    optional={"id": st.sampled_from(["a", "b", "c", "d"]), "account": st.sampled_from(["x", "y", ["x"]]),
              "user": st.sampled_from(["u", 7, {"u": 1}])},
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(mix_event, max_size=14), until=st.sampled_from([None, "2026-03-01T12:00:00Z"]),
       future=st.sampled_from([None, "30d"]), stream=st.booleans(), window=st.sampled_from(["1h", "10m", None]))
def test_counts_add_up_over_random_mixes(events: list[dict[str, Any]], until: str | None, future: str | None,
                                        stream: bool, window: str | None) -> None:
    """read = processed + skipped + after until + duplicates, each event counted once,
    whatever the groups of playbooks (two time zones, two key fields)."""
    engine = Engine([UTC_PB, NY_PB, USER_PB], max_future=future, dedupe_window=window)
    if stream:
        list(engine.stream([dict(e) for e in events], until=until))
    else:
        engine.run([dict(e) for e in events], until=until)
    read, total = _identity(engine)
    assert read == len(events)
    assert total == read


# -- #8: an invalid key for one playbook does not skip the event for the others -----------------

K2 = [
    {"id": "k1", "type": "login.failed", "time": "2026-03-01T10:00:00Z", "account": "x", "user": "u"},
    {"id": "k2", "type": "login.failed", "time": "2026-03-01T10:01:00Z", "account": "x", "user": ["u"]},
    {"id": "k3", "type": "login.failed", "time": "2026-03-01T10:02:00Z", "account": "x", "user": "u"},
]


def _of(actions: list[Any], playbook: str) -> list[tuple[str, str, Any]]:
    return [(a.rule, a.at, a.key) for a in actions if a.playbook == playbook]


def test_a_key_invalid_for_another_playbook_does_not_move_this_ones_actions() -> None:
    alone = Engine([UTC_PB]).run([dict(e) for e in K2])
    engine = Engine([UTC_PB, USER_PB])
    both = engine.run([dict(e) for e in K2])
    assert _of(alone, "sig2") == _of(both, "sig2")
    assert [a.record()["at"] for a in both] == ["2026-03-01T10:01:00Z", "2026-03-01T10:02:00Z"]
    assert [a.playbook for a in both] == ["sig2", "sig3"]
    s = engine.summary
    assert (s.events_read, s.events_processed, s.skipped_total) == (3, 3, 0)  # sig2 processed event 2


def test_a_key_invalid_for_every_playbook_is_skipped_once_with_its_reason() -> None:
    events = [dict(e) for e in K2]
    events[1]["account"] = {"id": "x"}
    engine = Engine([UTC_PB, USER_PB, NY_PB])
    engine.run(events)
    s = engine.summary
    assert (s.events_read, s.events_processed, s.skipped_total) == (3, 2, 1)
    (place, message), = s.skipped["invalid key"].samples
    assert place == "<event>" and message.startswith("invalid key: the key field 'account' must be")


def test_strict_still_stops_at_a_key_invalid_for_one_playbook() -> None:
    import pytest

    from engine import EngineError

    with pytest.raises(EngineError, match="invalid key: the key field 'user'"):
        Engine([UTC_PB, USER_PB], strict=True).run([dict(e) for e in K2])


key_event = st.fixed_dictionaries(
    {"type": st.just("login.failed"), "time": st.sampled_from(HOURS[:5])},
    optional={"account": st.sampled_from(["x", "y", ["x"], True]), "user": st.sampled_from(["u", 7, {"u": 1}])},
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(key_event, max_size=10), stream=st.booleans())
def test_each_playbook_acts_as_it_would_alone(events: list[dict[str, Any]], stream: bool) -> None:
    def actions(playbooks: list[Any]) -> list[Any]:
        engine = Engine(playbooks)
        given_events = [dict(e) for e in sorted(events, key=lambda e: e["time"].rstrip("Z"))]
        if stream:
            return list(engine.stream(given_events))
        return engine.run(given_events)

    both = actions([UTC_PB, USER_PB])
    assert _of(both, "sig2") == _of(actions([UTC_PB]), "sig2")
    assert _of(both, "sig3") == _of(actions([USER_PB]), "sig3")
