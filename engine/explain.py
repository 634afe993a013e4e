"""Why a rule did (or did not) act for a key: ``playbook explain``.

An explanation is built from the outside of the engine, in two halves:

* the **outcomes** come from the engine itself. The rule is run alone, with one
  extra probe action appended to every outcome it can have, so that each
  outcome is seen (even those without actions, such as ``met`` with no
  ``on_met``) with its trigger, event, time, deadline and reason. The probe
  goes last, so the real actions keep their index, ids and parameters;
* the **reasons** come from evaluating the rule's compiled pieces again on the
  key's events: the pattern's type, each ``match`` field, ``where`` (down to the
  first false conjunct of an ``and``, with the values of the fields it reads),
  ``same``, ``unless``; and, from the state the outcomes imply, ``overlap``,
  cooldowns and threshold windows.

Facts are read from the engine after each event (``Engine.facts``), so a
``where`` or ``unless`` sees exactly what the rule saw. Where the
re-evaluation and the engine disagree, the engine wins and a note says so.

For response rules the engine also tells what each obligation did between its
outcomes, through the runtime's tracer (``ResponseRuntime.tracer``): the
obligations it opened (with the deadline and the target it chose), the pauses
and resumes that froze and restarted its clock, and the expiries that dropped
it. A trigger whose target could not be chosen is known by the expression error
the engine reported for it.
"""

from __future__ import annotations

import ast
import difflib
import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from .actions import Action, canonical_json
from .calendars import zone_named
from .engine import Engine
from .errors import UsageError
from .expressions import PATTERN_NAMES, EvalError, ExprError, Expression, Scope, compile_expression, truthy
from .messages import did_you_mean
from .model import (
    ActionSpec,
    CadenceRule,
    CalendarChoice,
    DurationChoice,
    Pattern,
    Playbook,
    ResponseRule,
    Rule,
    SignalRule,
    make_getter,
)
from .output import safe_text
from .runtime import EventIds
from .runtime.context import Ev, hashable, trigger_scope
from .runtime.context import reads_prev as playbook_reads_prev
from .runtime.response import ResponseRuntime
from .sources import SourceEvent, event_problem
from .timecalc import Duration, TimeError, format_duration, format_local, format_time, parse_time

if TYPE_CHECKING:
    from .calendars import Calendar
    from .runtime.context import RunContext
    from .runtime.response import Obligation

#: The ``do`` of the probe action: no playbook can produce it (a NUL byte).
PROBE = "\0explain-probe"
OUTCOMES = {"response": ("due_soon", "breach", "met", "late"), "cadence": ("due_soon", "breach", "met", "late"), "signal": ("match",)}
#: The roles an event can play, in words.
ROLE_NAMES = {"trigger": "trigger", "fulfil": "fulfilment", "preempt": "preemption", "pause": "pause", "resume": "resume",
              "start": "start", "stop": "stop", "expect": "qualifying event", "signal": "signal"}
#: The parts of a response rule that choose an obligation's target at its trigger.
TARGET_PARTS = ("expect.within", "expect.deadline", "expire", "remind_before")
#: How many nearest misses ``--why-not`` shows.
MAX_MISSES = 5


# -- the explanation, as data -----------------------------------------------------------------


@dataclass
class Check:
    """One part of a rule's test on one event: passed or not, and why, in words."""

    part: str   # type, match, where, same, unless, group_by, overlap, cooldown, threshold, cadence
    ok: bool
    text: str
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"part": self.part, "ok": self.ok, "text": self.text}
        if self.field is not None:
            out["field"] = self.field
        return out


@dataclass
class Item:
    """An event as explain sees it: its place in the input and its parsed time."""

    serial: int
    id: str
    type: str
    t: int
    source: str | None
    data: dict[str, Any]
    key: Any = None
    facts: dict[str, Any] = field(default_factory=dict)
    prev_facts: dict[str, Any] | None = None  # the key's facts before this event (``prev.facts``)
    duplicate: bool = False  # the engine skipped it: its id was processed before

    def label(self) -> str:
        where = f" ({self.source})" if self.source else ""
        return f"{self.type} {self.id}{where}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "time": format_time(self.t), "source": self.source}


@dataclass
class Outcome:
    """An outcome the engine produced, with the real actions it emitted."""

    outcome: str
    at: int
    reason: str | None
    deadline: int | None
    trigger_id: str | None
    event_id: str | None
    subject: dict[str, Any]
    actions: list[dict[str, Any]] = field(default_factory=list)
    stage: str | None = None  # a progress outcome's stage (its ``at`` as written)

    def describe(self) -> str:
        text = self.outcome + (f" ({self.reason})" if self.reason else "")
        return text

    def to_dict(self) -> dict[str, Any]:
        out = {
            "outcome": self.outcome,
            "reason": self.reason,
            "at": format_time(self.at),
            "deadline": None if self.deadline is None else format_time(self.deadline),
            "actions": self.actions,
        }
        if self.stage is not None:
            out["stage"] = self.stage
        return out


@dataclass
class Step:
    """One line of a timeline: an event the rule considered, or an instant that passed."""

    at: int
    kind: str                    # event, deadline, due_soon, due, expired
    text: str                    # what happened, in words
    counted: bool                # did the event play the role (or the instant fire)?
    event: Item | None = None
    role: str | None = None      # trigger, fulfil, preempt, start, stop, expect, signal
    checks: list[Check] = field(default_factory=list)
    outcome: Outcome | None = None
    extra: list[str] = field(default_factory=list)  # further lines (a deadline, a next due)

    @property
    def failing(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_dict(self, tz: tzinfo) -> dict[str, Any]:
        return {
            "at": format_time(self.at),
            "kind": self.kind,
            "role": self.role,
            "counted": self.counted,
            "text": self.text,
            "event": None if self.event is None else self.event.to_dict(),
            "checks": [c.to_dict() for c in self.checks],
            "outcome": None if self.outcome is None else self.outcome.to_dict(),
            "notes": list(self.extra),
        }


@dataclass
class Unit:
    """An obligation, a cadence run or a signal group: what one timeline follows."""

    kind: str                    # obligation, cadence, group
    number: int
    subject: dict[str, Any]
    opened: Item | None
    steps: list[Step] = field(default_factory=list)
    status: str = ""
    deadline: int | None = None
    calendar: str | None = None
    tz: tzinfo | None = None
    # state while walking
    state: str = "open"
    breach_at: int | None = None
    trigger: Item | None = None
    due: int | None = None
    cal: Calendar | None = None
    ob: Any = None                       # the engine's obligation (response rules)
    paused_at: int | None = None         # paused since (response rules with pause)
    last_firing: int | None = None
    window: deque[int] = field(default_factory=deque)

    def title(self) -> str:
        subject = ", ".join(f"{k}={_show(v)}" for k, v in self.subject.items())
        return f"{self.kind} {self.number}" + (f"  {subject}" if subject else "")

    def to_dict(self, tz: tzinfo) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "number": self.number,
            "subject": self.subject,
            "opened_by": None if self.opened is None else self.opened.to_dict(),
            "status": self.status,
            "steps": [s.to_dict(tz) for s in self.steps],
        }
        if self.kind == "obligation":
            out["deadline"] = None if self.deadline is None else format_time(self.deadline)
            out["deadline_local"] = None if self.deadline is None else format_local(self.deadline, self.tz or tz)
            out["calendar"] = self.calendar
        if self.kind == "cadence":
            out["calendar"] = self.calendar
        return out


@dataclass
class KeyReport:
    """Everything the rule did with one key's events."""

    key: Any
    units: list[Unit] = field(default_factory=list)
    other: list[Step] = field(default_factory=list)     # considered, counted nowhere
    actions: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    why_not: list[str] = field(default_factory=list)
    misses: list[Step] = field(default_factory=list)
    misses_total: int = 0
    notes: list[str] = field(default_factory=list)     # where explain and the engine disagree

    def to_dict(self, tz: tzinfo) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "units": [u.to_dict(tz) for u in self.units],
            "not_counted": [s.to_dict(tz) for s in self.other],
            "outcomes": {o: sum(1 for x in self.outcomes if x.outcome == o) for o in sorted({x.outcome for x in self.outcomes})},
            "actions": self.actions,
            "notes": self.notes,
        }
        if self.why_not or self.misses:
            out["why_not"] = {"reasons": self.why_not, "nearest_misses": [s.to_dict(tz) for s in self.misses],
                              "misses_total": self.misses_total}
        return out


