"""The public entry point: :class:`Engine` runs playbooks over events in event time."""

from __future__ import annotations

import functools
import heapq
import itertools
import operator
import time as _time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .actions import Action
from .errors import EventError, StateError, UsageError
from .model import Playbook
from .runtime import Ev, EventIds, PlaybookRun, invalid_key_reason, is_key
from .sources import MAX_LINE_BYTES, SourceEvent, event_problem, merge_ordered, time_ordered
from .summary import RunSummary
from .timecalc import US, DurationError, TimeError, format_time, parse_duration, parse_time

STATE_FORMAT = "playbook-engine-state/1"

#: Engine(dedupe_window=...): how long, in event time behind the newest event, an id is remembered.
DEDUPE_WINDOW = "1h"
#: Engine(dedupe_max=...): at most this many ids are remembered (the oldest are forgotten first).
DEDUPE_MAX = 100_000
#: How often (in ids remembered) the engine forgets the ids out of the dedupe window.
_FORGET_EVERY = 256
#: An event more than this after the one before it, and more than the whole log before it
#: lasted, is reported as a time outlier (summary.time_outliers): a mistyped year?
OUTLIER_GAP_US = 365 * 86400 * US


class _Reader:
    """How a group of playbooks reads events: the names of the fixed fields and the time zone."""

    def __init__(self, playbook: Playbook):
        self.type_field = playbook.type_field
        self.time_field = playbook.time_field
        self.ids = EventIds(playbook.id_field)
        self.id_field = playbook.id_field
        self.tz = playbook.timezone
        self.runs: list[PlaybookRun] = []
        self.keys: tuple[tuple[str, Callable[[Any], Any]], ...] = ()  # each key field its playbooks read, with its getter
        self.gate: _Gate  # set by the engine: what it remembers of the events this reader let in

    def add(self, run: PlaybookRun) -> None:
        self.runs.append(run)
        name = run.playbook.key_field
        if all(name != field for field, _ in self.keys):
            from .model import make_getter

            getter: Callable[[Any], Any] = make_getter(name) if "." in name else operator.methodcaller("get", name)
            self.keys += ((name, getter),)

    def name(self, data: dict[str, Any], ev: Ev | None) -> str:
        """How messages name an event: its id (given, else derived from its content)."""
        return ev.id if ev is not None else EventIds.given(data, self.id_field) or self.ids.of(data)

    def invalid_key(self, data: dict[str, Any]) -> str | None:
        """Why the event's key (of any of these playbooks) is not one, or None: a key is a string
        or a number (or absent). With ``strict``, checked before any playbook sees the event,
        so that the run stops there with the event not half processed."""
        for name, get in self.keys:
            key = get(data)
            if key is not None and not is_key(key):
                return invalid_key_reason(name, key)
        return None

    def normalize(self, data: Any, source: str | None, serial: int, in_order: bool = False,
                  t: int | None = None) -> Ev | str:
        """The runtime event, or the reason it is skipped. ``in_order``: events come in
        time order, so derived ids need remember only the current instant. ``t``: the
        event's time, already read by this reader."""
        if not isinstance(data, dict):
            return "not a JSON object"
        etype = data.get(self.type_field)
        if etype is None:
            return f"missing '{self.type_field}'"
        if not isinstance(etype, str) or not etype:
            return f"'{self.type_field}' must be a non-empty string"
        if t is None:
            raw = data.get(self.time_field)
            if raw is None:
                return f"missing '{self.time_field}'"
            try:
                t = parse_time(raw, self.tz)
            except TimeError as exc:
                return f"bad '{self.time_field}': {exc}"
        return Ev(data, t, etype, source, serial, self.ids.of(data, t) if in_order else self.ids.of(data))

    def time_of_text(self, text: str) -> int | None:
        """A time given as a string, in microseconds, or None if it is not valid."""
        try:
            return parse_time(text, self.tz)
        except TimeError:
            return None

    def time_of(self, data: Any) -> int | None:
        """The event's time in microseconds, or None if it has none that is valid."""
        if not isinstance(data, dict):
            return None
        try:
            return parse_time(data.get(self.time_field), self.tz)
        except TimeError:
            return None


