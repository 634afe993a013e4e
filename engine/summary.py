"""What a run tells about itself: counts, skips with their places, problems.

The CLI prints this to stderr; embedding tools read it from ``Engine.summary``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: How many example places are kept per kind of problem (counts are always exact).
MAX_SAMPLES = 20

#: A run warns (``RunSummary.unused_warning``) when more than this share of the events
#: it read was skipped as invalid or had no key field: a wrong key field or a log
#: without ``type`` would otherwise end with no action and no sign of why.
UNUSED_WARN_SHARE = 0.10


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
    timezone_fallbacks: int = 0  # calendar: {timezone: ...} gave no known zone: the calendar's own used
    pending: int = 0          # open obligations at the end (not breached)
    overdue: int = 0          # breached obligations still waiting for a late fulfilment
    cadences_running: int = 0
    cadences_overdue: int = 0
    groups: int = 0           # signal rules: group_by groups held (cooldown or threshold window running)

    @property
    def open_state(self) -> int:
        """How much this rule holds in memory: obligations, running cadences, signal groups."""
        return self.pending + self.overdue + self.cadences_running + self.groups


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
    duplicates: Problem = field(default_factory=Problem)  # an id the engine processed before (Engine dedupe)
    time_outliers: Problem = field(default_factory=Problem)  # processed far beyond the rest of the log (a warning)
    #: Events read and processed although their input was damaged (invalid UTF-8, a duplicate
    #: key or CSV column, NaN/Infinity), by kind; ``strict`` refuses them instead.
    input_warnings: dict[str, Problem] = field(default_factory=dict)
    expression_errors: dict[str, Problem] = field(default_factory=dict)
    rules: dict[str, RuleStats] = field(default_factory=dict)
    # "playbook/rule" -> the triggers or starts whose calendar template named no declared
    # calendar (each counted in RuleStats.calendar_fallbacks too), with example places.
    calendar_fallbacks: dict[str, Problem] = field(default_factory=dict)
    # "playbook/rule" -> the triggers or starts whose calendar's timezone template gave no
    # known time zone (each counted in RuleStats.timezone_fallbacks too), with example places.
    timezone_fallbacks: dict[str, Problem] = field(default_factory=dict)
    first_time: int | None = None
    last_time: int | None = None
    until: int | None = None
    elapsed_seconds: float = 0.0

    _last_skip: int = -1
    _last_nokey: int = -1
    _last_duplicate: int = -1
    _last_outlier: int = -1
    _last_after: int = -1

    def skip(self, reason: str, source: str | None, detail: str | None = None, serial: int = -1) -> None:
        """Count a skipped event once, however many playbooks skip it."""
        if serial >= 0:
            if serial == self._last_skip:
                return
            self._last_skip = serial
        self.skipped.setdefault(reason, Problem()).add(source, detail or reason)

    def duplicate(self, source: str | None, message: str, serial: int = -1) -> None:
        """Count an event whose id was processed before, once however many playbooks see it."""
        if serial >= 0:
            if serial == self._last_duplicate:
                return
            self._last_duplicate = serial
        self.duplicates.add(source, message)

    def time_outlier(self, source: str | None, message: str, serial: int = -1) -> None:
        """Count an event far beyond the rest of the log in time, once however many playbooks see it."""
        if serial >= 0:
            if serial == self._last_outlier:
                return
            self._last_outlier = serial
        self.time_outliers.add(source, message)

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

    def calendar_fallback(self, rule: str, source: str | None, name: Any, used: str | None) -> None:
        """A rule's calendar template gave ``name``, not a declared calendar: ``used`` (a
        calendar's name, None for exact time) applied instead."""
        self.rule(rule).calendar_fallbacks += 1
        instead = f"default_calendar '{used}'" if used else "exact time (24/7)"
        gave = f"gave {name!r}, not a declared calendar" if name is not None else "gave no calendar name"
        self.calendar_fallbacks.setdefault(rule, Problem()).add(source, f"the calendar template {gave}: {instead} used")

    def calendar_warnings(self) -> list[str]:
        """One line per rule whose calendar template named an undeclared calendar, with
        example places; empty when there was none."""
        return _fallback_lines(self.calendar_fallbacks, "template named no declared calendar")

    def timezone_fallback(self, rule: str, source: str | None, value: Any, calendar: str, zone: str) -> None:
        """A rule's calendar timezone template gave ``value``, not a known IANA zone: the
        calendar ``calendar`` in its own zone ``zone`` applied instead."""
        self.rule(rule).timezone_fallbacks += 1
        gave = "gave no time zone" if value is None or value == "" else f"gave {value!r}, not an IANA time zone"
        self.timezone_fallbacks.setdefault(rule, Problem()).add(
            source, f"the calendar's timezone template {gave}: calendar '{calendar}' in its own zone {zone} used")

    def timezone_warnings(self) -> list[str]:
        """One line per rule whose calendar timezone template gave no known zone, with
        example places; empty when there was none."""
        return _fallback_lines(self.timezone_fallbacks, "timezone gave no known time zone")

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

    def most_open_state(self, n: int = 5) -> list[dict[str, Any]]:
        """The ``n`` rules holding the most open state (obligations, cadences, groups), largest first."""
        held = sorted(((r.open_state, name) for name, r in self.rules.items() if r.open_state), key=lambda x: (-x[0], x[1]))
        out = []
        for total, name in held[:n]:
            r = self.rules[name]
            out.append({"rule": name, "open": total, "obligations": r.pending + r.overdue,
                        "cadences": r.cadences_running, "groups": r.groups})
        return out

    @property
    def events_unused(self) -> int:
        """Events read that no rule or fact could use: skipped as invalid, or without a key."""
        return min(self.events_read, self.skipped_total + self.without_key)

    def describe_unused(self, key_fields: Iterable[str] = ()) -> str:
        """``N of M events (P%) were skipped or had no key field: ...``, with example places."""
        share = self.events_unused / self.events_read if self.events_read else 0.0
        fields = " or ".join(f"'{f}'" for f in dict.fromkeys(key_fields)) or "key"
        parts = [f"{self.events_unused:,} of {self.events_read:,} events ({share:.1%}) were skipped or had no "
                 f"key field: {self.skipped_total:,} skipped as invalid, {self.without_key:,} without the "
                 f"{fields} field"]
        for reason, problem in sorted(self.skipped.items(), key=lambda item: -item[1].count)[:3]:
            source, message = problem.samples[0]
            parts.append(f"  skipped ({reason}): {problem.count:,}, e.g. {source}: {message}")
        return "\n".join(parts)

    def unused_warning(self, key_fields: Iterable[str] = ()) -> str | None:
        """A warning when more than :data:`UNUSED_WARN_SHARE` of the events read were not used."""
        if not self.events_read or self.events_unused <= UNUSED_WARN_SHARE * self.events_read:
            return None
        return self.describe_unused(key_fields)

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
            "duplicates": {"count": self.duplicates.count, "samples": [list(s) for s in self.duplicates.samples]},
            "time_outliers": {"count": self.time_outliers.count, "samples": [list(s) for s in self.time_outliers.samples]},
            "input_warnings": {k: {"count": p.count, "samples": [list(s) for s in p.samples]}
                               for k, p in sorted(self.input_warnings.items())},
            "expression_errors": {k: {"count": p.count, "samples": [list(s) for s in p.samples]} for k, p in sorted(self.expression_errors.items())},
            "rules": {k: {f: v for f, v in vars(r).items() if v} for k, r in self.rules.items()},
            "most_open_state": self.most_open_state(),
            "calendar_fallbacks": {k: {"count": p.count, "samples": [list(s) for s in p.samples]} for k, p in sorted(self.calendar_fallbacks.items())},
            "timezone_fallbacks": {k: {"count": p.count, "samples": [list(s) for s in p.samples]} for k, p in sorted(self.timezone_fallbacks.items())},
            "first_time": None if self.first_time is None else format_time(self.first_time),
            "last_time": None if self.last_time is None else format_time(self.last_time),
            "until": None if self.until is None else format_time(self.until),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
        }


