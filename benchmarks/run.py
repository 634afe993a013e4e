#!/usr/bin/env python3
"""End-to-end throughput benchmark: the JSON parse floor versus ``playbook run``.

    python benchmarks/run.py [--events 1000000] [--accounts 10000] [--repeat 3] [--seed 1]
                             [--durable-events 50000] [--record]

Generates the event log once with ``benchmarks/generate.py`` (cached in ``benchmarks/data/``
under a name made of the arguments), then runs each measurement ``--repeat`` times, each run
in its own process:

* ``parse floor``: read the log and ``orjson.loads`` every line, nothing else;
* ``playbook run``: ``python -m cli.main run playbooks/us-retention.yaml --events LOG
  --out /dev/null -q`` from this checkout, end to end;
* ``durable_rules``: the same playbook translated into durable_rules rulesets
  (``benchmarks/durable/us_retention.py``, the ``oracle`` extra) on the first
  ``--durable-events`` events of the same log; skipped, saying so, when durable_rules is
  not installed, and reported (not fatal) if its C core crashes.

The code run is a snapshot of this checkout's ``engine/``, ``cli/``, ``playbooks/`` and
``schemas/`` (working-tree changes included) copied to a temporary directory at the start,
so that every repeat measures the same code even if the tree is edited meanwhile; the
record names it by commit and a digest of those sources.

Times are wall-clock seconds from process start to exit (interpreter start-up and imports
included, for both). Peak RSS is the child's own ``ru_maxrss``, read with ``os.wait4`` on
that child's pid: one figure per run, unaffected by earlier children. The table gives
medians; ``--record`` appends it to ``benchmarks/results.md`` with the machine and commit.
See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
RESULTS = BENCH_DIR / "results.md"
PLAYBOOK = Path("playbooks") / "us-retention.yaml"  # relative to the sources snapshot
DURABLE = Path("benchmarks") / "durable" / "us_retention.py"  # relative to ROOT and to the snapshot
DURABLE_EVENTS = 50_000  # default prefix of the log for durable_rules (~15 s and ~3 GB per run here)

# The parse floor: the least any JSON Lines reader has to do (binary read, one orjson.loads
# per line, the result dropped).
PARSE_FLOOR = """\
import sys
import orjson
loads = orjson.loads
n = 0
with open(sys.argv[1], "rb", buffering=1 << 20) as f:
    for line in f:
        if line.strip():
            loads(line)
            n += 1
if n != int(sys.argv[2]):
    sys.exit(f"parse floor: read {n} events, expected {sys.argv[2]}")
"""

# The least per-event work of any engine of this kind written in Python: the parse floor,
# plus reading each event's type, time and key, looking the type up in an index of the
# types the playbook reads, and keeping per-key state (the latest such event). A time is
# read as the engine's fast path reads the log's shape (2026-03-02T14:05:09Z): its hour
# looked up by the text's first 13 characters, minutes and seconds as numbers. No rules,
# timers, actions or output: a lower bound for `playbook run`, not a competitor.
# The event types playbooks/us-retention.yaml reads (tests/test_bench_playbooks.py checks them).
SKELETON_TYPES = ("account.updated", "customer.message", "vendor.reply", "contract.signed", "contract.ended",
                  "qbr.held", "incident.opened", "incident.disclosed", "customer.ticket", "signal.expansion",
                  "signal.hiring", "module.purchased", "ticket.replied", "ticket.status_changed", "renewal.outreach")
SKELETON = f"""\
import sys
import orjson
loads = orjson.loads
reads = {{t: i for i, t in enumerate({SKELETON_TYPES!r})}}
hours = {{}}
state = {{}}
clock = n = 0
with open(sys.argv[1], "rb", buffering=1 << 20) as f:
    for line in f:
        if line.strip():
            n += 1
            data = loads(line)
            text = data.get("time")
            hour = hours.get(text[:13])
            if hour is None:
                hour = hours[text[:13]] = len(hours) * 3600  # in time order: a new hour is a later one
            t = hour + int(text[14:16]) * 60 + int(text[17:19])
            if t < clock:
                continue
            clock = t
            rule = reads.get(data.get("type"))
            if rule is not None:
                state[(rule, data.get("account"))] = data
