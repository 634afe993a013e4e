"""The runtime: one :class:`PlaybookRun` per playbook, pure event-time state machines.

``reach`` fires every scheduled instant an event's time passes and finds the
facts and rules that can see its type; ``dispatch`` then updates the key's facts
and lets each of those rules act on it. Nothing here reads the wall clock or the filesystem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..actions import Action
from ..model import CadenceRule, Fact, Playbook, ResponseRule, SignalRule
from ..summary import RunSummary
from .cadence import CadenceRuntime
from .context import Ev, EventIds, RunContext
from .response import ResponseRuntime
from .signal import SignalRuntime

RuleRuntime = ResponseRuntime | CadenceRuntime | SignalRuntime

__all__ = ["Ev", "EventIds", "PlaybookRun"]


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
        if key is not None and kind is not str and kind is not int and kind is not float and (
                isinstance(key, bool) or not isinstance(key, (str, int, float))):
            return self.invalid_key(key)
        heap = self._heap
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
        return key, facts, rules

    def invalid_key(self, key: Any) -> str:
        """Why ``key`` (not a string or a number) is no key, for the summary."""
        shown = repr(key)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return f"invalid key: the key field '{self.playbook.key_field}' must be a string or a number, got {shown}"

    def dispatch(self, ev: Ev, key: Any, facts: tuple[Fact, ...], rules: tuple[RuleRuntime, ...]) -> None:
        """Let the facts, then the rules, that see ``ev`` act on it (see :meth:`reach`)."""
        store = self.ctx.facts
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
        self.ctx.facts.restore(state["facts"])
        self.ctx.facts.restore_seen(state.get("facts_seen"), self.clock)
        saved_rules = state["rules"]
        for rt in self.runtimes:
            saved = saved_rules.get(rt.rule.id)
            if saved is None or (rules is not None and rt.rule.id not in rules):
                continue
            if isinstance(rt, CadenceRuntime):
                rt.restore(saved, self.clock)
            else:
                rt.restore(saved)

    def count_open(self) -> None:
        for runtime in self.runtimes:
            runtime.count_open()

    def facts_of(self, key: Any) -> dict[str, Any]:
        """The current facts of one key (sets as sorted lists)."""
        return dict(self.ctx.facts.view(key))
