"""Commands over the SQLite store: ``run --db``, ``ingest``, ``actions``."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

import click

from cli.common import (
    Progress,
    command_line,
    format_mapping_counts,
    lock_timeout_option,
    max_line_bytes_option,
    print_diagnostics,
    user_errors,
    waiting_notice,
)
from engine import Engine, PlaybookError, read_events
from engine.output import FORMATS as OUTPUT_FORMATS
from engine.runtime import EventIds
from engine.timecalc import TimeError, parse_duration, parse_time

# engine.store and engine.durable (sqlite-utils) are imported by the commands that use
# them: a plain `playbook run` does not pay for them at start-up.


def _now() -> str:
    # The CLI may read the wall clock (for the runs table); the engine never does.
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_with_store(engine: Engine, db_path: str, events_src: tuple[str, ...], events_format: str | None, until: Any,
                   fmt: str, out: str | None, quiet: bool, reset_state: bool, allowed_lateness: str | None,
                   commit_every: int, progress: Any, started: float, max_line_bytes: int = 1 << 20,
                   lock_timeout: float | None = None, events: tuple[Any, bool] | None = None) -> None:
    """``playbook run ... --db FILE``: an incremental, crash-safe run (``events``: the events
    and whether they come in time order, when the caller read them, as through --source)."""
    from cli.common import event_sources, format_summary, open_out, output_full, output_size  # not from cli.main
    from engine.durable import DurableRun
    from engine.schema import checked_stamp
    from engine.store import DEFAULT_LOCK_TIMEOUT, SQLiteStore

    if lock_timeout is None:
        lock_timeout = DEFAULT_LOCK_TIMEOUT
    if fmt != "jsonl":
        raise click.UsageError("with --db, actions are written as JSON Lines (list them later with 'playbook actions --format')")
    lateness = 0
    if allowed_lateness is not None:
        try:
            lateness = parse_duration(allowed_lateness).exact_us
        except ValueError as exc:
            raise click.UsageError(f"--allowed-lateness: {exc}") from None
    stream = open_out(out, append=True)
    store = None
    # Each batch's lines are written, then marked written in the store: a full disk cuts the
    # file back to where the failed batch began, and the next run writes that batch again.
    batch_start = [output_size(stream)]
    try:
        with user_errors(), output_full(stream, out or "stdout", lambda: batch_start[0],
                                        f"; the actions not written are kept in {db_path} and the next run "
                                        "over it writes them (free some space first)"):
            store = SQLiteStore(db_path, lock_timeout=lock_timeout,
                                on_wait=waiting_notice(db_path, lock_timeout, quiet), command=command_line())
            store.note_schema_checked(checked_stamp(pb.digest) for pb in engine.playbooks)
            if events is not None:
                read, ordered = events
            elif events_src == ("db",):
                read, ordered = store.unprocessed_events(), False
            else:  # plain JSON Lines files in two passes: memory does not grow with the log
                read, ordered = event_sources(engine, events_src, events_format, max_line_bytes)

            def emit(lines: list[str]) -> None:
                batch_start[0] = output_size(stream)
                stream.write("\n".join(lines) + "\n")
                stream.flush()

            durable = DurableRun(engine, store, reset_state=reset_state, allowed_lateness_us=lateness,
                                 commit_every=commit_every)
            result = durable.run(progress.wrap(read), emit=emit, until=until, started=_now(),
                                 source=" ".join(events_src), now=_now, ordered=ordered)
    finally:
        if stream is not sys.stdout:
            stream.close()
        if store is not None:
            store.close()
    if not quiet:
        click.echo(format_summary(engine.count_open(), time.perf_counter() - started), err=True)
        click.echo(
            f"store {db_path}: run {result.run_id}, {result.duplicates:,} duplicate events skipped, "
            f"{result.late:,} late events set aside (table late_events), {result.held_back:,} held back for lateness, "
            f"{result.actions_new:,} new actions, {result.actions_written:,} written",
            err=True,
        )
        for note in result.notes:
            click.echo(f"  {note}", err=True)
        for line in progress.shape_lines():
            click.echo(line, err=True)


@click.command()
@click.argument("events_src", metavar="EVENTS")
@click.option("--db", "db_path", required=True, metavar="FILE", help="The store to load the events into.")
@click.option("--events-format", type=click.Choice(["jsonl", "csv"]), default=None,
              help="The events' format when the file name does not tell.")
@click.option("--timezone", "tz_name", default="UTC", show_default=True,
              help="Time zone for times without an offset (for the table's time index).")
@click.option("--source", "source_file", default=None, metavar="SOURCE",
              help="A source mapping (YAML, docs/sources.md): load the file's records as the events it maps them to.")
@max_line_bytes_option
@lock_timeout_option
def ingest(events_src: str, db_path: str, events_format: str | None, tz_name: str, max_line_bytes: int,
           lock_timeout: float, source_file: str | None) -> None:
    """Load events into the store's events table (idempotent on event id).

    \b
    Example:
      playbook ingest export.jsonl --db cs.db
      playbook ingest export.csv --source sources/zendesk-ticket-events.yaml --db cs.db
      playbook run playbooks/ --events db --db cs.db
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from engine.store import SQLiteStore

    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.UsageError(f"--timezone: unknown time zone {tz_name!r}") from None
    ids = EventIds("id")
    skipped: list[str] = []
    damaged: list[str] = []  # loaded, though their input was damaged (invalid UTF-8, duplicate keys, NaN)

    mapped: list[Any] = []
    if source_file is not None:
        from cli.common import mapped_event_sources

        with user_errors():
            try:
                read, mapped = mapped_event_sources((events_src,), [source_file], events_format, max_line_bytes)
            except PlaybookError as exc:
                print_diagnostics(exc.diagnostics)
                sys.exit(1)
    else:
        read = read_events(events_src, events_format, max_line_bytes=max_line_bytes)

    def rows() -> Any:
        for item in Progress(sys.stderr.isatty()).wrap(read):
            if item.error is not None or not isinstance(item.data, dict):
                skipped.append(f"{item.source}: {item.error}")
                continue
            damaged.extend(f"{item.source}: {note}" for note in item.notes)
            data = item.data
            etype, raw = data.get("type"), data.get("time")
            try:
                t = parse_time(raw, tz)
            except TimeError:
                t = None
            yield ids.of(data), etype if isinstance(etype, str) else None, raw if isinstance(raw, str) else str(raw), t, item.source, data

    store = None
    try:
        with user_errors():
            store = SQLiteStore(db_path, lock_timeout=lock_timeout, on_wait=waiting_notice(db_path, lock_timeout, False),
                                command=command_line())
            inserted, present = store.ingest(rows())
    finally:
        if store is not None:
            store.close()
    click.echo(f"{inserted:,} events loaded into {db_path}, {present:,} already there, {len(skipped):,} unreadable", err=True)
    for line in skipped[:10]:
        click.echo(f"  {line}", err=True)
    for line in format_mapping_counts(mapped):
        click.echo(line, err=True)
    if damaged:
        click.echo(f"{len(damaged):,} problems in the input of events loaded anyway (run --strict refuses them):", err=True)
        for line in damaged[:10]:
            click.echo(f"  {line}", err=True)