if n != int(sys.argv[2]):
    sys.exit(f"skeleton: read {{n}} events, expected {{sys.argv[2]}}")
"""


@dataclass
class Run:
    seconds: float
    max_rss_kb: int
    stderr: str = ""


class ChildFailed(Exception):
    """A measured child exited with an error or was killed by a signal."""


@dataclass
class Measurement:
    name: str
    runs: list[Run]
    events: int | None = None  # events this measurement processes, when not the whole log
    missing: str | None = None  # why there are no runs (not installed, crashed): the row says so
    per_event: bool = False  # compare with the parse floor per event (a prefix of the log)

    @property
    def events_per_s(self) -> float:
        assert self.events is not None
        return self.events / self.median_s

    @property
    def median_s(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        return max(r.max_rss_kb for r in self.runs) / 1024  # Linux: ru_maxrss is in KiB


def run_child(argv: list[str], cwd: Path, fatal: bool = True) -> Run:
    """Run one child process; its wall time and its own peak RSS (``wait4`` rusage).

    A failing child ends the benchmark, unless ``fatal`` is false: then ``ChildFailed``.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()  # drains stderr; returns at the child's exit
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen
    proc.stderr.close()
    if proc.returncode != 0:
        how = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
        if not fatal:
            raise ChildFailed(f"{how}: {err.decode(errors='replace').strip()[-500:]}")
        sys.exit(f"run.py: {' '.join(argv)} failed ({how}):\n{err.decode(errors='replace')}")
    return Run(elapsed, usage.ru_maxrss, err.decode(errors="replace"))


