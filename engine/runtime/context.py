"""What every rule kind shares at run time: events, facts, timers, emitting actions."""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Mapping
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from ..actions import Action, EventRef, action_id, canonical_json, hashable, sort_token
from ..calendars import ZONE_SEPARATOR, zone_named
from ..expressions import MAX_ACTION_SIZE, EvalError, Scope, too_big, truthy, value_weight
from ..model import CalendarChoice, DurationChoice, Fact, Pattern, Playbook, RuleBase, Stage
from ..summary import RunSummary
from ..timecalc import Duration, DurationError, format_time, parse_duration, seconds_value

if TYPE_CHECKING:
    from ..calendars import Calendar


class EventIds:
    """Ids of events: their own ``id`` field, or one derived from their content.

    Identical events without an id (two page views in the same second) are
    distinct events: the n-th of them in one input gets the suffix ``-n``, so
    reruns of the same input agree (and are recognised as duplicates by a
    store) and no two events share an id.
    """

    __slots__ = ("field", "seen", "t")

    def __init__(self, field: str):
        self.field = field
        self.seen: dict[str, int] = {}
        self.t: int | None = None

    @staticmethod
    def given(data: Mapping[str, Any], field: str) -> str | None:
        """The id an event carries in ``field`` (a non-empty string, or an integer), or None."""
        given = data.get(field)
        if isinstance(given, str) and given:
            return given
        if isinstance(given, int) and not isinstance(given, bool):
            return str(given)
        return None

    def of(self, data: dict[str, Any], t: int | None = None) -> str:
        """The event's id. ``t``: its time, when events come in time order (a stream): then
        only the ids of the current instant are remembered, since identical events
        have the same time, and memory does not grow with the stream."""
        given = self.given(data, self.field)
        if given is not None:
            return given
        if t is not None and t != self.t:
            self.seen.clear()
            self.t = t
        digest = "ev-" + hashlib.sha256(canonical_json(data).encode()).hexdigest()[:20]
        n = self.seen.get(digest, 0) + 1
        self.seen[digest] = n
        return digest if n == 1 else f"{digest}-{n}"


class Ev:
    """An event as the runtime sees it: its data, time (microseconds), type and id."""

    __slots__ = ("data", "t", "type", "source", "serial", "id", "_ref")

    def __init__(self, data: dict[str, Any], t: int, etype: str, source: str | None, serial: int, eid: str):
        self.data = data
        self.t = t
        self.type = etype
        self.source = source
        self.serial = serial
        self.id = eid
        self._ref: EventRef | None = None

    def ref(self) -> EventRef:
        """The event as an action's ``trigger``/``event`` (made once: a cadence's trigger is in many actions)."""
        ref = self._ref
        if ref is None:
            ref = self._ref = EventRef(self.id, self.type, self.t)
        return ref

    def state(self) -> dict[str, Any]:
        """The event as saved state (JSON-able)."""
        return {"id": self.id, "type": self.type, "t": self.t, "source": self.source, "data": self.data}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Ev:
        return cls(state["data"], state["t"], state["type"], state["source"], 0, state["id"])


class Timers:
    """The event-time scheduler: a heap of instants, each fired once the clock passes it."""

    __slots__ = ("heap", "seq")

    def __init__(self) -> None:
        self.heap: list[tuple[int, int, Callable[[int, Any], None], Any]] = []
        self.seq = 0

    def push(self, at: int, fire: Callable[[int, Any], None], payload: Any) -> None:
        # seq keeps equal instants in the order they were scheduled.
        heapq.heappush(self.heap, (at, self.seq, fire, payload))
        self.seq += 1

    def fire_before(self, t: int) -> None:
        """Fire, in time order, every instant strictly earlier than ``t``."""
        heap = self.heap
        while heap and heap[0][0] < t:
            at, _, fire, payload = heapq.heappop(heap)
            fire(at, payload)


_EMPTY: dict[str, Any] = {}


