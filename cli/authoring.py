"""Commands for people who write playbooks: ``test``, ``explain`` and ``init``.

Like the rest of the CLI, each command parses its arguments, calls :mod:`engine`
and formats the result; engine errors become messages (exit 1), bad arguments
usage errors (exit 2), never tracebacks.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from cli.common import (
    OrderedOption,
    format_mapping_counts,
    mapped_event_sources,
    mapping_left_out,
    max_line_bytes_option,
    max_playbook_bytes_option,
    open_out,
    paired_sources,
    print_diagnostics,
    source_option,
    user_errors,
)
from engine import EngineError, PlaybookError, UsageError, load_playbook
from engine.output import safe_text
from engine.testing import FileResult, junit_xml, run_test_files

# -- helpers ---------------------------------------------------------------------------------


def _write(text: str, out: str | None) -> None:
    stream = open_out(out)
    try:
        stream.write(safe_text(text))  # a lone surrogate from a test's data, as its escape
        stream.flush()
    finally:
        if stream is not sys.stdout:
            stream.close()


# -- playbook test -------------------------------------------------------------------------


def _is_test_file(path: str) -> bool:
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(65536)
    except (OSError, UnicodeDecodeError):
        return False
    return "\ncases:" in "\n" + head and "\nplaybooks:" in "\n" + head


def _test_files(paths: tuple[str, ...]) -> list[str]:
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                files.extend(
                    os.path.join(root, n) for n in sorted(names)
                    if n.endswith((".yaml", ".yml")) and _is_test_file(os.path.join(root, n))
                )
        elif os.path.exists(path):
            files.append(path)
        else:
            raise click.UsageError(f"{path}: no such file or directory")
    if not files:
        raise click.UsageError("no test files found (a test file is YAML with 'playbooks' and 'cases')")
    return files


def format_test_report(results: list[FileResult]) -> str:
    """pytest-like text: one line per case, then each failure in detail, then the counts."""
    lines: list[str] = []
    details: list[str] = []
    passed = failed = errors = 0
    for f in results:
        if f.errors:
            errors += 1
            n = len(f.errors)
            lines.append(f"ERROR {f.file}: cannot run ({n} error{'s' if n != 1 else ''}, on stderr)")
            continue
        for c in f.cases:
            label = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}[c.status]
            lines.append(f"{label} {c.where} {c.name}")
            if c.status == "pass":
                passed += 1
                continue
            if c.status == "fail":
                failed += 1
            else:
                errors += 1
            details.append(f"--- {label} {c.where} {c.name}\n{c.report()}")
    out = "\n".join(lines) + "\n"
    if details:
        out += "\n" + "\n\n".join(details) + "\n"
    counts = f"{passed} passed, {failed} failed"
    if errors:
        counts += f", {errors} error{'s' if errors != 1 else ''}"
    return out + ("\n" if details else "") + counts + "\n"


@click.command("test")
@click.argument("paths", nargs=-1, required=True, metavar="TESTFILE_OR_DIR...")
@click.option("--format", "fmt", type=click.Choice(["text", "junit"]), default="text", show_default=True,
              help="text: one line per case, failures side by side; junit: JUnit XML for CI systems.")
@click.option("--out", metavar="FILE", default=None,
              help="Write the report to FILE (with --format junit, the text report still goes to stdout).")
@max_playbook_bytes_option
def test_cmd(paths: tuple[str, ...], fmt: str, out: str | None, max_playbook_bytes: int) -> None:
    """Run playbook test files (YAML with 'playbooks' and 'cases'); exit 1 on any failure.

    \b
    A directory is searched recursively for test files.
    Examples:
      playbook test playbooks/tests/
      playbook test playbooks/tests/ --format junit --out report.xml
    """
    files = _test_files(paths)
    results = run_test_files(files, max_playbook_bytes)
    for f in results:
        if f.errors:
            print_diagnostics(f.errors)
    text = format_test_report(results)
    if fmt == "junit":
        _write(junit_xml(results), out)
        if out not in (None, "-"):
            click.echo(safe_text(text), nl=False)
    else:
        _write(text, out)
    if not all(f.ok for f in results):
        sys.exit(1)


# -- playbook explain -----------------------------------------------------------------------


def _subject_option(values: tuple[str, ...]) -> dict[str, str]:
    subject: dict[str, str] = {}
    for text in values:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise click.UsageError(f"--subject {text!r}: write FIELD=VALUE, e.g. --subject thread_id=t1")
        subject[name] = value
    return subject


@click.command("explain")
@click.argument("playbook", metavar="PLAYBOOK")
@click.option("--events", "events_src", required=True, multiple=True, metavar="SRC", cls=OrderedOption,
              help="Events: a JSON Lines (.jsonl) or CSV (.csv) file, optionally .gz, or - for JSON Lines on stdin. "
                   "Repeat it for several sources, merged in time order.")
@source_option
@click.option("--events-format", type=click.Choice(["jsonl", "csv"]), default=None,
              help="The events' format when the file name does not tell.")
@click.option("--rule", "rule_id", required=True, metavar="ID", help="The rule to explain.")
@click.option("--key", metavar="K", default=None, help="Only this key (default: every key the rule saw).")
@click.option("--subject", multiple=True, metavar="FIELD=VALUE",
              help="Only obligations or signal groups with this subject value (repeatable).")
@click.option("--why-not", is_flag=True, help="For a key the rule produced no action for: the reasons and the nearest misses.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for tools.")
@click.option("--until", metavar="TIME|now", default=None,
              help="End of the run, as for run (default: the greatest event time).")
@max_line_bytes_option
@max_playbook_bytes_option
def explain_cmd(playbook: str, events_src: tuple[str, ...], events_format: str | None, rule_id: str, key: str | None,
                subject: tuple[str, ...], why_not: bool, fmt: str, until: str | None, max_line_bytes: int,
                max_playbook_bytes: int, source_files: tuple[str, ...]) -> None:
    """Why a rule did or did not act: the timeline of each obligation, cadence or signal group.

    \b
    Examples:
      playbook explain playbooks/us-retention.yaml --events examples/events.jsonl --rule ack-within-4h --key acme
      playbook explain playbooks/us-retention.yaml --events examples/events.jsonl \\
          --rule propose-onboarding --key hooli --why-not
    """
    from datetime import UTC, datetime

    from engine.explain import explain
    from engine.sources import read_sources

    if not os.path.exists(playbook):
        raise click.UsageError(f"{playbook}: no such file")
    if os.path.isdir(playbook):
        raise click.UsageError(f"{playbook}: explain takes one playbook file, not a directory")
    wanted = _subject_option(subject)
    try:
        pb = load_playbook(playbook, max_bytes=max_playbook_bytes)
    except PlaybookError as exc:
        print_diagnostics(exc.diagnostics)
        sys.exit(1)
    until_value: str | None = until
    if until == "now":
        until_value = datetime.now(UTC).isoformat()  # the CLI may read the clock; the engine never does
    sources = paired_sources(events_src, source_files)
    mapped: list[Any] = []
    try:
        if any(sources):
            events, mapped = mapped_event_sources(events_src, sources, events_format, max_line_bytes)
        else:
            events = read_sources(events_src, events_format, max_line_bytes=max_line_bytes)
        result = explain(pb, events, rule_id, key=key,
                         subject=wanted, until=until_value, why_not=why_not,
                         source=", ".join("<stdin>" if src == "-" else src for src in events_src))
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    except EngineError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if why_not and key is not None:
        for report in result.keys:
            if report.why_not and report.why_not[0].startswith("no event has"):
                report.why_not.extend(mapping_left_out(mapped))
    text = result.to_json() if fmt == "json" else result.to_text()
    for line in format_mapping_counts(mapped):
        click.echo(line, err=True)
    # An event's lone surrogate (valid JSON, not UTF-8) is shown as its escape, not a UnicodeEncodeError.
    click.echo(text.encode("utf-8", "backslashreplace").decode("utf-8"), nl=False)


# -- playbook init ---------------------------------------------------------------------------


@click.command("init")
@click.argument("directory", metavar="DIR")
@click.option("--name", default=None, metavar="NAME", help="The playbook's name (default: from DIR).")
@click.option("--force", is_flag=True, help="Overwrite starter files that already exist.")
def init_cmd(directory: str, name: str | None, force: bool) -> None:
    """Write a starter playbook, its tests and a sample log into DIR.

    \b
    They pass validate and test as written; then make them yours:
      playbook init my-playbook && playbook test my-playbook
    """
    from engine.scaffold import write_starter

    with user_errors():
        written = write_starter(directory, name, force=force)
    for path in written:
        click.echo(f"created {path}")
    shown = directory.rstrip("/") or "."
    click.echo("next:")
    for command in (
        f"playbook validate --strict-lint {shown}",
        f"playbook test {shown}",
        f"playbook run {shown}/playbook.yaml --events {shown}/events.jsonl --format table",
        f"playbook explain {shown}/playbook.yaml --events {shown}/events.jsonl --rule ack-within-4h --key acme",
    ):
        click.echo(f"  {command}")