def event_log(events: int, accounts: int, seed: int) -> Path:
    """The cached log for these arguments, generated on first use."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"events-n{events}-a{accounts}-s{seed}.jsonl"
    if path.exists():
        print(f"run.py: using cached {path.relative_to(ROOT)}", file=sys.stderr)
        return path
    tmp = path.with_suffix(".jsonl.tmp")
    print(f"run.py: generating {path.relative_to(ROOT)} ...", file=sys.stderr)
    subprocess.run([sys.executable, str(BENCH_DIR / "generate.py"), "--events", str(events),
                    "--accounts", str(accounts), "--seed", str(seed), "--out", str(tmp)], check=True)
    tmp.replace(path)  # only a complete log gets the cached name
    return path


def measure(name: str, argv: list[str], repeat: int, cwd: Path,
            before: Callable[[], None] | None = None, events: int | None = None) -> Measurement:
    runs = []
    for i in range(repeat):
        if before is not None:
            before()  # untimed preparation (a fresh copy of a store)
        run = run_child(argv, cwd)
        print(f"run.py: {name} {i + 1}/{repeat}: {run.seconds:.2f} s, {run.max_rss_kb / 1024:.0f} MB",
              file=sys.stderr)
        runs.append(run)
    return Measurement(name, runs, events)


def table(measurements: list[Measurement], events: int) -> str:
    floor = measurements[0].median_s
    rows: list[tuple[str, ...]] = [("measurement", "median s", "min-max s", "events/s", "peak RSS MB", "x parse floor")]
    for m in measurements:
        if not m.runs:
            rows.append((f"{m.name}: {m.missing}", "-", "-", "-", "-", "-"))
            continue
        times = [r.seconds for r in m.runs]
        n = m.events or events
        ratio = (m.median_s / n) / (floor / events) if m.per_event else m.median_s / floor
        rows.append((m.name, f"{m.median_s:.2f}", f"{min(times):.2f}-{max(times):.2f}",
                     f"{n / m.median_s:,.0f}", f"{m.peak_rss_mb:.0f}", f"{ratio:.1f}x"))
    return markdown_table(rows)


def markdown_table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: tuple[str, ...]) -> str:
        cells = [cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        return "| " + " | ".join(cells) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ("-" if i == 0 else ":") for i, w in enumerate(widths)) + "|"
    return "\n".join([line(rows[0]), rule, *(line(r) for r in rows[1:])])


# --- recording ----------------------------------------------------------------------------


def interpreter() -> str:
    """How the command was run: ``python``, or the project's virtual environment's python
    (``.ci/venv/bin/python``: only the project's dependencies, as a user's install has)."""
    exe = Path(sys.executable)
    try:
        return str(exe.relative_to(ROOT))
    except ValueError:
        return "python"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    return (f"{platform.platform()}; {cpu_model()}, {os.cpu_count()} cores; "
            f"Python {platform.python_version()} ({platform.python_implementation()})")


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout?)"
    return head + ("+dirty" if status.strip() else "")


SOURCE_DIRS = ("engine", "cli", "playbooks", "schemas")


def sources_digest(root: Path = ROOT) -> str:
    """A short digest of the code a run executes (engine/, cli/, playbooks/, schemas/):
    two records with the same digest measured the same code, dirty tree or not."""
    digest = hashlib.sha256()
    for folder in SOURCE_DIRS:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".yaml", ".yml", ".json"):
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def snapshot_sources(dest: Path) -> None:
    """Copy the code a run executes into ``dest`` (bytecode compiled), so that every run of a
    benchmark measures the tree as it was at the start, even if someone edits it meanwhile."""
    for folder in SOURCE_DIRS:
        shutil.copytree(ROOT / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(dest)], check=True)


class Provenance:
    """Commit and sources digest at the start of a benchmark.

    ``snapshot``: the digest of a snapshot of the sources that the benchmark runs (run.py);
    otherwise the working tree's, checked again at the end (in-process benchmarks).
    """

    def __init__(self, snapshot: Path | None = None) -> None:
        self.commit = git_commit()
        self.snapshot = snapshot
        self.sources = sources_digest(snapshot or ROOT)

    def describe(self) -> str:
        commit = git_commit()
        text = f"{self.commit}, sources {self.sources}"
        if self.snapshot is not None:
            text += " (a snapshot of the working tree taken at the start)"
        if commit != self.commit:
            text += f" (HEAD moved to {commit} during the run)"
        if self.snapshot is None and sources_digest() != self.sources:
            text += " (WARNING: sources changed during the run: rerun)"
            print("warning: engine/cli/playbook sources changed during the run; the numbers may mix versions",
                  file=sys.stderr)
        return text


def record(title: str, arguments: str, body: str, provenance: Provenance) -> None:
    """Append a dated section to benchmarks/results.md; ``arguments``: the script and its
    arguments (the record puts the Python that ran it in front)."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    new = not RESULTS.exists()
    with open(RESULTS, "a", encoding="utf-8") as f:
        if new:
            f.write("# Benchmark results\n\nAppended by `benchmarks/run.py --record` and "
                    "`benchmarks/calendar_bench.py --record`; see `benchmarks/README.md`.\n")
        f.write(f"\n## {title} — {now}\n\n"
                f"- machine: {machine()}\n"
                f"- commit: {provenance.describe()}\n"
                f"- arguments: `{interpreter()} {arguments}`\n\n"
                f"{body}\n")
    print(f"recorded in {RESULTS.relative_to(ROOT)}", file=sys.stderr)


