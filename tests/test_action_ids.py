"""Action ids are the hash of what makes an action unique (section 9), stable across versions of the code path."""

from __future__ import annotations

import hashlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.actions import action_id, canonical_json

keys = st.one_of(st.text(), st.integers(), st.integers(2**63, 2**80), st.floats(allow_nan=False, allow_infinity=False))


def _defined(parts: tuple[Any, ...]) -> str:
    """The definition: sha256 of the canonical JSON of the parts, first 32 hex digits."""
    return hashlib.sha256(canonical_json(list(parts)).encode()).hexdigest()[:32]


@settings(max_examples=500, deadline=None)
@given(st.tuples(st.text(), st.text(), st.text(), st.integers(0, 9), keys, st.text(),
                 st.one_of(st.none(), st.text()), st.integers(-(2**62), 2**62)))
def test_action_id_is_the_hash_of_the_canonical_json_of_its_parts(parts: tuple[Any, ...]) -> None:
    assert action_id(*parts) == _defined(parts)


def test_a_lone_surrogate_or_a_long_integer_key_still_gets_the_defined_id() -> None:
    for key in ("\ud800", 2**70):
        parts = ("p", "r", "breach", 0, key, "{}", "e1", 1_772_460_000_000_000)
        assert action_id(*parts) == _defined(parts)
