"""Fault injection and concurrency: real ``--db`` runs killed and run side by side.

A 100k-event log is run with ``--db``; the run is killed again and again (20
times, 100 with PLAYBOOK_LONG_TESTS=1), each time while it is processing,
committing or writing, and restarted until it completes. The ledger must then
hold exactly the actions of an uninterrupted run, and what was written out
across all attempts (deduplicated by id) must be exactly those actions too.

Two runs started together on one store (two overlapping cron jobs) must end
exactly as the same two runs one after the other, with no action written twice,
also when the one holding the store is killed in the middle.

No test here depends on how fast the machine is: runs write their actions into a
pipe (a FIFO) that the test reads, and a run cannot get further than a pipe's
capacity past what the test has read. So the test decides where a run is when it
is killed (it cannot have finished), and waits for what it can observe (output
read, the store's rows, a run's "waiting" message) in bounded loops.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from engine import Engine, load_playbook, read_events
from engine.storelock import lock_path
from tests.conftest import ROOT

KILLS = 100 if os.environ.get("PLAYBOOK_LONG_TESTS") else 20
EVENTS = 100_000
SHIPPED = str(ROOT / "playbooks" / "us-retention.yaml")
PATIENCE = 600.0  # s: only a hung run takes this long; no result depends on it


def _generate(path: Path, events: int, accounts: int, seed: int) -> Path:
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--events", str(events), "--accounts",
         str(accounts), "--seed", str(seed), "--out", str(path)],
        check=True, capture_output=True, timeout=300,
    )
    return path


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.mktemp("crash") / "events.jsonl", EVENTS, 1000, 11)


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.mktemp("overlap") / "events.jsonl", 20_000, 300, 5)


def _until(condition: Callable[[], bool], what: str, pump: Callable[[], object] = lambda: None) -> None:
    """Wait for something observable (bounded: a hung run fails the test, with ``what``)."""
    deadline = time.monotonic() + PATIENCE
    while True:
        pump()
        if condition():
            return
        assert time.monotonic() < deadline, f"waited {PATIENCE:.0f} s for {what}"
        time.sleep(0.01)


def _query(db: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows of a committed snapshot of the store (empty while it does not exist yet)."""
    if not db.exists():
        return []
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            return list(con.execute(sql))
        finally:
            con.close()
    except sqlite3.Error:
        return []


def _processed(db: Path) -> int:
    rows = _query(db, "SELECT count(*) FROM processed")
    return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]


class Pipe:
    """A FIFO a run writes its actions to (``--out``); the test reads at most ``allowed``
    bytes of it (None: all), so a run gets at most a pipe's capacity past that."""

    def __init__(self, path: Path):
        os.mkfifo(path)
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # open first: writers never wait for a reader
        self.capacity = fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, 4096)  # the smallest the kernel allows
        self.data = bytearray()
        self.allowed: int | None = 0

    def pump(self) -> None:
        while self.allowed is None or len(self.data) < self.allowed:
            want = 1 << 16 if self.allowed is None else min(1 << 16, self.allowed - len(self.data))
            try:
                chunk = os.read(self.fd, want)
            except BlockingIOError:
                return
            if not chunk:
                return  # no writer at the moment
            self.data += chunk

    def lines(self, start: int = 0) -> list[str]:
        """Whole lines written so far, from byte ``start`` (a kill may leave one cut, even
        inside a character; the next attempt's first line then goes on from it)."""
        end = self.data.rfind(b"\n") + 1
        return [line.decode("utf-8", "replace") for line in bytes(self.data[start:end]).split(b"\n")[:-1]]

    def close(self) -> None:
        os.close(self.fd)


def _ids(lines: list[str]) -> list[str]:
    ids = []
    for line in lines:
        try:
            ids.append(json.loads(line)["id"])
        except ValueError:
            continue  # a line cut by a kill while writing; it is written again after the restart
    return ids


