"""Incremental, crash-safe runs over a store: exactly-once actions.

:class:`DurableRun` drives an :class:`~engine.Engine` over new events with a
store (:class:`~engine.store.SQLiteStore`, or anything with the same
methods): it restores the saved state, skips events processed before
(duplicates, by id), sets aside events that come after the clock passed them
(late), holds back events for ``allowed_lateness``, and commits state, ledger
and processed ids together every ``commit_every`` events. Actions are written
out only after their batch is committed, and marked as written afterwards, so
a run killed at any moment and run again writes every action at least once
and the ledger holds each exactly once.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .actions import Action
from .engine import Engine, event_time
from .runtime import Ev
from .sources import SourceEvent
from .store import Batch
from .timecalc import format_time

_LOOKUP = 5_000  # events at or before the saved clock looked up in the store at once


class Store(Protocol):
    """What a durable run needs from a store (SQLiteStore is the shipped one)."""

    def load_state(self) -> dict[str, Any] | None: ...
    def processed(self, ids: Sequence[str]) -> set[str]: ...
    def pending(self) -> list[SourceEvent]: ...
    def begin_run(self, started: str, source: str) -> int: ...
    def commit(self, batch: Batch) -> list[Action]: ...
    def unprinted(self, before_us: int | None = None) -> list[tuple[str, str]]: ...
    def mark_printed(self, before_us: int | None = None) -> None: ...
    def finish_run(self, run_id: int, finished: str, status: str, counts: dict[str, Any]) -> None: ...


@dataclass
class DurableSummary:
    run_id: int = 0
    duplicates: int = 0
    late: int = 0
    held_back: int = 0          # events after the watermark, kept for the next run
    actions_new: int = 0
    actions_written: int = 0
    notes: list[str] = field(default_factory=list)


class DurableRun:
    def __init__(self, engine: Engine, store: Store, *, reset_state: bool = False,
                 allowed_lateness_us: int = 0, commit_every: int = 50_000):
        self.engine = engine
        self.store = store
        self.reset_state = reset_state
        self.lateness = allowed_lateness_us
        self.commit_every = max(1, commit_every)
        self.summary = DurableSummary()
        self._emit: Callable[[list[str]], None] = lambda lines: None
        self._run_id = 0
        self._held_ids: set[str] = set()
        self._batch: list[Ev] = []
        self._late: list[tuple[str, int, str, str, str | None, Any]] = []

    def run(
        self,
        events: Iterable[Mapping[str, Any] | SourceEvent],
        *,
        emit: Callable[[list[str]], None],
        until: Any = None,
        started: str = "",
        source: str = "",
        now: Callable[[], str] = lambda: "",
        ordered: bool = False,
    ) -> DurableSummary:
        """Process the new events; ``emit`` receives JSON lines of actions to write out.

        ``ordered``: the events come in time order (as :meth:`Engine.ordered_events`
        gives a file's), so they are processed as they are read and memory does not
        grow with their number; otherwise they are read whole and sorted first.
        """
        engine, store, summary = self.engine, self.store, self.summary
        self._emit = emit
        limit = None if until is None else engine.parse_until(until)
        run_id = summary.run_id = store.begin_run(started, source)
        status = "failed"
        try:
            self._write()  # an earlier run was stopped after a commit, before writing
            saved = store.load_state()
            if saved is not None and self.reset_state:
                summary.notes.append("saved state reset (--reset-state): starting over from these events")
            elif saved is not None:
                summary.notes.extend(engine.restore(saved))
            clock = engine.clock

            held = engine.read(store.pending())  # held back by an earlier run, in time order
            held_ids = {ev.id for ev in held}
            # Sorting is stable: equal times keep input order.
            new = engine.read_ordered(events) if ordered else iter(sorted(engine.read(events), key=event_time))
            fresh = self._screen(new, clock, held_ids)
            # On equal times, held events come first: they were read before these.
            stream = heapq.merge(held, fresh, key=event_time) if held else fresh
            self._run_id, self._held_ids = run_id, held_ids
            self._batch, self._late = [], []

            lateness = self.lateness
            waiting: deque[Ev] = deque()  # with lateness: events that may still be held back
            beyond: list[Ev] = []         # after --until
            newest: int | None = None
            for ev in stream:
                if limit is not None:
                    if ev.t > limit:  # held back with lateness, else counted as after until
                        if lateness:
                            beyond.append(ev)
                        else:
                            engine.summary.after_until += 1
                        continue
                    self._take(ev)
                elif lateness:
                    # Held back are the events later than the newest one's time less the lateness;
                    # an event that far behind this one is not.
                    waiting.append(ev)
                    bound = ev.t - lateness
                    if clock is not None and bound < clock:
                        bound = clock
                    while waiting and waiting[0].t <= bound:
                        self._take(waiting.popleft())
                else:
                    self._take(ev)
                newest = ev.t

            end = limit
            if end is None and newest is not None:
                end = newest - lateness
                if clock is not None and end < clock:
                    end = clock
            while waiting and end is not None and waiting[0].t <= end:
                self._take(waiting.popleft())
            keep = beyond if limit is not None else list(waiting)
            summary.held_back = len(keep)
            if end is not None:
                engine.advance_to(end)
            self._commit(pending_add=keep, last=True)
            status = "completed"
        finally:
            counts = engine.count_open()
            store.finish_run(run_id, now(), status, {
                "until": None if counts.until is None else format_time(counts.until),
                "events_read": counts.events_read, "events_processed": counts.events_processed,
                "duplicates": summary.duplicates, "late": summary.late, "skipped": counts.skipped_total,
                "actions_new": summary.actions_new, "notes": "\n".join(summary.notes),
            })
        return summary

    def _screen(self, evs: Iterable[Ev], clock: int | None, held_ids: set[str]) -> Iterator[Ev]:
        """The new events to process: duplicates skipped, late events set aside (both counted).

        A duplicate is an event processed before or one held back from an earlier run
        (that copy is processed); only an event at or before the saved clock can have
        been processed, or be late: the store is asked about those in chunks.
        """
        if clock is None:  # nothing was processed before
            for ev in evs:
                if ev.id in held_ids:
                    self.summary.duplicates += 1
                else:
                    yield ev
            return
        old: list[Ev] = []
        for ev in evs:
            if ev.id in held_ids:
                self.summary.duplicates += 1
                continue
            if ev.t <= clock:
                old.append(ev)
                if len(old) < _LOOKUP:
                    continue
            if old:
                yield from self._sort_out(old, clock)
                old = []
            if ev.t > clock:
                yield ev
        if old:
            yield from self._sort_out(old, clock)

    def _sort_out(self, old: list[Ev], clock: int) -> Iterator[Ev]:
        done = self.store.processed([ev.id for ev in old])
        for ev in old:
            if ev.id in done:
                self.summary.duplicates += 1
            elif ev.t < clock:
                self.summary.late += 1
                self._late.append((ev.id, ev.t, ev.type, f"earlier than the stored clock {format_time(clock)}",
                                   ev.source, ev.data))
            else:
                yield ev

    def _take(self, ev: Ev) -> None:
        """Process one event; commit when the batch is full."""
        self.engine.process(ev)
        self._batch.append(ev)
        if len(self._batch) >= self.commit_every:
            self._commit()

    def _commit(self, pending_add: Sequence[Ev] = (), last: bool = False) -> None:
        """Save the batch in one transaction, then write out what the clock has passed."""
        engine, batch = self.engine, self._batch
        snapshot = engine.snapshot()
        new = self.store.commit(Batch(
            run_id=self._run_id,
            snapshot=snapshot,
            actions=engine.drain(),
            processed=[(ev.id, ev.t) for ev in batch],
            late=self._late,
            pending_add=[(ev.id, ev.t, ev.source, ev.data) for ev in pending_add],
            pending_done=[ev.id for ev in batch if ev.id in self._held_ids],
        ))
        self._batch, self._late = [], []
        self.summary.actions_new += len(new)
        # Write what the clock has passed; actions at the clock wait for the next
        # batch, so that written order is the contract's order across batches.
        self._write(None if last else engine.clock)

    def _write(self, before_us: int | None = None) -> None:
        """Write out the ledger's actions not written yet (those before ``before_us``), then
        mark them: a run stopped in between writes them again, never loses them."""
        rows = self.store.unprinted(before_us)
        if not rows:
            return
        self._emit([line for _, line in rows])
        self.store.mark_printed(before_us)
        self.summary.actions_written += len(rows)
