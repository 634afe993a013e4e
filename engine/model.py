"""The compiled form of a playbook: frozen objects the runtime reads.

The compiler (``compiler.py``) builds these from validated YAML data; the
runtime (``runtime/``) never looks at raw YAML again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .expressions import TEMPLATE_NAMES, Expression, Scope, Template
from .timecalc import Duration

if TYPE_CHECKING:
    from .calendars import Calendar

Getter = Callable[[dict[str, Any]], Any]


def make_getter(path: str) -> Getter:
    """A fast reader of a (possibly dotted) field path of an event: missing is None."""
    if "." not in path:
        return lambda data: data.get(path)
    parts = tuple(path.split("."))

    def get(data: dict[str, Any]) -> Any:
        value: Any = data
        for part in parts:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    return get


@dataclass(frozen=True, slots=True)
class FieldMatch:
    """``match: {field: value-or-list}`` for one field."""

    path: str
    get: Getter
    test: Callable[[Any], bool]
    values: tuple[Any, ...] = ()  # the allowed values, as written (for explanations)


@dataclass(frozen=True, slots=True)
class Pattern:
    """An event pattern (section 7): type(s) or prefix globs, field equality, ``where``."""

    types: frozenset[str]
    prefixes: tuple[str, ...]
    match: tuple[FieldMatch, ...]
    where: Expression | None

    def accepts_type(self, event_type: str) -> bool:
        if event_type in self.types:
            return True
        return any(event_type.startswith(p) for p in self.prefixes)

    def fields_match(self, data: dict[str, Any]) -> bool:
        return all(fm.test(fm.get(data)) for fm in self.match)


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One action of an outcome: its kind and its parameters, compiled."""

    do: str
    index: int
    params: tuple[tuple[str, Callable[[Scope], Any]], ...]
    param_sources: tuple[tuple[str, Any], ...]  # for the report of a failing template
    names_used: frozenset[str] = frozenset(TEMPLATE_NAMES)  # the names its templates read


@dataclass(frozen=True, slots=True)
class CalendarChoice:
    """A rule's ``calendar:``: a fixed calendar, or a template evaluated per trigger/start;
    with ``{use: ..., timezone: ...}``, read in a time zone fixed or evaluated the same way."""

    fixed: Calendar | None
    template: Template | None
    default: Calendar | None
    calendars: dict[str, Calendar] = field(default_factory=dict)
    #: ``timezone:`` as a fixed IANA zone (``fixed`` is then already in it) ...
    zone: ZoneInfo | None = None
    #: ... or as a template giving one per trigger/start.
    zone_template: Template | None = None

    @property
    def templates(self) -> tuple[Template, ...]:
        """The templates evaluated to choose the calendar (for what they read)."""
        return tuple(t for t in (self.template, self.zone_template) if t is not None)


@dataclass(frozen=True, slots=True)
class DurationChoice:
    """A duration a rule takes per trigger (``within``, ``expire``, ``remind_before``):
    fixed, a table of cases keyed by an expression's value, or a template giving a duration text."""

    text: str  # as written (a duration, or a short description of the table / template)
    fixed: Duration | None = None
    by: Expression | None = None
    cases: dict[Any, Duration] = field(default_factory=dict)  # hashable(value) -> duration
    case_labels: tuple[tuple[Any, Duration], ...] = ()  # (value as written, duration), for explanations
    default: Duration | None = None
    template: Template | None = None

    @property
    def names_used(self) -> frozenset[str]:
        if self.by is not None:
            return self.by.names_used
        if self.template is not None:
            return self.template.names_used
        return frozenset()


@dataclass(frozen=True, slots=True)
class DeadlineAt:
    """``expect.deadline``: an instant a trigger carries (a template), moved by an offset."""

    at: Template
    at_text: str
    offset: Duration | None
    negative: bool  # the offset is written with '-': before the instant


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of ``on_progress``: at a percentage of the target, or a duration after the trigger."""

    index: int
    label: str  # ``at`` as written: "50%", "2h"
    percent: float | None
    duration: Duration | None
    actions: tuple[ActionSpec, ...]


@dataclass(frozen=True, slots=True)
class RuleBase:
    id: str
    index: int
    description: str | None
    enabled: bool
    actions: dict[str, tuple[ActionSpec, ...]]


@dataclass(frozen=True, slots=True)
class ResponseRule(RuleBase):
    when: Pattern
    unless: Expression | None
    expect: Pattern
    same: tuple[str, ...]
    same_getters: tuple[Getter, ...]
    within: Duration | None
    before: Pattern | None
    calendar: CalendarChoice | None
    overlap_each: bool
    expire_us: int
    #: Do obligations without a deadline (only ``before``) expire, ``expire`` after their
    #: trigger? Only when the rule writes ``expire``: in language version 1 they are kept
    #: until fulfilled or preempted, as the contract reads (a default would change results).
    expire_open: bool = False
    #: ``within`` given per trigger (a table or a template); ``within`` is then None.
    within_choice: DurationChoice | None = None
    #: ``expire`` given per trigger; ``expire_us`` is then the default's (unused).
    expire_choice: DurationChoice | None = None
    deadline: DeadlineAt | None = None
    remind_before: DurationChoice | None = None
    pause: Pattern | None = None
    resume: Pattern | None = None
    stages: tuple[Stage, ...] = ()
    kind: str = "response"

    @property
    def has_target(self) -> bool:
        """Do its obligations have a deadline (``within`` or ``deadline``)?"""
        return self.within is not None or self.within_choice is not None or self.deadline is not None


@dataclass(frozen=True, slots=True)
class CadenceRule(RuleBase):
    every: Duration
    start: Pattern
    stop: Pattern | None
    expect: Pattern
    remind_before: Duration | None
    calendar: CalendarChoice | None
    #: ``remind_before`` given per start (a table or a template); ``remind_before`` is then None.
    remind_choice: DurationChoice | None = None
    kind: str = "cadence"


@dataclass(frozen=True, slots=True)
class SignalRule(RuleBase):
    when: Pattern
    unless: Expression | None
    threshold_count: int | None
    threshold_within_us: int | None
    cooldown_us: int | None
    group_by: tuple[str, ...]
    group_getters: tuple[Getter, ...]
    kind: str = "signal"


Rule = ResponseRule | CadenceRule | SignalRule

COLLECT_KINDS = ("last", "first", "set", "count", "sum", "min", "max")


@dataclass(frozen=True, slots=True)
class Fact:
    name: str
    source: Pattern
    value: Expression | None  # None when the value is a constant
    constant: Any
    collect: str


@dataclass(frozen=True, slots=True)
class Playbook:
    """A compiled, validated playbook. Build one with :func:`engine.load_playbook`."""

    name: str
    version: int
    description: str | None
    owner: str | None
    file: str
    digest: str  # of the file's text
    settings_digest: str  # of what rules' state depends on, beyond the rules (facts, calendars, fields...)
    rule_digests: tuple[tuple[str, str], ...]  # (rule id, digest of what its state depends on: not its actions)
    timezone: tzinfo
    timezone_name: str
    key_field: str
    type_field: str
    time_field: str
    id_field: str
    calendars: dict[str, Calendar]
    default_calendar: Calendar | None
    facts: tuple[Fact, ...]
    rules: tuple[Rule, ...]
    #: Declared event shapes (``events:``): type -> field path -> allowed JSON types. Lint only.
    events: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    #: ``retention: {facts: ...}``: a key's facts are dropped this long after its last event (None: kept).
    facts_retention_us: int | None = None

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)
