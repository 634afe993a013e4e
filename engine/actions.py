"""Action records (section 9 of the contract): what a run produces.

An :class:`Action` keeps times as integer microseconds; :meth:`Action.record`
gives the JSON object users see. Ids and the sort key are computed once, when
the action is made, from exactly what the contract says makes it unique.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from .timecalc import format_time, parse_time

RECORD_FIELDS = (
    "id", "playbook", "rule", "outcome", "reason", "do", "at", "key",
    "subject", "deadline", "trigger", "event", "params",
)


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: the form used for hashing and ordering."""
    return dumps(value, sort_keys=True)


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON text of any event-derived value.

    orjson is fast but refuses integers beyond 64 bits, lone surrogates and
    very deep nesting, all of which a user's data may hold: those fall back to
    the json module (ASCII-escaped), and a value too deep even for it to its repr.
    """
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        return orjson.dumps(value, option=option, default=_default).decode()
    except (TypeError, orjson.JSONEncodeError):
        return _dumps_otherwise(value, sort_keys)


def dumps_utf8(value: Any) -> bytes:
    """:func:`dumps` as UTF-8 bytes (for large texts that go on as bytes: no decoding)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=_default)
    except (TypeError, orjson.JSONEncodeError):
        return _dumps_otherwise(value, False).encode()


def _dumps_otherwise(value: Any, sort_keys: bool) -> str:
    """What orjson refuses, through the json module (ASCII, so lone surrogates are escapes)."""
    try:
        return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), default=_default, allow_nan=True)
    except (RecursionError, ValueError, TypeError):
        return json.dumps(repr(value))


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=sort_token)
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def hashable(value: Any) -> Any:
    """A value usable in a dict key that keeps the language's equality (``true != 1``)."""
    kind = type(value)
    if kind is str or kind is int or kind is float:
        return value
    if kind is bool:
        return ("\0bool", value)
    return ("\0json", canonical_json(value))


def sort_token(value: Any) -> tuple[int, Any]:
    """A total order over JSON values of mixed types (null < bool < number < string < other)."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    return (4, canonical_json(value))


@dataclass(slots=True)
class EventRef:
    """The ``trigger``/``event`` of a record: the event's id, type and time."""

    id: str
    type: str
    time: int

    def record(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "time": format_time(self.time)}


@dataclass(slots=True)
class Action:
    """One action record. ``at`` and ``deadline`` are microseconds since the epoch."""

    id: str
    playbook: str
    rule: str
    outcome: str
    reason: str | None
    do: str
    at: int
    key: Any
    subject: dict[str, Any]
    deadline: int | None
    trigger: EventRef | None
    event: EventRef | None
    params: dict[str, Any]
    sort_key: tuple[Any, ...] = field(default=(), compare=False, repr=False)
    #: ``progress`` records: the stage (its ``at`` as written); None elsewhere (not in the record).
    stage: str | None = None
    #: Records of rules with ``pause``: the obligation's total paused time, in seconds; None elsewhere.
    paused_for: int | float | None = None

    def record(self) -> dict[str, Any]:
        """The action as the JSON object of section 9 (with ``stage`` and ``paused_for`` where they apply)."""
        rec = {
            "id": self.id,
            "playbook": self.playbook,
            "rule": self.rule,
            "outcome": self.outcome,
            "reason": self.reason,
            "do": self.do,
            "at": format_time(self.at),
            "key": self.key,
            "subject": self.subject,
            "deadline": None if self.deadline is None else format_time(self.deadline),
            "trigger": None if self.trigger is None else self.trigger.record(),
            "event": None if self.event is None else self.event.record(),
            "params": self.params,
        }
        if self.stage is not None or self.paused_for is not None:
            rec.update(self.extra())
        return rec

    def extra(self) -> dict[str, Any]:
        """The fields only some records have: ``stage`` (progress), ``paused_for`` (rules with ``pause``)."""
        if self.stage is None and self.paused_for is None:
            return {}
        extra: dict[str, Any] = {}
        if self.stage is not None:
            extra["stage"] = self.stage
        if self.paused_for is not None:
            extra["paused_for"] = self.paused_for
        return extra

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Action:
        """An action back from its record (section 9), e.g. a line of a ledger."""

        def ref(r: dict[str, Any] | None) -> EventRef | None:
            return None if r is None else EventRef(r["id"], r["type"], parse_time(r["time"]))

        return cls(rec["id"], rec["playbook"], rec["rule"], rec["outcome"], rec["reason"], rec["do"],
                   parse_time(rec["at"]), rec["key"], rec["subject"],
                   None if rec["deadline"] is None else parse_time(rec["deadline"]),
                   ref(rec["trigger"]), ref(rec["event"]), rec["params"],
                   stage=rec.get("stage"), paused_for=rec.get("paused_for"))

    def to_json(self) -> str:
        """One line of JSON Lines output (compact, keys in record order)."""
        return dumps(self.record())


def action_id(playbook: str, rule: str, outcome: str, index: int, key: Any,
              subject_json: str, trigger_id: str | None, at: int) -> str:
    """The stable id of an action: a hash of what makes it unique."""
    parts = [playbook, rule, outcome, index, key, subject_json, trigger_id, at]
    try:
        material = orjson.dumps(parts)  # what canonical_json gives for a list of plain values, as bytes
    except (TypeError, orjson.JSONEncodeError):
        material = canonical_json(parts).encode()
    return hashlib.sha256(material).hexdigest()[:32]
