"""What every command shares: engine errors become messages and exit codes, never tracebacks."""

from __future__ import annotations

import errno
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import IO, TYPE_CHECKING, Any

import click

from engine import Engine, EngineError, EventError, PlaybookError, SourceEvent, UsageError
from engine.errors import Diagnostic, StoreBusy
from engine.loader import MAX_PLAYBOOK_BYTES
from engine.sources import MAX_LINE_BYTES, detect_format
from engine.summary import MaxSkipped, Problem, RunSummary
from engine.timecalc import format_time

if TYPE_CHECKING:
    from engine.lint import ShapeChecker


max_line_bytes_option = click.option(
    "--max-line-bytes", type=click.IntRange(min=1), default=MAX_LINE_BYTES, show_default=True, metavar="N",
    help="Skip event lines longer than N bytes (reported with file:line; never read whole).")

EXIT_STORE_BUSY = 75  # EX_TEMPFAIL (sysexits.h): a store is in use by another run; try again later


@contextmanager
def user_errors() -> Iterator[None]:
    """Usage errors exit 2 (click's way); a store in use by another run exits 75
    (EX_TEMPFAIL); every other engine error prints ``error: ...`` and exits 1."""
    try:
        yield
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    except StoreBusy as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_STORE_BUSY)
    except EventError as exc:
        click.echo(f"error: {exc} (--strict)", err=True)
        sys.exit(1)
    except EngineError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


#: ``--max-playbook-bytes``, for every command that reads playbooks (run, validate, test, explain).
max_playbook_bytes_option = click.option(
    "--max-playbook-bytes", type=click.IntRange(min=1), default=MAX_PLAYBOOK_BYTES, show_default=True, metavar="N",
    help="Refuse a playbook file larger than N bytes at once, before parsing it.")


