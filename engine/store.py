"""The SQLite store: saved state, the action ledger, processed events (the only module that talks to SQLite).

One file holds everything an incremental run needs. Each batch of a run is
committed in one transaction: the engine's state and clock, the new actions
of the ledger, the ids of the events processed, late events, and the
readable ``obligations`` table. A run killed at any moment therefore resumes
from the last commit, and the ledger never holds an action twice (its
primary key is the action's stable id).

Tables people may read (with the sqlite3 shell or Datasette):

- ``actions``: the ledger, one row per action ever emitted (``record`` is the JSON line);
- ``obligations``: what is open now: response obligations and running cadences;
- ``events``: events loaded with ``playbook ingest``;
- ``late_events``: events that came after the clock had passed them, with the reason;
- ``runs``: one row per run, with its counts;
- ``processed``: ids of the events processed so far (reruns skip them as duplicates);
- ``pending``: events held back by ``--allowed-lateness`` until the clock reaches them;
- ``state``: the engine's saved state per playbook (JSON), and ``store_meta``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlite_utils

from .actions import Action, dumps
from .errors import StateError
from .sources import SourceEvent, parse_json_line
from .timecalc import format_time

STORE_FORMAT = "playbook-store"
STORE_VERSION = "1"
_CHUNK = 500  # ids per "IN (...)" query

TABLES: dict[str, dict[str, Any]] = {
    "store_meta": {"columns": {"key": str, "value": str}, "pk": "key"},
    "state": {"columns": {"playbook": str, "clock": int, "clock_time": str, "run_id": int, "snapshot": str}, "pk": "playbook"},
    "actions": {
        "columns": {
            "id": str, "run_id": int, "playbook": str, "rule": str, "outcome": str, "reason": str, "do": str,
            "at": str, "at_us": int, "key": str, "subject": str, "deadline": str, "trigger_id": str,
            "trigger_time": str, "event_id": str, "params": str, "record": str, "sort_key": str, "printed": int,
        },
        "pk": "id",
        "indexes": [["at_us"], ["rule"], ["printed"]],
    },
    "obligations": {
        "columns": {
            "playbook": str, "rule": str, "kind": str, "key": str, "subject": str, "status": str,
            "trigger_id": str, "trigger_type": str, "trigger_time": str, "deadline": str, "breached_at": str,
            "periods_missed": int,
        },
        "indexes": [["playbook", "rule", "key"]],
    },
    "events": {
        "columns": {"id": str, "type": str, "time": str, "t": int, "source": str, "data": str},
        "pk": "id",
        "indexes": [["t"], ["type"]],
    },
    "processed": {"columns": {"id": str, "t": int, "run_id": int}, "pk": "id"},
    "late_events": {
        "columns": {"id": str, "run_id": int, "time": str, "t": int, "type": str, "reason": str, "source": str, "data": str},
        "pk": "id",
    },
    "pending": {"columns": {"id": str, "t": int, "source": str, "data": str}, "pk": "id", "indexes": [["t"]]},
    "runs": {
        "columns": {
            "id": int, "started": str, "finished": str, "status": str, "source": str, "until": str,
            "events_read": int, "events_processed": int, "duplicates": int, "late": int, "skipped": int,
            "actions_new": int, "notes": str,
        },
        "pk": "id",
    },
}


@dataclass
class Batch:
    """What one transaction saves."""

    run_id: int
    snapshot: dict[str, Any]
    actions: list[Action]
    processed: list[tuple[str, int]]               # (event id, time)
    late: list[tuple[str, int, str, str, str | None, Any]] = field(default_factory=list)  # id, t, type, reason, source, data
    pending_add: list[tuple[str, int, str | None, Any]] = field(default_factory=list)     # id, t, source, data
    pending_done: list[str] = field(default_factory=list)
    obligations: list[dict[str, Any]] = field(default_factory=list)


def _fail(path: str, exc: sqlite3.Error) -> StateError:
    text = str(exc)
    if "file is not a database" in text or "malformed" in text:
        return StateError(f"{path}: not a playbook store (not a SQLite database, or a damaged one): use another --db file")
    if "readonly" in text or "unable to open" in text:
        return StateError(f"{path}: cannot write the store ({text}): check the file's and its folder's permissions")
    if "disk is full" in text or "database or disk is full" in text:
        return StateError(f"{path}: the disk is full: nothing of this batch was saved; free some space and run again")
    if "locked" in text or "busy" in text:
        return StateError(f"{path}: the store is in use by another run; wait for it to finish")
    return StateError(f"{path}: store error: {text}")


class SQLiteStore:
    """A playbook store in one SQLite file (WAL mode)."""

    def __init__(self, path: str, *, create: bool = True, max_pages: int | None = None):
        self.path = path
        if not create and not os.path.exists(path):
            raise StateError(f"{path}: no such store (run 'playbook run ... --db {path}' or 'playbook ingest' first)")
        try:
            self.db = sqlite_utils.Database(path)
            self.db.conn.execute("PRAGMA busy_timeout = 5000")
            names = set(self.db.table_names())
            if names and "store_meta" not in names:
                raise StateError(
                    f"{path}: a SQLite database, but not a playbook store (it has tables {', '.join(sorted(names)[:5])}): "
                    "use another --db file"
                )
            if max_pages is not None:
                self.db.conn.execute(f"PRAGMA max_page_count = {int(max_pages)}")
            self.db.enable_wal()
            self.db.conn.execute("PRAGMA synchronous = FULL")
            if not names:
                self._create()
            self._check_meta()
        except sqlite3.Error as exc:
            raise _fail(path, exc) from None

    def _create(self) -> None:
        with self.db.atomic():
            for name, spec in TABLES.items():
                table = self.db.table(name)
                table.create(spec["columns"], pk=spec.get("pk"), if_not_exists=True)
                for columns in spec.get("indexes", []):
                    table.create_index(columns, if_not_exists=True)
            self.db.table("store_meta").insert_all(
                [{"key": "format", "value": STORE_FORMAT}, {"key": "version", "value": STORE_VERSION}], replace=True
            )

    def _check_meta(self) -> None:
        meta = {row["key"]: row["value"] for row in self.db.table("store_meta").rows}
        if meta.get("format") != STORE_FORMAT:
            raise StateError(f"{self.path}: not a playbook store: use another --db file")
        if meta.get("version") != STORE_VERSION:
            raise StateError(f"{self.path}: a playbook store of version {meta.get('version')}, this engine reads version {STORE_VERSION}")

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.conn.close()

    def _guard(self) -> _Guard:
        return _Guard(self.path)

    # -- state -------------------------------------------------------------------------

    def load_state(self) -> dict[str, Any] | None:
        """The engine snapshot saved by the last commit, or None for a new store."""
        with self._guard():
            rows = list(self.db.query("SELECT playbook, snapshot FROM state ORDER BY playbook"))
        if not rows:
            return None
        try:
            playbooks = [parse_json_line(r["snapshot"]) for r in rows]
        except ValueError:
            raise StateError(f"{self.path}: the saved state is damaged; start over with --reset-state") from None
        return {"format": playbooks[0].pop("_format", None), "playbooks": playbooks}

    def processed(self, ids: Sequence[str]) -> set[str]:
        """Which of these event ids were processed by an earlier run."""
        found: set[str] = set()
        with self._guard():
            for i in range(0, len(ids), _CHUNK):
                chunk = list(ids[i : i + _CHUNK])
                marks = ",".join("?" * len(chunk))
                found.update(r[0] for r in self.db.execute(f"SELECT id FROM processed WHERE id IN ({marks})", chunk))
        return found

    # -- runs --------------------------------------------------------------------------

    def begin_run(self, started: str, source: str) -> int:
        with self._guard(), self.db.atomic():
            cursor = self.db.execute(
                "INSERT INTO runs (started, status, source) VALUES (?, 'running', ?)", [started, source]
            )
            return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, finished: str, status: str, counts: dict[str, Any]) -> None:
        columns = ["finished", "status", *counts]
        values = [finished, status, *counts.values()]
        assignments = ", ".join(f"{c} = ?" for c in columns)
        with self._guard(), self.db.atomic():
            self.db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", [*values, run_id])

    # -- the batch transaction ---------------------------------------------------------

    def commit(self, batch: Batch) -> list[Action]:
        """Save a batch atomically; returns the actions the ledger did not hold yet."""
        with self._guard(), self.db.atomic():
            new = self._insert_actions(batch.run_id, batch.actions)
            if batch.processed:
                self.db.conn.executemany(
                    "INSERT OR IGNORE INTO processed (id, t, run_id) VALUES (?, ?, ?)",
                    [(eid, t, batch.run_id) for eid, t in batch.processed],
                )
            if batch.late:
                self.db.conn.executemany(
                    "INSERT OR IGNORE INTO late_events (id, run_id, time, t, type, reason, source, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(eid, batch.run_id, format_time(t), t, etype, reason, source, _json(data))
                     for eid, t, etype, reason, source, data in batch.late],
                )
            if batch.pending_done:
                for i in range(0, len(batch.pending_done), _CHUNK):
                    chunk = batch.pending_done[i : i + _CHUNK]
                    self.db.execute(f"DELETE FROM pending WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            if batch.pending_add:
                self.db.conn.executemany(
                    "INSERT OR IGNORE INTO pending (id, t, source, data) VALUES (?, ?, ?, ?)",
                    [(eid, t, source, _json(data)) for eid, t, source, data in batch.pending_add],
                )
            self.db.execute("DELETE FROM state")
            for saved in batch.snapshot["playbooks"]:
                clock = saved["state"]["clock"]
                body = dict(saved, _format=batch.snapshot["format"])
                self.db.execute(
                    "INSERT INTO state (playbook, clock, clock_time, run_id, snapshot) VALUES (?, ?, ?, ?, ?)",
                    [saved["name"], clock, None if clock is None else format_time(clock), batch.run_id, _json(body)],
                )
            self.db.execute("DELETE FROM obligations")
            if batch.obligations:
                columns = list(TABLES["obligations"]["columns"])
                self.db.conn.executemany(
                    f"INSERT INTO obligations ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                    [tuple(row[c] for c in columns) for row in batch.obligations],
                )
        return new

    def _insert_actions(self, run_id: int, actions: list[Action]) -> list[Action]:
        if not actions:
            return []
        held: set[str] = set()
        ids = [a.id for a in actions]
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            held.update(r[0] for r in self.db.execute(f"SELECT id FROM actions WHERE id IN ({','.join('?' * len(chunk))})", chunk))
        new = [a for a in actions if a.id not in held]
        rows = []
        for a in new:
            rec = a.record()
            rows.append((
                a.id, run_id, a.playbook, a.rule, a.outcome, a.reason, a.do, rec["at"], a.at, _json(a.key),
                _json(a.subject), rec["deadline"], a.trigger.id if a.trigger else None,
                rec["trigger"]["time"] if rec["trigger"] else None, a.event.id if a.event else None,
                _json(a.params), dumps(rec), _json(list(a.sort_key)), 0,
            ))
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO actions (id, run_id, playbook, rule, outcome, reason, do, at, at_us, key, subject, "
            "deadline, trigger_id, trigger_time, event_id, params, record, sort_key, printed) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        return new

    # -- printing exactly the ledger ---------------------------------------------------

    def unprinted(self, before_us: int | None = None) -> list[tuple[str, str]]:
        """(id, JSON line) of ledger actions not yet written out, in the output order."""
        sql = "SELECT id, record, sort_key FROM actions WHERE printed = 0"
        args: list[Any] = []
        if before_us is not None:
            sql += " AND at_us < ?"
            args.append(before_us)
        with self._guard():
            rows = list(self.db.execute(sql, args))
        rows.sort(key=lambda r: orjson.loads(r[2]))
        return [(r[0], r[1]) for r in rows]

    def mark_printed(self, ids: Sequence[str]) -> None:
        with self._guard(), self.db.atomic():
            for i in range(0, len(ids), _CHUNK):
                chunk = list(ids[i : i + _CHUNK])
                self.db.execute(f"UPDATE actions SET printed = 1 WHERE id IN ({','.join('?' * len(chunk))})", chunk)

    # -- reading -----------------------------------------------------------------------

    def actions(self, *, since: int | None = None, until: int | None = None, rule: str | None = None,
                playbook: str | None = None, key: Any = None, outcome: str | None = None) -> Iterator[str]:
        """JSON lines of the ledger, in output order, filtered."""
        where, args = [], []
        for column, op, value in (("at_us", ">=", since), ("at_us", "<", until), ("rule", "=", rule),
                                  ("playbook", "=", playbook), ("outcome", "=", outcome)):
            if value is not None:
                where.append(f"{column} {op} ?")
                args.append(value)
        if key is not None:
            where.append("key = ?")
            args.append(_json(key))
        sql = "SELECT record, sort_key FROM actions" + (" WHERE " + " AND ".join(where) if where else "")
        with self._guard():
            rows = list(self.db.execute(sql, args))
        rows.sort(key=lambda r: orjson.loads(r[1]))
        for record, _ in rows:
            yield record

    def pending(self) -> list[SourceEvent]:
        with self._guard():
            rows = list(self.db.execute("SELECT data, source FROM pending ORDER BY t, rowid"))
        return [SourceEvent(parse_json_line(data), source or "<pending>") for data, source in rows]

    def unprocessed_events(self) -> Iterator[SourceEvent]:
        """Events of the ``events`` table not processed yet, in time order."""
        with self._guard():
            rows = list(self.db.execute(
                "SELECT id, data, source FROM events WHERE id NOT IN (SELECT id FROM processed) ORDER BY t, rowid"
            ))
        for eid, data, source in rows:
            yield SourceEvent(parse_json_line(data), source or f"events:{eid}")

    def ingest(self, rows: Iterable[tuple[str, str, str, int | None, str, Any]]) -> tuple[int, int]:
        """Insert (id, type, time, t, source, data) rows; returns (inserted, already there)."""
        inserted = total = 0
        with self._guard(), self.db.atomic():
            before = self.db.execute("SELECT count(*) FROM events").fetchone()[0]
            batch: list[tuple[Any, ...]] = []
            for eid, etype, time, t, source, data in rows:
                total += 1
                batch.append((eid, etype, time, t, source, _json(data)))
                if len(batch) >= 10_000:
                    self.db.conn.executemany("INSERT OR IGNORE INTO events (id, type, time, t, source, data) VALUES (?, ?, ?, ?, ?, ?)", batch)
                    batch.clear()
            if batch:
                self.db.conn.executemany("INSERT OR IGNORE INTO events (id, type, time, t, source, data) VALUES (?, ?, ?, ?, ?, ?)", batch)
            inserted = self.db.execute("SELECT count(*) FROM events").fetchone()[0] - before
        return inserted, total - inserted


class _Guard:
    """Turns SQLite errors into StateError with the store's path and what to do."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, sqlite3.Error):
            raise _fail(self.path, exc) from None


def _json(value: Any) -> str:
    return dumps(value)
