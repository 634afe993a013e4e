#!/usr/bin/env python3
"""Rule scaling: 40 rules of mixed kinds against 4 rules, over one log of 20 event types.

    python benchmarks/rules_scaling.py [--events 1000000] [--accounts 10000] [--seed 1] [--repeat 3] [--record]

The target (issue 7): 40 rules over 20 event types cost less than 3x 4 rules, because the
engine dispatches each event by its type to the rules whose patterns accept that type.

Generates the log once with ``benchmarks/generate.py --extra-types`` (20 event types; cached
in ``benchmarks/data/`` as ``events-nN-aA-sS-x20.jsonl``), then measures, ``--repeat`` rounds,
each run in its own process and the three interleaved in every round (so drift on a noisy
machine weighs on all of them alike):

* the parse floor of that log (``orjson.loads`` per line, as in ``run.py``);
* ``python -m cli.main run benchmarks/playbooks/rules-4.yaml --events LOG --out /dev/null -q``;
* the same with ``rules-40.yaml`` (its first four rules are those of ``rules-4.yaml``).

Before the timed rounds, one untimed run of each playbook writes its actions to a file: it
warms the page cache and counts the actions, by rule (a rule of the 40 that produced none is
reported). The code run is a snapshot of the sources, as in ``run.py`` (whose helpers this
uses). ``rules/event`` is the average number of rules an event of the log is dispatched to
(facts likewise), computed from the playbooks and the log's type counts: the work the type
index leaves, independent of the machine. ``--record`` appends the table to
``benchmarks/results.md``. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import orjson
from run import (
    DATA_DIR,
    PARSE_FLOOR,
    ROOT,
    Measurement,
    Provenance,
    add_log_options,
    markdown_table,
    record,
    run_child,
    snapshot_sources,
)

BENCH_DIR = Path(__file__).resolve().parent
PLAYBOOK_DIR = Path("benchmarks") / "playbooks"  # relative to the root and to the sources snapshot
PLAYBOOKS = {4: PLAYBOOK_DIR / "rules-4.yaml", 40: PLAYBOOK_DIR / "rules-40.yaml"}
TARGET = 3.0  # 40 rules cost less than 3x 4 rules


def extended_log(events: int, accounts: int, seed: int) -> Path:
    """The cached 20-type log for these arguments (``generate.py --extra-types``), made on first use."""
    path = DATA_DIR / f"events-n{events}-a{accounts}-s{seed}-x20.jsonl"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".jsonl.tmp")
        print(f"rules_scaling.py: generating {path.relative_to(ROOT)} ...", file=sys.stderr)
        subprocess.run([sys.executable, str(BENCH_DIR / "generate.py"), "--events", str(events), "--accounts",
                        str(accounts), "--seed", str(seed), "--extra-types", "--out", str(tmp)], check=True)
        tmp.replace(path)  # only a complete log gets the cached name
    return path


def type_counts(log: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    with open(log, "rb", buffering=1 << 20) as f:
        for line in f:
            if line.strip():
                counts[orjson.loads(line).get("type")] += 1
    return counts


def dispatch(playbook: Path, counts: Counter[str]) -> tuple[float, float, list[str]]:
    """Rules and facts an event of the log reaches, on average, when events go by type only to
    the rules (and facts) with a pattern that accepts the type (the engine's index); the rule ids."""
    from engine import load_playbook  # from the sources snapshot (on sys.path)

    pb = load_playbook(str(playbook))
    rules = facts = 0
    for etype, n in counts.items():
        for rule in pb.rules:
            patterns = [getattr(rule, name, None) for name in ("when", "expect", "before", "start", "stop")]
            if rule.enabled and any(p.accepts_type(etype) for p in patterns if p is not None):
                rules += n
        facts += n * sum(1 for f in pb.facts if f.source.accepts_type(etype))
    total = sum(counts.values())
    return rules / total, facts / total, [r.id for r in pb.rules]


def count_actions(argv: list[str], snapshot: Path, out: Path) -> Counter[tuple[str, str]]:
    """One untimed run writing its actions to ``out``: actions by (rule, outcome)."""
    run_child([*argv, "--out", str(out)], snapshot)
    counts: Counter[tuple[str, str]] = Counter()
    with open(out, "rb") as f:
        for line in f:
            action = orjson.loads(line)
            counts[action["rule"], action["outcome"]] += 1
    out.unlink()
    return counts


def digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Cost of 40 rules against 4 rules over one 20-type log.")
    add_log_options(ap, repeat_help="timed rounds; medians are reported (default 3)")
    args = ap.parse_args(argv)
    if args.events < 1 or args.accounts < 1 or args.repeat < 1:
        ap.error("--events, --accounts and --repeat must be >= 1")

    log = extended_log(args.events, args.accounts, args.seed)
    counts = type_counts(log)
    with tempfile.TemporaryDirectory(prefix="playbook-bench-") as tmp:
        snapshot = Path(tmp) / "src"
        snapshot_sources(snapshot)
        shutil.copytree(ROOT / PLAYBOOK_DIR, snapshot / PLAYBOOK_DIR)
        provenance = Provenance(snapshot)
        playbooks_digest = digest([snapshot / p for p in PLAYBOOKS.values()])
        commands = {"floor": [sys.executable, "-c", PARSE_FLOOR, str(log), str(args.events)]}
        for n, p in PLAYBOOKS.items():
            commands[n] = [sys.executable, "-m", "cli.main", "run", str(p), "--events", str(log), "-q"]
        actions = {}
        for n in PLAYBOOKS:
            print(f"rules_scaling.py: counting the actions of {n} rules (untimed) ...", file=sys.stderr)
            actions[n] = count_actions(commands[n], snapshot, Path(tmp) / "actions.jsonl")
        runs: dict[str | int, Measurement] = {
            "floor": Measurement("parse floor (orjson.loads per line)", []),
            **{n: Measurement(f"playbook run {p.name} ({n} rules)", []) for n, p in PLAYBOOKS.items()},
        }
        for i in range(args.repeat):
            for name, argv_ in commands.items():
                timed = argv_ if name == "floor" else [*argv_, "--out", os.devnull]
                run = run_child(timed, snapshot)
                runs[name].runs.append(run)
                print(f"rules_scaling.py: round {i + 1}/{args.repeat}: {runs[name].name}: {run.seconds:.2f} s, "
                      f"{run.max_rss_kb / 1024:.0f} MB", file=sys.stderr)
        # Only now import the engine here: a child's ru_maxrss starts at the peak RSS this process
        # had reached when it spawned the child (Linux keeps it across exec): stay small until then.
        self_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sys.path.insert(0, str(snapshot))
        work = {n: dispatch(snapshot / p, counts) for n, p in PLAYBOOKS.items()}

    silent = [r for n in PLAYBOOKS for r in work[n][2] if not any(rule == r for rule, _ in actions[n])]
    floor, four, forty = runs["floor"], runs[4], runs[40]
    rows = [("measurement", "median s", "min-max s", "events/s", "peak RSS MB", "actions", "rules/event",
             "facts/event")]
    for key, m in runs.items():
        times = [r.seconds for r in m.runs]
        total = sum(actions[key].values()) if key != "floor" else None
        rules_per, facts_per = work[key][:2] if key != "floor" else (None, None)
        rows.append((m.name, f"{m.median_s:.2f}", f"{min(times):.2f}-{max(times):.2f}",
                     f"{args.events / m.median_s:,.0f}", f"{m.peak_rss_mb:.0f}",
                     "-" if total is None else f"{total:,}",
                     "-" if rules_per is None else f"{rules_per:.2f}",
                     "-" if facts_per is None else f"{facts_per:.2f}"))
    ratio = forty.median_s / four.median_s
    above = (forty.median_s - floor.median_s) / max(four.median_s - floor.median_s, 1e-9)
    outcomes = Counter(o for _, o in actions[40].elements())
    notes = [
        f"40 rules / 4 rules: **{ratio:.2f}x** ({'meets' if ratio < TARGET else 'misses'} the target < {TARGET:g}x); "
        f"above the parse floor: {above:.2f}x.",
        f"Events of {len(counts)} types; by the type index an event reaches {work[4][0]:.2f} of 4 rules and "
        f"{work[40][0]:.2f} of 40 rules on average (without the index, every event would reach all of them).",
        f"The 40 rules' actions by outcome: {', '.join(f'{o} {n:,}' for o, n in sorted(outcomes.items()))}; "
        + (f"**rules without any action**: {', '.join(silent)}." if silent else "every rule of both playbooks "
           "produced actions."),
        f"Peak RSS of this benchmark's own process while it spawned the runs: {self_rss_mb:.0f} MB (a run's "
        "figure is never below it: Linux keeps the parent's high-water mark across exec).",
    ]
    result = markdown_table(rows) + "\n\n" + "\n".join(notes)
    print(result)
    if args.record:
        arguments = (f"benchmarks/rules_scaling.py --events {args.events} --accounts {args.accounts} "
                     f"--seed {args.seed} --repeat {args.repeat}")
        record(f"rules_scaling.py: 40 rules vs 4, {args.events:,} events, {args.accounts:,} accounts", arguments,
               f"{result}\n\nLog: `{log.relative_to(ROOT)}` ({log.stat().st_size / 1e6:,.0f} MB); playbooks "
               f"`{PLAYBOOKS[4]}` and `{PLAYBOOKS[40]}` (digest {playbooks_digest}). Medians of "
               f"{args.repeat} interleaved rounds; seconds are wall time per process, start-up included; "
               "only the ratios within this run are comparable across machines.", provenance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