def duration_us(name: str, value: Any) -> int | None:
    """An engine option's duration in microseconds: text such as ``"10m"``, a
    :class:`~datetime.timedelta` or a number of seconds; None stays None."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        us = (value.days * 86400 + value.seconds) * US + value.microseconds
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        us = int(round(value * US))
    elif isinstance(value, str):
        try:
            us = parse_duration(value).exact_us
        except DurationError as exc:
            raise UsageError(f"{name}: {exc}") from None
    else:
        raise UsageError(f"{name}: a duration such as '10m', a timedelta or seconds, not {type(value).__name__}")
    if us < 0:
        raise UsageError(f"{name}: a duration cannot be negative")
    return us


class _Gate:
    """What the engine remembers about the events one reader let in: the ids of recent
    ones (to skip duplicates), the newest time, and the events held back for
    allowed lateness (a heap by time, then arrival)."""

    __slots__ = ("ids", "window", "limit", "newest", "held", "seq", "counts", "fresh")

    def __init__(self, dedupe: bool, window: int | None, limit: int):
        self.ids: OrderedDict[str, int] | None = OrderedDict() if dedupe else None
        self.window = window
        self.limit = limit
        self.newest: int | None = None
        # (time, arrival, serial, data, type, source, Ev or None)
        self.held: list[tuple[int, int, int, dict[str, Any], str, str | None, Ev | None]] = []
        self.seq = 0
        self.counts = False  # the first reader's gate counts events processed from the held ones
        self.fresh = 0  # ids remembered since the last look for ones out of the window

    def seen(self, eid: str, now: int | None = None) -> bool:
        """Was ``eid`` processed within the window (by time) of the newest event, or of
        ``now`` (the time of the event that carries it again) if that is later?"""
        ids = self.ids
        assert ids is not None
        t = ids.get(eid)
        if t is None:
            return False
        window, newest = self.window, self.newest
        if now is not None and (newest is None or now > newest):
            newest = now
        return window is None or newest is None or t >= newest - window

    def remember(self, eid: str, t: int) -> None:
        """Remember a processed event's id; forget the oldest past ``limit``. Ids out of the
        window by time are forgotten every :data:`_FORGET_EVERY` ids (:meth:`seen` is exact
        meanwhile): a look at the oldest id for every event costs more than the event."""
        ids = self.ids
        assert ids is not None
        ids[eid] = t
        self.fresh += 1
        if self.fresh >= _FORGET_EVERY or len(ids) > self.limit:
            self.forget()

    def forget(self) -> None:
        """Forget the oldest ids past ``limit``, and (every :data:`_FORGET_EVERY` ids) those
        out of the window by time."""
        ids = self.ids
        assert ids is not None
        while len(ids) > self.limit:
            ids.popitem(last=False)
        if self.fresh >= _FORGET_EVERY:
            self.fresh = 0
            if self.window is not None and self.newest is not None:
                horizon = self.newest - self.window
                while ids and next(iter(ids.values())) < horizon:
                    ids.popitem(last=False)

    def hold(self, t: int, serial: int, data: dict[str, Any], etype: str, source: str | None, ev: Ev | None) -> None:
        self.seq += 1
        heapq.heappush(self.held, (t, self.seq, serial, data, etype, source, ev))

    def state(self) -> dict[str, Any]:
        held = [[t, etype, source, data] for t, _, _, data, etype, source, _ in sorted(self.held, key=_held_order)]
        return {"newest": self.newest, "ids": [[eid, t] for eid, t in (self.ids or {}).items() if self.seen(eid)],
                "held": held}

    def restore(self, state: Mapping[str, Any], serials: Iterator[int]) -> None:
        self.newest = state.get("newest")
        self.held.clear()
        for t, etype, source, data in state.get("held", []):
            self.hold(t, next(serials), data, etype, source, None)
        if self.ids is not None:
            self.ids.clear()
            for eid, t in state.get("ids", []):
                self.ids[eid] = t
            while len(self.ids) > self.limit:
                self.ids.popitem(last=False)


class _Tally:
    """The counts of a batch that several groups of playbooks (readers) go through one
    after another: an event is processed if any group processed it; else it counts once,
    as what the first group that did not process it found (skipped, duplicate, after until).
    Offers the summary's counting methods; :meth:`settle` hands the counts to the summary."""

    __slots__ = ("first", "done", "batch")

    def __init__(self, batch: bool) -> None:
        self.first: dict[int, tuple[str, tuple[Any, ...]]] = {}
        self.done: set[int] = set()
        self.batch = batch  # held events processed count here (a batch), not when released later (a feed)

    def skip(self, reason: str, source: str | None, detail: str | None = None, serial: int = -1) -> None:
        self.first.setdefault(serial, ("skip", (reason, source, detail, serial)))

    def duplicate(self, source: str | None, message: str, serial: int = -1) -> None:
        self.first.setdefault(serial, ("duplicate", (source, message, serial)))

    def after(self, serial: int) -> None:
        self.first.setdefault(serial, ("after", (serial,)))

    def late(self, place: str, message: str, serial: int) -> None:
        self.first.setdefault(serial, ("late", (place, message, serial)))

    def settle(self, summary: RunSummary) -> None:
        summary.events_processed += len(self.done)
        for serial in sorted(self.first):
            if serial in self.done:
                continue
            kind, args = self.first[serial]
            if kind == "late":
                place, message, serial = args
                summary.late_events += 1
                summary.skip("earlier than the clock", place, message, serial)
            else:
                getattr(summary, kind)(*args)
        self.first.clear()
        self.done.clear()


def _held_order(item: tuple[Any, ...]) -> tuple[int, int]:
    return item[0], item[1]