def test_sigkill_at_random_points_loses_and_repeats_nothing(log: Path, tmp_path: Path) -> None:
    reference = {
        a.id: a.to_json() for a in Engine(load_playbook(SHIPPED)).run(read_events(str(log)))
    }
    assert len(reference) > 5_000
    db = tmp_path / "cs.db"
    out = Pipe(tmp_path / "out.jsonl")
    command = [sys.executable, "-m", "cli.main", "run", SHIPPED, "--events", str(log), "--db", str(db),
               "--out", str(out.path), "--commit-every", "1000", "-q"]
    # Kill k comes once the actions read hold `targets[k]` distinct ids (none for an early kill).
    # After the last target, more than a pipe's capacity is left to write: the run cannot
    # finish before it is killed, however fast it is.
    last = int(len(reference) * 0.9)
    assert sum(sorted(len(line) + 1 for line in reference.values())[: len(reference) - last]) > 4 * out.capacity
    rng = random.Random(2026)
    targets = [last * (k + 1) // KILLS for k in range(KILLS)]
    seen: set[str] = set()
    parsed = [0]  # bytes of out.data whose lines are in `seen`

    def read() -> None:
        out.pump()
        seen.update(_ids(out.lines(parsed[0])))
        parsed[0] = out.data.rfind(b"\n") + 1

    kills = 0
    try:
        while kills < KILLS:
            proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)
            out.allowed = None
            if kills % 5 == 4:  # early: starting, restoring, re-writing what the last attempt left
                runs = len(_query(db, "SELECT id FROM runs"))
                if rng.random() < 0.5:
                    _until(lambda runs=runs, proc=proc: len(_query(db, "SELECT id FROM runs")) > runs or proc.poll() is not None,
                           "the run to begin", read)
                out.allowed = len(out.data)
            else:
                target = targets[kills]
                _until(lambda target=target, proc=proc: len(seen) >= target or proc.poll() is not None,
                       f"{target} distinct actions written", read)
                out.allowed = len(out.data)  # from here the run can write at most a pipe's capacity
                if rng.random() < 0.5:
                    # Anywhere in the next batches: processing, committing, or blocked writing.
                    # How long does not matter: the run cannot finish meanwhile.
                    time.sleep(rng.uniform(0, 0.2))
            assert proc.poll() is None, "the run finished before it could be killed"
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE)
        out.allowed = None
        _until(lambda: proc.poll() is not None, "the last run to finish", read)
        read()
        assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
    finally:
        out.close()
    assert kills == KILLS

    con = sqlite3.connect(db)
    ledger = dict(con.execute("SELECT id, record FROM actions"))
    con.close()
    assert ledger == reference
    written = {json.loads(line)["id"]: line for line in out.lines() if _ids([line])}
    assert written == reference


# -- two runs on one store at once ---------------------------------------------------------


def _command(events: Path, db: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "cli.main", "run", SHIPPED, "--events", str(events), "--db", str(db),
            "--out", str(out), "--commit-every", "500", "--lock-timeout", str(PATIENCE)]


def _store_end(db: Path) -> tuple[object, ...]:
    """What a store holds at the end: ledger, processed events, saved state."""
    return (sorted(_query(db, "SELECT id, record FROM ledger")), sorted(_query(db, "SELECT id, t FROM processed")),
            _query(db, "SELECT playbook, clock, snapshot FROM state ORDER BY playbook"),
            sorted(_query(db, "SELECT id FROM late_events")))


def _sequential(tmp_path: Path, sources: list[Path]) -> tuple[list[str], tuple[object, ...]]:
    """The runs one after the other on a new store: each one's output, and the store's end."""
    db = tmp_path / "sequential.db"
    outputs = []
    for events in sources:
        r = CliRunner().invoke(main, ["run", SHIPPED, "--events", str(events), "--db", str(db), "-q"])
        assert r.exit_code == 0, r.output
        outputs.append(r.stdout)
    return outputs, _store_end(db)


def _slices(small_log: Path, tmp_path: Path, kind: str) -> list[Path]:
    if kind == "same":
        return [small_log, small_log]
    lines = small_log.read_text().splitlines(keepends=True)
    half = len(lines) // 2
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(lines[:half]))
    b.write_text("".join(lines[half:]))
    return [a, b]