class MaxSkippedType(click.ParamType):
    name = "N|P%"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> MaxSkipped:
        if isinstance(value, MaxSkipped):
            return value
        try:
            return MaxSkipped.parse(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def report_problems(engine: Engine, max_skipped: MaxSkipped | None, strict_calendars: bool) -> None:
    """After a run's actions are written, on stderr even with --quiet: calendar templates
    that named no declared calendar (or no known time zone), events far beyond the rest of the log in time, and
    many events skipped or without a key field.
    Exit 1 with --strict-calendars or past --max-skipped."""
    summary = engine.summary
    failed = False
    for lines, advice in ((summary.calendar_warnings(), "declare these calendars or fix the template"),
                          (summary.timezone_warnings(), "give IANA time zones (such as 'Europe/Paris') or fix the template")):
        if not lines:
            continue
        label = "error" if strict_calendars else "warning"
        for line in lines:
            click.echo(line if line.startswith(" ") else f"{label}: {line}", err=True)
        click.echo(f"{label}: {advice}"
                   + (" (--strict-calendars)" if strict_calendars else " (--strict-calendars makes this fail the run)"),
                   err=True)
        failed = failed or strict_calendars
    if summary.time_outliers.count:
        n = summary.time_outliers.count
        click.echo(f"warning: {n:,} event{'s' if n != 1 else ''} far beyond the rest of the log in time "
                   "(processed; --max-future DURATION sets such events aside):", err=True)
        for source, message in summary.time_outliers.samples[:5]:
            click.echo(f"    {source}: {message}", err=True)
    key_fields = [pb.key_field for pb in engine.playbooks]
    if max_skipped is not None and max_skipped.exceeded_by(summary):
        limit = f"{max_skipped.percent:g}% of the events read" if max_skipped.percent is not None else f"{max_skipped} events"
        click.echo(f"error: {summary.describe_unused(key_fields)}", err=True)
        click.echo(f"error: more than {limit} skipped or without a key field (--max-skipped {max_skipped})", err=True)
        failed = True
    else:
        warning = summary.unused_warning(key_fields)
        if warning is not None:
            click.echo(f"warning: {warning}", err=True)
            click.echo("warning: check the key field and the events' type and time fields "
                       "(--max-skipped N|P% makes this fail the run)", err=True)
    if failed:
        sys.exit(1)


def _progress_interval() -> float:
    try:
        return max(0.0, float(os.environ.get("PLAYBOOK_PROGRESS_INTERVAL", "")))
    except ValueError:
        return 0.25


class Progress:
    """Watches the events as they are read: a progress line on stderr (events read,
    events/s, elapsed), and the check of events against declared shapes.

    The line is shown only when ``enabled`` (stderr is a terminal, not --quiet), redrawn
    at most every ``PLAYBOOK_PROGRESS_INTERVAL`` seconds (default 0.25: the clock is read
    every 256 events only), and cleared when the events end, before the summary."""

    CHECK_EVERY = 256  # a power of two: events between looks at the clock

    def __init__(self, enabled: bool, checkers: list[ShapeChecker] | None = None):
        self.enabled = enabled
        self.started = time.perf_counter()
        self.count = 0
        self.checkers = checkers or []
        self.interval = _progress_interval()
        self._next = self.started + self.interval
        self._width = 0  # of the line on screen, 0 when none is

    def shape_lines(self) -> list[str]:
        return [line for c in self.checkers for line in c.report.lines()]

    def wrap(self, events: Iterator[SourceEvent]) -> Iterator[SourceEvent]:
        checks = [checker.check for checker in self.checkers]
        count = self.count
        mask = self.CHECK_EVERY - 1 if self.enabled else -1  # -1: never look
        try:
            for event in events:
                count += 1
                if checks and event.error is None:
                    for check in checks:
                        check(event.data, event.source)
                if not count & mask and time.perf_counter() >= self._next:
                    self.count = count
                    self.draw()
                yield event
        finally:
            self.count = count
            self.clear()

    def draw(self) -> None:
        now = time.perf_counter()
        self._next = now + self.interval
        elapsed = now - self.started
        seconds = int(elapsed)
        text = (f"{self.count:,} events read, {self.count / max(elapsed, 1e-9):,.0f} events/s, "
                f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d} elapsed")
        sys.stderr.write("\r" + text.ljust(self._width))
        sys.stderr.flush()
        self._width = len(text)

    def clear(self) -> None:
        if self._width:
            sys.stderr.write("\r" + " " * self._width + "\r")
            sys.stderr.flush()
            self._width = 0


def _count(n: int, noun: str) -> str:
    """``1 group``, ``2 groups``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _samples(problem: Problem, more: bool = True) -> list[str]:
    """A problem's first five example places, and how many more there are."""
    lines = [f"    {source}: {message}" for source, message in problem.samples[:5]]
    if more and problem.count > 5:
        lines.append(f"    ... and {problem.count - 5:,} more")
    return lines


def format_summary(summary: RunSummary, elapsed: float) -> str:
    lines = []
    rate = summary.events_read / elapsed if elapsed > 0 else 0.0
    lines.append(
        f"events: {summary.events_read:,} read, {summary.events_processed:,} processed, "
        f"{summary.skipped_total:,} skipped, {summary.without_key:,} without key, "
        f"{summary.after_until:,} after until"
    )
    for reason, problem in sorted(summary.skipped.items()):
        lines.append(f"  skipped ({reason}): {problem.count:,}")
        lines.extend(_samples(problem))
    if summary.duplicates.count:
        lines.append(f"  duplicates (an id processed before, skipped): {summary.duplicates.count:,}")
        lines.extend(_samples(summary.duplicates, more=False))
    for kind, problem in sorted(summary.input_warnings.items()):
        lines.append(f"  read from damaged input ({kind}): {problem.count:,} (processed; --strict refuses them)")
        lines.extend(_samples(problem))
    if summary.until is not None:
        lines.append(f"clock: until {format_time(summary.until)}")
    outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.outcomes.items())) or "none"
    lines.append(f"outcomes: {outcomes}; actions: {summary.actions_emitted:,}")
    pending = sum(r.pending for r in summary.rules.values())
    overdue = sum(r.overdue for r in summary.rules.values())
    lines.append(f"open: {pending:,} obligations pending, {overdue:,} breached and awaiting a late reply")
    most = summary.most_open_state()
    if most:
        held = "; ".join(f"{m['rule']} {m['open']:,} ({', '.join(_count(v, k) for k in ('obligation', 'cadence', 'group') if (v := m[k + 's']))})"
                         for m in most)
        lines.append(f"most open state: {held}")
    for name, stats in sorted(summary.rules.items()):
        details = []
        for label, value in (
            ("pending", stats.pending), ("overdue", stats.overdue),
            ("cadences running", stats.cadences_running), ("cadences overdue", stats.cadences_overdue),
            ("triggers missing a 'same' field", stats.triggers_missing_same),
            ("triggers while open (overlap: first)", stats.triggers_ignored_open),
            ("triggers ignored by unless", stats.triggers_unless),
            ("signals ignored by unless", stats.signals_unless),
            ("signals suppressed by cooldown", stats.signals_suppressed_cooldown),
            ("signals missing a group_by field", stats.signals_missing_group),
            ("expired", stats.expired), ("calendar fallbacks", stats.calendar_fallbacks),
            ("time zone fallbacks", stats.timezone_fallbacks),
        ):
            if value:
                details.append(f"{label} {value:,}")
        if details:
            lines.append(f"  {name}: {', '.join(details)}")
    for where, problem in sorted(summary.expression_errors.items()):
        lines.append(f"expression errors in {where}: {problem.count:,} (counted as false/null)")
        for source, message in problem.samples[:3]:
            lines.append(f"    {source}: {message}")
    lines.append(f"time: {elapsed:.3f} s, {rate:,.0f} events/s")
    return "\n".join(lines)


