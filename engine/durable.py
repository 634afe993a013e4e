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

import contextlib
import heapq
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import orjson

from .actions import Action, dumps
from .engine import Engine, event_time
from .errors import StateError
from .runtime import Ev
from .sources import SourceEvent
from .store import Batch, state_damaged
from .timecalc import format_time

_LOOKUP = 5_000  # events at or before the saved clock looked up in the store at once


class Store(Protocol):
    """What a durable run needs from a store (SQLiteStore is the shipped one; see also
    :class:`PreparingStore`). A store with ``load_heads()`` and ``key_states(playbook,
    row_keys)`` (as SQLiteStore has) keeps the state key by key: its batches carry
    :meth:`Engine.snapshot_delta` instead of :meth:`Engine.snapshot`."""

    def load_state(self) -> dict[str, Any] | None: ...
    def processed(self, ids: Sequence[str]) -> set[str]: ...
    def pending(self) -> list[SourceEvent]: ...
    def begin_run(self, started: str, source: str) -> int: ...
    def commit(self, batch: Batch) -> int: ...  # how many of the batch's actions are new to the ledger
    def unprinted(self, before_us: int | None = None) -> list[tuple[str, str]]: ...
    def unprinted_ids(self) -> set[str]: ...
    def mark_printed(self, before_us: int | None = None) -> None: ...
    def finish_run(self, run_id: int, finished: str, status: str, counts: dict[str, Any]) -> None: ...


@runtime_checkable
class PreparingStore(Store, Protocol):
    """A store whose batches can be written in a background thread: ``prepare`` reads the
    engine's data (in the run's thread), ``write`` saves the result (``commit`` is both),
    and the store serializes its own use of its connection."""

    def prepare(self, batch: Batch) -> Any: ...
    def write(self, prepared: Any) -> int: ...


@runtime_checkable
class ProcessedInfoStore(Protocol):
    """A store that also tells when and with what content an id was processed, so that an
    id given again with other content is reported as a conflicting duplicate."""

    def processed_before(self, ids: Sequence[str]) -> dict[str, tuple[Any, Any]]: ...


def event_digest(data: Any) -> int | None:
    """A short digest of an event's content (CRC-32 of its JSON, keys sorted), kept with its
    id to recognise the same id given again with other content; None if not JSON-able."""
    try:
        return zlib.crc32(orjson.dumps(data, option=orjson.OPT_SORT_KEYS))
    except (TypeError, orjson.JSONEncodeError):
        return None


@dataclass
class DurableSummary:
    run_id: int = 0
    duplicates: int = 0
    late: int = 0
    held_back: int = 0          # events after the watermark, kept for the next run
    actions_new: int = 0
    actions_written: int = 0
    conflicting: int = 0        # duplicates (by id) whose time or content differs from what was processed
    conflicting_example: str | None = None  # where the first one was (file:line)
    notes: list[str] = field(default_factory=list)