@pytest.mark.parametrize("kind", ["different", "same"])
@pytest.mark.parametrize("start", ["held", "together"])
def test_two_runs_at_once_end_as_one_after_the_other(small_log: Path, tmp_path: Path, kind: str, start: str) -> None:
    """Two runs on one store at once: the second waits for the first, then continues from
    its state, so the store and the outputs are those of the two runs one after the other
    (in the order they got the store); no action is written twice. ``held``: the test holds
    the store until both are waiting, so they surely overlap; ``together``: both start at once."""
    from engine.store import SQLiteStore

    sources = _slices(small_log, tmp_path, kind)
    db = tmp_path / "cs.db"
    outs = [tmp_path / "out1.jsonl", tmp_path / "out2.jsonl"]
    errs = [tmp_path / "err1.txt", tmp_path / "err2.txt"]
    holder = SQLiteStore(str(db)) if start == "held" else None
    procs = []
    try:
        for events, out, err in zip(sources, outs, errs, strict=True):
            with open(err, "wb") as stderr:
                procs.append(subprocess.Popen(_command(events, db, out), cwd=ROOT, stderr=stderr))
        if holder is not None:
            _until(lambda: all("waiting for" in e.read_text() for e in errs), "both runs to wait for the store")
    finally:
        if holder is not None:
            holder.close()
    for proc, err in zip(procs, errs, strict=True):
        assert proc.wait(timeout=PATIENCE) == 0, err.read_text()
    outputs = [out.read_text() for out in outs]
    order = [str(row[0]) for row in _query(db, "SELECT source FROM runs ORDER BY id")]
    assert sorted(order) == sorted(str(s) for s in sources)
    expected_outputs, expected_end = _sequential(tmp_path, [Path(s) for s in order])
    assert _store_end(db) == expected_end
    if kind == "different":  # each run's output is what that slice gave in its place
        assert [outputs[[str(s) for s in sources].index(s)] for s in order] == expected_outputs
    else:
        assert sorted(outputs) == sorted(expected_outputs) and "" in outputs
    ids = _ids("".join(outputs).splitlines())
    assert len(ids) == len(set(ids)) > 100  # no action written twice


def test_a_run_waiting_for_a_killed_one_takes_over(small_log: Path, tmp_path: Path) -> None:
    """Two runs over the same log at once; the one holding the store is killed in the
    middle (SIGKILL). The other gets the store at once and finishes it: the store ends
    as after one run, and each action is written once by the survivor (the killed one
    may have written some too, which the survivor, not knowing, writes again)."""
    from engine.store import SQLiteStore

    db = tmp_path / "cs.db"
    pipes = [Pipe(tmp_path / "out1.jsonl"), Pipe(tmp_path / "out2.jsonl")]
    errs = [tmp_path / "err1.txt", tmp_path / "err2.txt"]
    holder = SQLiteStore(str(db))
    procs = []
    try:
        try:
            for pipe, err in zip(pipes, errs, strict=True):
                with open(err, "wb") as stderr:
                    procs.append(subprocess.Popen(_command(small_log, db, pipe.path), cwd=ROOT, stderr=stderr))
            _until(lambda: all("waiting for" in e.read_text() for e in errs),
                   "both runs to wait for the store")
        finally:
            holder.close()
        pids = {proc.pid: i for i, proc in enumerate(procs)}

        def lock_holder() -> int | None:
            try:
                pid = json.loads(Path(lock_path(str(db))).read_text() or "{}").get("pid")
            except (OSError, ValueError):
                return None
            return pid if pid in pids else None

        # Nothing is read from the pipes yet: the run holding the store commits its first
        # batches, then waits to write; it is surely in the middle when killed.
        _until(lambda: lock_holder() is not None and _processed(db) > 0, "a run to hold the store and commit")
        killed = pids[lock_holder()]  # type: ignore[index]
        survivor = 1 - killed
        assert procs[killed].poll() is None
        procs[killed].send_signal(signal.SIGKILL)
        procs[killed].wait()
        assert _processed(db) < 20_000
        pipes[survivor].allowed = None
        _until(lambda: procs[survivor].poll() is not None, "the survivor to finish", pipes[survivor].pump)
        pipes[killed].allowed = None
        for pipe in pipes:
            pipe.pump()
        assert procs[survivor].returncode == 0, errs[survivor].read_text()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for pipe in pipes:
            pipe.close()
    [one_run], expected_end = _sequential(tmp_path, [small_log])
    assert _store_end(db) == expected_end
    survivor_ids = _ids(pipes[survivor].lines())
    assert len(survivor_ids) == len(set(survivor_ids))  # the survivor writes nothing twice
    reference = {json.loads(line)["id"] for line in one_run.splitlines()}
    assert set(survivor_ids) | set(_ids(pipes[killed].lines())) == reference
    assert set(_ids(pipes[killed].lines())) <= reference