@click.command("actions")
@click.option("--db", "db_path", required=True, metavar="FILE", help="The store whose ledger to list.")
@click.option("--since", default=None, metavar="TIME", help="Only actions at or after TIME.")
@click.option("--before", default=None, metavar="TIME", help="Only actions before TIME.")
@click.option("--rule", default=None, help="Only this rule's actions.")
@click.option("--playbook", "playbook_name", default=None, help="Only this playbook's actions.")
@click.option("--key", default=None, help="Only this key's actions (a string).")
@click.option("--outcome", default=None, help="Only this outcome (met, breach, late, due_soon, match).")
@click.option("--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default="jsonl", show_default=True)
@click.option("--wide", is_flag=True, help="With --format table: show parameters whole instead of cutting them at 80 characters.")
def actions_cmd(db_path: str, since: str | None, before: str | None, rule: str | None, playbook_name: str | None,
                key: str | None, outcome: str | None, fmt: str, wide: bool) -> None:
    """List the actions in a store's ledger, in output order."""
    if wide and fmt != "table":
        raise click.UsageError("--wide applies to --format table")
    from engine.actions import Action
    from engine.output import write_actions
    from engine.store import SQLiteStore, load_json

    bounds = []
    for name, value in (("--since", since), ("--before", before)):
        try:
            bounds.append(None if value is None else parse_time(value))
        except TimeError as exc:
            raise click.UsageError(f"{name}: {exc}") from None
    store = None
    try:
        with user_errors():
            store = SQLiteStore(db_path, create=False, writer=False)  # a reader: never waits for a run
            lines = list(store.actions(since=bounds[0], until=bounds[1], rule=rule, playbook=playbook_name,
                                       key=key, outcome=outcome))
    finally:
        if store is not None:
            store.close()
    out: IO[str] = sys.stdout
    if fmt == "jsonl":
        for line in lines:
            out.write(line + "\n")
        return

    notes: list[str] = []
    write_actions((Action.from_record(load_json(line)) for line in lines), out, fmt, wide=wide, notes=notes)
    for note in notes:
        click.echo(note, err=True)