class DurableRun:
    def __init__(self, engine: Engine, store: Store, *, reset_state: bool = False,
                 allowed_lateness_us: int = 0, commit_every: int = 50_000, background: bool = True):
        """``background``: write batches in a second thread when the store can (see
        :class:`Store`); the results are the same either way."""
        self.engine = engine
        self.store = store
        self.reset_state = reset_state
        self.lateness = allowed_lateness_us
        self.commit_every = max(1, commit_every)
        self.summary = DurableSummary()
        self._emit: Callable[[list[str]], None] = lambda lines: None
        self._run_id = 0
        self._held_ids: set[str] = set()
        self._batch: list[tuple[str, int, int | None]] = []  # (id, time, digest) of the events processed since the last commit
        self._asked = True  # has the store processed ids to ask about (False for a new store)
        self._late: list[tuple[str, int, str, str, str | None, Any]] = []
        self._unwritten: list[tuple[Action, str]] = []  # made by this run, not written out yet (with their lines)
        # Ids this run let through _screen that look-ups may not find yet (not committed, or
        # being written): id -> (time, content); see _forget_visible.
        self._recent: OrderedDict[str, tuple[int, Any]] = OrderedDict()  # in time order
        self._mark: tuple[list[Any] | None, int | None, int | None] = (None, None, None)
        # Batches are written in a second thread, one at a time, while the next is processed.
        self._preparing: PreparingStore | None = store if background and isinstance(store, PreparingStore) else None
        self._writer: ThreadPoolExecutor | None = None
        # The batch being saved in the background: its write, its bound, the actions it made.
        self._writing: tuple[Future[int], int | None, list[tuple[Action, str]]] | None = None
        self._by_key = False  # the store keeps the state key by key (Engine.snapshot_delta)

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
        duplicates_before = engine.summary.duplicates.count  # an id given twice in this input (the engine's dedupe)
        status = "failed"
        if self._preparing is not None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playbook-store")
        try:
            self._write_leftovers()
            heads = None
            load_heads = getattr(store, "load_heads", None)
            if not self.reset_state and callable(load_heads):
                heads = load_heads()  # by key: only the keys this run touches are loaded (and saved)
            if heads is not None and engine.restore_keyed(heads, store.key_states):  # type: ignore[attr-defined]
                pass
            else:
                try:
                    saved = store.load_state()
                except StateError:
                    if not self.reset_state:
                        raise
                    saved = {}  # unreadable (a hand-edited store): the reset is how to recover
                if saved is not None and self.reset_state:
                    summary.notes.append("saved state reset (--reset-state): starting over from these events")
                elif saved is not None:
                    summary.notes.extend(self._restore(saved))
                del saved  # what the engine did not take from it is garbage now (tens of MB for 10k accounts)
            del heads
            self._by_key = callable(load_heads)
            if self._by_key:
                engine.track_keys()
            clock = engine.clock

            has = getattr(store, "has_processed", None)
            self._asked = bool(has()) if callable(has) else True  # a new store: no id to look up
            held = engine.read(store.pending())  # held back by an earlier run, in time order
            held_ids = {ev.id for ev in held}
            # Sorting is stable: equal times keep input order.
            new = engine.read_ordered(events) if ordered else iter(sorted(engine.read(events), key=event_time))
            fresh = self._screen(new, clock, held_ids)
            # On equal times, held events come first: they were read before these.
            stream = heapq.merge(held, fresh, key=event_time) if held else fresh
            if engine.max_future_us is not None:  # times far in the future are set aside before they move the clock
                stream = (ev for ev in stream if not engine.set_aside(ev))
            self._run_id, self._held_ids = run_id, held_ids
            self._batch, self._late, self._unwritten = [], [], []

            lateness = self.lateness
            waiting: deque[Ev] = deque()  # with lateness: events that may still be held back
            beyond: list[Ev] = []         # after --until
            newest: int | None = None
            if limit is None and not lateness:
                newest = self._take_all(stream)
            for ev in stream:  # with a limit or lateness (the loop above took all otherwise)
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
            if summary.conflicting:
                summary.notes.append(
                    f"{summary.conflicting:,} conflicting duplicate{'s' if summary.conflicting != 1 else ''}: "
                    f"an id processed before came again with another time or content (first at "
                    f"{summary.conflicting_example}); skipped as duplicates: give a changed event a new id")
            keep = beyond if limit is not None else list(waiting)
            summary.held_back = len(keep)
            if end is not None:
                engine.advance_to(end)
            self._commit(pending_add=keep, last=True)
            status = "completed"
        finally:
            if self._writing is not None:  # stopped by an error: let the batch being saved finish
                with contextlib.suppress(Exception):
                    self._writing[0].result()
                self._writing = None
            if self._writer is not None:
                self._writer.shutdown()
                self._writer = None
            counts = engine.count_open()
            summary.duplicates += counts.duplicates.count - duplicates_before
            store.finish_run(run_id, now(), status, {
                "until": None if counts.until is None else format_time(counts.until),
                "events_read": counts.events_read, "events_processed": counts.events_processed,
                "duplicates": summary.duplicates, "late": summary.late, "skipped": counts.skipped_total,
                "actions_new": summary.actions_new, "notes": "\n".join(summary.notes),
            })
        return summary

    def _restore(self, saved: dict[str, Any]) -> list[str]:
        """The engine continues from the saved state; a state the engine cannot read (edited
        by hand) is a StateError saying how to start over, not a traceback."""
        try:
            return self.engine.restore(saved)
        except (TypeError, AttributeError, KeyError, ValueError, IndexError, OverflowError) as exc:
            raise StateError(state_damaged(getattr(self.store, "path", "the store"),
                                           f"{type(exc).__name__}: {exc}")) from None

    def _screen(self, evs: Iterable[Ev], clock: int | None, held_ids: set[str]) -> Iterator[Ev]:
        """The new events to process: duplicates skipped, late events set aside (both counted).

        A duplicate is an event whose id an earlier run processed, whatever its time now
        (the store's ``processed`` table is the truth), or one held back from an earlier
        run (that copy is processed), or one this run let through before (in this chunk,
        or not yet visible to look-ups: see :meth:`_forget_visible`); so an id is processed
        at most once per store, wherever commits and look-ups fall. An event earlier than
        the saved clock that is no duplicate is late. The store is asked about the ids in chunks.
        """
        chunk: list[Ev] = []
        for ev in evs:
            if ev.id in held_ids:
                self.summary.duplicates += 1
                continue
            chunk.append(ev)
            if len(chunk) >= _LOOKUP:
                yield from self._sort_out(chunk, clock)
                chunk = []
        if chunk:
            yield from self._sort_out(chunk, clock)

    def _processed_before(self, ids: list[str]) -> dict[str, tuple[Any, Any]]:
        """(time, digest) of the ids already processed (the digest None when unknown)."""
        store = self.store
        if not self._asked:
            return {}
        if isinstance(store, ProcessedInfoStore):
            return store.processed_before(ids)
        return {eid: (None, None) for eid in store.processed(ids)}

    def _sort_out(self, old: list[Ev], clock: int | None) -> Iterator[Ev]:
        """A chunk of events: duplicates, late, or to process."""
        done = self._processed_before([ev.id for ev in old])
        recent = self._forget_visible()
        key_problem = self.engine.key_problem
        summary = self.summary
        ready: list[Ev] = []
        for ev in old:
            prior = done.get(ev.id)
            if prior is None and ev.id in recent:  # let through by this run, not visible to look-ups yet
                t, data = recent[ev.id]
                prior = t, event_digest(data)
            if prior is not None:
                summary.duplicates += 1
                t, digest = prior
                if (t is not None and t != ev.t) or (digest is not None and digest != event_digest(ev.data)):
                    summary.conflicting += 1
                    if summary.conflicting_example is None:
                        summary.conflicting_example = ev.source or ev.id
            elif clock is not None and ev.t < clock:
                summary.late += 1
                self._late.append((ev.id, ev.t, ev.type, f"earlier than the stored clock {format_time(clock)}",
                                   ev.source, ev.data))
            else:
                if key_problem(ev.data) is None:  # an event skipped for its key does not spend its id
                    recent[ev.id] = (ev.t, ev.data)
                ready.append(ev)
        if self._by_key:
            self.engine.prefetch(ready)  # the saved state of their keys, in a few statements
        yield from ready

    def _forget_visible(self) -> OrderedDict[str, tuple[int, Any]]:
        """The ids let through that look-ups may not find, less those they now find.

        Events are processed in time order, and what a look-up finds is every batch but
        the current one and the one being written (in the background, at most one). So an
        id let through earlier than both batches' first events is found by look-ups: it is
        forgotten here. The batch being written started at or after the current batch of the
        previous look-up (when a commit came since), else where the previous look-up's bound
        was; an empty batch starts at or after the engine's clock. Events not processed yet
        (held back for lateness) are later than every processed one, so they stay."""
        batch = self._batch
        start = batch[0][1] if batch else self.engine.clock
        before, before_start, before_floor = self._mark
        floor = start
        if self._writing is not None:
            older = None if before is None else before_start if batch is not before else before_floor
            floor = None if older is None or start is None else min(start, older)
        self._mark = (batch, start, floor)
        recent = self._recent
        if floor is not None:
            while recent:
                eid, (t, _) = next(iter(recent.items()))
                if t >= floor:
                    break
                recent.popitem(last=False)
        return recent

    def _take_all(self, evs: Iterable[Ev]) -> int | None:
        """Process every event, committing full batches; returns the last one's time."""
        process, every = self.engine.process, self.commit_every
        batch = self._batch
        newest = None
        for ev in evs:
            if not process(ev):
                continue  # skipped (an invalid key, ...): its id is not spent, a corrected copy may come
            batch.append((ev.id, ev.t, event_digest(ev.data)))
            if len(batch) >= every:
                self._commit()
                batch = self._batch
            newest = ev.t
        return newest

    def _take(self, ev: Ev) -> None:
        """Process one event; commit when the batch is full."""
        if not self.engine.process(ev):
            return  # skipped: its id is not spent (as in _take_all)
        self._batch.append((ev.id, ev.t, event_digest(ev.data)))
        if len(self._batch) >= self.commit_every:
            self._commit()

    def _commit(self, pending_add: Sequence[Ev] = (), last: bool = False) -> None:
        """Save the batch in one transaction; once saved, write out what the clock has passed.

        Actions at the clock wait for the next batch, so that written order is the
        contract's order across batches. With a background writer, this batch is
        written while the next one is processed, and its actions are written out
        when it is saved.
        """
        engine, batch = self.engine, self._batch
        actions = engine.drain()
        lines = [dumps(a.record()) for a in actions]
        made = list(zip(actions, lines, strict=True))
        saved = Batch(
            run_id=self._run_id,
            snapshot=engine.snapshot_delta() if self._by_key else engine.snapshot(),
            actions=actions,
            processed=batch,
            late=self._late,
            pending_add=[(ev.id, ev.t, ev.source, ev.data) for ev in pending_add],
            pending_done=[row[0] for row in batch if row[0] in self._held_ids] if self._held_ids else [],
            lines=lines,
        )
        self._batch, self._late = [], []
        if batch:
            self._asked = True  # a new store now has processed ids: later look-ups find this run's copies
        bound = None if last else engine.clock
        if self._writer is None or self._preparing is None:
            self._saved_now(self.store.commit(saved), bound, made)
            return
        prepared = self._preparing.prepare(saved)
        self._saved()
        self._writing = (self._writer.submit(self._preparing.write, prepared), bound, made)
        if last:
            self._saved()

    def _saved(self) -> None:
        """Wait for the batch being written; then write out its actions."""
        if self._writing is None:
            return
        future, bound, made = self._writing
        self._writing = None
        self._saved_now(future.result(), bound, made)

    def _saved_now(self, new: int, bound: int | None, made: list[tuple[Action, str]]) -> None:
        """A batch is committed (``new`` actions new to the ledger): write out what it allows."""
        self.summary.actions_new += new
        self._unwritten.extend(made)
        self._write_made(bound)

    def _write_made(self, before_us: int | None) -> None:
        """Write out the actions this run made that are new to the ledger and before
        ``before_us`` (all when None), then mark them written; the rest wait."""
        if not self._unwritten:
            return
        ids = self.store.unprinted_ids()  # new to the ledger: an action emitted before is not written again
        ready: list[tuple[Action, str]] = []
        later: list[tuple[Action, str]] = []
        for action, line in self._unwritten:
            if action.id not in ids:
                continue
            if before_us is None or action.at < before_us:
                ids.discard(action.id)  # once (an event given twice in one input with Engine(dedupe=False) makes its actions twice)
                ready.append((action, line))
            else:
                later.append((action, line))
        self._unwritten = later
        if not ready:
            return
        ready.sort(key=_by_sort_key)
        self._hand_out([line for _, line in ready], before_us)

    def _write_leftovers(self) -> None:
        """Write out what an earlier run committed but was stopped before writing out."""
        self._hand_out([line for _, line in self.store.unprinted()], None)

    def _hand_out(self, lines: list[str], before_us: int | None) -> None:
        """Write out lines, then mark the ledger's actions before ``before_us`` (all when
        None) as written: a run stopped in between writes them again, never loses them."""
        if not lines:
            return
        self._emit(lines)
        self.store.mark_printed(before_us)
        self.summary.actions_written += len(lines)


def _by_sort_key(item: tuple[Action, str]) -> tuple[Any, ...]:
    return item[0].sort_key
