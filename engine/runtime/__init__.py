"""The runtime: one :class:`PlaybookRun` per playbook, pure event-time state machines.

``reach`` fires every scheduled instant an event's time passes and finds the
facts and rules that can see its type; ``dispatch`` then updates the key's facts
and lets each of those rules act on it. Nothing here reads the wall clock or the filesystem.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from math import isfinite
from typing import Any

from ..actions import Action, dumps
from ..errors import StateError
from ..model import CadenceRule, Fact, Playbook, ResponseRule, SignalRule
from ..summary import RunSummary
from .cadence import CadenceRuntime
from .context import Ev, EventIds, RunContext, hashable
from .response import ResponseRuntime
from .signal import SignalRuntime

RuleRuntime = ResponseRuntime | CadenceRuntime | SignalRuntime

__all__ = ["Ev", "EventIds", "PlaybookRun", "invalid_key_reason", "is_key", "row_key"]


def is_key(value: Any) -> bool:
    """Can ``value`` be a key? A string or a finite number: not a boolean, not NaN (equal to
    nothing, not even itself) or an infinity, not an object or a list."""
    if isinstance(value, str):
        return True
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return not isinstance(value, float) or isfinite(value)


def invalid_key_reason(field: str, key: Any) -> str:
    """Why an event whose key field holds ``key`` is skipped, for the summary."""
    shown = repr(key)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"invalid key: the key field '{field}' must be a string or a finite number, got {shown}"


def row_key(hkey: Any) -> str:
    """The text a key's saved state is found by (equal keys, 1 and 1.0 say, give one text)."""
    kind = type(hkey)
    if kind is str:
        return dumps(hkey)
    if kind is float and hkey.is_integer():
        return str(int(hkey))
    if kind is int or kind is float:
        return repr(hkey)
    return dumps(hkey)


class Unloaded:
    """Keys whose saved state is still in the store (a run over a store loads a key's state
    when an event of it comes, or when the clock is about to pass its first pending instant).

    ``fetch(row keys)`` returns their saved states (parsed); ``clock`` is the clock the state
    was saved at (what a whole restore would have been given); ``counts`` what
    :meth:`PlaybookRun.count_open` counts of them, by rule.
    """

    def __init__(self, index: dict[str, int | None], fetch: Callable[[list[str]], dict[str, dict[str, Any]]],
                 clock: int | None, counts: dict[str, list[int]]):
        self.index = index
        self.fetch = fetch
        self.clock = clock
        self.counts = counts
        self.due = [(at, rk) for rk, at in index.items() if at is not None]
        heapq.heapify(self.due)


_FIELD = {ResponseRuntime: "obligations", CadenceRuntime: "cadences", SignalRuntime: "groups"}


