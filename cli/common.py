"""What every command shares: engine errors become messages and exit codes, never tracebacks."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from engine import EngineError, EventError, UsageError


@contextmanager
def user_errors() -> Iterator[None]:
    """Usage errors exit 2 (click's way); every other engine error prints ``error: ...`` and exits 1."""
    try:
        yield
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    except EventError as exc:
        click.echo(f"error: {exc} (--strict)", err=True)
        sys.exit(1)
    except EngineError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