def measure_store(log: Path, events: int, repeat: int, snapshot: Path, tmp: Path,
                  plain_argv: list[str]) -> tuple[list[Measurement], str]:
    """``--db`` on a fresh store, each run right after a plain run (the ratio is the median
    of these pairs, so that a machine whose speed drifts compares runs a minute apart), and
    an incremental run over the last 1% of the log."""
    db = tmp / "fresh.db"

    def fresh() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)

    run_db = [sys.executable, "-m", "cli.main", "run", str(PLAYBOOK), "--out", os.devnull, "-q"]
    plain_runs, db_runs = [], []
    for i in range(repeat):
        plain_runs.append(run_child(plain_argv, snapshot))
        fresh()
        db_runs.append(run_child([*run_db, "--events", str(log), "--db", str(db)], snapshot))
        print(f"run.py: pair {i + 1}/{repeat}: plain {plain_runs[-1].seconds:.2f} s, "
              f"--db {db_runs[-1].seconds:.2f} s, {db_runs[-1].max_rss_kb / 1024:.0f} MB", file=sys.stderr)
    paired = Measurement("playbook run (each right before a --db run)", plain_runs)
    with_db = Measurement("playbook run --db (fresh store)", db_runs)
    ratio = statistics.median(d.seconds / p.seconds for p, d in zip(plain_runs, db_runs, strict=True))
    # Split the log line by line: reading it whole would raise this process's peak RSS,
    # which every child spawned later starts its own ru_maxrss from.
    with log.open("rb") as f:
        total = sum(1 for _ in f)
    cut = total - max(1, total // 100)
    head, tail = tmp / "head.jsonl", tmp / "tail.jsonl"
    with log.open("rb") as f, head.open("wb") as h, tail.open("wb") as t:
        for i, line in enumerate(f):
            (h if i < cut else t).write(line)
    base, work = tmp / "base.db", tmp / "work.db"
    print("run.py: preparing a store with the first 99% of the log ...", file=sys.stderr)
    run_child([*run_db, "--events", str(head), "--db", str(base)], snapshot)

    def copy_base() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work}{suffix}").unlink(missing_ok=True)
            if Path(f"{base}{suffix}").exists():
                shutil.copyfile(f"{base}{suffix}", f"{work}{suffix}")

    incremental = measure("playbook run --db, last 1% of the log", [*run_db, "--events", str(tail), "--db", str(work)],
                          repeat, snapshot, before=copy_base, events=events - cut)
    notes = (f"\n\nStore overhead: --db / plain run = {ratio:.2f}x (median of the {repeat} pairs); "
             f"the last 1% on a store / the full --db run = {incremental.median_s / with_db.median_s:.1%} "
             f"(/ the plain run = {incremental.median_s / paired.median_s:.1%}).")
    return [paired, with_db, incremental], notes


def durable_missing() -> str | None:
    """Why durable_rules cannot run here, or None. Looks for it without importing its C core."""
    if importlib.util.find_spec("durable") is None or importlib.util.find_spec("durable_rules_engine") is None:
        return "not installed (pip install '.[oracle]')"
    return None


def measure_durable(log: Path, events: int, prefix: int, repeat: int, snapshot: Path,
                    plain: Measurement) -> tuple[Measurement, str]:
    """The durable_rules translation of the playbook on the first ``prefix`` events of the log.

    Not installed: a row that says so, no ratio. A crash of its C core (or any failure) ends
    this row only: the row says how it ended, and the benchmark goes on.
    """
    n = min(prefix, events)
    name = "durable_rules baseline" + ("" if n == events else f", first {n:,} events")
    missing = "skipped: --durable-events 0" if n < 1 else durable_missing()
    if missing is not None:
        return Measurement(name, [], n, missing, per_event=True), f"\n\ndurable_rules baseline: {missing}; no ratio."
    argv = [sys.executable, str(DURABLE), str(log), "--limit", str(n), "--out", os.devnull]
    runs = []
    for i in range(repeat):
        try:
            run = run_child(argv, snapshot, fatal=False)
        except ChildFailed as exc:
            print(f"run.py: {name} {i + 1}/{repeat} failed: {exc}", file=sys.stderr)
            reason = str(exc).split(":", 1)[0]
            return (Measurement(name, [], n, f"failed, {reason}", per_event=True),
                    f"\n\ndurable_rules baseline: run {i + 1} failed ({exc}); no ratio.")
        print(f"run.py: {name} {i + 1}/{repeat}: {run.seconds:.2f} s, {run.max_rss_kb / 1024:.0f} MB",
              file=sys.stderr)
        runs.append(run)
    row = Measurement(name, runs, n, per_event=True)
    found = re.search(r"(\d+) accounts in (\d+ rulesets?)", runs[-1].stderr)
    accounts = f" ({int(found[1]):,} accounts in {found[2]})" if found else ""
    scope = ("the whole log" if n == events else
             f"the first {n:,} events of the log{accounts}, not all {events:,}: its events/s are compared "
             "with playbook run's on the whole log, and its x parse floor is per event")
    notes = (f"\n\nplaybook run / durable_rules = {(events / plain.median_s) / row.events_per_s:.1f}x events/s "
             f"(target >= 20x). durable_rules ran on {scope}{accounts if n == events else ''}. Its translation "
             "(benchmarks/durable/us_retention.py) counts ack-within-4h in exact hours (durable_rules has no "
             "calendars) and posts only the event types the rules read; limits: 1024 accounts per ruleset, "
             "~600 KB per account, no release since 2020, a known out-of-bounds read in its C core "
             "(benchmarks/README.md).")
    return row, notes