@dataclass(frozen=True)
class MaxSkipped:
    """A limit on the events a run may skip or find without a key (``--max-skipped``):
    a count (``"100"``) or a share of the events read (``"5%"``)."""

    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> MaxSkipped:
        """``"N"`` (events) or ``"P%"`` (of the events read); ValueError otherwise."""
        value = text.strip()
        try:
            if value.endswith("%"):
                percent = float(value[:-1])
                if not 0 <= percent <= 100:
                    raise ValueError
                return cls(percent=percent)
            count = int(value)
            if count < 0:
                raise ValueError
            return cls(count=count)
        except ValueError:
            raise ValueError(f"{text!r} is not a number of events (N) or a percentage of the events read "
                             "(P%, 0 to 100)") from None

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else f"{self.count}"

    def exceeded_by(self, summary: RunSummary) -> bool:
        """Did the run skip (or find without a key) more events than this allows?"""
        if self.percent is not None:
            return summary.events_unused * 100 > self.percent * summary.events_read
        return summary.events_unused > (self.count or 0)


def _fallback_lines(fallbacks: dict[str, Problem], what: str) -> list[str]:
    """One line per rule whose calendar choice fell back (``what`` says why), with example places."""
    lines = []
    for rule, problem in sorted(fallbacks.items()):
        n = problem.count
        lines.append(f"{rule}: {n:,} trigger{'s' if n != 1 else ''} or start{'s' if n != 1 else ''} whose calendar {what}")
        lines.extend(f"  {source}: {message}" for source, message in problem.samples[:3])
        if n > 3:
            lines.append(f"  ... and {n - 3:,} more")
    return lines