class FactStore:
    """Per-key facts (section 6), folded as events are processed."""

    __slots__ = ("facts", "values", "views", "defaults", "set_names", "run", "retention_us", "seen")

    def __init__(self, facts: tuple[Fact, ...], run: RunContext, retention_us: int | None = None):
        self.facts = facts
        self.values: dict[Any, dict[str, Any]] = {}
        self.views: dict[Any, dict[str, Any]] = {}
        self.defaults = {f.name: _initial(f.collect) for f in facts}
        self.set_names = frozenset(f.name for f in facts if f.collect == "set")
        self.run = run
        self.retention_us = retention_us  # ``retention: {facts: ...}``; None keeps facts forever
        self.seen: dict[Any, int] = {}     # with retention: key -> time of its last event

    def touch(self, key: Any, t: int) -> None:
        """With retention: the key had an event at ``t`` (one timer per key, moved on lazily)."""
        hkey = hashable(key)
        if hkey not in self.seen and self.retention_us is not None:
            self.run.timers.push(t + self.retention_us, self._retire, hkey)
        self.seen[hkey] = t

    def _retire(self, at: int, hkey: Any) -> None:
        dirty = self.run.dirty
        if dirty is not None:
            dirty.add(hkey)
        last = self.seen.get(hkey)
        if last is None or self.retention_us is None:
            return
        if last + self.retention_us > at:
            self.run.timers.push(last + self.retention_us, self._retire, hkey)
            return
        del self.seen[hkey]
        self.values.pop(hkey, None)
        self.views.pop(hkey, None)

    def seen_state(self) -> list[list[Any]]:
        return [[k, t] for k, t in self.seen.items()]

    def restore_seen(self, saved: list[list[Any]] | None, clock: int | None) -> None:
        """Rebuild the last-event times and their timers; keys saved without one count from ``clock``."""
        self.seen.clear()
        if self.retention_us is None:
            return
        for key, t in saved or []:
            self.touch(key, t)
        if clock is not None:
            for hkey in self.values:
                if hkey not in self.seen:
                    self.touch(hkey, clock)

    def key_state(self, hkey: Any, out: dict[str, Any]) -> int | None:
        """One key's facts (``f``) and last-event time (``s``) into ``out``; the instant its
        retention timer fires (None: none)."""
        values = self.values.get(hkey)
        if values is not None:
            out["f"] = {name: list(v.values()) if name in self.set_names else v for name, v in values.items()}
        if self.retention_us is not None:
            seen = self.seen.get(hkey)
            if seen is not None:
                out["s"] = seen
                return seen + self.retention_us
        return None

    def restore_key(self, saved: dict[str, Any], clock: int | None) -> None:
        """One key's saved facts and last-event time (see :meth:`key_state`), as :meth:`restore`
        and :meth:`restore_seen` take them for every key."""
        hkey = hashable(saved["k"])
        facts = saved.get("f")
        if facts is not None:
            known = {f.name for f in self.facts}
            self.values[hkey] = {name: {hashable(x): x for x in v} if name in self.set_names else v
                                 for name, v in facts.items() if name in known}
            self.views.pop(hkey, None)
        if self.retention_us is not None:
            seen = saved.get("s")
            if seen is not None:
                self.touch(hkey, seen)
            elif facts is not None and clock is not None:
                self.touch(hkey, clock)

    def view(self, key: Any) -> dict[str, Any]:
        """The facts of ``key`` as expressions see them (sets as sorted lists)."""
        if not self.facts:
            return _EMPTY
        hkey = hashable(key)
        view = self.views.get(hkey)
        if view is None:
            values = self.values.get(hkey)
            view = dict(self.defaults)
            if values:
                for name, value in values.items():
                    view[name] = sorted(value.values(), key=sort_token) if name in self.set_names else value
            self.views[hkey] = view
        return view

    def state(self) -> list[list[Any]]:
        """[[key, {fact: value}], ...] with sets as lists (JSON-able)."""
        out: list[list[Any]] = []
        for key, values in self.values.items():
            saved = {name: list(v.values()) if name in self.set_names else v for name, v in values.items()}
            out.append([key, saved])
        return out

    def restore(self, state: list[list[Any]]) -> None:
        self.values.clear()
        self.views.clear()
        known = {f.name for f in self.facts}
        for key, saved in state:
            values: dict[str, Any] = {}
            for name, v in saved.items():
                if name not in known:
                    continue
                values[name] = {hashable(x): x for x in v} if name in self.set_names else v
            self.values[hashable(key)] = values

    def update(self, facts: tuple[Fact, ...], ev: Ev, key: Any) -> None:
        hkey = hashable(key)
        values = self.values.get(hkey)
        if values is None:
            values = self.values[hkey] = {}
        for fact in facts:
            if not self.run.test(fact.source, ev, key, None, f"facts.{fact.name} from"):
                continue
            if fact.value is None:
                value = fact.constant
            else:
                used = fact.value.names_used  # facts and prev are built only for a value that reads them
                try:
                    value = fact.value.evaluate(Scope({"event": ev.data, "trigger": None,
                                                       "facts": self.view(key) if "facts" in used else None, "key": key,
                                                       "prev": self.run.prev_of(key) if "prev" in used else None},
                                                      ev.data, self.run.tz))
                except EvalError as exc:
                    self.run.expression_error(f"facts.{fact.name} value", ev, exc.message)
                    value = None
            self.views.pop(hkey, None)
            _fold(fact, values, value, ev, self.run)