def streamable(engine: Engine, events_src: str, events_format: str | None) -> bool:
    """Can this run read its events in two passes (a plain JSON Lines file, one way of reading events)?"""
    if events_src == "-" or events_src.lower().endswith(".gz") or not os.path.isfile(events_src):
        return False
    if (events_format or detect_format(events_src)) != "jsonl":
        return False
    try:
        engine.time_of({})
    except UsageError:
        return False
    return True


def event_sources(engine: Engine, sources: tuple[str, ...], events_format: str | None,
                  max_line_bytes: int) -> tuple[Iterator[SourceEvent], bool]:
    """The events of one or more ``--events`` sources, and whether they come in time order.

    Plain JSON Lines files are each read in time order and merged (memory does not grow
    with the logs); otherwise all are read one after the other, for a stable sort by time.
    Either way equal times keep the order of the sources, then each one's order.
    """
    from engine.sources import read_sources

    if "db" in sources and len(sources) > 1:
        raise click.UsageError("--events db reads the events ingested into the store: give it alone")
    if sources.count("-") > 1:
        raise click.UsageError("--events -: stdin can be read only once")
    for src in sources:
        if src not in ("-", "db") and not os.path.exists(src):
            raise click.UsageError(f"--events {src}: no such file")
    if all(streamable(engine, src, events_format) for src in sources):
        return engine.ordered_events(list(sources), max_line_bytes=max_line_bytes), True
    return read_sources(sources, events_format, max_line_bytes=max_line_bytes), False


