"""Response rules (section 8.1): a trigger opens an obligation; an expected event closes it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..actions import canonical_json
from ..model import Pattern, ResponseRule
from .context import Ev, RunContext, add_time, calendar_named, hashable, resolve_calendar

if TYPE_CHECKING:
    from ..calendars import Calendar

OPEN, BREACHED, CLOSED = 0, 1, 2


class Obligation:
    __slots__ = ("bucket_key", "key", "subject", "subject_json", "trigger", "deadline", "status", "breach_at", "calendar")

    def __init__(self, bucket_key: tuple[Any, ...], key: Any, subject: dict[str, Any], trigger: Ev,
                 deadline: int | None, calendar: Calendar | None):
        self.bucket_key = bucket_key
        self.key = key
        self.subject = subject
        self.subject_json = canonical_json(subject)
        self.trigger = trigger
        self.deadline = deadline
        self.status = OPEN
        self.breach_at: int | None = None
        self.calendar = calendar


class ResponseRuntime:
    """Open obligations of one response rule, by (key, same values)."""

    def __init__(self, rule: ResponseRule, run: RunContext):
        self.rule = rule
        self.run = run
        self.open: dict[tuple[Any, ...], list[Obligation]] = {}
        self.by_key: dict[Any, dict[tuple[Any, ...], None]] = {}  # key -> its buckets of ``open``, oldest first
        self.stats = run.summary.rule(f"{run.playbook.name}/{rule.id}")
        self.patterns = tuple(p for p in (rule.expect, rule.before, rule.when) if p is not None)
        self._roles: dict[str, tuple[bool, bool, bool]] = {}  # event type -> (expected, preempts, triggers)
        self._expect_uses_trigger = rule.expect.where is not None and "trigger" in rule.expect.where.names_used
        self._before_uses_trigger = (
            rule.before is not None and rule.before.where is not None and "trigger" in rule.before.where.names_used
        )

    def _bucket_key(self, data: dict[str, Any], key: Any) -> tuple[Any, ...] | None:
        values = [hashable(key)]
        for get in self.rule.same_getters:
            v = get(data)
            if v is None:
                return None
            values.append(hashable(v))
        return tuple(values)

    def _roles_of(self, etype: str) -> tuple[bool, bool, bool]:
        rule = self.rule
        roles = (rule.expect.accepts_type(etype), rule.before is not None and rule.before.accepts_type(etype),
                 rule.when.accepts_type(etype))
        if len(self._roles) < 10_000:
            self._roles[etype] = roles
        return roles

    def on_event(self, ev: Ev, key: Any) -> None:
        expects, preempts, triggers = self._roles.get(ev.type) or self._roles_of(ev.type)
        # One event in several roles: fulfil first, then preempt, then trigger.
        if expects and self.open:
            bk = self._bucket_key(ev.data, key)
            bucket = self.open.get(bk) if bk is not None else None
            if bucket:
                self._fulfil(bucket, ev, key)
        if preempts and self.open:
            bk = self._bucket_key(ev.data, key)
            bucket = self.open.get(bk) if bk is not None else None
            if bucket:
                self._preempt(bucket, ev, key)
        if triggers:
            self._trigger(ev, key)

    def _matching(self, bucket: list[Obligation], pattern: Pattern, uses_trigger: bool, ev: Ev, key: Any,
                  where: str, only_open: bool) -> Iterator[Obligation]:
        """The obligations of ``bucket`` for which ``ev`` matches ``pattern``.

        The pattern is tested once, unless its ``where`` reads ``trigger``
        (then once per obligation, each with its own trigger).
        """
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

    def _fulfil(self, bucket: list[Obligation], ev: Ev, key: Any) -> None:
        run = self.run
        rule = self.rule
        t = ev.t
        for ob in self._matching(bucket, rule.expect, self._expect_uses_trigger, ev, key, f"{rule.id} expect", False):
            if ob.status == OPEN:
                # Open means the deadline (if any) has not passed: it would have fired first.
                run.emit(rule, "met", t, key, ob.subject, ob.subject_json, ob.trigger, ev, ob.deadline,
                         calendar=ob.calendar)
            else:
                assert ob.breach_at is not None
                run.emit(rule, "late", t, key, ob.subject, ob.subject_json, ob.trigger, ev, ob.deadline,
                         late_by=t - ob.breach_at, calendar=ob.calendar)
            self._close(ob)

    def _preempt(self, bucket: list[Obligation], ev: Ev, key: Any) -> None:
        run = self.run
        rule = self.rule
        assert rule.before is not None
        for ob in self._matching(bucket, rule.before, self._before_uses_trigger, ev, key, f"{rule.id} expect.before", True):
            ob.status = BREACHED
            ob.breach_at = ev.t
            run.emit(rule, "breach", ev.t, key, ob.subject, ob.subject_json, ob.trigger, ev, ob.deadline,
                     reason="preempted", calendar=ob.calendar)
            run.timers.push(ev.t + rule.expire_us, self._expire, ob)

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
        deadline = None
        calendar = None
        if rule.within is not None:
            calendar = resolve_calendar(run, rule.calendar, ev, key, rule.id)
            deadline = add_time(ev.t, rule.within, calendar)
        subject = {name: get(ev.data) for name, get in zip(rule.same, rule.same_getters, strict=True)}
        ob = Obligation(bk, key, subject, ev, deadline, calendar)
        if bucket is None:
            self.open[bk] = [ob]
            self.by_key.setdefault(bk[0], {})[bk] = None
        else:
            bucket.append(ob)
        if deadline is not None:
            run.timers.push(deadline, self._deadline, ob)
        elif rule.expire_open:
            # Without a deadline only the expected or the competing event closes it: with
            # ``expire`` written, it is dropped that long after its trigger (else kept, and
            # lint warns that such a rule's open obligations can grow).
            run.timers.push(ev.t + rule.expire_us, self._expire_open, ob)

    def _deadline(self, at: int, ob: Obligation) -> None:
        if self.run.dirty is not None:
            self.run.dirty.add(ob.bucket_key[0])
        if ob.status != OPEN:
            return
        ob.status = BREACHED
        ob.breach_at = at
        self.run.emit(self.rule, "breach", at, ob.key, ob.subject, ob.subject_json, ob.trigger, None, at, reason="deadline",
                           calendar=ob.calendar)
        self.run.timers.push(at + self.rule.expire_us, self._expire, ob)

    def _expire(self, at: int, ob: Obligation) -> None:
        if self.run.dirty is not None:
            self.run.dirty.add(ob.bucket_key[0])
        if ob.status == BREACHED:
            self.stats.expired += 1
            self._close(ob)

    def _expire_open(self, at: int, ob: Obligation) -> None:
        """An obligation without a deadline, still open ``expire`` after its trigger: dropped."""
        if self.run.dirty is not None:
            self.run.dirty.add(ob.bucket_key[0])
        if ob.status == OPEN:
            self.stats.expired += 1
            self._close(ob)

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

    def state(self) -> dict[str, Any]:
        """Open obligations, oldest first within each (key, same values)."""
        return {"obligations": [self._item(ob) for bucket in self.open.values() for ob in bucket]}

    def _item(self, ob: Obligation) -> dict[str, Any]:
        return {"key": ob.key, "subject": ob.subject, "trigger": ob.trigger.state(), "deadline": ob.deadline,
                "status": ob.status, "breach_at": ob.breach_at,
                "calendar": None if ob.calendar is None else ob.calendar.name}

    def key_items(self, hkey: Any, clock: int | None) -> tuple[list[dict[str, Any]], int | None]:
        """One key's obligations as :meth:`state` saves them, and the first instant
        :meth:`restore_items` would schedule for them (None: none)."""
        buckets = self.by_key.get(hkey)
        if not buckets:
            return [], None
        items = []
        due: int | None = None
        expire = self.rule.expire_us
        for bk in buckets:
            for ob in self.open.get(bk, ()):
                items.append(self._item(ob))
                if ob.status == OPEN:
                    at = ob.deadline if ob.deadline is not None else ob.trigger.t + expire
                elif ob.breach_at is not None:
                    at = ob.breach_at + expire
                else:
                    continue
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

    def restore(self, state: dict[str, Any]) -> None:
        """Rebuild the obligations and their pending instants (deadline or expiry)."""
        self.open.clear()
        self.by_key.clear()
        self.restore_items(state["obligations"])

    def restore_items(self, obligations: list[dict[str, Any]]) -> None:
        """Add saved obligations (of :meth:`state` or :meth:`key_items`) and their pending instants."""
        rule = self.rule
        for saved in obligations:
            trigger = Ev.from_state(saved["trigger"])
            bk = self._bucket_key(trigger.data, saved["key"])
            if bk is None:
                continue
            ob = Obligation(bk, saved["key"], saved["subject"], trigger, saved["deadline"],
                            calendar_named(self.run, saved["calendar"]))
            ob.status = saved["status"]
            ob.breach_at = saved["breach_at"]
            self.open.setdefault(bk, []).append(ob)
            self.by_key.setdefault(bk[0], {})[bk] = None
            if ob.status == OPEN and ob.deadline is not None:
                self.run.timers.push(ob.deadline, self._deadline, ob)
            elif ob.status == OPEN and rule.expire_open:
                self.run.timers.push(trigger.t + rule.expire_us, self._expire_open, ob)
            elif ob.status == BREACHED and ob.breach_at is not None:
                self.run.timers.push(ob.breach_at + rule.expire_us, self._expire, ob)

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
