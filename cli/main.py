"""``playbook``: run, validate and test customer-success playbooks.

Each command parses its arguments, calls :mod:`engine`, and formats the
result. Engine errors become messages here, never tracebacks: exit 1 for an
invalid playbook, a failed test or a strict-mode event error, exit 2 for a
usage error.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from cli.common import (
    MaxSkippedType,
    OrderedOption,
    Progress,
    event_sources,
    format_mapping_counts,
    format_summary,
    lock_timeout_option,
    max_line_bytes_option,
    max_playbook_bytes_option,
    open_out,
    output_failed,
    output_full,
    output_size,
    paired_sources,
    print_diagnostics,
    report_problems,
    source_option,
    user_errors,
)
from engine import (
    Engine,
    Playbook,
    PlaybookError,
    __version__,
    load_playbook,
)
from engine.errors import Diagnostic
from engine.output import FORMATS as OUTPUT_FORMATS
from engine.output import write_actions
from engine.schema import schema_text
from engine.summary import MaxSkipped

if TYPE_CHECKING:
    pass


class LazyGroup(click.Group):
    """A group whose other commands' modules are imported only when one is used: a cron
    job running ``playbook run`` every few minutes does not pay for them at each start."""

    LAZY = {
        "test": ("cli.authoring", "test_cmd"),
        "explain": ("cli.authoring", "explain_cmd"),
        "init": ("cli.authoring", "init_cmd"),
        "ingest": ("cli.store_commands", "ingest"),
        "actions": ("cli.store_commands", "actions_cmd"),
        "sources": ("cli.sources", "sources_group"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            module, attr = self.LAZY[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="playbook")
def main() -> None:
    """Rule engine for customer-success playbooks: SLAs, cadences and signals over event logs."""


# -- helpers ---------------------------------------------------------------------------


def playbook_files(paths: tuple[str, ...]) -> list[str]:
    """Expand directories into their *.yaml / *.yml files (sorted, not recursive)."""
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(
                os.path.join(path, name) for name in os.listdir(path) if name.endswith((".yaml", ".yml"))
            )
            if not found:
                raise click.UsageError(f"{path}: no .yaml or .yml files in this directory")
            files.extend(found)
        elif os.path.exists(path):
            files.append(path)
        else:
            raise click.UsageError(f"{path}: no such file or directory")
    return files


def load_all(paths: tuple[str, ...], schema_checked: frozenset[str] = frozenset(),
             max_bytes: int | None = None) -> tuple[list[Playbook], list[Diagnostic]]:
    playbooks: list[Playbook] = []
    diagnostics: list[Diagnostic] = []
    for file in playbook_files(paths):
        try:
            playbooks.append(load_playbook(file, schema_checked=schema_checked, max_bytes=max_bytes))
        except PlaybookError as exc:
            diagnostics.extend(exc.diagnostics)
    return playbooks, diagnostics


@contextmanager
def _few_collections() -> Iterator[None]:
    """A run allocates millions of short-lived objects and makes almost no reference cycles:
    leave what is loaded so far out of garbage collection and collect less often. These
    settings are process-wide: undone afterwards, for callers that run a command in-process."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


# -- commands ------------------------------------------------------------------------


@main.command()
@click.argument("playbooks", nargs=-1, required=True, metavar="PLAYBOOK_OR_DIR...")
@click.option("--events", "events_src", required=True, multiple=True, metavar="SRC", cls=OrderedOption,
              help="Events: a JSON Lines (.jsonl) or CSV (.csv) file, optionally .gz, - for JSON Lines on stdin, "
                   "or db for the events ingested into --db. Repeat it for several sources, merged in time order.")
@source_option
@click.option("--events-format", type=click.Choice(["jsonl", "csv"]), default=None,
              help="The events' format when the file name does not tell.")
@click.option("--until", metavar="TIME|now", default=None,
              help="End of the run (RFC 3339 or epoch seconds, or 'now'); default: the greatest event time.")
@click.option("--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default="jsonl", show_default=True,
              help="Output format of the actions.")
