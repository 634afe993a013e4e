"""The SQLite store: saved state, the action ledger, processed events (the only module that talks to SQLite).

One file holds everything an incremental run needs. Each batch of a run is
committed in one transaction: the engine's state and clock, the new actions
of the ledger (and of the outbox, until they are written out), the ids of
the events processed, and late and held-back events. A run killed at any
moment therefore resumes from the last commit, and the ledger never holds an
action twice (its primary key is the action's stable id).

What people may read (with the sqlite3 shell or Datasette; docs/store.md):

- ``actions`` (a view): the ledger, one row per action ever emitted, with the
  fields of its JSON line (``record``) as columns;
- ``obligations`` (a view): what is open now, read from the saved state:
  response obligations and running cadences;
- ``events``: events loaded with ``playbook ingest``;
- ``late_events``: events that came after the clock had passed them, with the reason;
- ``runs``: one row per run, with its counts;
- ``processed``: ids of the events processed so far (reruns skip them as duplicates);
- ``pending``: events held back by ``--allowed-lateness`` until the clock reaches them;
- ``state``: the engine's saved state per playbook (JSON; a view of ``state_head``, the
  rest of a playbook's state, and ``state_key``, each key's state), and ``store_meta``;
- ``ledger`` and ``outbox``: what the ``actions`` view shows, as stored.

A commit writes each action's line once and nothing for the views: reading
them does the work, so that runs stay cheap."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import orjson
import sqlite_utils

from .actions import Action, _default, dumps, dumps_utf8
from .errors import StateError
from .sources import SourceEvent, parse_json_line
from .storelock import DEFAULT_LOCK_TIMEOUT, WriterLock, lock_path  # noqa: F401 (lock_path: API)
from .timecalc import format_time

STORE_FORMAT = "playbook-store"
STORE_VERSION = "3"
_CHUNK = 500  # ids per "IN (...)" query


def _time_sql(us: str) -> str:
    """SQL for an instant in microseconds as RFC 3339 text, as engine.timecalc.format_time writes it."""
    frac = f"(({us} % 1000000) + 1000000) % 1000000"  # SQLite's % keeps the sign: floor it
    return (f"CASE WHEN {us} IS NULL THEN NULL "
            f"WHEN {frac} = 0 THEN strftime('%Y-%m-%dT%H:%M:%SZ', {us} / 1000000, 'unixepoch') "
            f"ELSE strftime('%Y-%m-%dT%H:%M:%S', ({us} - {frac}) / 1000000, 'unixepoch') "
            f"|| rtrim(printf('.%06d', {frac}), '0') || 'Z' END")


def _record(path: str) -> str:
    return f"json_extract(l.record, '$.{path}')"


def _json_of(expr: str) -> str:
    return f"json_quote({expr})"  # JSON text of any value (a no-op on objects and arrays)


# The readable ``obligations``: derived from the saved state, so a commit writes nothing for it.
_OBLIGATIONS_VIEW = f"""
SELECT s.playbook AS playbook, r.key AS rule, 'response' AS kind,
       {_json_of("json_extract(o.value, '$.key')")} AS key, {_json_of("json_extract(o.value, '$.subject')")} AS subject,
       CASE json_extract(o.value, '$.status') WHEN 0 THEN 'open' ELSE 'breached' END AS status,
       json_extract(o.value, '$.trigger.id') AS trigger_id, json_extract(o.value, '$.trigger.type') AS trigger_type,
       {_time_sql("json_extract(o.value, '$.trigger.t')")} AS trigger_time,
       {_time_sql("json_extract(o.value, '$.deadline')")} AS deadline,
       {_time_sql("json_extract(o.value, '$.breach_at')")} AS breached_at,
       NULL AS periods_missed
  FROM state AS s, json_each(s.snapshot, '$.state.rules') AS r, json_each(r.value, '$.obligations') AS o
UNION ALL
SELECT s.playbook, r.key, 'cadence',
       {_json_of("json_extract(c.value, '$.key')")}, '{{}}',
       CASE WHEN json_extract(c.value, '$.periods_missed') > 0 THEN 'overdue' ELSE 'running' END,
       json_extract(c.value, '$.trigger.id'), json_extract(c.value, '$.trigger.type'),
       {_time_sql("json_extract(c.value, '$.trigger.t')")},
       {_time_sql("json_extract(c.value, '$.due')")},
       {_time_sql("json_extract(c.value, '$.first_missed')")},
       json_extract(c.value, '$.periods_missed')
  FROM state AS s, json_each(s.snapshot, '$.state.rules') AS r, json_each(r.value, '$.cadences') AS c