@dataclass
class Explanation:
    playbook: str
    file: str
    rule: str
    kind: str
    enabled: bool
    summary: list[tuple[str, str]]      # (label, text) lines describing the rule
    until: int | None
    events_read: int
    tz: tzinfo
    keys: list[KeyReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    why_not: bool = False
    key_filter: str | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "playbook": self.playbook,
            "file": self.file,
            "rule": self.rule,
            "kind": self.kind,
            "enabled": self.enabled,
            "rule_summary": {label: text for label, text in self.summary},
            "until": None if self.until is None else format_time(self.until),
            "events": self.source,
            "events_read": self.events_read,
            "keys": [k.to_dict(self.tz) for k in self.keys],
            "notes": self.notes,
        }

    def to_json(self) -> str:
        # A lone surrogate from event data becomes its JSON escape: writable, and read back the same.
        return safe_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2, default=str)) + "\n"

    def to_text(self) -> str:
        return safe_text(render_text(self))


# -- values in words -----------------------------------------------------------------------------


def _show(value: Any) -> str:
    if value is None:
        return "null"
    try:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    except (TypeError, ValueError):
        return repr(value)


def _one_of(values: tuple[Any, ...]) -> str:
    if len(values) == 1:
        return _show(values[0])
    return "one of " + ", ".join(_show(v) for v in values)


def describe_pattern(p: Pattern) -> str:
    types = sorted(p.types) + [prefix + "*" for prefix in p.prefixes]
    parts = [" | ".join(types)]
    for fm in p.match:
        parts.append(f"{fm.path} {'=' if len(fm.values) == 1 else 'in'} "
                     f"{_show(fm.values[0]) if len(fm.values) == 1 else '[' + ', '.join(_show(v) for v in fm.values) + ']'}")
    if p.where is not None:
        parts.append(f"where {p.where.source.strip()}")
    return "; ".join(parts)


def _types_text(p: Pattern) -> str:
    types = sorted(p.types) + [prefix + "*" for prefix in p.prefixes]
    return types[0] if len(types) == 1 else "one of " + ", ".join(types)


def _local(us: int, tz: tzinfo) -> str:
    fmt = "%a %Y-%m-%d %H:%M:%S %Z" if us % 60_000_000 else "%a %Y-%m-%d %H:%M %Z"
    return format_local(us, tz, fmt)


def _when(us: int, tz: tzinfo) -> str:
    """An instant in local time and in UTC."""
    return f"{_local(us, tz)} = {format_time(us)}"


# -- evaluating the pieces ---------------------------------------------------------------------


def _parse(source: str) -> tuple[ast.expr, str] | None:
    text = source.strip()
    for candidate in (text, "(" + text + "\n)"):
        try:
            return ast.parse(candidate, mode="eval").body, candidate
        except SyntaxError:
            continue
    return None


def _paths(node: ast.AST, text: str) -> list[str]:
    """The field paths an expression reads (``roi.value_usd``, ``facts.tier``), as written."""
    out: list[str] = []

    def chain(n: ast.AST) -> bool:
        if isinstance(n, ast.Name):
            return n.id not in ("true", "false", "null", "True", "False", "None")
        if isinstance(n, ast.Attribute):
            return chain(n.value)
        if isinstance(n, ast.Subscript):
            return isinstance(n.slice, ast.Constant) and chain(n.value)
        return False

    def walk(n: ast.AST) -> None:
        if chain(n):
            seg = ast.get_source_segment(text, n)
            if seg and seg not in out:
                out.append(seg)
            return
        if isinstance(n, ast.Call):
            for a in n.args:
                walk(a)
            return
        for child in ast.iter_child_nodes(n):
            walk(child)

    walk(node)
    return out


def _values_text(source: str, scope: Scope, reserved: frozenset[str] = PATTERN_NAMES) -> str:
    parsed = _parse(source)
    if parsed is None:
        return ""
    node, text = parsed
    shown = []
    for path in _paths(node, text)[:4]:
        try:
            value = compile_expression(path, reserved).evaluate(scope)
        except (ExprError, EvalError):
            continue
        if isinstance(value, (dict, list)) and len(_show(value)) > 60:
            continue
        shown.append(f"{path} = {_show(value)}")
    return f" ({', '.join(shown)})" if shown else ""


def _first_false_conjunct(source: str, scope: Scope) -> str | None:
    """In ``a and b and c`` that is false, the first part that is false (as written)."""
    parsed = _parse(source)
    if parsed is None:
        return None
    node, text = parsed
    if not (isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And)):
        return None
    for part in node.values:
        seg = ast.get_source_segment(text, part)
        if seg is None:
            return None
        try:
            if not truthy(compile_expression(seg, PATTERN_NAMES).evaluate(scope)):
                return seg
        except (ExprError, EvalError):
            return seg
    return None


def _expression_check(part: str, expr: Expression, scope: Scope, *, want: bool = True) -> Check:
    """Evaluate a ``where`` (want true) or an ``unless`` (want false), with the values it read."""
    src = " ".join(expr.source.split())
    try:
        value = truthy(expr.evaluate(scope))
    except EvalError as exc:
        # A failing expression counts as false, for where and unless alike.
        return Check(part, not want, f'{part} "{src}" failed: {exc.message} (counts as false)')
    ok = value == want
    if value and part == "unless":
        return Check(part, ok, f'unless "{src}" is true{_values_text(src, scope)}')
    if value:
        return Check(part, ok, f'{part} "{src}" is true')
    culprit = _first_false_conjunct(src, scope)
    if culprit is not None and culprit != src:
        return Check(part, ok, f'{part} "{src}": "{culprit}" is false{_values_text(culprit, scope)}')
    return Check(part, ok, f'{part} "{src}" is false{_values_text(src, scope)}')


class _Evaluator:
    def __init__(self, playbook: Playbook):
        self.tz = playbook.timezone

    def scope(self, item: Item, trigger: Item | None) -> Scope:
        return Scope(
            {"event": item.data, "trigger": (trigger or item).data, "facts": item.facts, "key": item.key,
             "prev": {"facts": item.facts if item.prev_facts is None else item.prev_facts}},
            item.data,
            self.tz,
        )

    def pattern(self, p: Pattern, item: Item, trigger: Item | None = None, *, force: bool = False) -> list[Check]:
        """Type, each match field, then where. After a wrong type only with ``force``."""
        ok = p.accepts_type(item.type)
        checks = [Check("type", ok, f'type is "{item.type}"' + ("" if ok else f", not {_types_text(p)}"))]
        if not ok and not force:
            return checks
        for fm in p.match:
            value = fm.get(item.data)
            good = fm.test(value)
            text = f"{fm.path} is {'missing' if value is None else _show(value)}"
            checks.append(Check("match", good, text if good else f"{text}, not {_one_of(fm.values)}", fm.path))
        if p.where is not None:
            checks.append(_expression_check("where", p.where, self.scope(item, trigger)))
        return checks

    def unless(self, expr: Expression | None, item: Item) -> Check | None:
        if expr is None:
            return None
        return _expression_check("unless", expr, self.scope(item, None), want=False)


def _same_check(fields: tuple[str, ...], item: Item, trigger: Item) -> Check | None:
    for path in fields:
        get = make_getter(path)
        mine, theirs = get(item.data), get(trigger.data)
        if mine is None:
            return Check("same", False, f"{path} is missing (same: it must equal the trigger's {_show(theirs)})", path)
        if hashable(mine) != hashable(theirs):
            return Check("same", False, f"{path} is {_show(mine)}, the trigger's is {_show(theirs)} (same)", path)
    if not fields:
        return None
    return Check("same", True, ", ".join(f"{p} = {_show(make_getter(p)(item.data))}" for p in fields) + " (same)")


def _add(t: int, duration: Duration, calendar: Calendar | None) -> int:
    return t + duration.exact_us if calendar is None else calendar.add(t, duration)


def _calendar(choice: CalendarChoice | None, item: Item, tz: tzinfo) -> tuple[Calendar | None, str]:
    """The calendar a trigger or start uses, and words for it (" on calendar x", or why not)."""
    if choice is None:
        return None, ""
    scope = Scope({"event": item.data, "trigger": item.data, "facts": item.facts, "key": item.key}, item.data, tz)
    name: Any = None
    if choice.template is None:
        cal = choice.fixed
    else:
        try:
            name = choice.template.render(scope)
        except EvalError:
            name = None
        cal = choice.calendars.get(name) if isinstance(name, str) else None
    found = choice.template is None or cal is not None
    if not found:
        cal = choice.default
    cal, zone_words = _in_zone(choice, cal, scope)
    if found:
        return cal, "" if cal is None else f" on calendar {cal.name}{zone_words}"
    used = f"on default_calendar {cal.name}" if cal else "exact time"
    return cal, f"; {used}: the calendar template gave {_show(name)}, not a declared calendar{zone_words}"


