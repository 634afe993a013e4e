"""What a run tells about itself: counts, skips with their places, problems.

The CLI prints this to stderr; embedding tools read it from ``Engine.summary``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: How many example places are kept per kind of problem (counts are always exact).
MAX_SAMPLES = 20


@dataclass
class Problem:
    """A counted problem with a few example places (``file:line``) and messages."""

    count: int = 0
    samples: list[tuple[str, str]] = field(default_factory=list)

    def add(self, source: str | None, message: str) -> None:
        self.count += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append((source or "<event>", message))


@dataclass
class RuleStats:
    """Per rule: what did not become an action, and what is still open."""

    triggers_missing_same: int = 0
    triggers_ignored_open: int = 0   # overlap: first, an obligation already open
    triggers_unless: int = 0
    signals_unless: int = 0
    signals_suppressed_cooldown: int = 0
    signals_missing_group: int = 0
    expired: int = 0
    calendar_fallbacks: int = 0
    pending: int = 0          # open obligations at the end (not breached)
    overdue: int = 0          # breached obligations still waiting for a late fulfilment
    cadences_running: int = 0
    cadences_overdue: int = 0


@dataclass
class RunSummary:
    events_read: int = 0
    events_processed: int = 0
    skipped: dict[str, Problem] = field(default_factory=dict)
    without_key: int = 0
    after_until: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    actions_emitted: int = 0
    late_events: int = 0  # fed (streaming) with a time earlier than the clock
    #: Events read and processed although their input was damaged (invalid UTF-8, a duplicate
    #: key or CSV column, NaN/Infinity), by kind; ``strict`` refuses them instead.
    input_warnings: dict[str, Problem] = field(default_factory=dict)
    expression_errors: dict[str, Problem] = field(default_factory=dict)
    rules: dict[str, RuleStats] = field(default_factory=dict)
    first_time: int | None = None
    last_time: int | None = None
    until: int | None = None
    elapsed_seconds: float = 0.0

    _last_skip: int = -1
    _last_nokey: int = -1
    _last_after: int = -1

    def skip(self, reason: str, source: str | None, detail: str | None = None, serial: int = -1) -> None:
        """Count a skipped event once, however many playbooks skip it."""
        if serial >= 0:
            if serial == self._last_skip:
                return
            self._last_skip = serial
        self.skipped.setdefault(reason, Problem()).add(source, detail or reason)

    def after(self, serial: int) -> None:
        """Count an event after ``until`` once, however many groups of playbooks read it."""
        if serial < 0 or serial != self._last_after:
            self._last_after = serial
            self.after_until += 1

    def no_key(self, serial: int) -> None:
        if serial != self._last_nokey:
            self._last_nokey = serial
            self.without_key += 1

    def input_warning(self, note: str, source: str | None) -> None:
        """Count an event whose input had a problem (``note`` is ``"kind: detail"``)."""
        self.input_warnings.setdefault(note.split(":")[0], Problem()).add(source, note)

    def expression_error(self, where: str, source: str | None, message: str) -> None:
        self.expression_errors.setdefault(where, Problem()).add(source, message)

    def rule(self, key: str) -> RuleStats:
        stats = self.rules.get(key)
        if stats is None:
            stats = self.rules[key] = RuleStats()
        return stats

    @property
    def skipped_total(self) -> int:
        return sum(p.count for p in self.skipped.values())

    @property
    def pending(self) -> int:
        return sum(r.pending for r in self.rules.values())

    def to_dict(self) -> dict[str, Any]:
        from .timecalc import format_time

        return {
            "events_read": self.events_read,
            "events_processed": self.events_processed,
            "skipped": {k: {"count": p.count, "samples": [list(s) for s in p.samples]} for k, p in sorted(self.skipped.items())},
            "without_key": self.without_key,
            "after_until": self.after_until,
            "outcomes": dict(sorted(self.outcomes.items())),
            "actions": self.actions_emitted,
            "late_events": self.late_events,
            "input_warnings": {k: {"count": p.count, "samples": [list(s) for s in p.samples]}
                               for k, p in sorted(self.input_warnings.items())},
            "expression_errors": {k: {"count": p.count, "samples": [list(s) for s in p.samples]} for k, p in sorted(self.expression_errors.items())},
            "rules": {k: {f: v for f, v in vars(r).items() if v} for k, r in self.rules.items()},
            "first_time": None if self.first_time is None else format_time(self.first_time),
            "last_time": None if self.last_time is None else format_time(self.last_time),
            "until": None if self.until is None else format_time(self.until),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
        }