def _initial(collect: str) -> Any:
    if collect == "set":
        return []
    if collect in ("count", "sum"):
        return 0
    return None


def _fold(fact: Fact, values: dict[str, Any], value: Any, ev: Ev, run: RunContext) -> None:
    name = fact.name
    collect = fact.collect
    if collect == "last":
        values[name] = value
    elif collect == "first":
        if name not in values:
            values[name] = value
    elif collect == "count":
        values[name] = values.get(name, 0) + 1
    elif value is None:
        return  # set, sum, min and max ignore nulls
    elif collect == "set":
        values.setdefault(name, {})[hashable(value)] = value
    elif collect == "sum":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            run.expression_error(f"facts.{name} value", ev, f"sum needs numbers, got {value!r}")
            return
        values[name] = values.get(name, 0) + value
    else:  # min / max
        current = values.get(name)
        comparable = isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool))
        if not comparable or (current is not None and isinstance(current, str) != isinstance(value, str)):
            run.expression_error(f"facts.{name} value", ev, f"{collect} needs numbers or strings of one kind, got {value!r}")
            return
        if current is None or (value < current if collect == "min" else value > current):
            values[name] = value


class RunContext:
    """Shared by the rule runtimes of one playbook: timers, facts, output, reporting."""

    def __init__(self, playbook: Playbook, index: int, summary: RunSummary, out: list[Action]):
        self.playbook = playbook
        self.index = index
        self.summary = summary
        self.out = out
        self.tz: tzinfo = playbook.timezone
        self.timers = Timers()
        self.facts = FactStore(playbook.facts, self, playbook.facts_retention_us)
        self.reads_prev = reads_prev(playbook)
        self.prev_facts: dict[str, Any] | None = None  # while an event is processed: its key's facts before it
        self.dirty: set[Any] | None = None  # with a store saving state by key: the keys changed since the last save
        self._where = ""
        self._names_used: dict[tuple[str, str], frozenset[str]] = {}

    def prev_of(self, key: Any) -> dict[str, Any]:
        """``prev``: ``prev.facts`` are the key's facts before the event being processed
        (outside an event, at a deadline or a due date, its current facts)."""
        prev = self.prev_facts
        return {"facts": self.facts.view(key) if prev is None else prev}

    # -- reporting ---------------------------------------------------------------------

    def expression_error(self, where: str, ev: Ev | None, message: str) -> None:
        label = f"{self.playbook.name}: {where}"
        self.summary.expression_error(label, ev.source if ev is not None else None, message)

    # -- patterns ------------------------------------------------------------------------

    def test(self, pattern: Pattern, ev: Ev, key: Any, trigger: Ev | None, where: str) -> bool:
        """Does ``ev`` match ``pattern`` (its type already known to match)?"""
        if pattern.match:
            data = ev.data
            for fm in pattern.match:
                if not fm.test(fm.get(data)):
                    return False
        if pattern.where is None:
            return True
        used = pattern.where.names_used
        scope = Scope(
            {"event": ev.data, "trigger": (trigger or ev).data,
             "facts": self.facts.view(key) if "facts" in used else None, "key": key,
             "prev": self.prev_of(key) if "prev" in used else None},
            ev.data,
            self.tz,
        )
        try:
            return truthy(pattern.where.evaluate(scope))
        except EvalError as exc:
            self.expression_error(f"{where}.where", ev, exc.message)
            return False

    def condition(self, expr: Any, ev: Ev, key: Any, where: str) -> bool:
        """Evaluate an ``unless``: an error counts as false (the trigger stands)."""
        facts = self.facts.view(key) if "facts" in expr.names_used else None
        prev = self.prev_of(key) if "prev" in expr.names_used else None
        scope = Scope({"event": ev.data, "trigger": ev.data, "facts": facts, "key": key, "prev": prev}, ev.data, self.tz)
        try:
            return truthy(expr.evaluate(scope))
        except EvalError as exc:
            self.expression_error(where, ev, exc.message)
            return False

    # -- output --------------------------------------------------------------------------

    def emit(
        self,
        rule: RuleBase,
        outcome: str,
        at: int,
        key: Any,
        subject: dict[str, Any],
        subject_json: str,
        trigger: Ev,
        event: Ev | None,
        deadline: int | None,
        reason: str | None = None,
        late_by: int | None = None,
        periods_missed: int | None = None,
        calendar: Calendar | None = None,
        stage: Stage | None = None,
        paused_for: int | None = None,
    ) -> None:
        self.summary.outcomes[outcome] += 1
        specs = rule.actions.get(outcome) if stage is None else stage.actions
        if not specs:
            return
        pb = self.playbook
        trig_ref = trigger.ref()
        ev_ref = event.ref() if event is not None else None
        names = {
            "trigger": trigger.data,
            "event": event.data if event is not None else None,
            "key": key,
            "subject": subject,
            "rule": rule.id,
            "playbook": pb.name,
            "outcome": outcome,
            "reason": reason,
            "periods_missed": periods_missed,
            "stage": None if stage is None else stage.label,
        }
        paused_value = None if paused_for is None else seconds_value(paused_for)
        if paused_for is not None:
            names["paused_for"] = paused_value
        # The names that take work to make, only when a template reads them.
        names_key = (rule.id, outcome if stage is None else f"{outcome}@{stage.index}")
        used = self._names_used.get(names_key)
        if used is None:
            used = self._names_used[names_key] = frozenset().union(*(spec.names_used for spec in specs))
        if "facts" in used:
            names["facts"] = self.facts.view(key)
        if "prev" in used:
            names["prev"] = self.prev_of(key)
        if "at" in used:
            names["at"] = format_time(at)
        if "deadline" in used:
            names["deadline"] = None if deadline is None else format_time(deadline)
        if "elapsed" in used:
            names["elapsed"] = seconds_value(at - trigger.t)
        if "late_by" in used:
            names["late_by"] = None if late_by is None else seconds_value(late_by)
        # local() shows times in the rule's calendar zone when it has one.
        scope = Scope(names, (event or trigger).data, calendar.tz if calendar is not None else self.tz)
        key_token = sort_token(key)
        # A stage is its own outcome for ids and order: two stages may fire at one instant.
        id_outcome = outcome if stage is None else f"{outcome}@{stage.label}"
        order = outcome if stage is None else f"{outcome}@{stage.index:06d}"
        for spec in specs:
            params: dict[str, Any] = {}
            budget = MAX_ACTION_SIZE  # all of an action's parameters together: ten full-size values
            for name, render in spec.params:
                try:
                    value = render(scope)
                    weight = value_weight(value, budget)
                    if weight > budget:
                        raise too_big("the action's parameters together")
                    budget -= weight
                    params[name] = value
                except EvalError as exc:
                    params[name] = None
                    where = f"on_{outcome}[{spec.index}]" if stage is None else f"on_progress[{stage.index}].actions[{spec.index}]"
                    self.expression_error(f"{rule.id} {where}.{name}", event or trigger, exc.message)
            self.out.append(
                Action(
                    id=action_id(pb.name, rule.id, id_outcome, spec.index, key, subject_json, trig_ref.id, at),
                    playbook=pb.name,
                    rule=rule.id,
                    outcome=outcome,
                    reason=reason,
                    do=spec.do,
                    at=at,
                    key=key,
                    subject=subject,
                    deadline=deadline,
                    trigger=trig_ref,
                    event=ev_ref,
                    params=params,
                    sort_key=(at, self.index, rule.index, key_token, subject_json, trigger.t, trig_ref.id, spec.index, order),
                    stage=None if stage is None else stage.label,
                    paused_for=paused_value,
                )
            )
            self.summary.actions_emitted += 1