"""

# The ledger keeps each action's JSON line once; ``outbox`` holds the ids of those not
# written out yet; ``actions`` shows both with the line's fields as columns.
_LEDGER = "CREATE TABLE ledger (id TEXT PRIMARY KEY, run_id INTEGER, at_us INTEGER, record TEXT, sort_key TEXT)"
_LEDGER_INDEX = "CREATE INDEX idx_ledger_at_us ON ledger (at_us)"
_OUTBOX = "CREATE TABLE outbox (id TEXT PRIMARY KEY, at_us INTEGER) WITHOUT ROWID"
_ACTIONS = f"""CREATE VIEW actions AS
SELECT l.id AS id, l.run_id AS run_id, {_record("playbook")} AS playbook, {_record("rule")} AS rule,
       {_record("outcome")} AS outcome, {_record("reason")} AS reason, {_record("do")} AS do, {_record("at")} AS at,
       l.at_us AS at_us, {_json_of(_record("key"))} AS key, {_json_of(_record("subject"))} AS subject,
       {_record("deadline")} AS deadline, {_record("trigger.id")} AS trigger_id,
       {_record("trigger.time")} AS trigger_time, {_record("event.id")} AS event_id,
       {_json_of(_record("params"))} AS params, l.record AS record, l.sort_key AS sort_key,
       NOT EXISTS (SELECT 1 FROM outbox AS o WHERE o.id = l.id) AS printed
  FROM ledger AS l"""
_PROCESSED = "CREATE TABLE processed (id TEXT PRIMARY KEY, t INTEGER, run_id INTEGER, digest INTEGER) WITHOUT ROWID"
_OBLIGATIONS = f"CREATE VIEW obligations AS {_OBLIGATIONS_VIEW}"

# The saved state: per playbook, a head (the clock, the rules, what is open in all) in
# ``state_head``, and each key's state in a row of ``state_key`` with the first instant it
# waits for (``due``), so that a run loads and writes only the keys it touches. ``state``
# shows each playbook's state whole, as one JSON text (the head with its keys' states put
# back in, keys in the order of their text); an UPDATE of it (a hand edit) replaces the
# playbook's head and keys with it.
_STATE_HEAD = "CREATE TABLE state_head (playbook TEXT PRIMARY KEY, clock INTEGER, clock_time TEXT, run_id INTEGER, snapshot TEXT)"
_STATE_KEY = "CREATE TABLE state_key (playbook TEXT, key TEXT, due INTEGER, state TEXT, PRIMARY KEY (playbook, key))"
# What a run reads of every key (its row key and due), without reading the keys' states.
_STATE_KEY_DUE = "CREATE INDEX idx_state_key_due ON state_key (playbook, key, due)"
_KEYED = "json_valid(h.snapshot) AND json_extract(h.snapshot, '$.state.keyed') = 1"
_STATE = f"""CREATE VIEW state AS
SELECT h.playbook AS playbook, h.clock AS clock, h.clock_time AS clock_time, h.run_id AS run_id,
       CASE WHEN {_KEYED} THEN json_replace(json_remove(h.snapshot, '$.state.keyed', '$.state.counts'),
         '$.state.facts', json((SELECT json_group_array(json_array(json(k.state -> '$.k'), json(k.state -> '$.f')))
                               FROM state_key AS k WHERE k.playbook = h.playbook AND k.state -> '$.f' IS NOT NULL)),
         '$.state.facts_seen', json((SELECT json_group_array(json_array(json(k.state -> '$.k'), json(k.state -> '$.s')))
                                    FROM state_key AS k WHERE k.playbook = h.playbook AND k.state -> '$.s' IS NOT NULL)),
         '$.state.rules', json((SELECT json_group_object(r.key, json_object(f.key, json((
             SELECT json_group_array(json(i.value)) FROM state_key AS k, json_each(k.state, '$.r.' || json_quote(r.key)) AS i
              WHERE k.playbook = h.playbook))))
           FROM json_each(h.snapshot, '$.state.rules') AS r, json_each(r.value) AS f)))
       ELSE h.snapshot END AS snapshot
  FROM state_head AS h"""
_STATE_TRIGGERS = [
    """CREATE TRIGGER state_update INSTEAD OF UPDATE ON state BEGIN
  DELETE FROM state_key WHERE playbook = OLD.playbook;
  UPDATE state_head SET playbook = NEW.playbook, clock = NEW.clock, clock_time = NEW.clock_time, run_id = NEW.run_id,
         snapshot = NEW.snapshot WHERE playbook = OLD.playbook;
END""",
    """CREATE TRIGGER state_delete INSTEAD OF DELETE ON state BEGIN
  DELETE FROM state_key WHERE playbook = OLD.playbook;
  DELETE FROM state_head WHERE playbook = OLD.playbook;
END""",
    """CREATE TRIGGER state_insert INSTEAD OF INSERT ON state BEGIN
  INSERT OR REPLACE INTO state_head (playbook, clock, clock_time, run_id, snapshot)
  VALUES (NEW.playbook, NEW.clock, NEW.clock_time, NEW.run_id, NEW.snapshot);