def open_out(path: str | None, append: bool = False) -> IO[str]:
    if path is None or path == "-":
        return sys.stdout
    try:
        return open(path, "a" if append else "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise click.UsageError(f"--out {path}: cannot write ({exc.strerror})") from None


def lock_timeout_option(function: Any) -> Any:
    """``--lock-timeout SECONDS`` of the commands that write a store."""
    from engine.storelock import DEFAULT_LOCK_TIMEOUT

    return click.option(
        "--lock-timeout", type=click.FloatRange(min=0), default=DEFAULT_LOCK_TIMEOUT, show_default=True,
        metavar="SECONDS",
        help=f"With --db: wait this long for another run writing the store to finish, then exit {EXIT_STORE_BUSY}.",
    )(function)


def waiting_notice(db_path: str, timeout: float, quiet: bool) -> Any:
    """What a command says (once) when it has to wait for another run writing the store."""
    def notice(holder: dict[str, Any] | None) -> None:
        if quiet:
            return
        who = f"pid {holder.get('pid')} on {holder.get('host')}" if holder and holder.get("pid") else "another run"
        click.echo(f"waiting for {db_path}: in use by {who}; up to {timeout:g} s (--lock-timeout)", err=True)
    return notice


def command_line() -> str:
    """This command as typed, for the record of a store's writer lock."""
    return " ".join(["playbook", *sys.argv[1:]])


_FULL = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded", errno.EFBIG: "file too large"}


def output_size(stream: IO[str]) -> int | None:
    """The size of the file the actions go to, when it is a regular file (else None)."""
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError):  # no file behind it (io.UnsupportedOperation is both)
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


@contextmanager
def output_full(stream: IO[str], where: str, mark: Callable[[], int | None], then: str = "") -> Iterator[None]:
    """A full disk (or quota, or file size limit) while writing actions: a message and exit
    1, no traceback. A regular file is cut back to ``mark()`` (what was there before the
    failed write), so no truncated JSON line is left; what the stream still buffers goes
    nowhere (its descriptor is pointed at /dev/null), so closing it does not fail again."""
    try:
        yield
    except OSError as exc:
        reason = _FULL.get(exc.errno or 0)
        if reason is None:
            raise
        try:
            fd = stream.fileno()
        except (OSError, ValueError):
            fd = None
        if fd is not None:
            size = mark()
            if size is not None:
                with suppress(OSError):
                    os.ftruncate(fd, size)
            with suppress(OSError):
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, fd)
                os.close(null)
        click.echo(f"error: {reason}: cannot write the actions to {where} ({exc.strerror}){then}", err=True)
        sys.exit(1)


def output_failed(exc: OSError, stream: IO[str]) -> bool:
    """For any command whose output (stdout) meets a full disk: say so (no traceback) and
    point the stream at /dev/null so that nothing fails again at exit. False when ``exc``
    is another error."""
    reason = _FULL.get(exc.errno or 0)
    if reason is None:
        return False
    with suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    click.echo(f"error: {reason}: cannot write the output ({exc.strerror})", err=True)
    return True


def print_diagnostics(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]) -> None:
    for d in diagnostics:
        click.echo(str(d), err=True)
    n = len(diagnostics)
    click.echo(f"{n} error{'s' if n != 1 else ''}", err=True)


# --- mapped sources (--source) ------------------------------------------------------

_ORDER_KEY = "playbook.events-and-sources"


class OrderedOption(click.Option):
    """``--events`` and ``--source``: their values are also recorded together, in the order
    they are typed, so that each ``--source`` pairs with the ``--events`` just before it."""

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        name = self.name
        for opt in self.opts:
            parsed = getattr(parser, "_long_opt", {}).get(opt) or getattr(parser, "_short_opt", {}).get(opt)
            if parsed is None or not hasattr(parsed, "process"):
                continue
            original = parsed.process

            def process(value: Any, state: Any, original: Any = original) -> None:
                ctx.meta.setdefault(_ORDER_KEY, []).append((name, value))
                original(value, state)

            parsed.process = process


def source_option(function: Any) -> Any:
    """``--source SOURCE`` (repeatable): read the ``--events`` given just before it through a source mapping."""
    return click.option(
        "--source", "source_files", multiple=True, metavar="SOURCE", cls=OrderedOption,
        help="A source mapping (YAML, docs/sources.md) for the --events given just before it: the file's records "
             "become events as the mapping declares. Repeat the pair for several files; an --events without a "
             "--source is read as it is.")(function)


