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

from engine import Engine, EngineError, EventError, SourceEvent, UsageError
from engine.errors import Diagnostic, StoreBusy
from engine.sources import detect_format
from engine.summary import RunSummary
from engine.timecalc import format_time

if TYPE_CHECKING:
    from engine.lint import ShapeChecker


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


class Progress:
    """Watches the events as they are read: a one-line progress report on stderr (only
    when stderr is a terminal), and the check of events against declared shapes."""

    def __init__(self, enabled: bool, checkers: list[ShapeChecker] | None = None):
        self.enabled = enabled
        self.started = time.perf_counter()
        self.count = 0
        self.checkers = checkers or []

    def shape_lines(self) -> list[str]:
        return [line for c in self.checkers for line in c.report.lines()]

    def wrap(self, events: Iterator[SourceEvent]) -> Iterator[SourceEvent]:
        checks = [checker.check for checker in self.checkers]
        count = self.count
        for event in events:
            count += 1
            if checks and event.error is None:
                for check in checks:
                    check(event.data, event.source)
            if self.enabled and count % 100_000 == 0:
                rate = count / max(time.perf_counter() - self.started, 1e-9)
                click.echo(f"\rreading events: {count:,} ({rate:,.0f}/s)", err=True, nl=False)
            self.count = count
            yield event
        if self.enabled and self.count >= 100_000:
            click.echo("\r" + " " * 60 + "\r", err=True, nl=False)


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
        for source, message in problem.samples[:5]:
            lines.append(f"    {source}: {message}")
        if problem.count > 5:
            lines.append(f"    ... and {problem.count - 5:,} more")
    if summary.until is not None:
        lines.append(f"clock: until {format_time(summary.until)}")
    outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.outcomes.items())) or "none"
    lines.append(f"outcomes: {outcomes}; actions: {summary.actions_emitted:,}")
    pending = sum(r.pending for r in summary.rules.values())
    overdue = sum(r.overdue for r in summary.rules.values())
    lines.append(f"open: {pending:,} obligations pending, {overdue:,} breached and awaiting a late reply")
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


def print_diagnostics(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]) -> None:
    for d in diagnostics:
        click.echo(str(d), err=True)
    n = len(diagnostics)
    click.echo(f"{n} error{'s' if n != 1 else ''}", err=True)