@click.option("--out", metavar="FILE", default=None, help="Write the actions to FILE instead of stdout.")
@click.option("--wide", is_flag=True, help="With --format table: show parameters whole instead of cutting them at 80 characters.")
@click.option("--strict", is_flag=True, help="Stop at the first invalid event (exit 1) instead of skipping it.")
@click.option("--max-future", metavar="DURATION", default=None,
              help="Set aside as invalid the events more than DURATION after --until, or after the event before them.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the summary on stderr.")
@click.option("--db", "db_path", metavar="FILE", default=None,
              help="A store (SQLite): continue from its saved state, emit only actions not emitted before.")
@click.option("--reset-state", is_flag=True, help="With --db: start the saved state over (the ledger is kept).")
@click.option("--allowed-lateness", metavar="DURATION", default=None,
              help="With --db: hold the clock this far behind the newest event, so late events are still processed in order.")
@click.option("--commit-every", type=click.IntRange(min=1), default=50_000, show_default=True, metavar="N",
              help="With --db: commit state, ledger and processed events every N events.")
@max_line_bytes_option
@max_playbook_bytes_option
@click.option("--max-skipped", type=MaxSkippedType(), default=None,
              help="Fail the run (exit 1, after writing its actions) when more than N events, or P% of the "
                   "events read, are skipped as invalid or have no key field.")
@click.option("--strict-calendars", is_flag=True,
              help="Fail the run (exit 1, after writing its actions) when a rule's calendar template names a "
                   "calendar the playbook does not declare, or its timezone template no known time zone "
                   "(otherwise a warning, --quiet or not).")
@lock_timeout_option
@_few_collections()
def run(playbooks: tuple[str, ...], events_src: tuple[str, ...], events_format: str | None, until: str | None,
        fmt: str, out: str | None, wide: bool, strict: bool, quiet: bool, db_path: str | None, reset_state: bool,
        allowed_lateness: str | None, commit_every: int, max_line_bytes: int, max_playbook_bytes: int,
        max_skipped: MaxSkipped | None, strict_calendars: bool, max_future: str | None, lock_timeout: float,
        source_files: tuple[str, ...]) -> None:
    """Evaluate playbooks over an event log; print the actions.

    \b
    Example:
      playbook run playbooks/us-retention.yaml --events examples/events.jsonl
      playbook run playbooks/us-retention.yaml --events export.csv --source sources/zendesk-ticket-events.yaml
    """
    sources = paired_sources(events_src, source_files)
    schema_checked: frozenset[str] = frozenset()
    if db_path is not None:
        from engine.store import schema_checked_in

        schema_checked = schema_checked_in(db_path)  # texts the store's last run checked need no second check
    loaded, diagnostics = load_all(playbooks, schema_checked, max_playbook_bytes)
    if diagnostics:
        print_diagnostics(diagnostics)
        sys.exit(1)
    until_value: Any = until
    if until == "now":
        until_value = datetime.now(UTC)  # the CLI may read the clock; the engine never does
    started = time.perf_counter()
    if wide and fmt != "table":
        raise click.UsageError("--wide applies to --format table")
    if db_path is None and (reset_state or allowed_lateness or "db" in events_src):
        raise click.UsageError("--reset-state, --allowed-lateness and --events db need --db FILE")
    if max_future is not None:
        from engine.timecalc import DurationError, parse_duration

        try:
            parse_duration(max_future)
        except DurationError as exc:
            raise click.UsageError(f"--max-future: {exc}") from None
    with user_errors():
        engine = Engine(loaded, strict=strict, max_future=max_future)
        if until_value is not None:
            engine.parse_until(until_value)  # a bad --until is a usage error before any work
        # Events are checked against declared shapes for the summary: not when it is not printed.
        checkers = []
        if not quiet:
            from engine.lint import ShapeChecker

            checkers = [ShapeChecker(pb) for pb in loaded if pb.events]
        # A progress line on a terminal, unless the actions are written to that terminal too.
        to_terminal = out in (None, "-") and sys.stdout.isatty()
        progress = Progress(sys.stderr.isatty() and not quiet and not to_terminal, checkers=checkers)
        mapped: list[Any] = []
        given: Any = None
        if any(sources):
            from cli.common import mapped_event_sources

            events, mapped = mapped_event_sources(events_src, sources, events_format, max_line_bytes)
            given, ordered = (events, False), False
        if db_path is not None:
            from cli.store_commands import run_with_store

            run_with_store(engine, db_path, events_src, events_format, until_value, fmt, out, quiet,
                           reset_state, allowed_lateness, commit_every, progress, started,
                           max_line_bytes=max_line_bytes, lock_timeout=lock_timeout, events=given)
            if not quiet:
                for line in format_mapping_counts(mapped):
                    click.echo(line, err=True)
            report_problems(engine, max_skipped, strict_calendars)
            return
        if given is None:
            events, ordered = event_sources(engine, events_src, events_format, max_line_bytes)
        stream = open_out(out)
        notes: list[str] = []
        start = output_size(stream)  # a full disk cuts the file back to this: no half line left
        try:
            with output_full(stream, out or "stdout", lambda: start):
                if ordered:
                    # Two passes over each file: memory does not grow with the log.
                    write_actions(engine.stream(progress.wrap(events), until=until_value), stream, fmt,
                                  wide=wide, notes=notes)
                else:
                    write_actions(engine.run(progress.wrap(events), until=until_value), stream, fmt,
                                  wide=wide, notes=notes)
                stream.flush()  # what is still buffered fails here, where a full disk is reported
        finally:
            if stream is not sys.stdout:
                stream.close()
    if not quiet:
        click.echo(format_summary(engine.summary, time.perf_counter() - started), err=True)
        for line in format_mapping_counts(mapped) + progress.shape_lines() + notes:
            click.echo(line, err=True)
    report_problems(engine, max_skipped, strict_calendars)


