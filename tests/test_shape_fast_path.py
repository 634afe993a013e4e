"""The shape checker's fast path never passes an event the full check would fault."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import load_playbook
from engine.lint import ShapeChecker, check_event
from tests.conftest import ROOT

SHIPPED = load_playbook(str(ROOT / "playbooks" / "us-retention.yaml"))
FIELDS = sorted({name.split(".")[0] for shape in SHIPPED.events.values() for name in shape} | {"account", "id", "extra"})
values = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False), st.text(max_size=3),
                   st.lists(st.integers(), max_size=2), st.dictionaries(st.sampled_from(["value_usd", "x"]), st.integers(), max_size=2))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(SHIPPED.events)), st.dictionaries(st.sampled_from(FIELDS), values, max_size=8))
def test_fast_path_agrees_with_the_full_check(etype: str, fields: dict[str, Any]) -> None:
    event = {**fields, "type": etype, "time": "2026-01-01T00:00:00Z"}
    checker = ShapeChecker(SHIPPED)
    assert checker.check(event) == check_event(SHIPPED, event)
    # One checker for every example: what it remembers of earlier events' keys and types must not show.
    assert SHARED.check(event) == check_event(SHIPPED, event)


SHARED = ShapeChecker(SHIPPED)


def test_a_fitting_event_takes_the_fast_path_and_fits() -> None:
    event = {"id": "e1", "type": "vendor.reply", "time": "2026-01-06T15:20:00Z", "account": "acme"}
    shape = SHIPPED.events["vendor.reply"]
    for name, kinds in shape.items():
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        event[name] = {"string": "x", "integer": 1, "number": 1.5, "boolean": True}.get(kinds[0], "x")
    checker = ShapeChecker(SHIPPED)
    assert checker.check(event) == [] and check_event(SHIPPED, event) == []


def test_an_event_with_the_keys_of_a_fitting_one_but_other_types_is_checked_again() -> None:
    checker = ShapeChecker(SHIPPED)
    fits = {"id": "e1", "type": "vendor.reply", "time": "2026-01-06T15:20:00Z", "account": "acme",
            "thread_id": "t1", "channel": "email", "agent": "sam"}
    assert checker.check(fits) == []
    misfit = {**fits, "thread_id": 7}
    assert checker.check(misfit) == check_event(SHIPPED, misfit) != []
    assert checker.check(fits) == []