def calendar_named(run: RunContext, name: str | None) -> Calendar | None:
    """The playbook's calendar of that name (saved state names calendars): ``NAME@ZONE`` is
    NAME read in ZONE (see :meth:`Calendar.in_zone`), in NAME's own zone if ZONE is unknown."""
    if name is None:
        return None
    calendars = run.playbook.calendars
    calendar = calendars.get(name)
    if calendar is None and ZONE_SEPARATOR in name:
        base, _, zone = name.rpartition(ZONE_SEPARATOR)
        calendar = calendars.get(base)
        if calendar is not None:
            calendar = calendar.named_zone(zone)
    return calendar


def add_time(t: int, duration: Duration, calendar: Calendar | None) -> int:
    """``t + duration``: exact elapsed time, or working time on ``calendar``."""
    if calendar is None:
        return t + duration.exact_us
    return calendar.add(t, duration)


def measure(start: int, end: int, calendar: Calendar | None) -> int:
    """Time from ``start`` to ``end``: elapsed, or open time on ``calendar`` (microseconds)."""
    if calendar is None:
        return end - start
    return calendar.working_us(start, end)


def add_measured(t: int, amount: int, calendar: Calendar | None) -> int:
    """The earliest instant ``amount`` of :func:`measure`'s time after ``t``: ``t`` itself
    for none (a stage or a deadline with no time left is due when the clock runs again,
    even in closed hours), as when re-derived from saved state."""
    if calendar is None:
        return t + amount
    if amount <= 0:
        return t
    return calendar.add(t, Duration("", 0.0, 0.0, amount))


