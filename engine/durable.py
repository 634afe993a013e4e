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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .actions import Action, canonical_json
from .engine import Engine, event_time
from .runtime import Ev
from .sources import SourceEvent
from .store import Batch
from .timecalc import format_time


class Store(Protocol):
    """What a durable run needs from a store (SQLiteStore is the shipped one)."""

    def load_state(self) -> dict[str, Any] | None: ...
    def processed(self, ids: Sequence[str]) -> set[str]: ...
    def pending(self) -> list[SourceEvent]: ...
    def begin_run(self, started: str, source: str) -> int: ...
    def commit(self, batch: Batch) -> list[Action]: ...
    def unprinted(self, before_us: int | None = None) -> list[tuple[str, str]]: ...
    def mark_printed(self, ids: Sequence[str]) -> None: ...
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

    def run(
        self,
        events: Iterable[Mapping[str, Any] | SourceEvent],
        *,
        emit: Callable[[list[str]], None],
        until: Any = None,
        started: str = "",
        source: str = "",
        now: Callable[[], str] = lambda: "",
    ) -> DurableSummary:
        """Process the new events; ``emit`` receives JSON lines of actions to write out."""
        engine, store, summary = self.engine, self.store, self.summary
        self._emit = emit
        limit = None if until is None else engine.parse_until(until)
        run_id = summary.run_id = store.begin_run(started, source)
        status = "failed"
        try:
            self._write(store.unprinted())  # an earlier run was stopped after a commit, before writing
            saved = store.load_state()
            if saved is not None and self.reset_state:
                summary.notes.append("saved state reset (--reset-state): starting over from these events")
            elif saved is not None:
                summary.notes.extend(engine.restore(saved))
            clock = engine.clock

            evs = engine.read(store.pending())
            held_ids = {ev.id for ev in evs}
            evs.extend(engine.read(events))

            # Duplicates: only an event at or before the saved clock can have been processed.
            old = [ev.id for ev in evs if clock is not None and ev.t <= clock and ev.id not in held_ids]
            done = store.processed(old) if old else set()
            late: list[tuple[str, int, str, str, str | None, Any]] = []
            ready: list[Ev] = []
            for ev in evs:
                if ev.id in done:
                    summary.duplicates += 1
                elif clock is not None and ev.t < clock:
                    summary.late += 1
                    late.append((ev.id, ev.t, ev.type, f"earlier than the stored clock {format_time(clock)}",
                                 ev.source, ev.data))
                else:
                    ready.append(ev)
            ready.sort(key=event_time)

            end = limit
            if end is None and ready:
                end = ready[-1].t - self.lateness
                if clock is not None and end < clock:
                    end = clock
            keep: list[Ev] = []
            if end is not None:
                cut = len(ready)
                while cut and ready[cut - 1].t > end:
                    cut -= 1
                ready, beyond = ready[:cut], ready[cut:]
                if self.lateness:
                    keep = beyond
                    summary.held_back = len(keep)
                else:
                    engine.summary.after_until += len(beyond)

            batches = [ready[i : i + self.commit_every] for i in range(0, len(ready), self.commit_every)] or [[]]
            for n, chunk in enumerate(batches):
                last = n == len(batches) - 1
                for ev in chunk:
                    engine.process(ev)
                if last and end is not None:
                    engine.advance_to(end)
                snapshot = engine.snapshot()
                new = store.commit(Batch(
                    run_id=run_id,
                    snapshot=snapshot,
                    actions=engine.drain(),
                    processed=[(ev.id, ev.t) for ev in chunk],
                    late=late if n == 0 else [],
                    pending_add=[(ev.id, ev.t, ev.source, ev.data) for ev in keep] if last else [],
                    pending_done=[ev.id for ev in chunk if ev.id in held_ids],
                    obligations=obligation_rows(snapshot),
                ))
                summary.actions_new += len(new)
                # Write what the clock has passed; actions at the clock wait for the next
                # batch, so that written order is the contract's order across batches.
                self._write(store.unprinted(None if last else engine.clock))
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

    def _write(self, rows: list[tuple[str, str]]) -> None:
        if not rows:
            return
        self._emit([line for _, line in rows])
        self.store.mark_printed([i for i, _ in rows])
        self.summary.actions_written += len(rows)



def obligation_rows(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """The readable ``obligations`` table: open obligations and running cadences."""
    rows = []
    for saved in snapshot["playbooks"]:
        for rule_id, state in saved["state"]["rules"].items():
            for ob in state.get("obligations", []):
                rows.append({
                    "playbook": saved["name"], "rule": rule_id, "kind": "response", "key": _text(ob["key"]),
                    "subject": _text(ob["subject"]), "status": "open" if ob["status"] == 0 else "breached",
                    "trigger_id": ob["trigger"]["id"], "trigger_type": ob["trigger"]["type"],
                    "trigger_time": format_time(ob["trigger"]["t"]),
                    "deadline": None if ob["deadline"] is None else format_time(ob["deadline"]),
                    "breached_at": None if ob["breach_at"] is None else format_time(ob["breach_at"]),
                    "periods_missed": None,
                })
            for cad in state.get("cadences", []):
                rows.append({
                    "playbook": saved["name"], "rule": rule_id, "kind": "cadence", "key": _text(cad["key"]),
                    "subject": "{}", "status": "overdue" if cad["periods_missed"] else "running",
                    "trigger_id": cad["trigger"]["id"], "trigger_type": cad["trigger"]["type"],
                    "trigger_time": format_time(cad["trigger"]["t"]), "deadline": format_time(cad["due"]),
                    "breached_at": None if cad["first_missed"] is None else format_time(cad["first_missed"]),
                    "periods_missed": cad["periods_missed"],
                })
    return rows


def _text(value: Any) -> str:
    return canonical_json(value)
