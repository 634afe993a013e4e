#!/usr/bin/env python3
"""Memory scaling: peak RSS of ``playbook run`` over logs of several sizes with the same accounts.

    python benchmarks/memory_scaling.py [--sizes 1000000,5000000] [--accounts 10000] [--seed 1] [--repeat 1] [--record]

The target (issue 7): peak RSS <= 100 MB, and memory grows with open obligations and
accounts, not with the number of events. Each size is a log of ``benchmarks/generate.py``
with the same ``--accounts`` and ``--seed`` (the logs of ``run.py``, cached in
``benchmarks/data/`` under the same names: the 5M-event log is ~760 MB, generated once).
More events over the same accounts and the same year means more message threads, incidents
and signals per account, so more obligations open at a time: some growth is the contract's.

For every size, ``python -m cli.main run playbooks/us-retention.yaml --events LOG --out
/dev/null -q`` runs ``--repeat`` times, each in a fresh process, from a snapshot of the sources
(``run.py``'s helpers); its peak RSS is the child's own ``ru_maxrss`` (``os.wait4``). A first
row runs the first 1,000 events of the smallest log: the start-up footprint (interpreter,
imports, playbook). The table gives seconds, events/s, peak RSS, and the RSS added per
million more events than the row above. ``--record`` appends it to ``benchmarks/results.md``.
See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from itertools import islice
from pathlib import Path

from run import PLAYBOOK, ROOT, Measurement, Provenance, event_log, markdown_table, measure, record, snapshot_sources

TARGET_MB = 100
STARTUP_EVENTS = 1_000


def sizes_arg(text: str) -> list[int]:
    try:
        sizes = sorted({int(s.replace("_", "")) for s in text.split(",") if s.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes must be >= 1")
    return sizes


def head(log: Path, lines: int, out: Path) -> Path:
    with open(log, "rb") as src, open(out, "wb") as dst:
        dst.writelines(islice(src, lines))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Peak RSS of `playbook run` by log size, with the same accounts.")
    ap.add_argument("--sizes", type=sizes_arg, default=[1_000_000, 5_000_000],
                    help="events per log, comma-separated (default 1000000,5000000)")
    ap.add_argument("--accounts", type=int, default=10_000, help="accounts in every log (default 10000)")
    ap.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per size; the median time and the largest RSS are reported (default 1)")
    ap.add_argument("--record", action="store_true", help="append the results to benchmarks/results.md")
    args = ap.parse_args(argv)
    if args.accounts < 1 or args.repeat < 1:
        ap.error("--accounts and --repeat must be >= 1")

    logs = {n: event_log(n, args.accounts, args.seed) for n in args.sizes}
    with tempfile.TemporaryDirectory(prefix="playbook-bench-") as tmp:
        snapshot = Path(tmp) / "src"
        snapshot_sources(snapshot)
        provenance = Provenance(snapshot)
        startup = head(logs[args.sizes[0]], STARTUP_EVENTS, Path(tmp) / "startup.jsonl")
        rows: list[tuple[int, int, Measurement]] = []  # events, log bytes, measurement
        for n, log in [(min(STARTUP_EVENTS, args.sizes[0]), startup), *logs.items()]:
            argv_ = [sys.executable, "-m", "cli.main", "run", str(PLAYBOOK), "--events", str(log),
                     "--out", os.devnull, "-q"]
            rows.append((n, log.stat().st_size, measure(f"{n:,} events", argv_, args.repeat, snapshot)))
    # A child's ru_maxrss is at least the peak RSS this process had reached when it spawned the
    # child (Linux keeps it across exec): this process must stay well below what it measures.
    self_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    table = [("events", "log MB", "median s", "events/s", "peak RSS MB", "MB per 1M more events")]
    previous: tuple[int, float] | None = None
    for i, (n, size, m) in enumerate(rows):
        growth = "-" if previous is None else f"{(m.peak_rss_mb - previous[1]) / (n - previous[0]) * 1e6:+.1f}"
        label = f"{n:,} (start-up)" if i == 0 else f"{n:,}"
        table.append((label, f"{size / 1e6:,.1f}", f"{m.median_s:.2f}", f"{n / m.median_s:,.0f}",
                      f"{m.peak_rss_mb:.0f}", growth))
        previous = (n, m.peak_rss_mb)
    measured = rows[1:]
    over = [f"{n:,}" for n, _, m in measured if m.peak_rss_mb > TARGET_MB]
    notes = [f"Peak RSS <= {TARGET_MB} MB: " + (f"**missed** at {', '.join(over)} events." if over
                                                else f"met at every size (largest {max(m.peak_rss_mb for _, _, m in measured):.0f} MB).")]
    if len(measured) > 1:
        (n0, _, m0), (n1, _, m1) = measured[0], measured[-1]
        grown = m1.peak_rss_mb - m0.peak_rss_mb
        notes.append(f"From {n0:,} to {n1:,} events with the same {args.accounts:,} accounts: peak RSS "
                     f"{m0.peak_rss_mb:.0f} -> {m1.peak_rss_mb:.0f} MB ({grown:+.0f} MB, "
                     f"{grown * 2**20 / (n1 - n0):+.1f} bytes per added event).")
    notes.append(f"Peak RSS of this benchmark's own process while it spawned the runs: {self_rss_mb:.0f} MB "
                 "(a run's figure is never below it).")
    result = markdown_table(table) + "\n\n" + "\n".join(notes)
    print(result)
    if args.record:
        arguments = (f"benchmarks/memory_scaling.py --sizes {','.join(map(str, args.sizes))} "
                     f"--accounts {args.accounts} --seed {args.seed} --repeat {args.repeat}")
        names = ", ".join(f"`{log.relative_to(ROOT)}`" for log in logs.values())
        record(f"memory_scaling.py: peak RSS by log size, {args.accounts:,} accounts", arguments,
               f"{result}\n\nLogs: {names}; playbook `{PLAYBOOK}`. Peak RSS is each run's own `ru_maxrss` "
               f"(the largest of {args.repeat} run{'s' if args.repeat != 1 else ''}); seconds are the median "
               "wall time per process, start-up included.", provenance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
