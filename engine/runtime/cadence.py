"""Cadence rules (section 8.2): once started, an expected event is due every period."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..model import CadenceRule
from ..timecalc import MIN_TIME_US, Duration, parse_duration
from .context import Ev, RunContext, add_time, calendar_named, hashable, resolve_calendar, resolve_duration

if TYPE_CHECKING:
    from ..calendars import Calendar


class Cadence:
    __slots__ = ("key", "trigger", "due", "periods_missed", "first_missed", "version", "calendar", "remind_at", "remind")

    def __init__(self, key: Any, trigger: Ev, calendar: Calendar | None, remind: Duration | None = None):
        self.key = key
        self.trigger = trigger
        self.due = 0
        self.periods_missed = 0
        self.first_missed: int | None = None
        self.version = 0
        self.calendar = calendar
        self.remind_at: int | None = None  # this period's reminder, if one is scheduled
        self.remind = remind  # remind_before, as the rule gives it or as chosen at the start


def subtract_time(due: int, duration: Duration, calendar: Calendar | None) -> int | None:
    """The latest instant r with ``r + duration <= due`` (working time on a calendar); None
    when there is none after the first instant a run knows (then no reminder: it would come
    before any start)."""
    if calendar is None:
        return due - duration.exact_us
    # Adding working time is monotonic, so bisect on the start instant.
    span = max(duration.exact_us * 4, 40 * 86400 * 10**6)
    lo = max(due - span, MIN_TIME_US)
    while calendar.add(lo, duration) > due:
        if lo == MIN_TIME_US:
            return None
        span *= 2
        lo = max(due - span, MIN_TIME_US)
    hi = due
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if calendar.add(mid, duration) <= due:
            lo = mid
        else:
            hi = mid
    return lo


class CadenceRuntime:
    """Running cadences of one rule, by key; each has one due timer and one reminder."""

    def __init__(self, rule: CadenceRule, run: RunContext):
        self.rule = rule
        self.run = run
        self.running: dict[Any, Cadence] = {}
        self.stats = run.summary.rule(f"{run.playbook.name}/{rule.id}")
        self.patterns = tuple(p for p in (rule.expect, rule.stop, rule.start) if p is not None)

    def on_event(self, ev: Ev, key: Any) -> None:
        rule = self.rule
        run = self.run
        etype = ev.type
        hkey = hashable(key)
        cad = self.running.get(hkey)
        # One event in several roles: expect first, then stop, then start.
        if cad is not None and rule.expect.accepts_type(etype) and run.test(rule.expect, ev, key, cad.trigger, f"{rule.id} expect"):
            self._qualify(cad, ev)
        if cad is not None and rule.stop is not None and rule.stop.accepts_type(etype) and run.test(rule.stop, ev, key, cad.trigger, f"{rule.id} stop"):
            cad.version += 1  # its timers go stale
            del self.running[hkey]
            cad = None
        if cad is None and rule.start.accepts_type(etype) and run.test(rule.start, ev, key, None, f"{rule.id} start"):
            calendar = resolve_calendar(run, rule.calendar, ev, key, rule.id)
            remind = rule.remind_before
            if rule.remind_choice is not None:
                remind = resolve_duration(run, rule.remind_choice, ev, key, f"{rule.id} remind_before", calendar,
                                          "the cadence is not started")
                if remind is None:
                    return
            cad = Cadence(key, ev, calendar, remind)
            self.running[hkey] = cad
            self._schedule(cad, add_time(ev.t, rule.every, calendar), ev.t)

    def _qualify(self, cad: Cadence, ev: Ev) -> None:
        t = ev.t
        if cad.periods_missed:
            assert cad.first_missed is not None
            self.run.emit(self.rule, "late", t, cad.key, {}, "{}", cad.trigger, ev, cad.first_missed,
                          late_by=t - cad.first_missed, periods_missed=cad.periods_missed, calendar=cad.calendar)
        else:
            self.run.emit(self.rule, "met", t, cad.key, {}, "{}", cad.trigger, ev, cad.due, periods_missed=0,
                          calendar=cad.calendar)
        cad.periods_missed = 0
        cad.first_missed = None
        cad.trigger = ev
        self._schedule(cad, add_time(t, self.rule.every, cad.calendar), t)

    def _schedule(self, cad: Cadence, due: int, start: int) -> None:
        """A new period from ``start``: its due instant and, inside the period, its reminder."""
        cad.version += 1
        cad.due = due
        cad.remind_at = None
        timers = self.run.timers
        timers.push(due, self._due, (cad, cad.version))
        if cad.remind is not None:
            remind_at = subtract_time(due, cad.remind, cad.calendar)
            if remind_at is not None and remind_at > start:  # on a calendar a period may hold less open time than remind_before
                cad.remind_at = remind_at
                timers.push(remind_at, self._remind, (cad, cad.version))

    def _due(self, at: int, payload: tuple[Cadence, int]) -> None:
        cad, version = payload
        if self.run.dirty is not None:
            self.run.dirty.add(hashable(cad.key))
        if version != cad.version:
            return
        cad.periods_missed += 1
        if cad.first_missed is None:
            cad.first_missed = at
        self.run.emit(self.rule, "breach", at, cad.key, {}, "{}", cad.trigger, None, at,
                      reason="deadline", periods_missed=cad.periods_missed, calendar=cad.calendar)
        self._schedule(cad, add_time(at, self.rule.every, cad.calendar), at)

    def _remind(self, at: int, payload: tuple[Cadence, int]) -> None:
        cad, version = payload
        if self.run.dirty is not None:
            self.run.dirty.add(hashable(cad.key))
        if version != cad.version:
            return
        self.run.emit(self.rule, "due_soon", at, cad.key, {}, "{}", cad.trigger, None, cad.due,
                      periods_missed=cad.periods_missed, calendar=cad.calendar)

    def _item(self, c: Cadence) -> dict[str, Any]:
        item = {"key": c.key, "trigger": c.trigger.state(), "due": c.due, "periods_missed": c.periods_missed,
                "first_missed": c.first_missed, "calendar": None if c.calendar is None else c.calendar.name}
        if self.rule.remind_choice is not None:
            item["remind"] = None if c.remind is None else c.remind.text
        return item

    def state(self) -> dict[str, Any]:
        return {"cadences": [self._item(c) for c in self.running.values()]}

    def key_items(self, hkey: Any, clock: int | None) -> tuple[list[dict[str, Any]], int | None]:
        """One key's cadence as :meth:`state` saves it, and the first instant
        :meth:`restore_items` would schedule for it (None: none)."""
        cad = self.running.get(hkey)
        if cad is None:
            return [], None
        due = cad.due
        remind = cad.remind_at
        if remind is not None and (clock is None or remind >= clock) and remind < due:
            due = remind
        return [self._item(cad)], due

    @staticmethod
    def item_counts(items: list[dict[str, Any]]) -> list[int]:
        """What :meth:`count_open` counts of saved cadences: running, overdue."""
        return [len(items), sum(1 for saved in items if saved["periods_missed"])]

    def add_counts(self, counts: list[int]) -> None:
        self.stats.cadences_running += counts[0]
        self.stats.cadences_overdue += counts[1]

    def restore(self, state: dict[str, Any], clock: int | None) -> None:
        """Rebuild running cadences with their due instant and (unless passed) reminder."""
        self.running.clear()
        self.restore_items(state["cadences"], clock)

    def restore_items(self, cadences: list[dict[str, Any]], clock: int | None) -> None:
        """Add saved cadences (of :meth:`state` or :meth:`key_items`) with their instants."""
        timers = self.run.timers
        for saved in cadences:
            remind = self.rule.remind_before
            if self.rule.remind_choice is not None:
                text = saved.get("remind")
                remind = None if text is None else parse_duration(text)
            cad = Cadence(saved["key"], Ev.from_state(saved["trigger"]), calendar_named(self.run, saved["calendar"]), remind)
            cad.due = saved["due"]
            cad.periods_missed = saved["periods_missed"]
            cad.first_missed = saved["first_missed"]
            cad.version = 1
            self.running[hashable(cad.key)] = cad
            timers.push(cad.due, self._due, (cad, cad.version))
            if cad.remind is not None:
                remind_at = subtract_time(cad.due, cad.remind, cad.calendar)
                # An instant fires once the clock has passed it: one not passed yet is still due.
                if remind_at is not None and (clock is None or remind_at >= clock):
                    cad.remind_at = remind_at
                    timers.push(remind_at, self._remind, (cad, cad.version))

    def count_open(self) -> None:
        self.stats.cadences_running = len(self.running)
        self.stats.cadences_overdue = sum(1 for c in self.running.values() if c.periods_missed)