class Engine:
    """Evaluates one or more playbooks over events.

    Feed events in time order with :meth:`feed` and move the clock with
    :meth:`advance`; or hand a whole batch (in any order) to :meth:`run`, which
    sorts it stably by time and does exactly that.

    >>> engine = Engine([playbook])                                  # doctest: +SKIP
    >>> actions = engine.run(events, until="2026-04-01T00:00:00Z")    # doctest: +SKIP

    ``dedupe`` (on by default): an event whose id the engine processed before is
    skipped and counted in ``summary.duplicates`` (a webhook retried, an export
    given twice). Ids are remembered while their event's time is within
    ``dedupe_window`` (a duration, default 1 hour; None: no time bound) of the
    newest event's, and at most ``dedupe_max`` of them (default 100,000; the
    oldest are forgotten first). Only ids events carry are compared: events
    without one get derived ids, distinct for each event (docs/language.md).

    ``allowed_lateness`` (a duration, default none): the clock is held that far
    behind the newest event, as a store's ``--allowed-lateness`` holds it: events
    are held until the newest event's time less the lateness passes them, then
    processed in time order, so an event up to that late is still processed in
    order. An event earlier than the clock is skipped as late, named by its id.
    :meth:`advance` processes the held events up to its instant, :meth:`flush` all
    of them. ``reorder_window`` is the same setting under the name a caller whose
    events arrive slightly out of order looks for: a buffer that puts events up
    to that far out of order back in time order. Give one or the other.

    ``max_future`` (a duration, default none): an event more than that after
    ``until`` (in :meth:`run` and :meth:`stream` given one) or after the newest
    event before it is set aside as invalid ("time far in the future", counted
    as skipped, with its place): one mistyped year must not move the clock
    years ahead. Without it such an event is processed, and reported in
    ``summary.time_outliers`` when it is more than a year after the event before
    it and than the whole log before it lasted. See docs/embedding.md.
    """

    def __init__(self, playbooks: Playbook | Iterable[Playbook], *, strict: bool = False, dedupe: bool = True,
                 dedupe_window: str | int | float | timedelta | None = DEDUPE_WINDOW, dedupe_max: int = DEDUPE_MAX,
                 allowed_lateness: str | int | float | timedelta | None = None,
                 reorder_window: str | int | float | timedelta | None = None,
                 max_future: str | int | float | timedelta | None = None):
        if isinstance(playbooks, Playbook):
            playbooks = [playbooks]
        self.playbooks: tuple[Playbook, ...] = tuple(playbooks)
        if not self.playbooks:
            raise UsageError("an engine needs at least one playbook")
        names = [p.name for p in self.playbooks]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise UsageError(f"playbook name {dupes[0]!r} is used by two playbooks: names must be unique in one run")
        self.strict = strict
        if not isinstance(dedupe_max, int) or isinstance(dedupe_max, bool) or dedupe_max < 1:
            raise UsageError(f"dedupe_max: a number of ids, at least 1, not {dedupe_max!r}")
        window = duration_us("dedupe_window", dedupe_window)
        if allowed_lateness is not None and reorder_window is not None:
            raise UsageError("allowed_lateness and reorder_window are one setting (how far the clock is held "
                             "behind the newest event): give one of them")
        lateness = duration_us("allowed_lateness", allowed_lateness) or duration_us("reorder_window", reorder_window) or 0
        #: How far the clock is held behind the newest event (allowed_lateness, or reorder_window), in microseconds.
        self.allowed_lateness_us = lateness
        #: Events more than this after until or the newest event before them are set aside (None: no limit).
        self.max_future_us = duration_us("max_future", max_future)
        if window is not None and window < lateness:
            window = lateness  # every event that can still be processed is compared with what it may repeat
        self.summary = RunSummary()
        self._out: list[Action] = []
        readers: dict[tuple[Any, ...], _Reader] = {}
        self._signatures: list[list[str]] = []  # how each reader reads events, to match saved state
        self._runs: list[PlaybookRun] = []
        for index, pb in enumerate(self.playbooks):
            signature = (pb.type_field, pb.time_field, pb.id_field, pb.timezone_name)
            reader = readers.get(signature)
            if reader is None:
                reader = readers[signature] = _Reader(pb)
                reader.gate = _Gate(dedupe, window, dedupe_max)
                self._signatures.append([str(part) for part in signature])
            run = PlaybookRun(pb, index, self.summary, self._out)
            run.counts_events = reader is next(iter(readers.values()))
            reader.add(run)
            self._runs.append(run)
        self._readers = tuple(readers.values())
        self._readers[0].gate.counts = True
        self._single = len(self._readers) == 1
        self._serial = 0
        self._last_late = -1
        self._until: int | None = None  # events later than this are ignored (set by run)
        self._tally: _Tally | None = None  # while several readers go through one batch (see run)

    # -- time ----------------------------------------------------------------------------

    def parse_until(self, until: str | int | float | datetime) -> int:
        """An instant given as RFC 3339 text, epoch seconds or a datetime, in microseconds."""
        if isinstance(until, datetime):
            if until.tzinfo is None:
                until = until.replace(tzinfo=self.playbooks[0].timezone)
            delta = until.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
            return (delta.days * 86400 + delta.seconds) * US + delta.microseconds
        if isinstance(until, str) and until.strip().replace(".", "", 1).isdigit():
            until = float(until) if "." in until else int(until)  # epoch seconds given as text (the CLI)
        try:
            return parse_time(until, self.playbooks[0].timezone)
        except TimeError as exc:
            raise UsageError(f"invalid until: {exc}") from None

    @property
    def clock(self) -> int | None:
        """The latest instant the engine has reached (microseconds), or None before any event.

        With ``allowed_lateness`` (``reorder_window``) it is held that far behind the newest event."""
        clocks = [r.clock for r in self._runs if r.clock is not None]
        return max(clocks) if clocks else None

    @property
    def newest(self) -> int | None:
        """The greatest time of an event let in (processed, held, or skipped as a duplicate;
        not one set aside by ``max_future``), else the clock: where :meth:`run` and
        :meth:`stream` end by default."""
        return self._newest()

    # -- streaming -----------------------------------------------------------------------

    def feed(self, event: Mapping[str, Any] | SourceEvent, source: str | None = None) -> list[Action]:
        """Process one event; return the actions it caused (deadlines it passed included).

        Events must come in time order: one earlier than the engine's clock is
        skipped and counted as late (``summary.late_events``), unless the engine
        holds the clock back (``allowed_lateness``): then the event is held, and
        processed in time order once the newest event is that much later.
        """
        self._feed_one(event, source)
        return self._drain()

    def advance(self, until: str | int | float | datetime) -> list[Action]:
        """Move the clock to ``until``: every instant strictly earlier fires (events held
        back for lateness up to ``until`` are processed first, in time order)."""
        t = self.parse_until(until)
        self._advance(t)
        return self._drain()

    @property
    def held(self) -> int:
        """How many events are held back for ``allowed_lateness`` (``reorder_window``), not processed yet."""
        return sum(len(reader.gate.held) for reader in self._readers)

    def flush(self) -> list[Action]:
        """Process every event held back for lateness, in time order (no later event will
        come before them); the clock moves to the last one's time. Returns the actions."""
        for reader in self._readers:
            gate = reader.gate
            if gate.held:
                self._release(reader, gate, max(h[0] for h in gate.held))
        return self._drain()

    def _feed_one(self, event: Mapping[str, Any] | SourceEvent, source: str | None) -> None:
        self._feed_batch(iter(((event, source),)), 1)

    def _feed_batch(self, items: Iterator[tuple[Mapping[str, Any] | SourceEvent, str | None]], limit: int) -> int:
        """Process up to ``limit`` (event, source) pairs from ``items``; returns how many were taken.

        The hot loop of feed() and stream(): what reader.normalize does, without
        making the runtime event (and its id) until a fact or rule sees its type.
        """
        summary = self.summary
        readers = self._readers
        single = self._single
        tally = None if single else _Tally(False)  # each event counts once, however many readers see it
        taken = 0
        for event, given_source in itertools.islice(items, limit):
            taken += 1
            source = given_source
            known_t = None
            if isinstance(event, SourceEvent):
                source = event.source
                if event.error is not None:
                    self._serial += 1
                    summary.events_read += 1
                    self._skip(event.error, source, self._serial)
                    continue
                data: Any = event.data
                if single:  # a time read by time_ordered is this engine's reading when one reader reads all
                    known_t = event.time
                checked = event.checked
                notes = event.notes
            else:
                data = event
                checked = False
                notes = ()
            self._serial += 1
            serial = self._serial
            summary.events_read += 1
            if notes:
                self._warn(notes, source)
            if not checked:
                problem = event_problem(data)
                if problem is not None:
                    self._skip(problem, source, serial)
                    continue
            processed = False
            self._tally = tally
            for reader in readers:
                etype: Any = data.get(reader.type_field) if type(data) is dict else None
                t = known_t
                ev: Ev | None = None
                if type(etype) is not str or not etype:
                    t = None
                elif t is None:
                    t = reader.time_of(data)
                if t is None:
                    normal = reader.normalize(data, source, serial)
                    if isinstance(normal, str):  # the reason it is skipped
                        self._skip(normal, source, serial)  # with readers, only if no other one processes it
                        continue
                    ev, t, etype = normal, normal.t, normal.type
                if self._deliver(reader, data, t, etype, serial, source, ev):
                    processed = True
            self._tally = None
            if processed:
                summary.events_processed += 1
                if tally is not None:
                    tally.first.clear()
            elif tally is not None:
                tally.settle(summary)
        return taken

    def _process(self, reader: _Reader, ev: Ev, count: bool = True) -> bool:
        return self._deliver(reader, ev.data, ev.t, ev.type, ev.serial, ev.source, ev, count)

    def _deliver(self, reader: _Reader, data: dict[str, Any], t: int, etype: str, serial: int,
                 source: str | None, ev: Ev | None, count: bool = True, hold: bool = True) -> bool:
        """Let an event in: skip it if it is a duplicate, hold it back for lateness (unless
        not ``hold``), else hand it on (:meth:`_handle`); False if it was not processed (yet)."""
        gate = reader.gate
        if self.max_future_us is not None and self._too_far(reader, gate, data, t, serial, source, ev):
            return False
        ids = gate.ids
        eid = None
        if ids is not None:
            eid = data.get(reader.id_field)
            if type(eid) is not str or not eid:
                eid = EventIds.given(data, reader.id_field)  # a number, or none
            if eid is not None and eid in ids and gate.seen(eid, t):
                if gate.newest is None or t > gate.newest:
                    gate.newest = t  # a copy's time is still an event time: the default until counts it
                (self._tally or self.summary).duplicate(source or f"event {eid}", f"id {eid!r} was processed before: "
                                       "skipped as a duplicate", serial)
                return False
        if hold and self.allowed_lateness_us:
            return self._hold(reader, gate, data, t, etype, serial, source, ev, eid)
        if gate.held:  # held back before (a restored state, or fed before a driver's events): they go first
            self._release(reader, gate, t)
        done = self._handle(reader, data, t, etype, serial, source, ev, count)
        if done:
            if gate.newest is None or t > gate.newest:
                gate.newest = t
            if eid is not None:
                gate.remember(eid, t)
        return done

    def _too_far(self, reader: _Reader, gate: _Gate, data: dict[str, Any], t: int, serial: int,
                 source: str | None, ev: Ev | None) -> bool:
        """max_future: is the event too far after until, or after the newest event before it?
        If so it is set aside as invalid (skipped, with its place or id)."""
        assert self.max_future_us is not None
        if self._until is not None:
            since, what = self._until, "until"
        else:
            newest = gate.newest
            if newest is None:
                newest = self.clock  # a restored engine: its clock
            if newest is None:
                return False
            since, what = newest, "the event before it"
        if t - since <= self.max_future_us:
            return False
        eid = reader.name(data, ev)
        place = source or f"event {eid}"
        message = (f"time far in the future: {format_time(t)} is {_span(t - since)} after {what} "
                   f"({format_time(since)}), more than max_future (--max-future) allows "
                   f"({_span(self.max_future_us)}): set aside (a mistyped year here, or, if many events are "
                   "set aside, in an event before them?)")
        if self.strict:
            raise EventError(place, message)
        (self._tally or self.summary).skip("time far in the future", place, message, serial)
        return True

    def _hold(self, reader: _Reader, gate: _Gate, data: dict[str, Any], t: int, etype: str, serial: int,
              source: str | None, ev: Ev | None, eid: str | None) -> bool:
        """Allowed lateness: hold the event back (unless it is already late), then process in
        time order the held events the clock, the newest time less the lateness, has reached."""
        clocks = [run.clock for run in reader.runs if run.clock is not None]
        if clocks and t < min(clocks):
            self._late(reader, data, t, serial, source, ev, min(clocks))
            return False
        gate.hold(t, serial, data, etype, source, ev)
        if gate.newest is None or t > gate.newest:
            gate.newest = t
        if eid is not None:
            gate.remember(eid, t)  # a copy that comes while this one is held is a duplicate too
        self._release(reader, gate, gate.newest - self.allowed_lateness_us)
        return False

    def _release(self, reader: _Reader, gate: _Gate, upto: int) -> None:
        """Process the held events at or before ``upto`` in time order; move the clock to ``upto``."""
        held = gate.held
        summary = self.summary
        while held and held[0][0] <= upto:
            t, _, serial, data, etype, source, ev = heapq.heappop(held)
            if self._handle(reader, data, t, etype, serial, source, ev):
                if self._tally is not None and self._tally.batch:
                    self._tally.done.add(serial)
                elif gate.counts:
                    summary.events_processed += 1
        for run in reader.runs:
            run.advance(upto)

    def _late(self, reader: _Reader, data: dict[str, Any], t: int, serial: int, source: str | None,
              ev: Ev | None, clock: int) -> None:
        """An event earlier than the clock: skipped (counted once), named by its place or id."""
        if serial == self._last_late:  # once, however many playbooks find it late
            return
        self._last_late = serial
        eid = reader.name(data, ev)
        message = (f"event {eid} at {format_time(t)} is earlier than the clock ({format_time(clock)}): "
                   "events must be fed in time order (Engine(reorder_window=...), also called "
                   "allowed_lateness, holds events back to put them in order)")
        place = source or f"event {eid}"
        if self.strict:
            raise EventError(place, message)
        if self._tally is not None:
            self._tally.late(place, message, serial)
            return
        self.summary.late_events += 1
        self.summary.skip("earlier than the clock", place, message, serial)

    def _handle(self, reader: _Reader, data: dict[str, Any], t: int, etype: str, serial: int,
                source: str | None, ev: Ev | None, count: bool = True) -> bool:
        """Hand an event to ``reader``'s playbooks; False if none processed it (after until, late).

        ``ev`` is made here, with its id, only when a fact or rule sees the event's type.
        ``count``: count the event when it is not processed (in a batch, the first group of
        playbooks counts events, see :meth:`run`).
        """
        summary = self.summary
        if self._until is not None and t > self._until:
            if count:
                (self._tally or summary).after(serial)
            return False
        if self.strict:
            invalid = reader.invalid_key(data)
            if invalid is not None:
                self._skip(invalid, source, serial, count)
        invalid = None
        done = False
        for run in reader.runs:
            if run.clock is not None and t < run.clock:
                self._late(reader, data, t, serial, source, ev, run.clock)
                continue
            seen = run.reach(t, data, etype, serial, source)
            if seen is None:
                done = True
            elif type(seen) is str:  # an invalid key for this playbook: skipped by it only
                if invalid is None:
                    invalid = seen
            else:
                done = True
                if ev is None:
                    ev = Ev(data, t, etype, source, serial, reader.ids.of(data, t))
                run.dispatch(ev, *seen)
        if invalid is not None and not done:  # counted as skipped only if no playbook processed it
            self._skip(invalid, source, serial, count)
        if done:
            if summary.first_time is None or t < summary.first_time:
                summary.first_time = t
            last = summary.last_time
            if last is None or t > last:
                if last is not None and t - last > OUTLIER_GAP_US and t - last > last - summary.first_time:
                    self._outlier(reader, data, t, last, serial, source, ev)
                summary.last_time = t
        return done

    def _outlier(self, reader: _Reader, data: dict[str, Any], t: int, last: int, serial: int,
                 source: str | None, ev: Ev | None) -> None:
        """An event far beyond the rest of the log: a warning in the summary (it is processed)."""
        eid = reader.name(data, ev)
        self.summary.time_outlier(
            source or f"event {eid}",
            f"{format_time(t)} is {_span(t - last)} after the event before it ({format_time(last)}), "
            "more than the log before it lasted: a mistyped year here, or in the events before it? "
            "(Engine(max_future=...), "
            "playbook run --max-future, sets such events aside)", serial)

    def stream(self, events: Iterable[Mapping[str, Any] | SourceEvent],
               until: str | int | float | datetime | None = None, *, flush_every: int = 10_000) -> Iterator[Action]:
        """Like :meth:`run` for events already in time order, yielding actions as soon as they are final.

        An action is final once the clock has passed its ``at``: nothing later can
        sort before it. Memory stays bounded by the engine's state, not the log's
        length. An event out of time order is skipped as "earlier than the clock"
        (use :func:`engine.sources.time_ordered` to order a file first), unless
        the engine has a ``reorder_window`` that puts it back in order.
        """
        started = _time.perf_counter()
        self._until = None if until is None else self.parse_until(until)
        buffered: list[Action] = []
        pairs = zip(events, itertools.repeat(None))
        try:
            while self._feed_batch(pairs, flush_every):
                if self._out:
                    clock = self.clock
                    buffered.extend(self._out)
                    self._out.clear()
                    final = [a for a in buffered if clock is not None and a.at < clock]
                    if final:
                        buffered = [a for a in buffered if not (clock is not None and a.at < clock)]
                        final.sort(key=_sort_key)
                        yield from final
            end = self._until if self._until is not None else self._newest()
            if end is not None:
                self._advance(end)
        finally:
            self._until = None
        buffered.extend(self._out)
        self._out.clear()
        buffered.sort(key=_sort_key)
        self.summary.elapsed_seconds += _time.perf_counter() - started
        self.count_open()
        yield from buffered

    def time_of(self, data: Any) -> int | None:
        """An event's time (microseconds) as these playbooks read it; None if invalid.

        For ordering a source before :meth:`stream`; needs playbooks that read
        events the same way.
        """
        return self._single_reader().time_of(data)

    def ordered_events(self, path: str | Sequence[str], *, display: str | None = None,
                       max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[SourceEvent]:
        """The events of a JSON Lines file in the time order these playbooks read (see
        :func:`engine.sources.time_ordered`), for :meth:`stream`. Lines longer than
        ``max_line_bytes`` are skipped with their place.

        Several files (a list of paths) are merged into one time order: equal times
        in the order of the files, then in each file's order."""
        reader = self._single_reader()
        if not isinstance(path, str):
            paths = list(path)
            if len(paths) != 1:
                return merge_ordered([self.ordered_events(p, max_line_bytes=max_line_bytes) for p in paths],
                                     reader.time_of)
            path = paths[0]
        return time_ordered(path, reader.time_of, display=display, field=reader.time_field, parse_text=reader.time_of_text,
                            max_line_bytes=max_line_bytes)

    def _skip(self, reason: str, source: str | None, serial: int, count: bool = True) -> None:
        if self.strict:
            raise EventError(source or "<event>", reason)
        if not count:
            return
        label = reason.split(":")[0]
        (self._tally or self.summary).skip(label, source, reason, serial)

    def _warn(self, notes: tuple[str, ...], source: str | None) -> None:
        """An event read from damaged input (see ``SourceEvent.notes``): counted, or refused when strict."""
        if self.strict:
            raise EventError(source or "<event>", notes[0])
        for note in notes:
            self.summary.input_warning(note, source)

    def _advance(self, t: int) -> None:
        for reader in self._readers:
            self._release(reader, reader.gate, t)
        self.summary.until = t

    def _newest(self) -> int | None:
        """The greatest event time let in (held ones included), else the clock."""
        times = [r.gate.newest for r in self._readers if r.gate.newest is not None]
        clock = self.clock
        if clock is not None:
            times.append(clock)
        return max(times) if times else None

    def _drain(self) -> list[Action]:
        out = self._out
        if not out:
            return []
        actions = sorted(out, key=_sort_key)
        out.clear()
        return actions

    # -- batch ---------------------------------------------------------------------------

    def run(self, events: Iterable[Mapping[str, Any] | SourceEvent], until: str | int | float | datetime | None = None) -> list[Action]:
        """Evaluate a whole batch: sort it stably by time, feed every event, advance.

        ``until`` defaults to the greatest event time, so the result depends on
        the input alone. Returns the actions in the contract's total order.
        """
        started = _time.perf_counter()
        limit = None if until is None else self.parse_until(until)
        self._until = limit
        items: list[Mapping[str, Any] | SourceEvent] = list(events)
        try:
            if len(self._readers) == 1:
                self._run_group(self._readers[0], items, limit, count=True)
            else:
                # Playbooks that read times differently are independent: run each group alone,
                # over the same serials. Each event counts once (see _Tally); events read, input
                # warnings and events without key come from the first group.
                base = self._serial
                self._tally = tally = _Tally(True)
                for i, reader in enumerate(self._readers):
                    self._serial = base
                    self._run_group(reader, items, limit, count=i == 0)
                tally.settle(self.summary)
        finally:
            self._until = None
            self._tally = None
        self.summary.elapsed_seconds += _time.perf_counter() - started
        self.count_open()
        return self._drain()

    def _run_group(self, reader: _Reader, items: list[Any], limit: int | None, count: bool) -> None:
        """``count``: count the events read (the first group); what becomes of each event is
        counted through the tally when several groups go through the batch."""
        ready = self._read(reader, items, count)
        ready.sort(key=event_time)  # stable: equal times keep input order
        tally = self._tally
        if tally is None:
            self.summary.events_processed += sum(1 for ev in ready if self._process(reader, ev))
        else:
            tally.done.update(ev.serial for ev in ready if self._process(reader, ev))
        # By default the run ends at the greatest time of an event let in (not one set aside).
        end = limit if limit is not None else reader.gate.newest
        if end is not None:
            self._release(reader, reader.gate, end)
            self.summary.until = end

    def _read(self, reader: _Reader, items: Iterable[Any], count: bool = True) -> list[Ev]:
        """Normalize events for one reader; unreadable ones are skipped (and counted)."""
        ready: list[Ev] = []
        serial = self._serial
        for item in items:
            serial += 1
            if isinstance(item, SourceEvent):
                problem = item.error if item.error is not None or item.checked else event_problem(item.data)
                if problem is not None:
                    self._skip(problem, item.source, serial)
                    continue
                if item.notes and (count or self.strict):
                    self._warn(item.notes, item.source)
                ev = reader.normalize(item.data, item.source, serial)
            else:
                problem = event_problem(item)
                if problem is not None:
                    self._skip(problem, None, serial)
                    continue
                ev = reader.normalize(item, None, serial)
            if isinstance(ev, str):
                self._skip(ev, item.source if isinstance(item, SourceEvent) else None, serial)
                continue
            ready.append(ev)
        if count:
            self.summary.events_read += serial - self._serial
        self._serial = serial
        return ready

    # -- for drivers that batch a run (the durable store) ----------------------------------

    def read(self, items: Iterable[Mapping[str, Any] | SourceEvent]) -> list[Ev]:
        """Normalize events (unsorted); unreadable ones are skipped and counted.

        For drivers that process a batch themselves: needs playbooks that all
        read events the same way (fields and time zone).
        """
        return self._read(self._single_reader(), items)

    def read_ordered(self, items: Iterable[Mapping[str, Any] | SourceEvent]) -> Iterator[Ev]:
        """Like :meth:`read`, lazily, for events already in time order (such as
        :meth:`ordered_events` gives): memory does not grow with their number.

        Raises :class:`UsageError` at the first event earlier than the one before.
        """
        reader = self._single_reader()
        summary = self.summary
        previous: int | None = None
        read = 0
        try:
            for item in items:
                read += 1
                self._serial = serial = self._serial + 1
                if isinstance(item, SourceEvent):
                    problem = item.error if item.error is not None or item.checked else event_problem(item.data)
                    if problem is not None:
                        self._skip(problem, item.source, serial)
                        continue
                    if item.notes:
                        self._warn(item.notes, item.source)
                    # A time read by time_ordered is this reader's reading (there is one reader).
                    ev = reader.normalize(item.data, item.source, serial, True, item.time)
                else:
                    problem = event_problem(item)
                    if problem is not None:
                        self._skip(problem, None, serial)
                        continue
                    ev = reader.normalize(item, None, serial, True)
                if isinstance(ev, str):
                    self._skip(ev, item.source if isinstance(item, SourceEvent) else None, serial)
                    continue
                if previous is not None and ev.t < previous:
                    raise UsageError(f"{ev.source or 'an event'}: earlier than the event before it, in events given "
                                     "as in time order (ordered): give them sorted, or let them be sorted")
                previous = ev.t
                yield ev
        finally:
            summary.events_read += read

    def set_aside(self, ev: Ev) -> bool:
        """For drivers that hold events themselves (see :meth:`process`): True if
        ``max_future`` sets the event aside (it is then counted as skipped); else its
        time counts as the newest let in, for the next event's check."""
        if self.max_future_us is None:
            return False
        reader = self._single_reader()
        gate = reader.gate
        if self._too_far(reader, gate, ev.data, ev.t, ev.serial, ev.source, ev):
            return True
        if gate.newest is None or ev.t > gate.newest:
            gate.newest = ev.t
        return False

    def key_problem(self, data: Mapping[str, Any]) -> str | None:
        """Why an event's key is not one for some of these playbooks (an object, a list...),
        or None: such an event is skipped by those playbooks."""
        reader = self._readers[0] if self._single else self._single_reader()
        return reader.invalid_key(data) if type(data) is dict else None

    def process(self, ev: Ev) -> bool:
        """Process one normalized event (see :meth:`read`); False if it was not processed.

        The driver holds events back for lateness itself: this engine's
        ``allowed_lateness`` does not delay them.
        """
        reader = self._readers[0] if self._single else self._single_reader()
        done = self._deliver(reader, ev.data, ev.t, ev.type, ev.serial, ev.source, ev, hold=False)
        if done:
            self.summary.events_processed += 1
        return done

    def advance_to(self, t: int) -> None:
        """Move the clock to ``t`` (microseconds); collect the actions with :meth:`drain`."""
        self._advance(t)

    def drain(self) -> list[Action]:
        """The actions produced since the last drain, in the contract's order (events held
        back for lateness are not processed by it: :meth:`flush` or :meth:`advance` do)."""
        return self._drain()

    def _single_reader(self) -> _Reader:
        if len(self._readers) != 1:
            raise UsageError(
                "these playbooks read events differently (fields or timezone): "
                "run them separately to use a store"
            )
        return self._readers[0]

    # -- saved state -------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything the engine remembers, as JSON-able data (see :meth:`restore`).

        With each playbook's state go the digests of what that state depends
        on, so that a changed playbook is noticed when the state is restored.
        """
        for run in self._runs:
            run.load_all()  # keys restored with restore_keyed and not needed yet
        return {
            "format": STATE_FORMAT,
            # What the engine remembers of the events it let in (ids for dedupe), per way of reading them.
            "readers": [{"reads": sig, **reader.gate.state()}
                        for sig, reader in zip(self._signatures, self._readers, strict=True)],
            "playbooks": [
                {
                    "name": run.playbook.name,
                    "settings_digest": run.playbook.settings_digest,
                    "rule_digests": dict(run.playbook.rule_digests),
                    "state": run.state(),
                }
                for run in self._runs
            ],
        }

    def restore(self, snapshot: Mapping[str, Any], *, reset: bool = False) -> list[str]:
        """Continue from a :meth:`snapshot`. Returns notes on what was migrated.

        A playbook whose state-relevant parts changed (its facts, calendars,
        fields, or the conditions and timing of a rule that had state) is
        refused with :class:`StateError`, unless ``reset`` (start that state
        over). Added rules start fresh, removed rules' state is dropped, and
        either is reported in the returned notes.
        """
        if not isinstance(snapshot, Mapping) or snapshot.get("format") != STATE_FORMAT:
            raise StateError("the saved state is not from this engine (unknown format)")
        saved_by_name = {p["name"]: p for p in snapshot.get("playbooks", [])}
        notes: list[str] = []
        plans: list[tuple[PlaybookRun, dict[str, Any], set[str]]] = []
        for run in self._runs:
            pb = run.playbook
            saved = saved_by_name.pop(pb.name, None)
            if saved is None:
                notes.append(f"playbook {pb.name}: no saved state, starting fresh")
                continue
            problems = []
            if saved["settings_digest"] != pb.settings_digest:
                problems.append("its facts, calendars, time zone, key or fields changed")
            saved_rules: dict[str, str] = saved["rule_digests"]
            current = dict(pb.rule_digests)
            changed = sorted(r for r in current if r in saved_rules and saved_rules[r] != current[r])
            if changed:
                problems.append(f"rule{'s' if len(changed) > 1 else ''} {', '.join(changed)} changed")
            if problems and not reset:
                raise StateError(
                    f"playbook {pb.name} changed since its state was saved: {'; '.join(problems)}. "
                    "Its saved obligations, cadences and facts may no longer mean the same: start its state "
                    "over with --reset-state (Engine.restore(..., reset=True)), or undo the change"
                )
            if problems:
                notes.append(f"playbook {pb.name}: state reset ({'; '.join(problems)})")
                continue
            for rid in sorted(set(current) - set(saved_rules)):
                notes.append(f"playbook {pb.name}: new rule {rid} starts fresh")
            for rid in sorted(set(saved_rules) - set(current)):
                notes.append(f"playbook {pb.name}: removed rule {rid}: its state was dropped")
            plans.append((run, saved["state"], set(current) & set(saved_rules)))
        for name in sorted(saved_by_name):
            notes.append(f"playbook {name}: not in this run, its saved state was dropped")
        saved_readers = {tuple(r["reads"]): r for r in snapshot.get("readers", [])}
        mine = {tuple(sig) for sig in self._signatures}
        lost = sum(len(r.get("held", [])) for sig, r in saved_readers.items() if sig not in mine)
        if lost:
            raise StateError(f"the saved state holds {lost} event{'s' if lost != 1 else ''} waiting for allowed "
                             "lateness that these playbooks read differently (fields or time zone): restore it "
                             "into an engine with the playbooks it was saved from, flush() it, and snapshot again")
        for run, state, rules in plans:
            run.restore(state, rules)
        serials = itertools.count(self._serial + 1)
        for sig, reader in zip(self._signatures, self._readers, strict=True):
            saved_reader = saved_readers.get(tuple(sig))
            if saved_reader is not None:
                reader.gate.restore(saved_reader, serials)
        self._serial = next(serials) - 1
        return notes

    # -- saved state by key (a store's incremental runs) -----------------------------------

    def track_keys(self) -> None:
        """Note from now on which keys' state changes, for :meth:`snapshot_delta`."""
        for run in self._runs:
            run.track()

    def prefetch(self, evs: Sequence[Ev]) -> None:
        """Load at once the saved state of the keys of events about to be processed (after
        :meth:`restore_keyed`; each would be loaded when its event comes otherwise)."""
        for run in self._runs:
            run.prefetch(evs)

    def snapshot_delta(self) -> dict[str, Any]:
        """What changed since the last delta (or everything, the first time after a
        :meth:`restore` or none): per playbook, the state of each key changed (None when
        it has none left) with the first instant it waits for, and the rest of the state
        (``head``). A store keeps it key by key (see :meth:`restore_keyed`)."""
        return {
            "format": STATE_FORMAT,
            "delta": True,
            "playbooks": [
                {"name": run.playbook.name, "settings_digest": run.playbook.settings_digest,
                 "rule_digests": dict(run.playbook.rule_digests), **run.delta()}
                for run in self._runs
            ],
        }

    def restore_keyed(self, heads: Mapping[str, Any],
                      fetch: Callable[[str, list[str]], dict[str, dict[str, Any]]]) -> bool:
        """Continue from heads saved by :meth:`snapshot_delta` ({"format", "playbooks": [{...,
        "state": head, "index": {row key: first instant}}]}), loading each key's state with
        ``fetch(playbook name, row keys)`` when an event of it comes or its first instant is
        about to pass. Only a state these very playbooks saved is taken this way: False
        (nothing done) otherwise, and :meth:`restore` of the whole state is the way."""
        saved = heads.get("playbooks")
        if heads.get("format") != STATE_FORMAT or not isinstance(saved, list):
            return False
        by_name = {p.get("name"): p for p in saved if isinstance(p, Mapping)}
        if len(by_name) != len(saved) or set(by_name) != {run.playbook.name for run in self._runs}:
            return False
        for run in self._runs:
            pb, p = run.playbook, by_name[run.playbook.name]
            head = p.get("state")
            if (p.get("settings_digest") != pb.settings_digest or p.get("rule_digests") != dict(pb.rule_digests)
                    or not isinstance(head, Mapping) or head.get("keyed") is not True
                    or not isinstance(head.get("counts"), Mapping) or not isinstance(p.get("index"), Mapping)
                    or ("facts_seen" in head) != (run.ctx.facts.retention_us is not None)
                    or set(head.get("rules") or ()) != {rt.rule.id for rt in run.runtimes}
                    or set(head["counts"]) != {rt.rule.id for rt in run.runtimes}
                    or not (head.get("clock") is None or type(head.get("clock")) is int)
                    or not all(isinstance(c, list) and all(type(n) is int for n in c) for c in head["counts"].values())):
                return False
        for run in self._runs:
            p = by_name[run.playbook.name]
            run.restore_lazy(p["state"], p["index"], functools.partial(fetch, run.playbook.name))
        return True

    def count_open(self) -> RunSummary:
        """Refresh the summary's counts of open obligations and running cadences."""
        for run in self._runs:
            run.count_open()
        return self.summary

    def facts(self, key: Any, playbook: str | None = None) -> dict[str, Any]:
        """The current facts of ``key`` in ``playbook`` (the first one by default)."""
        for run in self._runs:
            if playbook is None or run.playbook.name == playbook:
                return run.facts_of(key)
        raise UsageError(f"no playbook named {playbook!r} in this engine")


def _span(us: int) -> str:
    """A length of time for messages: days, hours or seconds."""
    seconds = us / US
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:,.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:,.0f} hours"
    return f"{seconds:,.0f} s"


def _sort_key(action: Action) -> tuple[Any, ...]:
    return action.sort_key


def event_time(ev: Ev) -> int:
    return ev.t