def _choice_text(choice: CalendarChoice) -> str:
    """A rule's ``calendar:`` in words: the name or template, and the zone's template."""
    text = choice.template.source if choice.template else choice.fixed.name if choice.fixed else "?"
    if choice.zone_template is not None:
        text += f" in the time zone {choice.zone_template.source}"
    elif choice.zone is not None and choice.template is not None:
        text += f" in {choice.zone.key}"
    return text


def _in_zone(choice: CalendarChoice, cal: Calendar | None, scope: Scope) -> tuple[Calendar | None, str]:
    """``cal`` read in the choice's time zone, as the run reads it, and words for a fallback."""
    if cal is None or (choice.zone is None and choice.zone_template is None):
        return cal, ""
    if choice.zone is not None:
        return cal.in_zone(choice.zone), ""
    assert choice.zone_template is not None
    try:
        value = choice.zone_template.render(scope)
    except EvalError:
        value = None
    zone = zone_named(value)
    if zone is None:
        return cal, f"; in its own zone {cal.tz.key}: the timezone template gave {_show(value)}, not an IANA time zone"
    return cal.in_zone(zone), ""


# -- running --------------------------------------------------------------------------------------


def _probe_rule(rule: Rule) -> Rule:
    actions = {}
    for outcome in OUTCOMES[rule.kind]:
        specs = rule.actions.get(outcome, ())
        actions[outcome] = (*specs, ActionSpec(PROBE, len(specs), (), ()))
    if isinstance(rule, ResponseRule) and rule.stages:
        stages = tuple(replace(st, actions=(*st.actions, ActionSpec(PROBE, len(st.actions), (), ()))) for st in rule.stages)
        return replace(rule, actions=actions, enabled=True, stages=stages)
    return replace(rule, actions=actions, enabled=True)


@dataclass
class _Traced:
    """What the engine told explain an obligation did (``ResponseRuntime.tracer``), as it was then."""

    what: str                    # open, pause, resume, expire
    ob: Obligation
    at: int
    event_id: str | None         # the event that opened it (open)
    deadline: int | None
    target: int | None           # measured time from the trigger to the first deadline
    consumed: int                # measured time the clock had run when it last stopped or started
    paused_us: int               # paused time of the pauses that ended
    calendar: Calendar | None
    expire_us: int
    paused_at: int | None = None  # resume, expire: where the pause began
    words: list[str] = field(default_factory=list)  # open: how the target was chosen
    used: bool = False


def _chosen_words(choice: DurationChoice, chosen: str, scope: Scope) -> str:
    """How a table or a template gave ``chosen`` for a trigger (evaluated as the engine did, in its scope)."""
    if choice.fixed is not None:
        return chosen
    try:
        if choice.by is not None:
            value = choice.by.evaluate(scope)
            by = " ".join(choice.by.source.split())
            try:
                case = hashable(value) in choice.cases
            except TypeError:
                case = False
            if case:
                return f"{chosen} by {by}: {_show(value)}"
            return f"{chosen}: the default, no case for {by} = {_show(value)}"
        assert choice.template is not None
        return f"{chosen}: the template {_show(choice.text)} gave {_show(choice.template.render(scope))}"
    except EvalError:
        return chosen


def _open_words(rule: ResponseRule, run: RunContext, ob: Obligation, ev: Ev, within: Duration | None) -> list[str]:
    """How an obligation's target was chosen at its trigger: the table's case, the template's value, the date."""
    scope = trigger_scope(run, ev, ob.key)
    words = [""]  # the target's words first (none for a fixed within), then the other choices
    if rule.within_choice is not None and within is not None:
        words[0] = "within " + _chosen_words(rule.within_choice, within.text, scope)
    if rule.deadline is not None:
        spec = rule.deadline
        try:
            value = spec.at.render(scope)
            at = f" = {format_time(parse_time(value, run.tz))}"
        except (EvalError, TimeError):
            value, at = None, ""
        offset = "" if spec.offset is None else f", offset {'-' if spec.negative else '+'}{spec.offset.text}"
        words[0] = f"deadline.at {_show(spec.at_text)} gave {_show(value)}{at}{offset}"
    if rule.expire_choice is not None and rule.expire_choice.fixed is None:
        words.append("expire " + _chosen_words(rule.expire_choice, format_duration(ob.expire_us / 1e6), scope))
    if rule.remind_before is not None and rule.remind_before.fixed is None and ob.remind is not None:
        words.append("remind_before " + _chosen_words(rule.remind_before, ob.remind.text, scope))
    return words


def _tracer(rule: ResponseRule, run: RunContext, out: dict[Any, list[_Traced]]) -> Any:
    """The observer explain attaches to the rule's runtime: a snapshot of each obligation at each change."""

    def trace(what: str, ob: Obligation, at: int, ev: Ev | None, details: dict[str, Any]) -> None:
        rec = _Traced(what, ob, at, ev.id if ev is not None else None, ob.deadline, ob.target, ob.consumed,
                      ob.paused_us, ob.calendar, ob.expire_us, details.get("paused_at"))
        if what == "open" and ev is not None:
            rec.words = _open_words(rule, run, ob, ev, details.get("within"))
        out.setdefault(hashable(ob.key), []).append(rec)

    return trace


def _key_text(value: Any) -> str:
    return value if isinstance(value, str) else _show(value)


def explain(
    playbook: Playbook,
    events: Iterable[Mapping[str, Any] | SourceEvent],
    rule_id: str,
    *,
    key: str | None = None,
    subject: Mapping[str, str] | None = None,
    until: str | int | float | None = None,
    why_not: bool = False,
    source: str | None = None,
) -> Explanation:
    """Explain what ``rule_id`` did with each key's events (or one key's).

    ``subject`` keeps the obligations or signal groups whose subject has these
    values (compared as text); ``why_not`` adds, for a key the rule produced no
    action for, the reasons and the nearest misses. Raises :class:`UsageError`
    for an unknown rule or subject field.
    """
    ids = [r.id for r in playbook.rules]
    if rule_id not in ids:
        raise UsageError(f"no rule {rule_id!r} in playbook {playbook.name}{did_you_mean(rule_id, ids)}; its rules: {', '.join(ids)}")
    rule = playbook.rule(rule_id)
    subject = dict(subject or {})
    fields = _subject_fields(rule)
    for name in subject:
        if name not in fields:
            have = f"its subject fields are {', '.join(fields)}" if fields else "it has no subject fields (a cadence's subject is {})"
            raise UsageError(f"--subject {name}: rule {rule_id} has no subject field {name!r}; {have}")
    if why_not and key is None:
        raise UsageError("--why-not needs --key: say which key the rule produced no action for")

    engine = Engine([replace(playbook, rules=(_probe_rule(rule),))])
    traces: dict[Any, list[_Traced]] = {}
    target_errors: dict[tuple[str, int], str] = {}  # (event id, time) -> why its target could not be chosen
    if isinstance(rule, ResponseRule):
        runtime = engine._runs[0].runtimes[0]
        assert isinstance(runtime, ResponseRuntime)
        run = runtime.run
        runtime.tracer = _tracer(rule, run, traces)
        original = run.expression_error
        parts = {f"{rule.id} {part}": part for part in TARGET_PARTS}

        def expression_error(where: str, ev: Ev | None, message: str) -> None:
            if ev is not None and where in parts:
                target_errors.setdefault((ev.id, ev.t), f"{parts[where]}: {message}")
            original(where, ev, message)

        run.expression_error = expression_error  # type: ignore[method-assign]
    limit = None if until is None else engine.parse_until(until)
    items, read = _read(playbook, events)
    get_key = make_getter(playbook.key_field)
    reads_prev = playbook_reads_prev(playbook)
    patterns = _patterns(rule)
    key_of: dict[str, Any] = {}
    per_key: dict[Any, list[Item]] = {}
    near: dict[Any, list[Item]] = {}
    probes: dict[Any, list[tuple[int, Action]]] = {}   # key -> (serial of the event being fed, probe)
    real: dict[Any, list[Action]] = {}
    wanted_types = sorted({t for p in patterns for t in p.types})

    def collect(actions: list[Action], serial: int) -> None:
        for a in actions:
            hk = hashable(a.key)
            if a.do == PROBE:
                probes.setdefault(hk, []).append((serial, a))
            else:
                real.setdefault(hk, []).append(a)

    for item in items:
        if limit is not None and item.t > limit:
            continue
        k = get_key(item.data)
        before = engine.facts(k) if reads_prev and isinstance(k, (str, int, float)) and not isinstance(k, bool) else None
        copies = engine.summary.duplicates.count
        collect(engine.feed(item.data, item.source), item.serial)
        item.duplicate = engine.summary.duplicates.count > copies  # skipped by the engine, as by run
        if k is None or isinstance(k, bool) or not isinstance(k, (str, int, float)):
            continue
        text = _key_text(k)
        key_of.setdefault(text, k)
        if key is not None and text != key:
            continue
        item.key = k
        relevant = any(p.accepts_type(item.type) for p in patterns)
        if relevant or (why_not and difflib.get_close_matches(item.type, wanted_types, n=1, cutoff=0.75)):
            item.facts = engine.facts(k)
            item.prev_facts = before
            (per_key if relevant else near).setdefault(hashable(k), []).append(item)
    if limit is None:
        limit = engine.newest  # where run ends by default: duplicates' times count, as in run
    if limit is not None:
        collect(engine.advance(format_time(limit)), -1)

    tz = playbook.timezone
    summary = _rule_summary(rule, playbook)
    result = Explanation(playbook.name, playbook.file, rule.id, rule.kind, rule.enabled, summary, limit, read, tz,
                         why_not=why_not, key_filter=key, source=source)
    if not rule.enabled:
        result.notes.append(f"rule {rule.id} is disabled (enabled: false): run produces none of this; "
                            "below is what it would do if enabled")
    for where, problem in sorted(engine.summary.expression_errors.items()):
        for source, message in problem.samples[:3]:
            counted = "" if where.endswith(TARGET_PARTS) else " (counted as false/null)"
            result.notes.append(f"expression error in {where} at {source}: {message}{counted}")

    if key is not None:
        selected = [key_of[key]] if key in key_of else []
        if not selected:
            report = KeyReport(key)
            hint = did_you_mean(key, list(key_of))
            report.why_not.append(f"no event has {playbook.key_field} = {_show(key)}{hint}")
            result.keys.append(report)
            return result
    else:
        selected = sorted({it.key for its in per_key.values() for it in its}, key=_key_text)
    walker = {"response": _ResponseWalk, "cadence": _CadenceWalk, "signal": _SignalWalk}[rule.kind]
    for k in selected:
        hk = hashable(k)
        walk = walker(playbook, rule, k, per_key.get(hk, []), probes.get(hk, []), real.get(hk, []), limit)
        if isinstance(walk, _ResponseWalk):
            walk.trace = traces.get(hk, [])
            walk.target_errors = target_errors
        report = walk.run()
        _filter_subject(report, subject)
        if why_not:
            _why_not(report, rule, playbook, near.get(hk, []), limit, subject)
        result.keys.append(report)
    return result


