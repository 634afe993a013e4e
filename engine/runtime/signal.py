"""Signal rules (section 8.3): a match (or the Nth in a window) fires, then cools down."""

from __future__ import annotations

from collections import deque
from typing import Any

from ..actions import canonical_json
from ..model import SignalRule
from .context import Ev, RunContext, hashable


class Group:
    __slots__ = ("last_firing", "window", "drop_at", "timer")

    def __init__(self) -> None:
        self.last_firing: int | None = None
        self.window: deque[int] = deque()
        self.drop_at = 0      # once the clock passes this instant, nothing in the group can matter
        self.timer = False    # a drop timer is pending for the group


class SignalRuntime:
    #: Drop a group once nothing in it can matter (tests turn this off to compare).
    evict = True

    def __init__(self, rule: SignalRule, run: RunContext):
        self.rule = rule
        self.run = run
        self.groups: dict[tuple[Any, ...], Group] = {}
        self.stats = run.summary.rule(f"{run.playbook.name}/{rule.id}")
        self.patterns = (rule.when,)
        self._keys: dict[tuple[Any, ...], tuple[Any, dict[str, Any]]] = {}  # group -> (key, subject), for saved state
        self.by_key: dict[Any, dict[tuple[Any, ...], None]] = {}  # key -> its groups

    def on_event(self, ev: Ev, key: Any) -> None:
        rule = self.rule
        run = self.run
        if not run.test(rule.when, ev, key, None, f"{rule.id} when"):
            return
        if rule.unless is not None and run.condition(rule.unless, ev, key, f"{rule.id} unless"):
            self.stats.signals_unless += 1
            return
        gk: list[Any] = [hashable(key)]
        subject: dict[str, Any] = {}
        for name, get in zip(rule.group_by, rule.group_getters, strict=True):
            value = get(ev.data)
            if value is None:
                self.stats.signals_missing_group += 1
                return
            gk.append(hashable(value))
            subject[name] = value
        if rule.cooldown_us is None and rule.threshold_count is None:
            run.emit(rule, "match", ev.t, key, subject, canonical_json(subject), ev, ev, None)
            return  # nothing to remember
        group_key = tuple(gk)
        group = self.groups.get(group_key)
        if group is None:
            group = self.groups[group_key] = Group()
            self._keys[group_key] = (key, subject)
            self.by_key.setdefault(gk[0], {})[group_key] = None
        t = ev.t
        if group.last_firing is not None and rule.cooldown_us is not None and t < group.last_firing + rule.cooldown_us:
            # Suppressed: not counted in the window, and the cooldown is not extended.
            self.stats.signals_suppressed_cooldown += 1
            return
        if rule.threshold_count is not None:
            assert rule.threshold_within_us is not None
            window = group.window
            start = t - rule.threshold_within_us
            while window and window[0] < start:
                window.popleft()
            window.append(t)
            if len(window) < rule.threshold_count:
                self._settle(group_key, group)
                return
            window.clear()
        group.last_firing = t
        self._settle(group_key, group)
        run.emit(rule, "match", t, key, subject, canonical_json(subject), ev, ev, None)

    def _settle(self, group_key: tuple[Any, ...], group: Group) -> None:
        """After a change: when the group stops mattering (its cooldown over, its window
        empty), or drop it now. From then on, a fresh group would act exactly as it would."""
        if not self.evict:
            return
        rule = self.rule
        drop_at: int | None = None
        if group.last_firing is not None and rule.cooldown_us is not None:
            drop_at = group.last_firing + rule.cooldown_us  # a match at that instant is no longer suppressed
        if group.window:
            assert rule.threshold_within_us is not None
            last = group.window[-1] + rule.threshold_within_us  # leaves the window of any match after it
            drop_at = last if drop_at is None or last > drop_at else drop_at
        if drop_at is None:
            self._drop(group_key)
            return
        group.drop_at = drop_at
        if not group.timer:
            group.timer = True
            self.run.timers.push(drop_at, self._expire, (group_key, group))

    def _expire(self, at: int, payload: tuple[tuple[Any, ...], Group]) -> None:
        group_key, group = payload
        if self.run.dirty is not None:
            self.run.dirty.add(group_key[0])
        if self.groups.get(group_key) is not group:
            return
        if group.drop_at > at:  # touched since: wait for its new instant (one timer per group)
            self.run.timers.push(group.drop_at, self._expire, payload)
            return
        self._drop(group_key)

    def _drop(self, group_key: tuple[Any, ...]) -> None:
        self.groups.pop(group_key, None)
        self._keys.pop(group_key, None)
        groups = self.by_key.get(group_key[0])
        if groups is not None:
            groups.pop(group_key, None)
            if not groups:
                del self.by_key[group_key[0]]

    def _item(self, gk: tuple[Any, ...], group: Group) -> dict[str, Any]:
        key, subject = self._keys[gk]
        return {"key": key, "subject": subject, "last_firing": group.last_firing, "window": list(group.window)}

    def state(self) -> dict[str, Any]:
        return {"groups": [self._item(gk, group) for gk, group in self.groups.items()]}

    def key_items(self, hkey: Any, clock: int | None) -> tuple[list[dict[str, Any]], int | None]:
        """One key's groups as :meth:`state` saves them, and the first instant
        :meth:`restore_items` would schedule for them (None: none)."""
        gks = self.by_key.get(hkey)
        if not gks:
            return [], None
        items = []
        due: int | None = None
        for gk in gks:
            group = self.groups[gk]
            items.append(self._item(gk, group))
            if group.timer and (due is None or group.drop_at < due):
                due = group.drop_at
        return items, due

    @staticmethod
    def item_counts(items: list[dict[str, Any]]) -> list[int]:
        """What :meth:`count_open` counts of saved groups."""
        return [len(items)]

    def add_counts(self, counts: list[int]) -> None:
        self.stats.groups += counts[0]

    def restore(self, state: dict[str, Any]) -> None:
        self.groups.clear()
        self._keys.clear()
        self.by_key.clear()
        self.restore_items(state["groups"])

    def restore_items(self, groups: list[dict[str, Any]]) -> None:
        """Add saved groups (of :meth:`state` or :meth:`key_items`)."""
        for saved in groups:
            subject = saved["subject"]
            gk = (hashable(saved["key"]), *(hashable(subject.get(name)) for name in self.rule.group_by))
            group = Group()
            group.last_firing = saved["last_firing"]
            group.window.extend(saved["window"])
            self.groups[gk] = group
            self._keys[gk] = (saved["key"], subject)
            self.by_key.setdefault(gk[0], {})[gk] = None
            self._settle(gk, group)

    def count_open(self) -> None:
        self.stats.groups = len(self.groups)