END""",
]

# The schema (docs/store.md describes it for readers).
SCHEMA = [
    "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT)",
    _STATE_HEAD, _STATE_KEY, _STATE_KEY_DUE, _STATE, *_STATE_TRIGGERS,
    _LEDGER, _LEDGER_INDEX, _OUTBOX, _ACTIONS, _OBLIGATIONS, _PROCESSED,
    "CREATE TABLE events (id TEXT PRIMARY KEY, type TEXT, time TEXT, t INTEGER, source TEXT, data TEXT)",
    "CREATE INDEX idx_events_t ON events (t)",
    "CREATE INDEX idx_events_type ON events (type)",
    """CREATE TABLE late_events (id TEXT PRIMARY KEY, run_id INTEGER, time TEXT, t INTEGER, type TEXT, reason TEXT,
        source TEXT, data TEXT)""",
    "CREATE TABLE pending (id TEXT PRIMARY KEY, t INTEGER, source TEXT, data TEXT)",
    "CREATE INDEX idx_pending_t ON pending (t)",
    """CREATE TABLE runs (id INTEGER PRIMARY KEY, started TEXT, finished TEXT, status TEXT, source TEXT, until TEXT,
        events_read INTEGER, events_processed INTEGER, duplicates INTEGER, late INTEGER, skipped INTEGER,
        actions_new INTEGER, notes TEXT)""",
]

# From version 1: ``actions`` becomes a view of ``ledger`` (the lines) and ``outbox`` (what
# is not written out yet), ``processed`` is keyed by id alone, and ``obligations`` is a
# view of the saved state.
_FROM_V1 = [
    _LEDGER, _LEDGER_INDEX, _OUTBOX,
    "INSERT INTO ledger (id, run_id, at_us, record, sort_key) SELECT id, run_id, at_us, record, sort_key FROM actions",
    "INSERT INTO outbox (id, at_us) SELECT id, at_us FROM actions WHERE printed = 0",
    "DROP TABLE actions",  # with its indexes
    _ACTIONS,
    "ALTER TABLE processed RENAME TO processed_v1",
    _PROCESSED,
    "INSERT INTO processed (id, t, run_id) SELECT id, t, run_id FROM processed_v1",
    "DROP TABLE processed_v1",
    "DROP TABLE obligations",
    _OBLIGATIONS,
    "UPDATE store_meta SET value = '2' WHERE key = 'version'",
]

# From version 2: the state table becomes a head per playbook and a row per key (the
# saved whole states stay heads, taken whole by the next run, which writes them by key).
_FROM_V2 = [
    _STATE_HEAD,
    "INSERT INTO state_head (playbook, clock, clock_time, run_id, snapshot) "
    "SELECT playbook, clock, clock_time, run_id, snapshot FROM state",
    "DROP VIEW obligations",
    "DROP TABLE state",
    _STATE_KEY, _STATE_KEY_DUE, _STATE, *_STATE_TRIGGERS,
    _OBLIGATIONS,
    "UPDATE store_meta SET value = '3' WHERE key = 'version'",
]


@dataclass
class Batch:
    """What one transaction saves."""

    run_id: int
    snapshot: dict[str, Any]
    actions: list[Action]
    processed: list[tuple[Any, ...]]               # (event id, time[, digest of its content])
    late: list[tuple[str, int, str, str, str | None, Any]] = field(default_factory=list)  # id, t, type, reason, source, data
    pending_add: list[tuple[str, int, str | None, Any]] = field(default_factory=list)     # id, t, source, data
    pending_done: list[str] = field(default_factory=list)
    lines: list[str] | None = None  # the actions' JSON lines, when the caller has made them


@dataclass
class Prepared:
    """A batch as rows of text (SQLiteStore.prepare), ready to be written by any thread.

    The large JSON texts are UTF-8 bytes, bound as they are and read as text in SQL
    (CAST(? AS TEXT)): neither decoded in Python nor encoded again to be bound.
    """

    run_id: int
    actions: bytes                    # JSON: [[id, at_us, line, sort key], ...]
    processed: bytes                  # JSON: [[event id, t], ...]
    late: list[tuple[Any, ...]]
    pending_add: list[tuple[Any, ...]]
    pending_done: list[str]
    state: list[tuple[Any, ...]]
    # By key (None: the state is whole): per playbook, (name, every key?, row keys gone,
    # JSON of the rows kept: [[row key, due, state], ...])
    keys: list[tuple[str, bool, list[str], bytes | list[tuple[str, Any, bytes]]]] | None = None


def _fail(path: str, exc: sqlite3.Error) -> StateError:
    text = str(exc)
    if "malformed" in text:
        return StateError(_damaged(path, text))
    if "file is not a database" in text:
        return StateError(f"{path}: not a playbook store (not a SQLite database, or a damaged one): use another --db file")
    if "readonly" in text or "unable to open" in text:
        return StateError(f"{path}: cannot write the store ({text}): check the file's and its folder's permissions")
    if "disk is full" in text or "database or disk is full" in text:
        return StateError(f"{path}: the disk is full: nothing of this batch was saved; free some space and run again")
    if "locked" in text or "busy" in text:
        return StateError(f"{path}: the store is in use by another run; wait for it to finish")
    return StateError(f"{path}: store error: {text}")


def _damaged(path: str, detail: str) -> str:
    return (f"{path}: the store is damaged ({detail}): restore it from a backup, or start a new store "
            "with another --db file (the sqlite3 shell's .recover may save its tables)")


def state_damaged(path: str, detail: str) -> str:
    """The message for a saved state that cannot be read (a hand-edited store, say)."""
    return (f"{path}: the store's saved state is damaged ({detail}): run again with --reset-state to start the "
            "state over from the new events (the ledger and processed events are kept), or restore the store "
            "from a backup")


def _snapshot_shape(saved: Any) -> bool:
    """Has a saved playbook state the fields every engine writes? (What they hold, the engine checks.)"""
    return (isinstance(saved, dict) and isinstance(saved.get("_format"), str) and isinstance(saved.get("name"), str)
            and isinstance(saved.get("state"), dict) and isinstance(saved.get("settings_digest"), str)
            and isinstance(saved.get("rule_digests"), dict))


def _read_stamps(conn: sqlite3.Connection) -> frozenset[str]:
    """The schema-check stamps kept in a store's ``store_meta`` (none if unreadable)."""
    rows = conn.execute("SELECT value FROM store_meta WHERE key = 'schema_checked'").fetchall()
    try:
        stamps = orjson.loads(rows[0][0]) if rows and isinstance(rows[0][0], str) else None
    except orjson.JSONDecodeError:
        return frozenset()
    return frozenset(x for x in stamps if isinstance(x, str)) if isinstance(stamps, list) else frozenset()