def _subject_fields(rule: Rule) -> tuple[str, ...]:
    if isinstance(rule, ResponseRule):
        return rule.same
    if isinstance(rule, SignalRule):
        return rule.group_by
    return ()


def _patterns(rule: Rule) -> list[Pattern]:
    if isinstance(rule, ResponseRule):
        return [p for p in (rule.when, rule.expect, rule.before, rule.pause, rule.resume) if p is not None]
    if isinstance(rule, CadenceRule):
        return [p for p in (rule.start, rule.stop, rule.expect) if p is not None]
    return [rule.when]


def _read(playbook: Playbook, events: Iterable[Mapping[str, Any] | SourceEvent]) -> tuple[list[Item], int]:
    """Readable events in the engine's order (stable by time), with the engine's ids."""
    ids = EventIds(playbook.id_field)
    items: list[Item] = []
    read = 0
    for serial, raw in enumerate(events):
        read += 1
        if isinstance(raw, SourceEvent):
            if raw.error is not None:
                continue
            data, source = raw.data, raw.source
        else:
            data, source = raw, None
        if not isinstance(data, dict) or event_problem(data) is not None:
            continue
        etype = data.get(playbook.type_field)
        if not isinstance(etype, str) or not etype:
            continue
        try:
            t = parse_time(data.get(playbook.time_field), playbook.timezone)
        except TimeError:
            continue
        items.append(Item(serial, ids.of(data), etype, t, source, data))
    items.sort(key=lambda it: it.t)
    return items, read


def _rule_summary(rule: Rule, playbook: Playbook) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(rule, ResponseRule):
        out.append(("when", describe_pattern(rule.when)))
        if rule.unless is not None:
            out.append(("unless", " ".join(rule.unless.source.split())))
        expect = describe_pattern(rule.expect)
        if rule.same:
            expect += f"; same {', '.join(rule.same)}"
        if rule.within is not None:
            expect += f"; within {rule.within.text}"
        elif rule.within_choice is not None:
            expect += f"; within {rule.within_choice.text}"
        elif rule.deadline is not None:
            d = rule.deadline
            offset = "" if d.offset is None else f", offset {'-' if d.negative else '+'}{d.offset.text}"
            expect += f"; deadline at {d.at_text}{offset}"
        out.append(("expect", expect))
        if rule.before is not None:
            out.append(("before", describe_pattern(rule.before)))
        if rule.pause is not None:
            out.append(("pause", describe_pattern(rule.pause)))
        if rule.resume is not None:
            out.append(("resume", describe_pattern(rule.resume)))
        if rule.stages:
            out.append(("on_progress", ", ".join(f"{st.label}: {', '.join(a.do for a in st.actions) or 'no action'}"
                                                 for st in rule.stages)))
        expire = rule.expire_choice.text if rule.expire_choice is not None else format_duration(rule.expire_us / 1e6)
        extras = [f"overlap {'each' if rule.overlap_each else 'first'}", f"expire {expire}"]
        if rule.remind_before is not None:
            extras.append(f"remind_before {rule.remind_before.text}")
        if rule.calendar is not None:
            extras.append("calendar " + _choice_text(rule.calendar))
        out.append(("settings", "; ".join(extras)))
    elif isinstance(rule, CadenceRule):
        out.append(("every", rule.every.text + (f"; remind {rule.remind_before.text} before" if rule.remind_before else "")))
        out.append(("start", describe_pattern(rule.start)))
        if rule.stop is not None:
            out.append(("stop", describe_pattern(rule.stop)))
        out.append(("expect", describe_pattern(rule.expect)))
        if rule.calendar is not None:
            out.append(("calendar", _choice_text(rule.calendar)))
    else:
        assert isinstance(rule, SignalRule)
        out.append(("when", describe_pattern(rule.when)))
        if rule.unless is not None:
            out.append(("unless", " ".join(rule.unless.source.split())))
        extras = []
        if rule.threshold_count is not None and rule.threshold_within_us is not None:
            extras.append(f"threshold {rule.threshold_count} within {format_duration(rule.threshold_within_us / 1e6)}")
        if rule.cooldown_us is not None:
            extras.append(f"cooldown {format_duration(rule.cooldown_us / 1e6)}")
        if rule.group_by:
            extras.append(f"group_by {', '.join(rule.group_by)}")
        if extras:
            out.append(("settings", "; ".join(extras)))
    return out


# -- walking one key's events, per rule kind ------------------------------------------------------