class PlaybookRun:
    """The state of one playbook over a stream of events."""

    def __init__(self, playbook: Playbook, index: int, summary: RunSummary, out: list[Action]):
        self.playbook = playbook
        self.ctx = RunContext(playbook, index, summary, out)
        self.summary = summary
        self.clock: int | None = None
        self.counts_events = True  # events without key are counted once per engine, by the first reader's runs
        self.runtimes: list[RuleRuntime] = []
        for rule in playbook.rules:
            if not rule.enabled:
                continue
            if isinstance(rule, ResponseRule):
                self.runtimes.append(ResponseRuntime(rule, self.ctx))
            elif isinstance(rule, CadenceRule):
                self.runtimes.append(CadenceRuntime(rule, self.ctx))
            elif isinstance(rule, SignalRule):
                self.runtimes.append(SignalRuntime(rule, self.ctx))
        self._dispatch: dict[str, tuple[tuple[Fact, ...], tuple[RuleRuntime, ...]] | None] = {}
        self._heap = self.ctx.timers.heap
        self._key_field = playbook.key_field
        self.unloaded: Unloaded | None = None
        self.rewrite = True  # the next saved delta holds every key (a fresh or whole state)
        self._get_key: Callable[[dict[str, Any]], Any] | None = None  # for a dotted key field only
        if "." in self._key_field:
            from ..model import make_getter

            self._get_key = make_getter(self._key_field)

    def _handlers(self, etype: str) -> tuple[tuple[Fact, ...], tuple[RuleRuntime, ...]] | None:
        """The facts and rules that can see events of this type, None if nothing can (an index built on first sight)."""
        facts = tuple(f for f in self.playbook.facts if f.source.accepts_type(etype))
        rules = tuple(r for r in self.runtimes if any(p.accepts_type(etype) for p in r.patterns))
        found = (facts, rules) if facts or rules else None
        if len(self._dispatch) < 10_000:  # event types are few; a log with endless ones is not indexed further
            self._dispatch[etype] = found
        return found

    def reach(self, t: int, data: dict[str, Any], etype: str, serial: int, source: str | None
              ) -> tuple[Any, tuple[Fact, ...], tuple[RuleRuntime, ...]] | str | None:
        """Move the clock to an event at ``t`` (firing what it passes); then the event's
        key and the facts and rules that see it, or None when nothing does. An event whose
        key is not a string or a number is not this playbook's to process: the reason
        (``"invalid key: ..."``) is returned and nothing moves, for the caller to count the
        event as skipped unless another playbook processes it."""
        key = data.get(self._key_field) if self._get_key is None else self._get_key(data)
        kind = type(key)
        if key is not None and kind is not str and kind is not int and not is_key(key):  # the common kinds need no call
            return invalid_key_reason(self.playbook.key_field, key)
        heap = self._heap
        unloaded = self.unloaded
        if unloaded is not None and unloaded.due and unloaded.due[0][0] < t:
            self._load_due(t)
        if heap and heap[0][0] < t:
            self.ctx.timers.fire_before(t)
        self.clock = t
        if key is None:
            if self.counts_events:
                self.summary.no_key(serial)
            return None
        try:
            found = self._dispatch[etype]
        except KeyError:
            found = self._handlers(etype)
        if found is None:
            return None
        facts, rules = found
        if unloaded is not None:
            self.ensure(key)
        return key, facts, rules

    def dispatch(self, ev: Ev, key: Any, facts: tuple[Fact, ...], rules: tuple[RuleRuntime, ...]) -> None:
        """Let the facts, then the rules, that see ``ev`` act on it (see :meth:`reach`)."""
        store = self.ctx.facts
        dirty = self.ctx.dirty
        if dirty is not None:
            dirty.add(hashable(key))
        if store.retention_us is not None:
            store.touch(key, ev.t)
        if facts:
            if self.ctx.reads_prev:
                self.ctx.prev_facts = store.view(key)  # a view is never changed in place: updates make a new one
            store.update(facts, ev, key)
        for runtime in rules:
            runtime.on_event(ev, key)
        self.ctx.prev_facts = None

    def advance(self, until: int) -> None:
        """Move the clock to ``until``: fire every instant strictly earlier."""
        unloaded = self.unloaded
        if unloaded is not None and unloaded.due and unloaded.due[0][0] < until:
            self._load_due(until)
        self.ctx.timers.fire_before(until)
        if self.clock is None or until > self.clock:
            self.clock = until

    def state(self) -> dict[str, Any]:
        """Everything this playbook's run remembers, as JSON-able data.

        Pending instants (deadlines, dues, reminders, expiries) are not saved:
        they follow from the saved obligations and cadences and are rebuilt.
        """
        state = {
            "clock": self.clock,
            "facts": self.ctx.facts.state(),
            "rules": {rt.rule.id: rt.state() for rt in self.runtimes},
        }
        if self.ctx.facts.retention_us is not None:
            state["facts_seen"] = self.ctx.facts.seen_state()
        return state

    def restore(self, state: dict[str, Any], rules: set[str] | None = None) -> None:
        """Load saved state; ``rules`` limits which rules' state is taken (the rest start fresh)."""
        self.clock = state["clock"]
        self.ctx.timers.heap.clear()
        self.unloaded = None
        self.rewrite = True
        self.ctx.facts.restore(state["facts"])
        self.ctx.facts.restore_seen(state.get("facts_seen"), self.clock)
        saved_rules = state["rules"]
        for rt in self.runtimes:
            saved = saved_rules.get(rt.rule.id)
            if saved is None or (rules is not None and rt.rule.id not in rules):
                continue
            if isinstance(rt, (CadenceRuntime, ResponseRuntime)):
                rt.restore(saved, self.clock)
            else:
                rt.restore(saved)

    def count_open(self) -> None:
        unloaded = self.unloaded
        for runtime in self.runtimes:
            runtime.count_open()
            if unloaded is not None and runtime.rule.id in unloaded.counts:
                runtime.add_counts(unloaded.counts[runtime.rule.id])

    def facts_of(self, key: Any) -> dict[str, Any]:
        """The current facts of one key (sets as sorted lists)."""
        if self.unloaded is not None:
            self.ensure(key)
        return dict(self.ctx.facts.view(key))

    # -- state saved key by key (a store's incremental runs) -------------------------------

    def track(self) -> None:
        """From now on, note the keys whose state changes (see :meth:`delta`)."""
        if self.ctx.dirty is None:
            self.ctx.dirty = set()

    def ensure(self, key: Any) -> None:
        """Load ``key``'s saved state if it is still in the store."""
        unloaded = self.unloaded
        if unloaded is None:
            return
        try:
            rk = row_key(hashable(key))
        except (TypeError, ValueError):
            return
        if rk in unloaded.index:
            self._load([rk])

    def prefetch(self, evs: Iterable[Ev]) -> None:
        """Load at once the saved state of the keys of these events that facts or rules
        see (as their events would one by one)."""
        unloaded = self.unloaded
        if unloaded is None:
            return
        index, field, get, dispatch = unloaded.index, self._key_field, self._get_key, self._dispatch
        wanted: dict[str, None] = {}
        for ev in evs:
            if (dispatch[ev.type] if ev.type in dispatch else self._handlers(ev.type)) is None:
                continue
            data = ev.data
            key = data.get(field) if get is None else get(data)
            if isinstance(key, (str, int, float)) and not isinstance(key, bool):
                rk = row_key(hashable(key))
                if rk in index:
                    wanted[rk] = None
        if wanted:
            self._load(list(wanted))

    def _load_due(self, t: int) -> None:
        """Load every key whose first pending instant is before ``t`` (it is about to fire)."""
        unloaded = self.unloaded
        assert unloaded is not None
        due, index = unloaded.due, unloaded.index
        keys = []
        while due and due[0][0] < t:
            _, rk = heapq.heappop(due)
            if rk in index:
                keys.append(rk)
        if keys:
            self._load(keys)

    def _load(self, rks: list[str]) -> None:
        unloaded = self.unloaded
        assert unloaded is not None
        saved = unloaded.fetch(rks)
        for rk in rks:
            del unloaded.index[rk]
            state = saved.get(rk)
            if state is None:
                continue
            try:
                self.restore_key(state, unloaded.clock)
            except (TypeError, AttributeError, KeyError, ValueError, IndexError, OverflowError) as exc:
                raise StateError(f"the store's saved state of key {rk} (playbook {self.playbook.name}) is damaged "
                                 f"({type(exc).__name__}: {exc}): run again with --reset-state to start the state "
                                 "over from the new events, or restore the store from a backup") from None
            for rid, items in state.get("r", {}).items():
                counts = unloaded.counts.get(rid)
                rt = self._runtime(rid)
                if counts is not None and rt is not None:
                    for i, n in enumerate(rt.item_counts(items)):
                        counts[i] -= n
            if self.ctx.dirty is not None:
                self.ctx.dirty.add(hashable(state["k"]))
        if not unloaded.index:
            self.unloaded = None

    def _runtime(self, rid: str) -> RuleRuntime | None:
        for rt in self.runtimes:
            if rt.rule.id == rid:
                return rt
        return None

    def restore_key(self, saved: dict[str, Any], clock: int | None) -> None:
        """One key's saved state (see :meth:`key_state`), as :meth:`restore` takes every key's."""
        self.ctx.facts.restore_key(saved, clock)
        rules = saved.get("r", {})
        for rt in self.runtimes:
            items = rules.get(rt.rule.id)
            if not items:
                continue
            if isinstance(rt, (CadenceRuntime, ResponseRuntime)):
                rt.restore_items(items, clock)
            else:
                rt.restore_items(items)

    def key_state(self, hkey: Any) -> tuple[dict[str, Any] | None, int | None]:
        """Everything this run remembers of one key (None: nothing), and the first instant
        restoring it would schedule (None: none)."""
        out: dict[str, Any] = {}
        due = self.ctx.facts.key_state(hkey, out)
        rules: dict[str, Any] = {}
        clock = self.clock
        for rt in self.runtimes:
            items, at = rt.key_items(hkey, clock)
            if items:
                rules[rt.rule.id] = items
            if at is not None and (due is None or at < due):
                due = at
        if rules:
            out["r"] = rules
        if not out:
            return None, None
        out["k"] = hkey
        return out, due

    def all_keys(self) -> Iterable[Any]:
        """Every key this run holds state of (in memory)."""
        keys: dict[Any, None] = dict.fromkeys(self.ctx.facts.values)
        keys.update(dict.fromkeys(self.ctx.facts.seen))
        for rt in self.runtimes:
            keys.update(dict.fromkeys(rt.running if isinstance(rt, CadenceRuntime) else rt.by_key))
        return keys

    def load_all(self) -> None:
        """Load every key still in the store."""
        if self.unloaded is not None:
            self._load(list(self.unloaded.index))

    def delta(self) -> dict[str, Any]:
        """What changed since the last delta: ``keys`` [[row key, first instant, state or
        None (gone)], ...]; ``all``: these are every key (the store's other keys go).
        ``head``: the state not kept by key (the clock, each rule's kind), with ``counts``:
        what :meth:`count_open` counts, by rule, of every key."""
        dirty = self.ctx.dirty
        rewrite = self.rewrite or dirty is None
        keys = list(self.all_keys()) if rewrite else list(dirty or ())
        rows = []
        for hkey in keys:
            state, due = self.key_state(hkey)
            rows.append([row_key(hkey), due, state])
        if dirty is not None:
            dirty.clear()
        self.rewrite = False
        self.count_open()
        counts: dict[str, list[int]] = {}
        for rt in self.runtimes:
            stats = rt.stats
            if isinstance(rt, ResponseRuntime):
                counts[rt.rule.id] = [stats.pending, stats.overdue]
            elif isinstance(rt, CadenceRuntime):
                counts[rt.rule.id] = [stats.cadences_running, stats.cadences_overdue]
            else:
                counts[rt.rule.id] = [stats.groups]
        head: dict[str, Any] = {
            "clock": self.clock, "keyed": True, "facts": [],
            "rules": {rt.rule.id: {_FIELD[type(rt)]: []} for rt in self.runtimes},
            "counts": counts,
        }
        if self.ctx.facts.retention_us is not None:
            head["facts_seen"] = []
        return {"head": head, "keys": rows, "all": rewrite}

    def restore_lazy(self, head: dict[str, Any], index: dict[str, int | None],
                     fetch: Callable[[list[str]], dict[str, dict[str, Any]]]) -> None:
        """Continue from a saved head whose keys stay in the store until needed."""
        self.clock = head["clock"]
        self.ctx.timers.heap.clear()
        counts = {rid: [int(n) for n in c] for rid, c in head["counts"].items()}
        self.unloaded = Unloaded(dict(index), fetch, self.clock, counts) if index else None
        self.rewrite = False
