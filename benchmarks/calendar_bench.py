#!/usr/bin/env python3
"""Business-hours deadlines: the cost of ``Calendar.add`` by duration.

    python benchmarks/calendar_bench.py [--starts 500] [--repeat 7] [--record]

Builds a mon-fri 09:00-17:00 America/New_York calendar with US public holidays from a small
playbook text, then times ``Calendar.add(start, duration)`` for 4h, 1d, 10d, 90d and 720h
from ``--starts`` start instants spread over 2026-2027 (nights, weekends and holidays
included). Each duration is timed with ``timeit`` over all the starts, ``--repeat`` times,
after one warm-up pass (which fills the calendar's per-year holiday and per-day caches):
the table gives the median cost per call in microseconds and the number of days the walks
visited per call (``Calendar.day_steps``, a deterministic cost measure). If deadlines were
computed day by day, 90d would cost ~90x what 1d costs; the ratio 90d/1d shows it does not.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's engine

from benchmarks.run import Provenance, markdown_table, record  # noqa: E402
from engine.compiler import load_playbook_text  # noqa: E402
from engine.timecalc import US, parse_duration, parse_time  # noqa: E402

PLAYBOOK = """\
playbook: calendar-bench
version: 1
timezone: America/New_York
calendars:
  us-9to5:
    hours: {mon-fri: "09:00-17:00"}
    holidays: {country: US}
rules:
  - id: ack
    when: {type: ask}
    expect: {type: answer, within: 4h, calendar: us-9to5}
    actions: {on_breach: [{do: escalate}]}
"""
DURATIONS = ("4h", "1d", "10d", "90d", "720h")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Cost of Calendar.add by duration (business-hours deadlines).")
    ap.add_argument("--starts", type=int, default=500, help="start instants (default 500)")
    ap.add_argument("--repeat", type=int, default=7, help="timed passes per duration; median reported (default 7)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the start instants (default 1)")
    ap.add_argument("--record", action="store_true", help="append the results to benchmarks/results.md")
    args = ap.parse_args(argv)
    if args.starts < 1 or args.repeat < 1:
        ap.error("--starts and --repeat must be >= 1")

    provenance = Provenance()
    calendar = load_playbook_text(PLAYBOOK, "calendar-bench.yaml").calendars["us-9to5"]
    rng = random.Random(args.seed)
    first, last = parse_time("2026-01-01T00:00:00Z"), parse_time("2028-01-01T00:00:00Z")
    span_s = (last - first) // US
    starts = [first + rng.randrange(span_s) * US for _ in range(args.starts)]

    rows = [("duration", "median us/call", "min us/call", "day steps/call")]
    median_us: dict[str, float] = {}
    for text in DURATIONS:
        duration = parse_duration(text)
        add = calendar.add

        def one_pass(add=add, duration=duration) -> None:
            for start in starts:
                add(start, duration)

        one_pass()  # warm-up: holidays of the years reached, per-day cache
        steps_before = calendar.day_steps
        one_pass()
        steps = (calendar.day_steps - steps_before) / len(starts)
        per_call = [t / len(starts) * 1e6 for t in timeit.repeat(one_pass, number=1, repeat=args.repeat)]
        median_us[text] = statistics.median(per_call)
        rows.append((text, f"{median_us[text]:.1f}", f"{min(per_call):.1f}", f"{steps:.1f}"))

    result = markdown_table(rows)
    ratio = median_us["90d"] / median_us["1d"]
    summary = f"90d / 1d = {ratio:.2f}x (a day-by-day walk would be ~90x)"
    print(result)
    print(summary)
    if args.record:
        arguments = f"benchmarks/calendar_bench.py --starts {args.starts} --repeat {args.repeat} --seed {args.seed}"
        record("calendar_bench.py: Calendar.add, mon-fri 09:00-17:00 America/New_York + US holidays", arguments,
               f"{result}\n\n{summary}. Starts uniform over 2026-2027; warm caches; "
               "day steps = days visited by the walks per call.", provenance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