class _Walk:
    """Shared by the three kinds: the key's events in order, the engine's outcomes beside them."""

    def __init__(self, playbook: Playbook, rule: Any, key: Any, items: list[Item],
                 probes: list[tuple[int, Action]], real: list[Action], until: int | None):
        self.playbook = playbook
        self.rule = rule
        self.key = key
        self.items = items
        self.until = until
        self.tz = playbook.timezone
        self.ev = _Evaluator(playbook)
        self.report = KeyReport(key, actions=[a.record() for a in real])
        self.units: list[Unit] = self.report.units
        # Outcomes caused by an event (by the event's id), and those the clock fired.
        self.caused: dict[str, list[Outcome]] = {}
        self.timed: deque[Outcome] = deque()
        real_by: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for a in real:
            rec = a.record()
            real_by.setdefault(_outcome_key(a), []).append(rec)
        timed = []
        for _serial, p in probes:
            o = Outcome(p.outcome, p.at, p.reason, p.deadline, p.trigger.id if p.trigger else None,
                        p.event.id if p.event else None, p.subject, real_by.get(_outcome_key(p), []), p.stage)
            self.report.outcomes.append(o)
            if p.event is not None:  # met, late, a preemption, a match: caused by that event
                self.caused.setdefault(p.event.id, []).append(o)
            else:  # a deadline, a due time or a reminder: fired by the clock
                timed.append(o)
        timed.sort(key=lambda o: o.at)
        self.timed = deque(timed)
        self.notes: list[str] = []

    def take(self, item: Item, outcome: str, trigger_id: str | None = None) -> Outcome | None:
        """The engine's outcome ``outcome`` caused by ``item`` (for that trigger), once. An id
        seen again out of the dedupe window is processed again: the time tells the copies apart."""
        found = self.caused.get(item.id, [])
        for o in found:
            if o.outcome == outcome and o.at == item.t and (trigger_id is None or o.trigger_id == trigger_id):
                found.remove(o)
                return o
        return None

    def step(self, item: Item, role: str, text: str, counted: bool, checks: list[Check],
             outcome: Outcome | None = None) -> Step:
        return Step(item.t, "event", text, counted, item, role, checks, outcome)

    def other(self, item: Item, role: str, text: str, checks: list[Check]) -> None:
        self.report.other.append(self.step(item, role, text, False, checks))

    def run(self) -> KeyReport:
        for item in self.items:
            if item.duplicate:  # the engine skipped it, as run does: it moves nothing and counts nowhere
                self.report.other.append(Step(item.t, "duplicate", f"skipped: id {item.id} was processed before "
                                              "(a duplicate, not counted)", False, item, "duplicate"))
                continue
            self.advance(item.t)
            self.on_event(item)
        if self.until is not None:
            self.advance(self.until)
        self.finish()
        for unit in self.units:
            unit.steps.sort(key=lambda s: s.at)  # stable: instants before the event that passed them
        left = [o for os in self.caused.values() for o in os] + list(self.timed)
        for o in left:  # the engine did something the walk could not place: show it anyway
            self.report.other.append(Step(o.at, "outcome", f"the engine produced {o.describe()} here, which explain "
                                          "could not attribute (please report this)", True, outcome=o))
        self.report.notes.extend(self.notes)
        return self.report

    def advance(self, t: int) -> None:
        raise NotImplementedError

    def on_event(self, item: Item) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError


def _outcome_key(a: Action) -> tuple[Any, ...]:
    return (a.outcome, a.at, a.trigger.id if a.trigger else None, canonical_json(a.subject), a.stage)


def _actions_text(o: Outcome) -> str:
    if not o.actions:
        return "no action (the rule has no on_" + o.outcome + " actions)"
    return "actions: " + ", ".join(a["do"] for a in o.actions)


def _measured(us: int) -> str:
    """Measured time (elapsed, or a calendar's open time) in hours: a business day is no 24h."""
    secs = round(us / 1e6)
    h, rest = divmod(abs(secs), 3600)
    m, s = divmod(rest, 60)
    text = " ".join(part for part in (f"{h}h" if h else "", f"{m}m" if m else "", f"{s}s" if s else "") if part)
    return ("-" if secs < 0 else "") + (text or "0s")