def schema_checked_in(path: str) -> frozenset[str]:
    """:meth:`SQLiteStore.schema_checked` of the store at ``path``, read without opening it
    for writing (before its playbooks are loaded); empty when there is no readable store
    there: what was not read is checked again."""
    # immutable: no lock taken, no -wal or -shm file made. What a crashed run left in the
    # WAL is not seen: older stamps, which are as true (a stamp is of a text's bytes).
    try:
        if not os.path.isfile(path):
            return frozenset()
        conn = sqlite3.connect(f"{pathlib.Path(os.path.abspath(path)).as_uri()}?immutable=1", uri=True)
    except (sqlite3.Error, ValueError, OSError):  # ValueError: a name that is no file URI
        return frozenset()
    try:
        return _read_stamps(conn)
    except sqlite3.Error:
        return frozenset()
    finally:
        conn.close()


class SQLiteStore:
    """A playbook store in one SQLite file (WAL mode)."""

    def __init__(self, path: str, *, create: bool = True, max_pages: int | None = None, writer: bool = True,
                 lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
                 on_wait: Callable[[dict[str, Any] | None], None] | None = None, command: str | None = None,
                 check: bool = True):
        """``writer``: this store will be written (a run, ingest): take the store's writer
        lock first, waiting up to ``lock_timeout`` seconds for another writer to finish
        (``on_wait(holder)`` is called once if it has to wait), else raise
        :class:`~engine.errors.StoreBusy`. The lock is held until :meth:`close`; ``command``
        names this process in the lock's record (default: its command line). Readers
        (``writer=False``) never wait: they read the last committed batch.

        ``check``: a writer checks the whole file for damage (SQLite's ``quick_check``) in a
        second thread, on a connection of its own, while the run reads and processes its
        events; the first batch written (or actions marked written, or events ingested)
        waits for the verdict, and a damaged store raises StateError before anything new
        is saved. Pages a run never reads are checked too."""
        self.path = path
        self._lock = threading.RLock()  # batches may be written by another thread (DurableRun)
        self._writer_lock: WriterLock | None = None
        if not create and not os.path.exists(path):
            raise StateError(f"{path}: no such store (run 'playbook run ... --db {path}' or 'playbook ingest' first)")
        if writer and path != ":memory:":
            self._writer_lock = WriterLock(path, lock_timeout, on_wait, command)
        self._check: threading.Thread | None = None
        self._check_problem: str | None = None
        try:
            self._open(path, max_pages, writer)
        except BaseException:
            self._release()
            raise
        if writer and check and path != ":memory:":
            self._check = threading.Thread(target=self._quick_check, name="playbook-store-check", daemon=True)
            self._check.start()

    def _quick_check(self) -> None:
        """Runs in its own thread: SQLite's quick_check of the whole file (its first problem, if any)."""
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False)
            try:
                conn.execute("PRAGMA busy_timeout = 5000")
                conn.execute("PRAGMA query_only = 1")
                rows = conn.execute("PRAGMA quick_check(1)").fetchall()
            finally:
                conn.close()
            if rows != [("ok",)]:
                self._check_problem = "SQLite's quick_check: " + ("; ".join(str(r[0]).replace("\n", " ") for r in rows) or "no answer")
        except sqlite3.DatabaseError as exc:
            self._check_problem = str(exc)
        except sqlite3.Error:  # no verdict (busy): what the run reads is still checked as it reads it
            pass

    def checked(self) -> None:
        """Wait for the damage check started when the store was opened; StateError if damaged."""
        check, self._check = getattr(self, "_check", None), None
        if check is not None:
            check.join()
        problem = getattr(self, "_check_problem", None)
        if problem is not None:
            raise StateError(_damaged(self.path, problem))

    def _open(self, path: str, max_pages: int | None, writer: bool = True) -> None:
        try:
            # Batches may be written by a background thread (DurableRun), one call at a time.
            self.db = sqlite_utils.Database(sqlite3.connect(path, check_same_thread=False))
            self.db.conn.execute("PRAGMA busy_timeout = 5000")
            try:
                self.db.conn.execute("SELECT json_extract('[1]', '$[0]')")
            except sqlite3.OperationalError:
                raise StateError(f"{path}: this Python's SQLite ({sqlite3.sqlite_version}) has no JSON functions, "
                                 "which the store needs (SQLite 3.38 and newer have them built in)") from None
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
            if writer and "digest" not in {row[1] for row in self.db.conn.execute("PRAGMA table_info(processed)")}:
                with self.db.atomic():  # a store made before digests were kept: its rows have none
                    self.db.execute("ALTER TABLE processed ADD COLUMN digest INTEGER")
        except sqlite3.Error as exc:
            raise _fail(path, exc) from None

    def _create(self) -> None:
        with self.db.atomic():
            for statement in SCHEMA:
                self.db.execute(statement)
            self.db.execute("INSERT INTO store_meta (key, value) VALUES ('format', ?), ('version', ?)",
                            [STORE_FORMAT, STORE_VERSION])

    def _check_meta(self) -> None:
        meta = {row["key"]: row["value"] for row in self.db.table("store_meta").rows}
        if meta.get("format") != STORE_FORMAT:
            raise StateError(f"{self.path}: not a playbook store: use another --db file")
        if meta.get("version") in ("1", "2"):
            with self.db.atomic():  # all or nothing: a store is never left half migrated
                for statement in [*(_FROM_V1 if meta.get("version") == "1" else []), *_FROM_V2]:
                    self.db.execute(statement)
        elif meta.get("version") != STORE_VERSION:
            raise StateError(f"{self.path}: a playbook store of version {meta.get('version')}, this engine reads "
                             f"version {STORE_VERSION} (and migrates versions 1 and 2): use the playbook release "
                             "that wrote it")

    def close(self) -> None:
        check, self._check = getattr(self, "_check", None), None
        if check is not None:
            check.join()
        with contextlib.suppress(sqlite3.Error, AttributeError):
            self.db.conn.close()
        self._release()

    def _release(self) -> None:
        lock = getattr(self, "_writer_lock", None)
        if lock is not None:
            lock.release()
            self._writer_lock = None

    def __del__(self) -> None:  # a store dropped without close() still lets the next writer in
        with contextlib.suppress(Exception):
            self._release()

    def _guard(self) -> _Guard:
        return _Guard(self.path, self._lock)

    # -- state -------------------------------------------------------------------------

    def load_state(self) -> dict[str, Any] | None:
        """The engine snapshot saved by the last commit, whole, or None for a new store.

        A state saved key by key is put together here, from its head and its keys' rows, as
        the ``state`` view shows it to SQL, but read with :func:`load_state_json`: a row
        SQLite's JSON functions refuse (a NaN an event gave a fact) or an integer beyond 64
        bits is read exactly, and does not make the store look damaged."""
        heads = self._heads()
        if not heads:
            return None
        playbooks: list[dict[str, Any]] = []
        for name, text, saved in heads:
            if not _snapshot_shape(saved):
                raise StateError(state_damaged(self.path, f"table state, playbook {name!r}: "
                                               f"{'not JSON' if isinstance(text, str) and saved is None else 'not a saved state'}"))
            if saved["state"].get("keyed") is True:
                self._put_keys_together(name, saved)
            playbooks.append(saved)
        formats = {p.pop("_format") for p in playbooks}
        return {"format": formats.pop() if len(formats) == 1 else None, "playbooks": playbooks}

    def _heads(self) -> list[tuple[str, Any, Any]]:
        """Each playbook's saved head: its name, its text, and that text read (None if it is no JSON)."""
        with self._guard():
            rows = self.db.execute("SELECT playbook, snapshot FROM state_head ORDER BY playbook").fetchall()
        heads = []
        for name, text in rows:
            try:
                saved = load_state_json(text) if isinstance(text, str) else None
            except ValueError:
                saved = None
            heads.append((name, text, saved))
        return heads

    def _put_keys_together(self, name: str, saved: dict[str, Any]) -> None:
        """A head saved key by key, made whole with its keys' rows (what the ``state`` view does)."""
        state = saved["state"]
        state.pop("keyed", None)
        state.pop("counts", None)
        rules = state.get("rules")
        if not isinstance(rules, dict):
            raise StateError(state_damaged(self.path, f"table state_head, playbook {name!r}: not a saved state"))
        facts: list[list[Any]] = []
        seen: list[list[Any]] = []
        items: dict[str, list[Any]] = {rid: [] for rid in rules}
        with self._guard():
            rows = self.db.execute("SELECT key, state FROM state_key WHERE playbook = ? ORDER BY key", [name]).fetchall()
        for key, text in rows:
            try:
                row = load_state_json(text) if isinstance(text, str) else None
            except ValueError:
                row = None
            if not isinstance(row, dict) or "k" not in row or not isinstance(row.get("r", {}), dict):
                raise StateError(state_damaged(self.path, f"table state_key, playbook {name!r}, key {key}: "
                                               "not a saved state"))
            if "f" in row:
                facts.append([row["k"], row["f"]])
            if "s" in row:
                seen.append([row["k"], row["s"]])
            for rid, found in row.get("r", {}).items():
                if rid in items and isinstance(found, list):
                    items[rid].extend(found)
        state["facts"] = facts
        state["facts_seen"] = seen
        for rid, fields in rules.items():
            if isinstance(fields, dict):
                rules[rid] = {field: list(items[rid]) for field in fields}

    def load_heads(self) -> dict[str, Any] | None:
        """The saved state without its keys' states (:meth:`engine.Engine.restore_keyed`):
        each playbook's head, with ``index``, its keys' first pending instants by row key;
        None for a new store, or when a state is saved whole (:meth:`load_state` reads it)."""
        heads = self._heads()
        if not heads:
            return None
        playbooks: list[dict[str, Any]] = []
        for name, _, saved in heads:
            if (not _snapshot_shape(saved) or saved.get("name") != name
                    or saved["state"].get("keyed") is not True):
                return None
            playbooks.append(saved)
        formats = {p.pop("_format") for p in playbooks}
        if len(formats) != 1:
            return None
        with self._guard():
            for saved in playbooks:
                rows = self.db.execute("SELECT key, due FROM state_key WHERE playbook = ?", [saved["name"]]).fetchall()
                for key, due in rows:  # a hand edit must be a message, not a comparison failing later
                    if not isinstance(key, str) or not (due is None or (isinstance(due, int) and not isinstance(due, bool))):
                        raise StateError(state_damaged(self.path, f"table state_key, playbook {saved['name']!r}: "
                                                       f"key {key!r} with due {due!r} (a key is text, a due a number)"))
                saved["index"] = dict(rows)
        return {"format": formats.pop(), "playbooks": playbooks}

    def key_states(self, playbook: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The saved states of these keys (row keys, as :meth:`load_heads` lists them)."""
        found: dict[str, dict[str, Any]] = {}
        with self._guard():
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                rows = self.db.execute(f"SELECT key, state FROM state_key WHERE playbook = ? AND key IN "
                                       f"({','.join('?' * len(chunk))})", [playbook, *chunk]).fetchall()
                for key, text in rows:
                    try:
                        saved = load_state_json(text) if isinstance(text, str) else None
                    except ValueError:
                        saved = None
                    if not isinstance(saved, dict) or "k" not in saved or not isinstance(saved.get("r", {}), dict):
                        raise StateError(state_damaged(self.path, f"table state_key, playbook {playbook!r}, key {key}: "
                                                       "not a saved state"))
                    found[key] = saved
        return found

    def has_processed(self) -> bool:
        """Has any event been processed (a new store has nothing to look up)?"""
        with self._guard():
            return self.db.execute("SELECT 1 FROM processed LIMIT 1").fetchone() is not None

    def processed_before(self, ids: Sequence[str]) -> dict[str, tuple[Any, Any]]:
        """(time, content digest) of those of these ids already processed, by an earlier run
        or by this run's committed batches (an id is one event: a copy is a duplicate)."""
        stored = {_sql_text(eid): eid for eid in ids}
        # One statement, the ids as one JSON text: ~0.2 µs an id not found (new events), ~2 µs one found.
        with self._guard():
            rows = self.db.execute(
                "SELECT p.id, p.t, p.digest FROM json_each(CAST(? AS TEXT)) AS j CROSS JOIN processed AS p "
                "ON p.id = j.value", [_processed_json(list(stored))]).fetchall()
        return {stored[eid]: (t, digest) for eid, t, digest in rows}

    def processed(self, ids: Sequence[str]) -> set[str]:
        """Which of these event ids were processed by an earlier run."""
        found: set[str] = set()
        stored = {_sql_text(eid): eid for eid in ids}
        keys = list(stored)
        with self._guard():
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(stored[r[0]] for r in self.db.execute(f"SELECT id FROM processed WHERE id IN ({marks})", chunk))
        return found

    # -- playbooks checked against the schema ----------------------------------------

    def schema_checked(self) -> frozenset[str]:
        """Stamps (:func:`engine.schema.checked_stamp`) of the playbook texts of the last run."""
        with self._guard():
            return _read_stamps(self.db.conn)

    def note_schema_checked(self, stamps: Iterable[str]) -> None:
        """Keep the stamps of this run's playbooks, which passed the schema (in place of earlier runs')."""
        with self._guard(), self.db.atomic():
            self.db.execute("INSERT OR REPLACE INTO store_meta (key, value) VALUES ('schema_checked', ?)",
                            [_json(sorted(set(stamps)))])

    # -- runs --------------------------------------------------------------------------

    def begin_run(self, started: str, source: str) -> int:
        with self._guard(), self.db.atomic():
            cursor = self.db.execute(
                "INSERT INTO runs (started, status, source) VALUES (?, 'running', ?)", [started, _sql_text(source)]
            )
            return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, finished: str, status: str, counts: dict[str, Any]) -> None:
        columns = ["finished", "status", *counts]
        values = [finished, status, *counts.values()]
        assignments = ", ".join(f"{c} = ?" for c in columns)
        with self._guard(), self.db.atomic():
            self.db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", [*values, run_id])

    # -- the batch transaction ---------------------------------------------------------

    def commit(self, batch: Batch) -> int:
        """Save a batch atomically; returns how many of its actions the ledger did not hold yet."""
        return self.write(self.prepare(batch))

    def prepare(self, batch: Batch) -> Prepared:
        """The rows of a batch, as text: the Python half of :meth:`commit`, which reads the
        engine's data (call it where the engine runs; :meth:`write` may run in another thread)."""
        lines = batch.lines if batch.lines is not None else [dumps(a.record()) for a in batch.actions]
        state = []
        keys: list[tuple[str, bool, list[str], bytes | list[tuple[str, Any, bytes]]]] | None = (
            [] if batch.snapshot.get("delta") else None)
        for saved in batch.snapshot["playbooks"]:
            if keys is not None:  # by key: the head, and the keys changed
                name = saved["name"]
                rows = saved["keys"]
                gone = [_sql_text(rk) for rk, _, key_state in rows if key_state is None]
                kept = [row for row in rows if row[2] is not None] if gone else rows
                keys.append((name, bool(saved["all"]), gone, _key_rows(kept)))
                saved = {"name": name, "settings_digest": saved["settings_digest"],
                         "rule_digests": saved["rule_digests"], "state": saved["head"]}
            clock = saved["state"]["clock"]
            body = dict(saved, _format=batch.snapshot["format"])
            state.append((saved["name"], clock, None if clock is None else format_time(clock), batch.run_id,
                          dumps_utf8(body)))
        return Prepared(
            run_id=batch.run_id,
            actions=dumps_utf8([(a.id, a.at, line, _json(a.sort_key)) for a, line in zip(batch.actions, lines, strict=True)]),
            processed=_processed_json(batch.processed),
            late=[(_sql_text(eid), batch.run_id, format_time(t), t, _sql_text(etype), reason, _sql_text(source),
                   _json(data)) for eid, t, etype, reason, source, data in batch.late],
            pending_add=[(_sql_text(eid), t, _sql_text(source), _json(data)) for eid, t, source, data in batch.pending_add],
            pending_done=[_sql_text(eid) for eid in batch.pending_done],
            state=state,
            keys=keys,
        )

    def write(self, prepared: Prepared) -> int:
        """Save prepared rows in one transaction (SQL only); returns the number of new actions.

        Rows go in as one JSON text per table, unpacked by SQLite (json_each): one
        statement each, whatever the batch's size.
        """
        self.checked()
        conn = self.db.conn
        with self._guard(), self.db.atomic():
            # The ledger takes the actions it does not hold yet (a write first: a busy store is
            # waited for, as busy_timeout says); the outbox takes the rows just added, which got
            # the rowids above the largest before, one after another.
            before = conn.total_changes
            conn.execute(
                "INSERT OR IGNORE INTO ledger (id, run_id, at_us, record, sort_key) SELECT json_extract(value, '$[0]'), ?, "
                "json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]') "
                "FROM json_each(CAST(? AS TEXT))",
                [prepared.run_id, prepared.actions],
            )
            new = conn.total_changes - before
            if new:
                conn.execute("INSERT OR IGNORE INTO outbox (id, at_us) SELECT id, at_us FROM ledger "
                             "WHERE rowid > (SELECT max(rowid) FROM ledger) - ?", [new])
            conn.execute(
                "INSERT OR IGNORE INTO processed (id, t, run_id, digest) SELECT json_extract(value, '$[0]'), "
                "json_extract(value, '$[1]'), ?, json_extract(value, '$[2]') FROM json_each(CAST(? AS TEXT))",
                [prepared.run_id, prepared.processed],
            )
            if prepared.late:
                conn.executemany(
                    "INSERT OR IGNORE INTO late_events (id, run_id, time, t, type, reason, source, data) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    prepared.late,
                )
            for i in range(0, len(prepared.pending_done), _CHUNK):
                chunk = prepared.pending_done[i : i + _CHUNK]
                conn.execute(f"DELETE FROM pending WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            if prepared.pending_add:
                conn.executemany("INSERT OR IGNORE INTO pending (id, t, source, data) VALUES (?, ?, ?, ?)",
                                 prepared.pending_add)
            names = _processed_json([row[0] for row in prepared.state])
            if prepared.keys is None:
                conn.execute("DELETE FROM state_key")
            else:
                conn.execute("DELETE FROM state_key WHERE playbook NOT IN (SELECT value FROM json_each(CAST(? AS TEXT)))",
                             [names])
                for name, every, gone, rows in prepared.keys:
                    if every:
                        conn.execute("DELETE FROM state_key WHERE playbook = ?", [name])
                    for i in range(0, len(gone), _CHUNK):
                        chunk = gone[i : i + _CHUNK]
                        conn.execute(f"DELETE FROM state_key WHERE playbook = ? AND key IN ({','.join('?' * len(chunk))})",
                                     [name, *chunk])
                    if isinstance(rows, bytes):
                        conn.execute("INSERT OR REPLACE INTO state_key (playbook, key, due, state) SELECT ?, "
                                     "value ->> 0, value ->> 1, value -> 2 FROM json_each(CAST(? AS TEXT))", [name, rows])
                    else:
                        conn.executemany("INSERT OR REPLACE INTO state_key (playbook, key, due, state) "
                                         "VALUES (?, ?, ?, CAST(? AS TEXT))", [(name, *row) for row in rows])
            conn.execute("DELETE FROM state_head WHERE playbook NOT IN (SELECT value FROM json_each(CAST(? AS TEXT)))",
                         [names])
            conn.executemany("INSERT OR REPLACE INTO state_head (playbook, clock, clock_time, run_id, snapshot) "
                             "VALUES (?, ?, ?, ?, CAST(? AS TEXT))", prepared.state)
        return new

    # -- printing exactly the ledger ---------------------------------------------------

    def unprinted(self, before_us: int | None = None) -> list[tuple[str, str]]:
        """(id, JSON line) of ledger actions not yet written out, in the output order."""
        # CROSS JOIN: the (small) outbox drives the loop; left to itself the planner may scan the ledger.
        sql = "SELECT l.id, l.record, l.sort_key FROM outbox AS o CROSS JOIN ledger AS l ON l.id = o.id"
        args: list[Any] = []
        if before_us is not None:
            sql += " WHERE o.at_us < ?"
            args.append(before_us)
        sql += " ORDER BY o.at_us"  # nearly the output order: the sort below has little left to do
        with self._guard():
            rows = list(self.db.execute(sql, args))
        rows.sort(key=lambda r: load_json(r[2]))
        return [(r[0], r[1]) for r in rows]

    def unprinted_ids(self) -> set[str]:
        """The ids of the ledger's actions not written out yet."""
        with self._guard():
            return {row[0] for row in self.db.execute("SELECT id FROM outbox")}

    def mark_printed(self, before_us: int | None = None) -> None:
        """Mark as written what :meth:`unprinted` with the same bound returned."""
        self.checked()
        with self._guard(), self.db.atomic():
            if before_us is None:
                self.db.execute("DELETE FROM outbox")
            else:
                self.db.execute("DELETE FROM outbox WHERE at_us < ?", [before_us])

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
        rows.sort(key=lambda r: load_json(r[1]))
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
        self.checked()
        with self._guard(), self.db.atomic():
            before = self.db.execute("SELECT count(*) FROM events").fetchone()[0]
            batch: list[tuple[Any, ...]] = []
            for eid, etype, time, t, source, data in rows:
                total += 1
                batch.append((_sql_text(eid), _sql_text(etype), _sql_text(time), t, _sql_text(source), _json(data)))
                if len(batch) >= 10_000:
                    self.db.conn.executemany("INSERT OR IGNORE INTO events (id, type, time, t, source, data) VALUES (?, ?, ?, ?, ?, ?)", batch)
                    batch.clear()
            if batch:
                self.db.conn.executemany("INSERT OR IGNORE INTO events (id, type, time, t, source, data) VALUES (?, ?, ?, ?, ?, ?)", batch)
            inserted = self.db.execute("SELECT count(*) FROM events").fetchone()[0] - before
        return inserted, total - inserted


class _Guard:
    """Holds the store's lock (one thread at a time uses the connection) and turns SQLite
    errors into StateError with the store's path and what to do."""

    def __init__(self, path: str, lock: threading.RLock):
        self.path = path
        self.lock = lock

    def __enter__(self) -> None:
        self.lock.acquire()

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        self.lock.release()
        if isinstance(exc, sqlite3.Error):
            raise _fail(self.path, exc) from None


@overload
def _sql_text(text: str) -> str: ...
@overload
def _sql_text(text: None) -> None: ...
def _sql_text(text: str | None) -> str | None:
    """Text SQLite can hold: a string with lone surrogates (JSON allows them: "\\ud800") has
    them written as ``\\ud800`` escapes. Ids are stored and looked up through this."""
    if text is None or text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def load_state_json(text: str) -> Any:
    """A saved state's JSON, exactly: orjson, unless the text holds a number of 20 digits or
    more (orjson reads an integer beyond 64 bits as a float: a long account number would
    no longer be its key) or something orjson refuses (NaN, a lone surrogate)."""
    if _LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


_LONG_DIGITS = re.compile(r"\d{20}")


def load_json(text: str) -> Any:
    """JSON the store wrote (an action's line, its sort key): orjson, or the json module
    for what orjson refuses, lone surrogates ("\\udfff") among them."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return parse_json_line(text)


def _json(value: Any) -> str:
    return dumps(value)


def _key_rows(rows: list[list[Any]]) -> bytes | list[tuple[str, Any, bytes]]:
    """The rows of ``state_key`` to write ([row key, due, state], ...): one JSON text,
    unpacked by SQLite; or, when orjson cannot write them (a lone surrogate, say), each
    row's state as its own text, which SQLite stores as it is (its JSON functions would
    refuse the NaN that the json module writes beside it)."""
    try:
        return orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS, default=_default)
    except (TypeError, orjson.JSONEncodeError):
        return [(_sql_text(rk), due, dumps_utf8(state)) for rk, due, state in rows]


def _processed_json(processed: list[Any]) -> bytes:
    """JSON of (event id, time[, digest]) rows, or of ids, ids as :func:`_sql_text` stores them."""
    try:
        return orjson.dumps(processed)  # refuses lone surrogates, the only ids _sql_text changes
    except (TypeError, orjson.JSONEncodeError):
        return dumps_utf8([_sql_text(row) if isinstance(row, str) else (_sql_text(row[0]), *row[1:])
                           for row in processed])