@main.command()
@click.argument("playbooks", nargs=-1, required=True, metavar="PLAYBOOK_OR_DIR...")
@click.option("--strict-lint", is_flag=True, help="Fail (exit 1) on lint warnings too, not only on errors.")
@max_playbook_bytes_option
def validate(playbooks: tuple[str, ...], strict_lint: bool, max_playbook_bytes: int) -> None:
    """Check playbooks; print every error as FILE:LINE:COL: message (exit 1 if any).

    Lint warnings (FILE:LINE:COL: warning: ...) are printed too; they fail the
    check only with --strict-lint.
    """
    from engine.lint import format_warning, lint_file

    files = playbook_files(playbooks)
    diagnostics: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    for file in files:
        result = lint_file(file, max_playbook_bytes)
        if result.playbook is None:
            diagnostics.extend(result.errors)
            continue
        warnings.extend(result.warnings)
        rules, n = len(result.playbook.rules), len(result.warnings)
        noted = f", {n} warning{'s' if n != 1 else ''}" if n else ""
        click.echo(f"{file}: ok ({rules} rule{'s' if rules != 1 else ''}{noted})")
    for w in warnings:
        click.echo(format_warning(w), err=True)
    if diagnostics:
        print_diagnostics(diagnostics)
        sys.exit(1)
    n = len(warnings)
    if n and strict_lint:
        click.echo(f"{n} warning{'s' if n != 1 else ''} (--strict-lint makes warnings fail)", err=True)
        sys.exit(1)
    click.echo(f"ok ({n} warning{'s' if n != 1 else ''})" if n else "ok")


@main.command()
def schema() -> None:
    """Print the playbook JSON Schema (schemas/playbook.schema.json)."""
    click.echo(schema_text(), nl=False)



def entry() -> None:
    """The ``playbook`` console command: :func:`main` in a process of its own.

    The process ends with the command, and what the command made (a run's state, its
    playbooks) ends with it: it is left out of the collection of reference cycles that
    Python would otherwise make on the way out (~0.05 s after a run over 10k accounts).
    Objects are still freed, files closed and buffers flushed as usual.
    """
    try:
        try:
            main()
        finally:
            sys.stdout.flush()  # here, not at the interpreter's exit, so a full disk is reported
    except OSError as exc:
        if not output_failed(exc, sys.stdout):
            raise
        sys.exit(1)
    finally:
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    entry()