def subtract_time(t: int, duration: Duration, calendar: Calendar | None) -> int:
    """``t - duration``: exact elapsed time, or working time on ``calendar`` (:meth:`Calendar.subtract`)."""
    if calendar is None:
        return t - duration.exact_us
    return calendar.subtract(t, duration)


def trigger_scope(run: RunContext, ev: Ev, key: Any) -> Scope:
    """What an expression evaluated at a trigger (or a start) sees."""
    return Scope({"event": ev.data, "trigger": ev.data, "facts": run.facts.view(key), "key": key,
                  "prev": run.prev_of(key)}, ev.data, run.tz)


def resolve_duration(run: RunContext, choice: DurationChoice, ev: Ev, key: Any, where: str,
                     calendar: Calendar | None, consequence: str) -> Duration | None:
    """The duration a rule takes for this trigger; None (counted as an expression error with
    the event's position) when its table has no case for the value and no default, or its
    template gives no valid duration."""
    if choice.fixed is not None:
        return choice.fixed
    try:
        if choice.by is not None:
            value = choice.by.evaluate(trigger_scope(run, ev, key))
            try:
                found = choice.cases.get(hashable(value))
            except TypeError:
                found = None
            if found is None:
                found = choice.default
            if found is None:
                cases = ", ".join(repr(c) for c, _ in choice.case_labels)
                run.expression_error(where, ev, f"no case for {value!r} (cases: {cases}) and no default: "
                                     f"{consequence}; add the case or a 'default'")
            return found
        assert choice.template is not None
        text = choice.template.render(trigger_scope(run, ev, key))
    except EvalError as exc:
        run.expression_error(where, ev, f"{exc.message}; {consequence}")
        return None
    try:
        duration = parse_duration(text)
    except DurationError as exc:
        run.expression_error(where, ev, f"{exc}; {consequence}")
        return None
    if calendar is not None:
        from ..calendars import calendar_duration_error

        message = calendar_duration_error(duration)
        if message is not None:
            run.expression_error(where, ev, f"{message}; {consequence}")
            return None
    return duration