def paired_sources(events_src: tuple[str, ...], source_files: tuple[str, ...]) -> list[str | None]:
    """For each ``--events``, the ``--source`` typed right after it (None: read as it is)."""
    if not source_files:
        return [None] * len(events_src)
    ctx = click.get_current_context(silent=True)
    order = ctx.meta.get(_ORDER_KEY) if ctx is not None else None
    if not order:  # the parser did not let us see the order: pair them one for one
        if len(source_files) != len(events_src):
            raise click.UsageError("give one --source after each --events it maps")
        return list(source_files)
    paired: list[str | None] = []
    for name, value in order:
        if name == "source_files":
            if not paired:
                raise click.UsageError(f"--source {value}: give it after the --events it maps "
                                       "(--events export.csv --source sources/zendesk-ticket-events.yaml)")
            if paired[-1] is not None:
                raise click.UsageError(f"--source {value}: the --events before it already has a --source "
                                       f"({paired[-1]}); give one --source per --events")
            paired[-1] = value
        else:
            paired.append(None)
    return paired


def mapped_event_sources(events_src: tuple[str, ...], sources: list[str | None], events_format: str | None,
                         max_line_bytes: int) -> tuple[Iterator[SourceEvent], list[Any]]:
    """The events of ``--events`` files, each read through its ``--source`` (or as it is),
    one file after the other (for :meth:`Engine.run`, which orders them by time), and the
    :class:`~engine.sources.MappedEvents` whose counts the summary shows."""
    import itertools

    from engine.sources import load_source, read_events, read_mapped

    if "db" in events_src:
        raise click.UsageError("--events db reads the events ingested into the store: it takes no --source")
    if events_src.count("-") > 1:
        raise click.UsageError("--events -: stdin can be read only once")
    loaded: dict[str, Any] = {}
    parts: list[Any] = []
    mapped: list[Any] = []
    for src, source in zip(events_src, sources, strict=True):
        if src != "-" and not os.path.exists(src):
            raise click.UsageError(f"--events {src}: no such file")
        if source is None:
            parts.append(read_events(src, events_format, max_line_bytes=max_line_bytes))
            continue
        if source not in loaded:
            try:
                loaded[source] = load_source(source)
            except PlaybookError as exc:
                print_diagnostics(exc.diagnostics)
                sys.exit(1)
        reader = read_mapped(loaded[source], src, max_line_bytes=max_line_bytes)
        mapped.append(reader)
        parts.append(reader)
    return itertools.chain.from_iterable(parts), mapped


def mapping_left_out(mapped: list[Any]) -> list[str]:
    """For explain --why-not of a key with no events: the records each source left out."""
    lines: list[str] = []
    for reader in mapped:
        c = reader.counts
        left = c.dropped.count + c.unmatched.count + c.invalid.count
        if not left:
            continue
        examples = "; ".join(f"{where}: {message}" for problem in (c.invalid, c.unmatched, c.dropped)
                             for where, message in problem.samples[:1])
        lines.append(f"source {c.source} ({c.file}) left out {left:,} of its {c.records:,} records "
                     f"({c.dropped.count:,} dropped (drop), {c.unmatched.count:,} no type matched, "
                     f"{c.invalid.count:,} invalid; e.g. {examples}): this key's events may be among them "
                     "(playbook sources check shows each record's fate)")
    return lines


def format_mapping_counts(mapped: list[Any]) -> list[str]:
    """One line per file read through a source: every record counted, with example places."""
    lines: list[str] = []
    for reader in mapped:
        c = reader.counts
        lines.append(f"source {c.source} ({c.file}): {c.records:,} records: {c.mapped:,} mapped, "
                     f"{c.dropped.count:,} dropped (drop), {c.unmatched.count:,} no type matched, "
                     f"{c.invalid.count:,} invalid")
        # (the invalid and unmatched ones are among the skipped events above, with their reasons)
        if c.records and c.mapped == 0:
            lines.append(f"warning: source {c.source} mapped none of the {c.records:,} records of {c.file}")
    return lines