def add_log_options(ap: argparse.ArgumentParser, repeat_help: str) -> None:
    """The options of a benchmark over one generated log: its size and seed, repeats, --record."""
    ap.add_argument("--events", type=int, default=1_000_000, help="events in the log (default 1000000)")
    ap.add_argument("--accounts", type=int, default=10_000, help="accounts in the log (default 10000)")
    ap.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    ap.add_argument("--repeat", type=int, default=3, help=repeat_help)
    ap.add_argument("--record", action="store_true", help="append the results to benchmarks/results.md")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Throughput of `playbook run` against the JSON parse floor.")
    add_log_options(ap, repeat_help="runs per measurement; the median is reported (default 3)")
    ap.add_argument("--store", action="store_true",
                    help="also measure runs with --db: a fresh store, and the last 1%% of the log on a store of the rest")
    ap.add_argument("--durable-events", type=int, default=DURABLE_EVENTS, metavar="N",
                    help=f"run the durable_rules baseline on the first N events of the log (default {DURABLE_EVENTS}; "
                         "0 skips it)")
    args = ap.parse_args(argv)
    if args.events < 1 or args.accounts < 1 or args.repeat < 1:
        ap.error("--events, --accounts and --repeat must be >= 1")
    if args.durable_events < 0:
        ap.error("--durable-events must be >= 0")

    log = event_log(args.events, args.accounts, args.seed)
    with tempfile.TemporaryDirectory(prefix="playbook-bench-") as tmp:
        snapshot = Path(tmp)
        snapshot_sources(snapshot)
        (snapshot / DURABLE).parent.mkdir(parents=True)
        shutil.copyfile(ROOT / DURABLE, snapshot / DURABLE)  # run from the snapshot, not in its digest
        provenance = Provenance(snapshot)
        plain_argv = [sys.executable, "-m", "cli.main", "run", str(PLAYBOOK), "--events", str(log),
                      "--out", os.devnull, "-q"]
        measurements = [
            measure("parse floor (orjson.loads per line)",
                    [sys.executable, "-c", PARSE_FLOOR, str(log), str(args.events)], args.repeat, snapshot),
            measure("skeleton: the floor + type index, time, per-key state",
                    [sys.executable, "-c", SKELETON, str(log), str(args.events)], args.repeat, snapshot),
            measure("playbook run us-retention.yaml", plain_argv, args.repeat, snapshot),
        ]
        floor, skeleton, plain = measurements
        durable_row, notes = measure_durable(log, args.events, args.durable_events, args.repeat, snapshot, plain)
        room = (2.5 * floor.median_s - skeleton.median_s) / args.events * 1e6
        notes = (f"\n\nskeleton / parse floor = {skeleton.median_s / floor.median_s:.1f}x: the least per-event work "
                 "of a Python engine of this kind, before any rule, timer or action; the target 'at most 2.5x the "
                 "parse floor' leaves playbook run "
                 + (f"{room:.2f} us per event beyond it." if room > 0 else "nothing beyond it: the skeleton alone "
                    f"takes {-room:.2f} us per event more than the target allows.")) + notes
        measurements.append(durable_row)
        if args.store:
            store_rows, store_notes = measure_store(log, args.events, args.repeat, snapshot, Path(tmp), plain_argv)
            measurements.extend(store_rows)
            notes += store_notes
    result = table(measurements, args.events) + notes
    print(result)
    if args.record:
        arguments = (f"benchmarks/run.py --events {args.events} --accounts {args.accounts} "
                     f"--seed {args.seed} --repeat {args.repeat} --durable-events {args.durable_events}"
                     f"{' --store' if args.store else ''}")
        record(f"run.py: {args.events:,} events, {args.accounts:,} accounts", arguments,
               f"{result}\n\nLog: `{log.relative_to(ROOT)}` ({log.stat().st_size / 1e6:,.0f} MB). "
               "Seconds are wall time per process, start-up included; "
               "only the ratio within this run is comparable across machines.", provenance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