class _ResponseWalk(_Walk):
    rule: ResponseRule

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.trace: list[_Traced] = []  # what the engine told of this key's obligations (set by explain)
        self.target_errors: dict[tuple[str, int], str] = {}
        self.opens: dict[tuple[str | None, int], deque[_Traced]] = {}
        self.changes: dict[tuple[int, str, int], deque[_Traced]] = {}
        self.expiries: deque[_Traced] = deque()

    def run(self) -> KeyReport:
        for rec in self.trace:  # in the engine's order: the expiries in time order
            if rec.what == "open":
                self.opens.setdefault((rec.event_id, rec.at), deque()).append(rec)
            elif rec.what == "expire":
                self.expiries.append(rec)
            else:
                self.changes.setdefault((id(rec.ob), rec.what, rec.at), deque()).append(rec)
        return super().run()

    def unit_of(self, trigger_id: str | None, deadline: int | None = None) -> Unit | None:
        """The obligation the trigger opened; of two opened by one id (a copy out of the dedupe
        window is processed again), the unclosed one whose deadline is ``deadline``."""
        found = [u for u in self.units if u.trigger is not None and u.trigger.id == trigger_id]
        return next((u for u in found if u.state in ("open", "breached") and u.deadline == deadline),
                    found[0] if found else None)

    def change(self, unit: Unit, what: str, at: int) -> _Traced | None:
        """The engine's record that ``unit`` paused or resumed at ``at`` (once)."""
        found = self.changes.get((id(unit.ob), what, at))
        return found.popleft() if found else None

    def advance(self, t: int) -> None:
        """Fire what the clock passes before ``t``: breaches at deadlines, reminders, stages, expiries."""
        while True:
            nxt_probe = self.timed[0].at if self.timed and self.timed[0].at < t else None
            nxt_expire = self.expiries[0].at if self.expiries and self.expiries[0].at < t else None
            if nxt_probe is None and nxt_expire is None:
                return
            if nxt_expire is None or (nxt_probe is not None and nxt_probe <= nxt_expire):
                self.fired(self.timed.popleft())
            else:
                self.expired(self.expiries.popleft())

    def fired(self, o: Outcome) -> None:
        """An outcome the clock fired: a breach at the deadline, a reminder, a stage."""
        unit = self.unit_of(o.trigger_id, o.deadline)
        if unit is None:  # not an obligation the walk opened: show it anyway
            self.report.other.append(Step(o.at, "deadline", f"{o.describe()} for an obligation "
                                          "explain could not place (please report this)", True, outcome=o))
            return
        if o.outcome == "due_soon":
            remind = unit.ob.remind.text if unit.ob is not None and unit.ob.remind is not None else "remind_before"
            step = Step(o.at, "due_soon", f"reminder: due_soon, the deadline {format_time(o.deadline or 0)} is {remind} away",
                        True, outcome=o)
        elif o.outcome == "progress":
            after = " (after the breach, awaiting a late fulfilment)" if unit.state == "breached" else ""
            of = "of the target" if (o.stage or "").endswith("%") else "after the trigger"
            step = Step(o.at, "progress", f"stage at {o.stage} {of} reached: progress{after}", True, outcome=o)
        else:
            unit.state = "breached"
            unit.breach_at = o.at
            step = Step(o.at, "deadline", f"deadline passed: {o.describe()}", True, outcome=o)
            if o.deadline is not None and o.deadline < o.at and unit.opened is not None and o.at == unit.opened.t:
                step.text = f"the deadline was already past when the trigger opened it: {o.describe()}"
        step.extra.append(_actions_text(o))
        unit.steps.append(step)

    def expired(self, rec: _Traced) -> None:
        """The engine dropped an obligation: ``expire`` after its breach, its trigger, or its pause."""
        u = next((u for u in self.units if u.ob is rec.ob), None)
        if u is None:
            self.report.other.append(Step(rec.at, "expired", "an obligation explain could not place expired here "
                                          "(please report this)", True))
            return
        expire = format_duration(rec.expire_us / 1e6)
        if rec.paused_at is not None:
            text = (f"expired: paused since {format_time(rec.paused_at)} for expire {expire} without a resume; "
                    "dropped without action (a later resume changes nothing)")
            u.state = "expired-paused"
        elif u.state == "open":
            text = (f"expired: no deadline, and neither fulfilled nor preempted within expire {expire} "
                    "of the trigger; dropped without action")
            u.state = "expired-open"
        else:
            text = f"expired: no fulfilment within expire {expire} of the breach; dropped without action"
            u.state = "expired"
        u.steps.append(Step(rec.at, "expired", text, True))

    def on_event(self, item: Item) -> None:
        rule = self.rule
        # One event in several roles: fulfil first, then preempt, pause, resume, and trigger.
        if rule.expect.accepts_type(item.type):
            self.consider(item, rule.expect, "fulfil", ("open", "breached"))
        if rule.before is not None and rule.before.accepts_type(item.type):
            self.consider(item, rule.before, "preempt", ("open",))
        if rule.pause is not None and rule.pause.accepts_type(item.type):
            self.consider(item, rule.pause, "pause", ("open",))
        if rule.resume is not None and rule.resume.accepts_type(item.type):
            self.consider(item, rule.resume, "resume", ("open",))
            self.one_clock_role(item)
        if rule.when.accepts_type(item.type):
            self.trigger(item)

    def one_clock_role(self, item: Item) -> None:
        """An event that paused or resumed an obligation is not also shown failing as the other
        (one type, ``status: pending`` pauses and ``status: open`` resumes)."""
        def mismatch(s: Step) -> bool:
            return s.role in ("pause", "resume") and any(c.part in ("type", "match", "where") for c in s.failing)

        for u in self.units:
            mine = [s for s in u.steps if s.event is item]
            if any(s.role in ("pause", "resume") and not mismatch(s) for s in mine):
                u.steps = [s for s in u.steps if not (s.event is item and mismatch(s))]

    def consider(self, item: Item, pattern: Pattern, role: str, states: tuple[str, ...]) -> None:
        candidates = [u for u in self.units if u.state in states]
        verb = {"fulfil": "fulfil", "preempt": "preempt", "pause": "pause", "resume": "resume"}[role]
        if not candidates:
            checks = self.ev.pattern(pattern, item)
            if role in ("pause", "resume") and not all(c.ok for c in checks):
                other = self.rule.resume if role == "pause" else self.rule.pause
                if other is not None and all(c.ok for c in self.ev.pattern(other, item)):
                    return  # the other of the two (one type: status pending pauses, status open resumes)
            self.other(item, role, f"{verb}s nothing: no obligation is open for this key"
                       + ("" if role == "fulfil" else " and not yet breached"), checks + [Check("state", False, "no open obligation")])
            return
        placed = False
        mismatched: list[Check] = []
        for u in candidates:
            assert u.trigger is not None
            same = _same_check(rule_same(self.rule), item, u.trigger)
            if same is not None and not same.ok:
                mismatched.append(same)
                continue
            checks = ([same] if same else []) + self.ev.pattern(pattern, item, u.trigger)
            placed = True
            if role in ("pause", "resume"):
                self.clock(u, item, role, checks)
                continue
            if role == "fulfil":
                o = self.take(item, "late" if u.state == "breached" else "met", u.trigger.id) or \
                    self.take(item, "met", u.trigger.id) or self.take(item, "late", u.trigger.id)
            else:
                o = self.take(item, "breach", u.trigger.id)
            if o is not None:
                if role == "fulfil":
                    u.state = o.outcome
                    text = f"fulfils: {o.outcome}" + (" (the obligation had breached)" if o.outcome == "late" else "")
                    if u.paused_at is not None:
                        text += f" (while paused since {format_time(u.paused_at)})"
                else:
                    u.state = "breached"
                    u.breach_at = item.t
                    text = "preempts: breach (preempted), it came before the fulfilment"
                    if u.paused_at is not None:
                        text += f"; the pause since {format_time(u.paused_at)} ends"
                u.paused_at = None
                step = self.step(item, role, text, True, checks, o)
                step.extra.append(_actions_text(o))
                u.steps.append(step)
            else:
                failing = [c for c in checks if not c.ok]
                text = f"does not {verb}: " + "; ".join(c.text for c in failing) if failing else \
                    f"would {verb}, but the engine did not count it"
                if not failing:
                    self.notes.append(text)
                u.steps.append(self.step(item, role, text, False, checks))
        if not placed:
            values = ", ".join(sorted({c.text.split(", the trigger")[0] for c in mismatched}))
            self.other(item, role, f"{verb}s nothing: no open obligation has the same "
                       f"{', '.join(rule_same(self.rule))} ({values})", mismatched[:1] + self.ev.pattern(pattern, item))

    def clock(self, u: Unit, item: Item, role: str, checks: list[Check]) -> None:
        """A pause or a resume of an open obligation: what the engine did to its clock, or why nothing."""
        failing = [c for c in checks if not c.ok]
        rec = None if failing else self.change(u, role, item.t)
        if rec is None:
            if failing:
                text = f"does not {role}: " + "; ".join(c.text for c in failing)
            elif role == "pause" and u.paused_at is not None:
                checks.append(Check("state", False, f"already paused since {format_time(u.paused_at)}"))
                text = f"changes nothing: the obligation is already paused (since {format_time(u.paused_at)})"
            elif role == "resume" and u.paused_at is None:
                checks.append(Check("state", False, "not paused"))
                text = "changes nothing: the clock is running (not paused)"
            else:
                text = f"would {role}, but the engine did not"
                self.notes.append(f"{text} ({item.id})")
            u.steps.append(self.step(item, role, text, False, checks))
            return
        tz = u.tz or self.tz
        on = f" (open time on calendar {rec.calendar.name})" if rec.calendar is not None else ""
        step = self.step(item, role, "", True, checks)
        left = rec.target - rec.consumed if rec.target is not None and rec.deadline is not None else None
        if role == "pause":
            u.paused_at = item.t
            if left is not None and rec.target is not None:
                step.text = (f"pauses the clock: {_measured(rec.consumed)} of the {_measured(rec.target)} target used{on}, "
                             f"{_measured(left)} left, frozen while paused")
                step.extra.append(f"the deadline {format_time(rec.deadline or 0)} does not hold while paused")
            else:
                step.text = f"pauses the clock ({_measured(rec.consumed)} run so far{on})"
            step.extra.append(f"still paused at {_when(item.t + rec.expire_us, self.tz)} "
                              f"(expire {format_duration(rec.expire_us / 1e6)}), it is dropped without action")
        else:
            since = rec.paused_at if rec.paused_at is not None else item.t
            u.paused_at = None
            if since == item.t:
                step.text = "resumes at the instant it paused: nothing moves"
            else:
                step.text = f"resumes the clock after {format_duration((item.t - since) / 1e6)} paused"
                if left is not None and rec.deadline is not None:
                    step.text += f": {_measured(left)} left{on}"
                    u.deadline = rec.deadline
                    of = f" of open time on calendar {rec.calendar.name}" if rec.calendar is not None else ""
                    step.extra.append(f"new deadline {_when(rec.deadline, tz)} (the resume + {_measured(left)}{of})")
            step.extra.append(f"paused {format_duration(rec.paused_us / 1e6)} in all so far (paused_for)")
        u.steps.append(step)

    def trigger(self, item: Item) -> None:
        rule = self.rule
        checks = self.ev.pattern(rule.when, item)
        if not all(c.ok for c in checks):
            self.other(item, "trigger", "not a trigger: " + "; ".join(c.text for c in checks if not c.ok), checks)
            return
        unless = self.ev.unless(rule.unless, item)
        if unless is not None:
            checks.append(unless)
            if not unless.ok:
                self.other(item, "trigger", f"trigger ignored: {unless.text}", checks)
                return
        subject: dict[str, Any] = {}
        for path in rule.same:
            value = make_getter(path)(item.data)
            if value is None:
                checks.append(Check("same", False, f"{path} is missing: a trigger needs every 'same' field", path))
                self.other(item, "trigger", f"opens nothing: {path} is missing (same)", checks)
                return
            subject[path] = value
        bucket = tuple(hashable(v) for v in subject.values())
        if not rule.overlap_each:
            for u in self.units:
                if u.state in ("open", "breached") and tuple(hashable(v) for v in u.subject.values()) == bucket:
                    assert u.opened is not None
                    checks.append(Check("overlap", False, f"obligation {u.number} (opened by {u.opened.id}) is still "
                                        f"{'open' if u.state == 'open' else 'breached and waiting'} (overlap: first)"))
                    u.steps.append(self.step(item, "trigger", f"opens nothing: obligation {u.number} is still "
                                             f"{'open' if u.state == 'open' else 'waiting for a late fulfilment'} "
                                             "(overlap: first)", False, checks))
                    return
        found = self.opens.get((item.id, item.t))
        rec = found.popleft() if found else None
        if rec is None:
            why = self.target_errors.get((item.id, item.t))
            if why is not None:
                checks.append(Check("target", False, why))
                self.other(item, "trigger", f"opens nothing: its target could not be chosen: {why}", checks)
            else:
                text = "would open an obligation, but the engine opened none"
                self.notes.append(f"{text} ({item.id})")
                self.other(item, "trigger", text, checks)
            return
        unit = Unit("obligation", len(self.units) + 1, subject, item, trigger=item, tz=self.tz, ob=rec.ob)
        words = ""
        if rec.deadline is not None:
            cal = rec.calendar
            if rule.calendar is not None:
                words = _calendar(rule.calendar, item, self.tz)[1]
            unit.cal = cal
            unit.calendar = cal.name if cal is not None else None
            unit.tz = cal.tz if cal is not None else self.tz
            unit.deadline = rec.deadline
        step = self.step(item, "trigger", "opens the obligation", True, checks)
        if unit.deadline is not None:
            how = rule.within.text + words if rule.within else rec.words[0] + (";" + words if words else "")
            step.extra.append(f"deadline {_when(unit.deadline, unit.tz or self.tz)} ({how})")
            if unit.deadline < item.t:
                step.extra.append("the deadline is already past: it breaches at once")
        elif rule.expire_open:
            step.extra.append("no deadline: only a competing event (before) can breach it; still open at "
                              f"{_when(item.t + rec.expire_us, self.tz)} (expire {format_duration(rec.expire_us / 1e6)}), "
                              "it is dropped without action")
        else:
            step.extra.append("no deadline: only a competing event (before) can breach it; without an expire "
                              "written in the rule it stays open until then")
        step.extra.extend(rec.words[1:])
        unit.steps.append(step)
        self.units.append(unit)
        if unit.deadline is not None and unit.deadline < item.t:
            # Due before it was opened: the engine breached it at once (also when the run ends there).
            o = next((o for o in self.timed if o.outcome == "breach" and o.trigger_id == item.id and o.at == item.t), None)
            if o is not None:
                self.timed.remove(o)
                self.fired(o)

    def finish(self) -> None:
        end = f"the end of the run ({format_time(self.until)})" if self.until is not None else "the end of the run"
        for u in self.units:
            expire_us = u.ob.expire_us if u.ob is not None else self.rule.expire_us
            if u.state == "open" and u.paused_at is not None:
                u.status = (f"paused since {format_time(u.paused_at)} at {end}; dropped at "
                            f"{format_time(u.paused_at + expire_us)} unless resumed")
            elif u.state == "open":
                if u.deadline is not None:
                    u.status = f"pending: the deadline {format_time(u.deadline)} is not past at {end}"
                else:
                    u.status = f"pending at {end}: no deadline, neither fulfilled nor preempted"
            elif u.state == "breached":
                assert u.breach_at is not None
                u.status = (f"breached; still waiting for a late fulfilment until "
                            f"{format_time(u.breach_at + expire_us)} at {end}")
            elif u.state == "expired":
                u.status = "breached, then expired without a late fulfilment"
            elif u.state == "expired-open":
                u.status = "expired: neither fulfilled nor preempted within expire of the trigger"
            elif u.state == "expired-paused":
                u.status = "expired: paused for expire without a resume, dropped without action"
            elif u.state == "late":
                u.status = "breached, then fulfilled late"
            else:
                u.status = u.state