def resolve_calendar(run: RunContext, choice: CalendarChoice | None, ev: Ev, key: Any, rule_id: str) -> Calendar | None:
    """The calendar a rule uses for this trigger/start (templates evaluated now)."""
    if choice is None:
        return None
    if choice.template is None and choice.zone_template is None:
        return choice.fixed  # already in its fixed zone, if it has one
    scope = trigger_scope(run, ev, key)
    if choice.template is None:
        calendar = choice.fixed
    else:
        try:
            name = choice.template.render(scope)
        except EvalError as exc:
            run.expression_error(f"{rule_id} calendar", ev, exc.message)
            name = None
        calendar = choice.calendars.get(name) if isinstance(name, str) else None
        if calendar is None:
            used = choice.default.name if choice.default is not None else None
            run.summary.calendar_fallback(f"{run.playbook.name}/{rule_id}", ev.source, name, used)
            calendar = choice.default
    if calendar is None:  # exact time: no zone to read it in
        return None
    if choice.zone is not None:
        return calendar.in_zone(choice.zone)
    if choice.zone_template is None:
        return calendar
    try:
        value = choice.zone_template.render(scope)
    except EvalError as exc:
        run.expression_error(f"{rule_id} calendar timezone", ev, exc.message)
        value = None
    zone = zone_named(value)
    if zone is None:
        run.summary.timezone_fallback(f"{run.playbook.name}/{rule_id}", ev.source, value, calendar.name, calendar.tz.key)
        return calendar
    return calendar.in_zone(zone)


def reads_prev(playbook: Playbook) -> bool:
    """Does any expression or template of the playbook read ``prev`` (then facts are kept from before each event)?"""
    from ..model import CadenceRule, ResponseRule

    exprs: list[Any] = []
    for fact in playbook.facts:
        exprs += [fact.value, fact.source.where]
    for rule in playbook.rules:
        patterns: list[Pattern | None]
        if isinstance(rule, ResponseRule):
            patterns = [rule.when, rule.expect, rule.before, rule.pause, rule.resume]
            exprs.append(rule.unless)
            # Targets chosen at the trigger (tables and templates) read its facts too.
            choices = [rule.within_choice, rule.expire_choice, rule.remind_before]
            if any(c is not None and "prev" in c.names_used for c in choices):
                return True
            if rule.deadline is not None and "prev" in rule.deadline.at.names_used:
                return True
        elif isinstance(rule, CadenceRule):
            patterns = [rule.start, rule.stop, rule.expect]
            if rule.remind_choice is not None and "prev" in rule.remind_choice.names_used:
                return True
        else:
            patterns = [rule.when]
            exprs.append(rule.unless)
        exprs += [p.where for p in patterns if p is not None]
        calendar = getattr(rule, "calendar", None)
        if calendar is not None:
            exprs += calendar.templates
        if any("prev" in spec.names_used for specs in rule.actions.values() for spec in specs):
            return True
    return any(e is not None and "prev" in e.names_used for e in exprs)
