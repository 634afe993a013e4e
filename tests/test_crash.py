"""Fault injection: SIGKILL a ``--db`` run at random points; resuming must lose and repeat nothing.

A 100k-event log is run with ``--db``; the run is killed again and again (at
least 20 times, 100 with PLAYBOOK_LONG_TESTS=1), each time while it is
processing, committing or writing, and restarted until it completes. The
ledger must then hold exactly the actions of an uninterrupted run, and what
was written out across all attempts (deduplicated by id) must be exactly
those actions too.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import Engine, load_playbook, read_events
from tests.conftest import ROOT

KILLS = 100 if os.environ.get("PLAYBOOK_LONG_TESTS") else 20
EVENTS = 100_000
SHIPPED = str(ROOT / "playbooks" / "us-retention.yaml")


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "events.jsonl"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--events", str(EVENTS), "--accounts", "1000",
         "--seed", "11", "--out", str(path)],
        check=True, capture_output=True, timeout=300,
    )
    return path


def _processed(db: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(con.execute("SELECT count(*) FROM processed").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_sigkill_at_random_points_loses_and_repeats_nothing(log: Path, tmp_path: Path) -> None:
    reference = {
        a.id: a.to_json() for a in Engine(load_playbook(SHIPPED)).run(read_events(str(log)))
    }
    assert len(reference) > 5_000
    db = tmp_path / "cs.db"
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "cli.main", "run", SHIPPED, "--events", str(log), "--db", str(db),
               "--out", str(out), "--commit-every", "1000", "-q"]
    rng = random.Random(2026)
    kills = attempts = 0
    while True:
        attempts += 1
        assert attempts < KILLS * 4, "the run makes no progress between kills"
        proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE)
        if kills < KILLS:
            if attempts % 5 == 0:
                time.sleep(rng.uniform(0.05, 1.5))  # early: reading, restoring, re-writing
            else:
                done = _processed(db)
                step = rng.randint(1, max(1, (EVENTS - done) // (KILLS - kills + 1)))
                while proc.poll() is None and _processed(db) < done + step:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0, 0.15))  # mid-batch, mid-commit or mid-write
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                continue
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()
        if kills >= KILLS:
            break
    assert kills >= KILLS

    con = sqlite3.connect(db)
    ledger = dict(con.execute("SELECT id, record FROM actions"))
    assert ledger == reference
    written: dict[str, str] = {}
    for line in out.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill while writing; it is written again after the restart
        written[record["id"]] = line
    assert written == reference