def rule_same(rule: ResponseRule) -> tuple[str, ...]:
    return rule.same


class _CadenceWalk(_Walk):
    rule: CadenceRule

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.current: Unit | None = None

    def advance(self, t: int) -> None:
        while self.timed and self.timed[0].at < t:
            o = self.timed.popleft()
            unit = self.current
            if unit is None:
                self.report.other.append(Step(o.at, o.outcome, f"{o.describe()} with no cadence running", True, outcome=o))
                continue
            if o.outcome == "due_soon":
                step = Step(o.at, "due_soon", f"reminder: due_soon, the due time {format_time(o.deadline or 0)} is "
                            f"{self.rule.remind_before.text if self.rule.remind_before else ''} away", True, outcome=o)
            else:
                step = Step(o.at, "due", "due time passed without a qualifying event: breach (deadline)", True, outcome=o)
                unit.due = _add(o.at, self.rule.every, unit.cal)
                step.extra.append(f"next due {_when(unit.due, unit.tz or self.tz)}")
            step.extra.insert(0, _actions_text(o))
            unit.steps.append(step)

    def on_event(self, item: Item) -> None:
        rule = self.rule
        unit = self.current
        # One event in several roles: expect first, then stop, then start.
        if rule.expect.accepts_type(item.type):
            if unit is None:
                checks = self.ev.pattern(rule.expect, item)
                checks.append(Check("cadence", False, "no cadence is running for this key"))
                self.other(item, "expect", "ignored: no cadence is running for this key (nothing started it, or it was stopped)", checks)
            else:
                checks = self.ev.pattern(rule.expect, item, unit.trigger)
                o = self.take(item, "met") or self.take(item, "late")
                if o is not None:
                    step = self.step(item, "expect", f"qualifies: {o.outcome}", True, checks, o)
                    step.extra.append(_actions_text(o))
                    unit.trigger = item
                    unit.due = _add(item.t, rule.every, unit.cal)
                    step.extra.append(f"next due {_when(unit.due, unit.tz or self.tz)}")
                    unit.steps.append(step)
                else:
                    failing = [c for c in checks if not c.ok]
                    unit.steps.append(self.step(item, "expect", "does not qualify: " + "; ".join(c.text for c in failing)
                                                if failing else "would qualify, but the engine did not count it", False, checks))
        if unit is not None and rule.stop is not None and rule.stop.accepts_type(item.type):
            checks = self.ev.pattern(rule.stop, item, unit.trigger)
            if all(c.ok for c in checks):
                unit.steps.append(self.step(item, "stop", "stops the cadence", True, checks))
                unit.state = "stopped"
                unit = self.current = None
            else:
                unit.steps.append(self.step(item, "stop", "does not stop it: " + "; ".join(c.text for c in checks if not c.ok),
                                            False, checks))
        if rule.start.accepts_type(item.type):
            checks = self.ev.pattern(rule.start, item)
            if not all(c.ok for c in checks):
                self.other(item, "start", "not a start: " + "; ".join(c.text for c in checks if not c.ok), checks)
            elif unit is not None:
                assert unit.opened is not None
                checks.append(Check("cadence", False, f"the cadence started by {unit.opened.id} is already running"))
                unit.steps.append(self.step(item, "start", "start ignored: the cadence is already running", False, checks))
            else:
                cal, words = _calendar(rule.calendar, item, self.tz)
                unit = Unit("cadence", len(self.units) + 1, {}, item, trigger=item, cal=cal,
                            calendar=cal.name if cal is not None else None,
                            tz=cal.tz if cal is not None else self.tz)
                unit.due = _add(item.t, rule.every, cal)
                step = self.step(item, "start", "starts the cadence", True, checks)
                step.extra.append(f"first due {_when(unit.due, unit.tz or self.tz)} ({rule.every.text}{words})")
                unit.steps.append(step)
                self.units.append(unit)
                self.current = unit

    def finish(self) -> None:
        end = f"the end of the run ({format_time(self.until)})" if self.until is not None else "the end of the run"
        for u in self.units:
            if u.state == "stopped":
                u.status = "stopped"
            else:
                missed = sum(1 for s in u.steps[::-1] if s.kind == "due")
                due = format_time(u.due) if u.due is not None else "?"
                u.status = f"running at {end}; next due {due}" + (" (overdue)" if missed and
                                                                   u.steps[-1].kind == "due" else "")


class _SignalWalk(_Walk):
    rule: SignalRule

    def advance(self, t: int) -> None:
        pass  # signal rules schedule nothing

    def on_event(self, item: Item) -> None:
        rule = self.rule
        checks = self.ev.pattern(rule.when, item)
        if not all(c.ok for c in checks):
            self.other(item, "signal", "no match: " + "; ".join(c.text for c in checks if not c.ok), checks)
            return
        unless = self.ev.unless(rule.unless, item)
        if unless is not None:
            checks.append(unless)
            if not unless.ok:
                self.other(item, "signal", f"ignored: {unless.text}", checks)
                return
        subject: dict[str, Any] = {}
        for path in rule.group_by:
            value = make_getter(path)(item.data)
            if value is None:
                checks.append(Check("group_by", False, f"{path} is missing: a match needs every group_by field", path))
                self.other(item, "signal", f"ignored: {path} is missing (group_by)", checks)
                return
            subject[path] = value
        sj = canonical_json(subject)
        unit = next((u for u in self.units if canonical_json(u.subject) == sj), None)
        if unit is None:
            unit = Unit("group", len(self.units) + 1, subject, item, tz=self.tz)
            self.units.append(unit)
        o = self.take(item, "match")
        t = item.t
        cooldown = rule.cooldown_us
        if cooldown is not None and unit.last_firing is not None and t < unit.last_firing + cooldown:
            checks.append(Check("cooldown", False, f"cooldown {format_duration(cooldown / 1e6)} after the match at "
                                f"{format_time(unit.last_firing)} lasts until {format_time(unit.last_firing + cooldown)}"))
            unit.steps.append(self.step(item, "signal", "suppressed: " + checks[-1].text + " (not counted)", False, checks))
            self.check_engine(o, False, item)
            return
        if rule.threshold_count is not None and rule.threshold_within_us is not None:
            start = t - rule.threshold_within_us
            while unit.window and unit.window[0] < start:
                unit.window.popleft()
            unit.window.append(t)
            n = len(unit.window)
            span = format_duration(rule.threshold_within_us / 1e6)
            if n < rule.threshold_count:
                checks.append(Check("threshold", False, f"{n} of {rule.threshold_count} matches within {span}"))
                unit.steps.append(self.step(item, "signal", f"counts: {checks[-1].text}", False, checks))
                self.check_engine(o, False, item)
                return
            checks.append(Check("threshold", True, f"{n} of {rule.threshold_count} matches within {span}"))
            unit.window.clear()
        unit.last_firing = t
        if o is None:
            self.notes.append(f"explain expected a match at {format_time(t)} that the engine did not produce")
        step = self.step(item, "signal", "fires: match" + (f" ({checks[-1].text})" if checks[-1].part == "threshold" else ""),
                         True, checks, o)
        if o is not None:
            step.extra.append(_actions_text(o))
        unit.steps.append(step)

    def check_engine(self, o: Outcome | None, expected: bool, item: Item) -> None:
        if o is not None and not expected:
            self.notes.append(f"the engine matched {item.id}, which explain thought it would not")

    def finish(self) -> None:
        for u in self.units:
            fired = sum(1 for s in u.steps if s.counted)
            parts = [f"fired {fired} time{'s' if fired != 1 else ''}"]
            if u.window and self.rule.threshold_count is not None:
                parts.append(f"{len(u.window)} of {self.rule.threshold_count} matches in the window at the end")
            u.status = ", ".join(parts)


