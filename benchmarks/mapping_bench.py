"""The cost of a source mapping per event: a Zendesk-like CSV export read through
``--source`` against the same events already in the engine's shape (CSV and JSON Lines).

    python benchmarks/mapping_bench.py                 # 1M records, 3 runs each
    python benchmarks/mapping_bench.py --records 200000 --repeat 2

Every run is ``playbook run`` in a fresh process (``python -m cli.main``, this checkout);
the table gives the median wall time, events per second, and the ratio to the unmapped
CSV run (the target: mapped <= 1.5x unmapped). The mapped and unmapped runs must produce
the same actions (checked).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "data" / "sources" / "zendesk-tickets.yaml"
PLAYBOOK = """playbook: bench
version: 1
rules:
  - id: ack
    when: customer.message
    expect: {type: vendor.reply, same: [thread_id], within: 1h}
    actions: {on_breach: [{do: escalate}], on_met: [{do: ok}]}
"""
HEADER = ["Ticket ID", "Update ID", "Updated at", "Organization", "Priority", "Update type", "Author role"]


def generate(n: int, out: Path, seed: int = 1) -> tuple[Path, Path, Path]:
    """The export (Zendesk-like CSV, Chicago local times) and the same events mapped by
    hand, as CSV and JSON Lines in the engine's shape."""
    rng = random.Random(seed)
    chicago = ZoneInfo("America/Chicago")
    start = datetime(2026, 1, 5, 8, 0, tzinfo=chicago)
    export, plain_csv, plain_jsonl = out / "export.csv", out / "events.csv", out / "events.jsonl"
    with open(export, "w", newline="") as ex, open(plain_csv, "w", newline="") as pc, open(plain_jsonl, "w") as pj:
        w_ex, w_pc = csv.writer(ex), csv.writer(pc)
        w_ex.writerow(HEADER)
        w_pc.writerow(["id", "time", "account", "thread_id", "priority", "type"])
        t = start
        for i in range(n):
            t += timedelta(seconds=rng.randint(0, 40))
            ticket = 1000 + i // 2
            create = i % 2 == 0
            org = f"Org{rng.randint(1, 5000)}"
            pr = rng.choice(["low", "normal", "high", "urgent"])
            local = t.astimezone(chicago).strftime("%m/%d/%Y %H:%M")
            w_ex.writerow([ticket, i, local, org, pr, "Create" if create else "Public reply",
                           "end-user" if create else "agent"])
            when = datetime.strptime(local, "%m/%d/%Y %H:%M").replace(tzinfo=chicago).astimezone(UTC)
            event = {"id": f"zd-{ticket}-{i}", "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "account": org.lower(),
                     "thread_id": str(ticket), "priority": pr, "type": "customer.message" if create else "vendor.reply"}
            w_pc.writerow(event.values())
            pj.write(json.dumps(event) + "\n")
    return export, plain_csv, plain_jsonl


def measure(args: list[str], out: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cli.main", "run", *args, "--out", str(out), "-q"], cwd=ROOT, env=env,
                   check=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        export, plain_csv, plain_jsonl = generate(opts.records, tmp)
        pb = tmp / "pb.yaml"
        pb.write_text(PLAYBOOK)
        runs = {
            "unmapped CSV (engine's shape)": [str(pb), "--events", str(plain_csv)],
            "unmapped JSON Lines": [str(pb), "--events", str(plain_jsonl)],
            "mapped CSV (--source)": [str(pb), "--events", str(export), "--source", str(SOURCE)],
        }
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(opts.repeat):
            for name, args in runs.items():  # interleaved: a noisy machine hurts each alike
                times[name].append(measure(args, tmp / f"{len(times[name])}-{name[:3]}.jsonl"))
        same = (tmp / "0-unm.jsonl").read_bytes() == (tmp / "0-map.jsonl").read_bytes()
        base = statistics.median(times["unmapped CSV (engine's shape)"])
        print(f"{opts.records:,} records, {opts.repeat} runs each, median wall time")
        print("| run | seconds | events/s | × unmapped CSV |")
        print("|---|---|---|---|")
        for name, secs in times.items():
            m = statistics.median(secs)
            print(f"| {name} | {m:.2f} | {opts.records / m:,.0f} | {m / base:.2f} |")
        print(f"same actions mapped and unmapped: {same}")


if __name__ == "__main__":
    main()
