"""``playbook sources``: source mappings (docs/sources.md) — the dry run before trusting one."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from cli.common import max_line_bytes_option, print_diagnostics, user_errors
from engine.errors import PlaybookError


@click.group("sources")
def sources_group() -> None:
    """Source mappings: exports (CSV, JSON Lines, JSON, Parquet) read as events."""


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


@sources_group.command("check")
@click.argument("source_file", metavar="SOURCE")
@click.option("--events", "events_src", required=True, metavar="FILE", help="An export to read through the mapping.")
@click.option("--limit", type=click.IntRange(min=0), default=5, show_default=True, metavar="N",
              help="Show the first N mapped events beside their input records.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for tools.")
@max_line_bytes_option
def check_cmd(source_file: str, events_src: str, limit: int, fmt: str, max_line_bytes: int) -> None:
    """Dry-run a mapping: the first events beside their records, and what became of every record.

    Each event gets the engine's own check (a type, a time it reads, values within the
    limits, with the default field names): one that fails is invalid, with the reason.
    For JSON sources, a name the mapping reads that no record has is a warning. Exits 1
    when a record is invalid or no type rule matched it (nothing is written anywhere).

    \b
    Example:
      playbook sources check sources/zendesk-ticket-events.yaml --events export.csv --limit 3
    """
    from engine.sources import load_source, read_mapped

    try:
        source = load_source(source_file)
    except PlaybookError as exc:
        print_diagnostics(exc.diagnostics)
        sys.exit(1)
    shown: list[tuple[str, Any, Any]] = []
    with user_errors():
        try:
            reader = read_mapped(source, events_src, max_line_bytes=max_line_bytes)
            for record, event in reader.pairs(check=True):
                if len(shown) < limit and event is not None and event.error is None:
                    shown.append((event.source, record, event.data))
        except PlaybookError as exc:  # a column the mapping names is not in the file
            print_diagnostics(exc.diagnostics)
            sys.exit(1)
    counts = reader.counts
    if fmt == "json":
        click.echo(_json({"events": [{"source": s, "record": r, "event": e} for s, r, e in shown],
                          "counts": counts.to_dict(), "warnings": reader.warnings}))
    else:
        for place, record, event in shown:
            click.echo(place)
            click.echo(f"  record: {_json(record)}")
            click.echo(f"  event:  {_json(event)}")
        click.echo(f"{counts.records:,} records: {counts.mapped:,} mapped, {counts.dropped.count:,} dropped (drop), "
                   f"{counts.unmatched.count:,} no type matched, {counts.invalid.count:,} invalid")
        for label, problem in (("dropped", counts.dropped), ("no type matched", counts.unmatched),
                               ("invalid", counts.invalid)):
            if problem.count:
                click.echo(f"  {label}: {problem.count:,}")
                for where, message in problem.samples[:5]:
                    click.echo(f"    {where}: {message}")
                if problem.count > 5:
                    click.echo(f"    ... and {problem.count - 5:,} more")
        for warning in reader.warnings:
            click.echo(f"warning: {warning}")
    if counts.invalid.count or counts.unmatched.count:
        sys.exit(1)


@sources_group.command("schema")
def schema_cmd() -> None:
    """Print the source-mapping JSON Schema (schemas/source.schema.json), for editors."""
    from engine.schema import source_schema_text

    click.echo(source_schema_text(), nl=False)