# -- why not -------------------------------------------------------------------------------------


def _filter_subject(report: KeyReport, subject: dict[str, str]) -> None:
    if not subject:
        return

    def fits(values: Mapping[str, Any]) -> bool:
        return all(_key_text(values.get(k)) == v for k, v in subject.items())

    report.units = [u for u in report.units if fits(u.subject)]
    report.other = [s for s in report.other if s.event is None or fits({k: make_getter(k)(s.event.data) for k in subject})]
    report.actions = [a for a in report.actions if fits(a["subject"])]
    report.outcomes = [o for o in report.outcomes if fits(o.subject)]


def _why_not(report: KeyReport, rule: Rule, playbook: Playbook, near: list[Item], until: int | None,
             subject: dict[str, str]) -> None:
    """For a key the rule produced no action for: the reasons, and the nearest misses."""
    if report.actions:
        n = len(report.actions)
        report.why_not.append(f"the rule did produce {n} action{'s' if n != 1 else ''} for this key: see the timeline")
        return
    if not rule.enabled:
        report.why_not.append("the rule is disabled (enabled: false)")
    seen: dict[str, list[Outcome]] = {}
    for o in report.outcomes:
        seen.setdefault(o.describe(), []).append(o)
    for text, group in seen.items():
        first = group[0]
        count = f"outcome {text} at {format_time(first.at)}" if len(group) == 1 else \
            f"{len(group)} outcomes {text} (the first at {format_time(first.at)})"
        report.why_not.append(f"{count} happened, but the rule has no on_{first.outcome} actions")
    for u in report.units:
        if u.status.startswith(("pending", "paused", "running", "breached; still")):
            report.why_not.append(f"{u.kind} {u.number}: {u.status}")
        elif u.kind == "group" and u.window:
            report.why_not.append(f"group {u.number}: {u.status}")
    ev = _Evaluator(playbook)
    misses: list[Step] = [s for s in report.other if s.event is not None and s.failing]
    misses += [s for u in report.units for s in u.steps if s.event is not None and not s.counted and s.failing]
    for item in near:
        if subject and not all(_key_text(make_getter(k)(item.data)) == v for k, v in subject.items()):
            continue
        for p, role in _roles(rule):
            close = difflib.get_close_matches(item.type, sorted(p.types), n=1, cutoff=0.75)
            if close:
                checks = ev.pattern(p, item, force=True)
                checks[0].text += f' (did you mean "{close[0]}"?)'
                misses.append(Step(item.t, "event", f"not a {ROLE_NAMES[role]}: " + "; ".join(c.text for c in checks if not c.ok),
                                   False, item, role, checks))
    if not report.units and not misses:
        types = ", ".join(sorted({t for p, _ in _roles(rule) for t in p.types} |
                                 {p + "*" for q, _ in _roles(rule) for p in q.prefixes}))
        report.why_not.append(f"no event of this key has a type the rule looks at ({types})")
    # Nearest first: fewest failing conditions. An event that only failed for want of
    # an open obligation or a running cadence is a consequence, not a cause: last.
    misses.sort(key=lambda s: (len(s.failing) + (10 if s.failing[0].part in _CONSEQUENCES else 0), -s.at))
    groups: dict[tuple[str | None, str, str | None], list[Step]] = {}
    for s in misses:
        failed = s.failing[0]
        groups.setdefault((s.role, failed.part, failed.field), []).append(s)
    for (role_code, part, fld), steps in groups.items():
        latest = max(steps, key=lambda s: s.at)
        n = len(steps)
        report.why_not.append(f"{n} event{'s' if n != 1 else ''} failed as {ROLE_NAMES.get(role_code or '', role_code)} at {part}"
                              f"{' ' + fld if fld else ''}, e.g. {latest.event.id if latest.event else ''}: "
                              f"{latest.failing[0].text}")
    report.misses_total = len(misses)
    report.misses = misses[:MAX_MISSES]
    if until is not None and not report.why_not and not misses:
        report.why_not.append(f"nothing happened before the end of the run ({format_time(until)})")


_CONSEQUENCES = ("state", "cadence")


def _roles(rule: Rule) -> list[tuple[Pattern, str]]:
    if isinstance(rule, ResponseRule):
        out = [(rule.when, "trigger"), (rule.expect, "fulfil")]
        if rule.before is not None:
            out.append((rule.before, "preempt"))
        if rule.pause is not None:
            out.append((rule.pause, "pause"))
        if rule.resume is not None:
            out.append((rule.resume, "resume"))
        return out
    if isinstance(rule, CadenceRule):
        return [(rule.start, "start"), (rule.expect, "expect")] + ([(rule.stop, "stop")] if rule.stop else [])
    return [(rule.when, "signal")]


# -- text ----------------------------------------------------------------------------------------


def render_text(x: Explanation) -> str:
    lines: list[str] = []
    kind = {"response": "response rule", "cadence": "cadence rule", "signal": "signal rule"}[x.kind]
    lines.append(f"rule {x.rule} ({kind}) of playbook {x.playbook} ({x.file})")
    width = max([len(label) for label, _ in x.summary] + [0])
    for label, text in x.summary:
        lines.append(f"  {label.ljust(width)}  {text}")
    until = format_time(x.until) if x.until is not None else "no events"
    origin = f" from {x.source}" if x.source else ""
    lines.append(f"events: {x.events_read} read{origin}; the run ends at {until}")
    for note in x.notes:
        lines.append(f"note: {note}")
    if not x.keys:
        lines.append("")
        lines.append("no key has an event this rule looks at")
    for report in x.keys:
        lines.append("")
        lines.extend(_key_text_lines(report, x))
    return "\n".join(lines) + "\n"


def _step_lines(step: Step, indent: str) -> list[str]:
    time = format_time(step.at)
    pad = " " * len(time)
    head = f"{indent}{time}  "
    if step.event is not None:
        head += f"{step.event.label()}: {step.text}"
    else:
        head += step.text
    out = [head]
    for extra in step.extra:
        out.append(f"{indent}{pad}    {extra}")
    return out


def _key_text_lines(report: KeyReport, x: Explanation) -> list[str]:
    lines = [f"key {_key_text(report.key)}"]
    for note in report.notes:
        lines.append(f"  note: {note}")
    for unit in report.units:
        lines.append(f"  {unit.title()}")
        for step in unit.steps:
            lines.extend(_step_lines(step, "    "))
        lines.append(f"    => {unit.status}")
    if report.other:
        lines.append("  not counted")
        for step in report.other:
            lines.extend(_step_lines(step, "    "))
    if not report.units and not report.other and not x.why_not:
        lines.append("  no event of this key reached the rule")
    counts: dict[str, int] = {}
    for o in report.outcomes:
        counts[o.outcome] = counts.get(o.outcome, 0) + 1
    outcome_text = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
    n = len(report.actions)
    noun = {"response": "obligation", "cadence": "cadence run", "signal": "group"}[x.kind]
    m = len(report.units)
    lines.append(f"  summary: {m} {noun}{'s' if m != 1 else ''}; outcomes: {outcome_text}; {n} action{'s' if n != 1 else ''}")
    if x.why_not:
        lines.append("  why not")
        for reason in report.why_not:
            lines.append(f"    - {reason}")
        if report.misses:
            shown = len(report.misses)
            more = f" (of {report.misses_total})" if report.misses_total > shown else ""
            lines.append(f"    nearest misses{more}, fewest failing conditions first:")
            for step in report.misses:
                assert step.event is not None
                failing = "; ".join(f"[{c.part}] {c.text}" for c in step.failing)
                role = ROLE_NAMES.get(step.role or "", step.role)
                lines.append(f"    - {format_time(step.at)}  {step.event.label()}: as {role}: {failing}")
    return lines
