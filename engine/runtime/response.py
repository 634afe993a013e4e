"""Response rules (section 8.1): a trigger opens an obligation; an expected event closes it.

Beyond the contract's version 1 (docs/language.md, "Response rules"): targets chosen per
trigger (a table or a template), deadlines at an instant the trigger carries, a reminder
before the deadline (``due_soon``), pauses that freeze the remaining time, and stages of
an escalation ladder (``progress``).

Time on an obligation is measured in the rule's calendar (open time) or elapsed time
without one. An obligation keeps an *anchor*: the instant its clock last started running
(the trigger, or the last resume) and the time it had consumed by then; every instant it
waits for (deadline, reminder, stages) is ``anchor + (amount - consumed)`` in that measure.
A pause stops the clock: those instants are void until the resume sets a new anchor.
Timers are never removed from the heap: each handler checks that the instant it was
scheduled for is still the obligation's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..actions import canonical_json
from ..expressions import EvalError
from ..model import Pattern, ResponseRule, Stage
from ..timecalc import MAX_TIME_US, MIN_TIME_US, TimeError, parse_time
from .context import (
    Ev,
    RunContext,
    add_measured,
    add_time,
    calendar_named,
    hashable,
    measure,
    resolve_calendar,
    resolve_duration,
    subtract_time,
    trigger_scope,
)

if TYPE_CHECKING:
    from ..calendars import Calendar
    from ..timecalc import Duration

OPEN, BREACHED, CLOSED = 0, 1, 2

#: An observer of what obligations do (``playbook explain``): called with what happened
#: ("open", "pause", "resume", "expire"), the obligation (as it is right after), the
#: instant, the event that caused it (None for a timer) and details ("within": the target
#: chosen for the trigger; "paused_at": where the pause that a resume ends began).
Tracer = Callable[[str, "Obligation", int, "Ev | None", dict[str, Any]], None]


class Obligation:
    __slots__ = ("bucket_key", "key", "subject", "subject_json", "trigger", "deadline", "status", "breach_at", "calendar",
                 "expire_us", "target", "remind", "remind_at", "reminded", "paused_at", "paused_us", "anchor", "consumed",
                 "stage_at", "stages_done", "expiry_at")

    def __init__(self, bucket_key: tuple[Any, ...], key: Any, subject: dict[str, Any], trigger: Ev,
                 deadline: int | None, calendar: Calendar | None, expire_us: int = 0):
        self.bucket_key = bucket_key
        self.key = key
        self.subject = subject
        self.subject_json = canonical_json(subject)
        self.trigger = trigger
        self.deadline = deadline
        self.status = OPEN
        self.breach_at: int | None = None
        self.calendar = calendar
        self.expire_us = expire_us
        self.target: int | None = None  # measured time from the trigger to the first deadline (stages' 100 %)
        self.remind: Duration | None = None  # remind_before, as chosen for this trigger
        self.remind_at: int | None = None  # the reminder's instant while one is scheduled
        self.reminded = False
        self.paused_at: int | None = None
        self.paused_us = 0  # paused time of pauses that ended
        self.anchor = trigger.t  # the clock last started running here...
        self.consumed = 0  # ...having consumed this much measured time
        self.stage_at: dict[int, int] = {}  # stage index -> its instant, while scheduled
        self.stages_done: set[str] = set()  # labels of stages fired (or passed)
        self.expiry_at: int | None = None  # the instant of its pending paused-expiry timer

    def paused_for(self, t: int) -> int:
        """Total paused time up to ``t`` (a pause under way included)."""
        return self.paused_us + (t - self.paused_at if self.paused_at is not None else 0)


class ResponseRuntime:
    """Open obligations of one response rule, by (key, same values)."""

    def __init__(self, rule: ResponseRule, run: RunContext):
        self.rule = rule
        self.run = run
        self.open: dict[tuple[Any, ...], list[Obligation]] = {}
        self.by_key: dict[Any, dict[tuple[Any, ...], None]] = {}  # key -> its buckets of ``open``, oldest first
        self.stats = run.summary.rule(f"{run.playbook.name}/{rule.id}")
        self.patterns = tuple(p for p in (rule.expect, rule.before, rule.pause, rule.resume, rule.when) if p is not None)
        # event type -> (expected, preempts, pauses, resumes, triggers)
        self._roles: dict[str, tuple[bool, bool, bool, bool, bool]] = {}
        self._uses_trigger = {id(p): p.where is not None and "trigger" in p.where.names_used
                              for p in (rule.expect, rule.before, rule.pause, rule.resume) if p is not None}
        self._pausable = rule.pause is not None
        self._stages = {stage.index: stage for stage in rule.stages}
        self.tracer: Tracer | None = None  # explain's observer; None (no cost) in a run

    def _bucket_key(self, data: dict[str, Any], key: Any) -> tuple[Any, ...] | None:
        values = [hashable(key)]
        for get in self.rule.same_getters:
            v = get(data)
            if v is None:
                return None
            values.append(hashable(v))
        return tuple(values)

    def _roles_of(self, etype: str) -> tuple[bool, bool, bool, bool, bool]:
        rule = self.rule
        roles = (rule.expect.accepts_type(etype),
                 rule.before is not None and rule.before.accepts_type(etype),
                 rule.pause is not None and rule.pause.accepts_type(etype),
                 rule.resume is not None and rule.resume.accepts_type(etype),
                 rule.when.accepts_type(etype))
        if len(self._roles) < 10_000:
            self._roles[etype] = roles
        return roles

    def on_event(self, ev: Ev, key: Any) -> None:
        expects, preempts, pauses, resumes, triggers = self._roles.get(ev.type) or self._roles_of(ev.type)
        # One event in several roles: fulfil, preempt, pause, resume, then trigger.
        if (expects or preempts or pauses or resumes) and self.open:
            bk = self._bucket_key(ev.data, key)
            if bk is not None:
                rule = self.rule
                if expects and (bucket := self.open.get(bk)):
                    self._fulfil(bucket, ev, key)
                if preempts and (bucket := self.open.get(bk)):
                    assert rule.before is not None
                    for ob in self._matching(bucket, rule.before, ev, key, f"{rule.id} expect.before"):
                        self._preempt(ob, ev)
                if pauses and (bucket := self.open.get(bk)):
                    assert rule.pause is not None
                    for ob in self._matching(bucket, rule.pause, ev, key, f"{rule.id} pause"):
                        self._pause(ob, ev.t)
                if resumes and (bucket := self.open.get(bk)):
                    assert rule.resume is not None
                    for ob in self._matching(bucket, rule.resume, ev, key, f"{rule.id} resume"):
                        self._resume(ob, ev)
        if triggers:
            self._trigger(ev, key)

    def _matching(self, bucket: list[Obligation], pattern: Pattern, ev: Ev, key: Any, where: str,
                  only_open: bool = True) -> Iterator[Obligation]:
        """The obligations of ``bucket`` (only open ones, unless ``only_open`` is false) for
        which ``ev`` matches ``pattern``.

        The pattern is tested once, unless its ``where`` reads ``trigger``
        (then once per obligation, each with its own trigger).
        """
        uses_trigger = self._uses_trigger[id(pattern)]
        matched: bool | None = None
        for ob in list(bucket):
            if only_open and ob.status != OPEN:
                continue
            if uses_trigger:
                ok = self.run.test(pattern, ev, key, ob.trigger, where)
            else:
                if matched is None:
                    matched = self.run.test(pattern, ev, key, ob.trigger, where)
                ok = matched
            if ok:
                yield ob

    def _emit(self, ob: Obligation, outcome: str, at: int, event: Ev | None, **extra: Any) -> None:
        self.run.emit(self.rule, outcome, at, ob.key, ob.subject, ob.subject_json, ob.trigger, event, ob.deadline,
                      calendar=ob.calendar, paused_for=ob.paused_for(at) if self._pausable else None, **extra)

    def _fulfil(self, bucket: list[Obligation], ev: Ev, key: Any) -> None:
        rule = self.rule
        t = ev.t
        for ob in self._matching(bucket, rule.expect, ev, key, f"{rule.id} expect", False):
            if ob.status == OPEN:
                # Open means the deadline (if any) has not passed: it would have fired first
                # (or the obligation is paused, and cannot breach).
                self._emit(ob, "met", t, ev)
            else:
                assert ob.breach_at is not None
                self._emit(ob, "late", t, ev, late_by=t - ob.breach_at)
            self._close(ob)

    def _preempt(self, ob: Obligation, ev: Ev) -> None:
        if ob.paused_at is not None:
            self._run_again(ob, ev.t)  # a competing event ends the pause: the ladder goes on from here
        self._breach(ob, ev.t, ev, "preempted")

    def _breach(self, ob: Obligation, at: int, event: Ev | None, reason: str) -> None:
        ob.status = BREACHED
        ob.breach_at = at
        self._emit(ob, "breach", at, event, reason=reason)
        self.run.timers.push(at + ob.expire_us, self._expire, ob)

    # -- opening -------------------------------------------------------------------

    def _trigger(self, ev: Ev, key: Any) -> None:
        run = self.run
        rule = self.rule
        if not run.test(rule.when, ev, key, None, f"{rule.id} when"):
            return
        if rule.unless is not None and run.condition(rule.unless, ev, key, f"{rule.id} unless"):
            self.stats.triggers_unless += 1
            return
        bk = self._bucket_key(ev.data, key)
        if bk is None:
            self.stats.triggers_missing_same += 1
            return
        bucket = self.open.get(bk)
        if bucket and not rule.overlap_each:
            self.stats.triggers_ignored_open += 1
            return
        # The calendar is chosen only where it counts time (as in version 1: a rule with only
        # ``before`` and no stages has none, and its templates' local() read the playbook's zone).
        calendar = resolve_calendar(run, rule.calendar, ev, key, rule.id) \
            if rule.calendar is not None and (rule.has_target or rule.stages) else None
        within = rule.within
        deadline = None
        if rule.within is not None or rule.within_choice is not None:
            within = rule.within
            if within is None:
                assert rule.within_choice is not None
                within = resolve_duration(run, rule.within_choice, ev, key, f"{rule.id} expect.within", calendar,
                                          "no obligation opened")
                if within is None:
                    return
            try:
                deadline = add_time(ev.t, within, calendar)
            except ValueError as exc:  # CalendarError: beyond the calendar's years
                run.expression_error(f"{rule.id} expect.within", ev, f"{exc}; no obligation opened")
                return
        elif rule.deadline is not None:
            deadline = self._deadline_at(ev, key, calendar)
            if deadline is None:
                return
        expire_us = rule.expire_us
        if rule.expire_choice is not None:
            expire = resolve_duration(run, rule.expire_choice, ev, key, f"{rule.id} expire", None, "no obligation opened")
            if expire is None:
                return
            expire_us = expire.exact_us
        remind = None
        if rule.remind_before is not None:
            remind = resolve_duration(run, rule.remind_before, ev, key, f"{rule.id} remind_before", calendar, "no obligation opened")
            if remind is None:
                return
        subject = {name: get(ev.data) for name, get in zip(rule.same, rule.same_getters, strict=True)}
        ob = Obligation(bk, key, subject, ev, deadline, calendar, expire_us)
        ob.remind = remind
        if bucket is None:
            self.open[bk] = [ob]
            self.by_key.setdefault(bk[0], {})[bk] = None
        else:
            bucket.append(ob)
        if self.tracer is not None:
            self.tracer("open", ob, ev.t, ev, {"within": within})
        if deadline is not None and (rule.stages or self._pausable):
            # What stages and resumes count in (due before it was opened, a date already past:
            # overdue at once, no target). Version-1 rules never need it: not measured.
            ob.target = 0 if deadline < ev.t else measure(ev.t, deadline, calendar)
        # Stages before the timers that close the obligation: a stage at the instant it
        # expires fires (it is still awaited then), as after a restore (see restore_items).
        if rule.stages:
            self._schedule_stages(ob)
        if deadline is not None:
            if deadline < ev.t:
                self._breach(ob, ev.t, None, "deadline")
                return
            run.timers.push(deadline, self._deadline, ob)
            if remind is not None:
                self._schedule_reminder(ob, ev.t, strictly_after=True)
        elif rule.expire_open:
            # Without a deadline only the expected or the competing event closes it: with
            # ``expire`` written, it is dropped that long after its trigger (else kept, and
            # lint warns that such a rule's open obligations can grow).
            run.timers.push(ev.t + expire_us, self._expire_open, ob)

    def _deadline_at(self, ev: Ev, key: Any, calendar: Calendar | None) -> int | None:
        """``expect.deadline``: the instant the trigger carries, moved by the offset."""
        run = self.run
        spec = self.rule.deadline
        assert spec is not None
        where = f"{self.rule.id} expect.deadline"
        try:
            value = spec.at.render(trigger_scope(run, ev, key))
        except EvalError as exc:
            run.expression_error(where, ev, f"{exc.message}; no obligation opened")
            return None
        try:
            at = parse_time(value, run.tz)
        except TimeError as exc:
            run.expression_error(where, ev, f"{exc}; no obligation opened")
            return None
        if spec.offset is None:
            return at
        try:
            if spec.negative:
                deadline = subtract_time(at, spec.offset, calendar)
            else:
                deadline = add_time(at, spec.offset, calendar)
        except ValueError as exc:  # CalendarError: beyond the calendar's years
            run.expression_error(where, ev, f"{exc}; no obligation opened")
            return None
        if deadline < MIN_TIME_US:
            run.expression_error(where, ev, f"{spec.offset.text} before {value!r} goes beyond the year 1; "
                                 "no obligation opened")
            return None
        return deadline

    # -- the running clock ---------------------------------------------------------------

    def _schedule_reminder(self, ob: Obligation, start: int, *, strictly_after: bool) -> None:
        """The reminder ``remind_before`` the deadline, when it falls after ``start`` (at a
        trigger: strictly after, as a cadence's; at a resume: at it or after)."""
        if ob.remind is None or ob.reminded or ob.deadline is None:
            return
        try:
            remind_at = subtract_time(ob.deadline, ob.remind, ob.calendar)
        except ValueError:  # CalendarError: counted back beyond the year 1, so before the trigger
            return
        if remind_at > ob.trigger.t and (remind_at > start or (remind_at == start and not strictly_after)):
            ob.remind_at = remind_at
            self.run.timers.push(remind_at, self._remind, ob)

    def _amount(self, ob: Obligation, stage: Stage) -> int:
        """Measured time from the trigger at which ``stage`` fires."""
        if stage.percent is not None:
            return round((ob.target or 0) * stage.percent / 100)
        assert stage.duration is not None
        t0 = ob.trigger.t
        return measure(t0, add_time(t0, stage.duration, ob.calendar), ob.calendar)

    def _schedule_stages(self, ob: Obligation) -> None:
        """The instants of the stages not fired yet, from the obligation's anchor."""
        ob.stage_at.clear()
        timers = self.run.timers
        for stage in self.rule.stages:
            if stage.label in ob.stages_done:
                continue
            if stage.percent is not None and not ob.target:
                # No target (none, or due when opened): a percentage of it means nothing.
                ob.stages_done.add(stage.label)
                continue
            try:
                amount = self._amount(ob, stage)
                left = amount - ob.consumed
                if left < 0:  # passed already (a stage added to a rule since a store saved it)
                    ob.stages_done.add(stage.label)
                    continue
                if amount == ob.target and ob.deadline is not None and ob.deadline >= ob.anchor:
                    # 100 % is the deadline itself, also where a business day's deadline sits at
                    # an opening (the open time it measures ran out at the closing before).
                    at = ob.deadline
                else:
                    at = add_measured(ob.anchor, left, ob.calendar)
            except ValueError:  # CalendarError: beyond the calendar's last year, so never
                continue
            ob.stage_at[stage.index] = at
            timers.push(at, self._stage, (ob, stage.index))

    def _pause(self, ob: Obligation, t: int) -> None:
        if ob.paused_at is not None:
            return  # a pause while paused changes nothing
        ob.paused_at = t
        ob.consumed += measure(ob.anchor, t, ob.calendar)
        ob.anchor = t
        ob.stage_at.clear()
        ob.remind_at = None
        self._touch(ob)
        if self.tracer is not None:
            self.tracer("pause", ob, t, None, {})
        # Dropped if it stays paused for ``expire`` (elapsed time), as a breach waits that long.
        # One timer at a time, moved on when it fires (as facts' retention): pausing a
        # thousand times does not leave a thousand timers waiting for a month.
        if ob.expiry_at is None:
            ob.expiry_at = t + ob.expire_us
            self.run.timers.push(ob.expiry_at, self._expire_paused, ob)

    def _resume(self, ob: Obligation, ev: Ev) -> None:
        t = ev.t
        if ob.paused_at is None:
            return  # a resume while running changes nothing
        paused_at = ob.paused_at
        self._run_again(ob, t)
        if ob.deadline is not None and ob.target is not None:
            try:
                deadline: int | None = self._moved_deadline(ob, paused_at, t)
            except ValueError:  # CalendarError: beyond the calendar's years
                deadline = None
            if deadline is None or deadline > MAX_TIME_US:
                self.run.expression_error(f"{self.rule.id} resume", ev, "the deadline after this resume is beyond "
                                          "the year 9999: the obligation is dropped")
                self.stats.expired += 1
                self._touch(ob)
                self._close(ob)
                return
            ob.deadline = deadline
            self.run.timers.push(ob.deadline, self._deadline, ob)
        self._schedule_reminder(ob, t, strictly_after=False)
        self._touch(ob)
        if self.tracer is not None:
            self.tracer("resume", ob, t, None, {"paused_at": paused_at})

    def _moved_deadline(self, ob: Obligation, paused_at: int, t: int) -> int:
        """The deadline after a pause from ``paused_at`` to ``t``: the remaining time after
        ``t``. On a calendar, the instant the remaining open time runs out may be followed by
        closed time that the deadline also sat in (``1d`` from a night is due at the next
        opening, not at the closing before it): the same closed time follows the new one, up
        to the next opening, so a pause over no open time moves nothing."""
        assert ob.deadline is not None and ob.target is not None
        remaining = ob.target - ob.consumed
        calendar = ob.calendar
        if calendar is not None and calendar.working_us(paused_at, t) == 0:
            # No open time passed while paused: nothing moves; a deadline passed meanwhile
            # (in closed time: no time was left) is due at the resume.
            return max(ob.deadline, t)
        if remaining <= 0:
            return t  # no time left: due at the resume, even outside open hours
        moved = add_measured(t, remaining, calendar)
        if calendar is None or calendar.is_open(moved):
            return moved
        tail = ob.deadline - add_measured(paused_at, remaining, calendar)  # closed time the deadline sat in
        if tail <= 0:
            return moved
        opening = calendar.next_open(moved)
        if calendar.is_open(ob.deadline) and not calendar.is_open(ob.deadline - 1):
            return opening  # it was due at an opening: so it is again
        return min(moved + tail, opening)

    def _run_again(self, ob: Obligation, t: int) -> None:
        """End a pause at ``t``: the clock runs from here with what it had consumed."""
        assert ob.paused_at is not None
        ob.paused_us += t - ob.paused_at
        ob.paused_at = None
        ob.anchor = t
        if self.rule.stages:
            self._schedule_stages(ob)

    def _touch(self, ob: Obligation) -> None:
        if self.run.dirty is not None:
            self.run.dirty.add(ob.bucket_key[0])

    # -- timers ----------------------------------------------------------------------------

    def _deadline(self, at: int, ob: Obligation) -> None:
        self._touch(ob)
        if ob.status != OPEN or ob.paused_at is not None or at != ob.deadline:
            return  # met, breached, paused, or moved by a resume
        self._breach(ob, at, None, "deadline")

    def _remind(self, at: int, ob: Obligation) -> None:
        self._touch(ob)
        if ob.status != OPEN or ob.paused_at is not None or ob.reminded or at != ob.remind_at:
            return
        ob.reminded = True
        ob.remind_at = None
        self._emit(ob, "due_soon", at, None)

    def _stage(self, at: int, payload: tuple[Obligation, int]) -> None:
        ob, index = payload
        self._touch(ob)
        if ob.status == CLOSED or ob.paused_at is not None or ob.stage_at.get(index) != at:
            return
        stage = self._stages[index]
        del ob.stage_at[index]
        ob.stages_done.add(stage.label)
        self._emit(ob, "progress", at, None, stage=stage)

    def _stages_at(self, at: int, ob: Obligation) -> None:
        """Stages due at the very instant the obligation expires: still awaited then, they
        fire first, whatever the order in which their timers were scheduled."""
        for stage in self.rule.stages:
            if ob.stage_at.get(stage.index) == at:
                self._stage(at, (ob, stage.index))

    def _expire(self, at: int, ob: Obligation) -> None:
        self._touch(ob)
        if ob.status == BREACHED:
            self._stages_at(at, ob)
            self.stats.expired += 1
            self._close(ob)
            if self.tracer is not None:
                self.tracer("expire", ob, at, None, {})

    def _expire_open(self, at: int, ob: Obligation) -> None:
        """An obligation without a deadline, still open ``expire`` after its trigger: dropped."""
        self._touch(ob)
        if ob.status == OPEN:
            self._stages_at(at, ob)
            self.stats.expired += 1
            self._close(ob)
            if self.tracer is not None:
                self.tracer("expire", ob, at, None, {})

    def _expire_paused(self, at: int, ob: Obligation) -> None:
        """An obligation paused ``expire`` ago and not resumed since: dropped (paused again
        since: its timer moves on to that pause's expiry)."""
        if ob.expiry_at != at:
            return
        ob.expiry_at = None
        self._touch(ob)
        since = ob.paused_at
        if ob.status != OPEN or since is None:
            return
        if since + ob.expire_us > at:
            ob.expiry_at = since + ob.expire_us
            self.run.timers.push(ob.expiry_at, self._expire_paused, ob)
            return
        self.stats.expired += 1
        self._close(ob)
        if self.tracer is not None:
            self.tracer("expire", ob, at, None, {"paused_at": since})

    def _close(self, ob: Obligation) -> None:
        ob.status = CLOSED
        bucket = self.open.get(ob.bucket_key)
        if bucket is not None:
            bucket.remove(ob)
            if not bucket:
                del self.open[ob.bucket_key]
                buckets = self.by_key.get(ob.bucket_key[0])
                if buckets is not None:
                    buckets.pop(ob.bucket_key, None)
                    if not buckets:
                        del self.by_key[ob.bucket_key[0]]

    # -- saved state --------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Open obligations, oldest first within each (key, same values)."""
        return {"obligations": [self._item(ob) for bucket in self.open.values() for ob in bucket]}

    def _item(self, ob: Obligation) -> dict[str, Any]:
        item = {"key": ob.key, "subject": ob.subject, "trigger": ob.trigger.state(), "deadline": ob.deadline,
                "status": ob.status, "breach_at": ob.breach_at,
                "calendar": None if ob.calendar is None else ob.calendar.name}
        rule = self.rule
        # What the additions to version 1 need, only for rules that use them (the saved state
        # of other rules is unchanged).
        if rule.expire_choice is not None:
            item["expire_us"] = ob.expire_us
        if ob.remind is not None:
            item["remind"] = ob.remind.text
            item["reminded"] = ob.reminded
            item["remind_at"] = ob.remind_at
        if self._pausable or rule.stages:
            item["target"] = ob.target
            item["anchor"] = ob.anchor
            item["consumed"] = ob.consumed
            item["paused_at"] = ob.paused_at
            item["paused_us"] = ob.paused_us
        if rule.stages:
            item["stages_done"] = sorted(ob.stages_done)
        return item

    def _instants(self, ob: Obligation) -> Iterator[int]:
        """The instants :meth:`restore_items` schedules for a saved obligation."""
        if ob.status == OPEN:
            if ob.paused_at is not None:
                if ob.deadline is None and self.rule.expire_open:
                    yield ob.trigger.t + ob.expire_us
                yield ob.paused_at + ob.expire_us
                return
            if ob.deadline is not None:
                yield ob.deadline
            elif self.rule.expire_open:
                yield ob.trigger.t + ob.expire_us
            if ob.remind_at is not None:
                yield ob.remind_at
        elif ob.status == BREACHED and ob.breach_at is not None:
            yield ob.breach_at + ob.expire_us
        yield from ob.stage_at.values()

    def key_items(self, hkey: Any, clock: int | None) -> tuple[list[dict[str, Any]], int | None]:
        """One key's obligations as :meth:`state` saves them, and the first instant
        :meth:`restore_items` would schedule for them (None: none)."""
        buckets = self.by_key.get(hkey)
        if not buckets:
            return [], None
        items = []
        due: int | None = None
        for bk in buckets:
            for ob in self.open.get(bk, ()):
                items.append(self._item(ob))
                for at in self._instants(ob):
                    if due is None or at < due:
                        due = at
        return items, due

    @staticmethod
    def item_counts(items: list[dict[str, Any]]) -> list[int]:
        """What :meth:`count_open` counts of saved obligations: open, breached."""
        open_ = sum(1 for saved in items if saved["status"] == OPEN)
        return [open_, len(items) - open_]

    def add_counts(self, counts: list[int]) -> None:
        self.stats.pending += counts[0]
        self.stats.overdue += counts[1]

    def restore(self, state: dict[str, Any], clock: int | None = None) -> None:
        """Rebuild the obligations and their pending instants (deadline or expiry)."""
        self.open.clear()
        self.by_key.clear()
        self.restore_items(state["obligations"], clock)

    def restore_items(self, obligations: list[dict[str, Any]], clock: int | None = None) -> None:
        """Add saved obligations (of :meth:`state` or :meth:`key_items`) and their pending instants."""
        from ..timecalc import parse_duration

        rule = self.rule
        timers = self.run.timers
        for saved in obligations:
            trigger = Ev.from_state(saved["trigger"])
            bk = self._bucket_key(trigger.data, saved["key"])
            if bk is None:
                continue
            ob = Obligation(bk, saved["key"], saved["subject"], trigger, saved["deadline"],
                            calendar_named(self.run, saved["calendar"]), saved.get("expire_us", rule.expire_us))
            ob.status = saved["status"]
            ob.breach_at = saved["breach_at"]
            if saved.get("remind") is not None:
                ob.remind = parse_duration(saved["remind"])
                ob.reminded = saved.get("reminded", False)
                ob.remind_at = saved.get("remind_at")
            if "anchor" in saved:
                ob.target = saved["target"]
                ob.anchor = saved["anchor"]
                ob.consumed = saved["consumed"]
                ob.paused_at = saved["paused_at"]
                ob.paused_us = saved["paused_us"]
            elif ob.deadline is not None and (rule.stages or self._pausable):
                # Saved before the rule had pauses or stages: its clock ran from the trigger.
                ob.target = measure(trigger.t, ob.deadline, ob.calendar) if ob.deadline >= trigger.t else 0
            ob.stages_done = set(saved.get("stages_done", ()))
            self.open.setdefault(bk, []).append(ob)
            self.by_key.setdefault(bk[0], {})[bk] = None
            if ob.status == OPEN and ob.paused_at is not None:
                if ob.deadline is None and rule.expire_open:
                    # Without a deadline it is dropped `expire` after its trigger, paused or not.
                    timers.push(trigger.t + ob.expire_us, self._expire_open, ob)
                ob.expiry_at = ob.paused_at + ob.expire_us
                timers.push(ob.expiry_at, self._expire_paused, ob)
                continue  # nothing else runs while paused
            if rule.stages:
                # Before the expiry, as when the obligation was opened: a stage at the instant
                # it expires fires, in one run or resumed from saved state.
                self._schedule_stages(ob)
                if clock is not None:
                    # A stage whose instant the saved clock has passed fired then, or did not
                    # exist then (added to the rule since): never fired late.
                    for index, at in list(ob.stage_at.items()):
                        if at < clock:
                            del ob.stage_at[index]
                            ob.stages_done.add(self._stages[index].label)
            if ob.status == OPEN and ob.deadline is not None:
                timers.push(ob.deadline, self._deadline, ob)
                if ob.remind_at is not None:
                    timers.push(ob.remind_at, self._remind, ob)
            elif ob.status == OPEN and rule.expire_open:
                timers.push(trigger.t + ob.expire_us, self._expire_open, ob)
            elif ob.status == BREACHED and ob.breach_at is not None:
                timers.push(ob.breach_at + ob.expire_us, self._expire, ob)

    def count_open(self) -> None:
        pending = overdue = 0
        for bucket in self.open.values():
            for ob in bucket:
                if ob.status == OPEN:
                    pending += 1
                else:
                    overdue += 1
        self.stats.pending = pending
        self.stats.overdue = overdue
