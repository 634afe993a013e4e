"""Wording shared by every error message: what a value is, and what was probably meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from functools import cache
from typing import Any
from zoneinfo import available_timezones


def describe(value: Any) -> str:
    """A YAML/JSON value's kind in words: ``null``, ``a number``, ``a mapping``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def did_you_mean(word: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def suggest_timezone(name: str) -> str:
    """A "did you mean" for a time zone: case, spaces and bare city names forgiven."""
    zones = _timezones()
    by_lower = {z.lower(): z for z in zones}
    wanted = name.strip().replace(" ", "_").lower()
    if wanted in by_lower:
        # Never the name itself (a name the caller refused, such as 'localtime', suggests nothing).
        return f" (did you mean {by_lower[wanted]!r}?)" if by_lower[wanted] != name else ""
    tails = sorted(z for z in zones if z.lower().rsplit("/", 1)[-1] == wanted)
    if tails:
        return f" (did you mean {tails[0]!r}?)"
    match = difflib.get_close_matches(wanted, list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[match[0]]!r}?)" if match else ""
