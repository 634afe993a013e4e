"""Playbook test files (section 11): cases of events in, expected actions out.

A test file names its playbooks (relative to itself) and lists cases. Each case
runs the playbooks over its events; every expected entry must match a distinct
produced action on the fields it lists, and with ``exact`` (the default) no
other action may be produced.

A case whose events cannot all be read (not an object, no valid ``type`` or
``time``) is an *error*, not a pass: ``run`` would skip those events, and a test
that silently loses events proves nothing.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from .compiler import load_playbook
from .engine import Engine
from .errors import Diagnostic, EngineError, PlaybookError
from .expressions import equals
from .loader import MAX_PLAYBOOK_BYTES, Positions, load_yaml_file
from .model import Playbook
from .sources import SourceEvent, read_events
from .timecalc import TimeError, parse_time

TIME_FIELDS = frozenset({"at", "deadline", "time"})
CASE_KEYS = frozenset({"name", "events", "events_file", "source", "until", "expect", "exact", "description"})
FILE_KEYS = ("playbooks", "cases", "description")
ABSENT = "(absent)"


@dataclass
class CaseResult:
    """The outcome of one case: ``passed``, or what was missing and what was extra."""

    file: str
    name: str
    line: int
    passed: bool
    expected: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)      # expected entries with no action
    unexpected: list[dict[str, Any]] = field(default_factory=list)   # produced actions not listed (exact)
    produced: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    tz: Any = None

    @property
    def status(self) -> str:
        """``pass``, ``fail`` (the actions differ) or ``error`` (the case could not run)."""
        if self.error is not None:
            return "error"
        return "pass" if self.passed else "fail"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def headline(self) -> str:
        """One line on what went wrong, for JUnit's ``message`` attribute."""
        if self.error is not None:
            return self.error.splitlines()[0]
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} expected action{_s(self.missing)} not produced")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} action{_s(self.unexpected)} produced but not expected")
        return "; ".join(parts)

    def report(self) -> str:
        """What was expected and what was produced, side by side, for a failing case."""
        if self.passed and self.error is None:
            return ""
        lines: list[str] = []
        if self.error is not None:
            lines.extend("  " + line for line in self.error.splitlines())
            return "\n".join(lines)
        total = len(self.expected)
        for entry in self.missing:
            number = _index_of(entry, self.expected) + 1
            near = _nearest(entry, self.produced, self.tz)
            if not self.produced:
                lines.append(f"  expected action {number} of {total} was not produced (the case produced no action at all):")
                lines.append(f"      {_json(entry)}")
                continue
            if near is None:
                lines.append(f"  expected action {number} of {total} was not produced, and no produced action shares a field with it:")
                lines.append(f"      {_json(entry)}")
                continue
            diffs = _differences(entry, near, self.tz)
            lines.append(
                f"  expected action {number} of {total} was not produced; "
                f"the nearest produced action differs in {', '.join(diffs)}:"
            )
            lines.extend("    " + row for row in side_by_side(entry, near, self.tz))
        if self.unexpected:
            lines.append(
                f"  produced but not expected ({len(self.unexpected)}; the case is exact: "
                "list them under expect, or set exact: false):"
            )
            lines.extend(f"      {_json(_brief(rec))}" for rec in self.unexpected)
        return "\n".join(lines)


@dataclass
class FileResult:
    """One test file: its cases, or the errors that kept it from running."""

    file: str
    cases: list[CaseResult] = field(default_factory=list)
    errors: tuple[Diagnostic, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors and all(c.status == "pass" for c in self.cases)


def _s(items: list[Any]) -> str:
    return "" if len(items) == 1 else "s"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def _brief(rec: dict[str, Any]) -> dict[str, Any]:
    keep = ("rule", "outcome", "reason", "stage", "at", "key", "subject", "do", "params", "paused_for")
    return {k: rec[k] for k in keep if rec.get(k) not in (None, {}, "")}


def _index_of(entry: dict[str, Any], entries: list[dict[str, Any]]) -> int:
    for i, e in enumerate(entries):
        if e is entry:
            return i
    return entries.index(entry)


# -- running -----------------------------------------------------------------------------


def run_test_file(path: str, max_playbook_bytes: int | None = MAX_PLAYBOOK_BYTES) -> list[CaseResult]:
    """Run every case of one test file. A bad file or playbook raises PlaybookError.
    ``max_playbook_bytes``: the playbooks' size limit (``max_bytes`` of :func:`engine.load_playbook`)."""
    data, pos = load_yaml_file(path)
    errors: list[Diagnostic] = []
    if not isinstance(data, dict):
        raise PlaybookError([pos.diag((), "a test file must be a mapping with 'playbooks' and 'cases'")])
    for key in data:
        if key not in FILE_KEYS:
            errors.append(pos.diag((key,), f"unknown key '{key}' in a test file (expected playbooks, cases)", key=True))
    names = data.get("playbooks")
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        errors.append(pos.diag(("playbooks",), "'playbooks' must list at least one playbook file (relative to this file)"))
        names = []
    cases = data.get("cases")
    if not isinstance(cases, list) or not cases:
        errors.append(pos.diag(("cases",), "'cases' must be a non-empty list"))
        cases = []
    base = os.path.dirname(os.path.abspath(path))
    playbooks: list[Playbook] = []
    for i, name in enumerate(names):
        full = os.path.join(base, name)
        if not os.path.isfile(full):
            errors.append(pos.diag(("playbooks", i), f"playbook file not found: {name} (paths are relative to the test file)"))
            continue
        try:
            playbooks.append(load_playbook(full, display=os.path.relpath(full), max_bytes=max_playbook_bytes))
        except PlaybookError as exc:
            errors.extend(exc.diagnostics)
    for i, case in enumerate(cases):
        errors.extend(_check_case(case, pos, ("cases", i), playbooks))
    if errors:
        raise PlaybookError(errors)
    return [_run_case(path, base, playbooks, case, pos, ("cases", i)) for i, case in enumerate(cases)]


def run_test_files(paths: Iterable[str], max_playbook_bytes: int | None = MAX_PLAYBOOK_BYTES) -> list[FileResult]:
    """Run several test files; a file that cannot run carries its errors instead of cases."""
    out = []
    for path in paths:
        try:
            out.append(FileResult(path, run_test_file(path, max_playbook_bytes)))
        except PlaybookError as exc:
            out.append(FileResult(path, [], exc.diagnostics))
    return out


def _check_case(case: Any, pos: Positions, path: tuple[Any, ...], playbooks: list[Playbook]) -> list[Diagnostic]:
    if not isinstance(case, dict):
        return [pos.diag(path, "a case must be a mapping with name, events and expect")]
    out = [pos.diag(path + (k,), f"unknown key '{k}' in a test case", key=True) for k in case if k not in CASE_KEYS]
    if not isinstance(case.get("name"), str):
        out.append(pos.diag(path, "a case needs a 'name'"))
    if ("events" in case) == ("events_file" in case):
        out.append(pos.diag(path, "a case needs 'events' (a list) or 'events_file' (a path), not both"))
    elif "events" in case:
        if not isinstance(case["events"], list):
            out.append(pos.diag(path + ("events",), "'events' must be a list of events"))
        else:
            out.extend(_check_inline_events(case["events"], pos, path + ("events",), playbooks))
    elif not isinstance(case["events_file"], str) or not case["events_file"]:
        out.append(pos.diag(path + ("events_file",), "'events_file' must be the path of a JSON Lines or CSV file (relative to this file)"))
    if "source" in case:
        if "events_file" not in case:
            out.append(pos.diag(path + ("source",), "'source' maps an 'events_file': give the file too (or drop 'source')", key=True))
        elif not isinstance(case["source"], str) or not case["source"]:
            out.append(pos.diag(path + ("source",), "'source' must be the path of a source mapping (relative to this file)"))
    expect = case.get("expect", [])
    if not isinstance(expect, list) or not all(isinstance(e, dict) for e in expect):
        out.append(pos.diag(path + ("expect",), "'expect' must be a list of mappings (fields an action must have)"))
    if "exact" in case and not isinstance(case["exact"], bool):
        out.append(pos.diag(path + ("exact",), "'exact' must be true or false"))
    if "until" in case and playbooks:
        try:
            parse_time(case["until"], playbooks[0].timezone)
        except TimeError as exc:
            out.append(pos.diag(path + ("until",), f"invalid until: {exc}"))
    return out


def _check_inline_events(events: list[Any], pos: Positions, path: tuple[Any, ...], playbooks: list[Playbook]) -> list[Diagnostic]:
    """Inline events that no run could read, reported at their place in the test file."""
    out = []
    pb = playbooks[0] if playbooks else None
    for i, event in enumerate(events):
        epath = path + (i,)
        if not isinstance(event, dict):
            out.append(pos.diag(epath, f"an event must be a mapping with at least '{pb.type_field if pb else 'type'}' and '{pb.time_field if pb else 'time'}'"))
            continue
        if pb is None:
            continue
        etype = event.get(pb.type_field)
        if not isinstance(etype, str) or not etype:
            what = "missing" if etype is None else "not a non-empty string"
            out.append(pos.diag(epath, f"event '{pb.type_field}' is {what}: every event needs a type"))
        raw = event.get(pb.time_field)
        if raw is None:
            out.append(pos.diag(epath, f"event '{pb.time_field}' is missing: every event needs a time"))
        else:
            try:
                parse_time(raw, pb.timezone)
            except TimeError as exc:
                out.append(pos.diag(epath + (pb.time_field,), f"bad event time: {exc}"))
    return out


def _run_case(file: str, base: str, playbooks: list[Playbook], case: dict[str, Any], pos: Positions, path: tuple[Any, ...]) -> CaseResult:
    name = case["name"]
    line = pos.at(path)[0]
    expected = case.get("expect") or []
    tz = playbooks[0].timezone if playbooks else None
    result = CaseResult(file, name, line, False, expected=list(expected), tz=tz)
    events: list[Any]
    if "events_file" in case:
        events_path = os.path.join(base, str(case["events_file"]))
        display = os.path.relpath(events_path)
        if not os.path.isfile(events_path):
            problem = "is a directory, not an event file" if os.path.isdir(events_path) else \
                "not found (paths are relative to the test file)"
            result.error = f"{file}:{pos.at(path + ('events_file',))[0]}: events_file {case['events_file']}: {problem}"
            return result
        try:
            if "source" in case:
                from .sources.mapping import load_source, read_mapped

                source_path = os.path.join(base, str(case["source"]))
                if not os.path.isfile(source_path):
                    result.error = (f"{file}:{pos.at(path + ('source',))[0]}: source {case['source']}: "
                                    "not found (paths are relative to the test file)")
                    return result
                source = load_source(source_path, display=os.path.relpath(source_path))
                events = list(read_mapped(source, events_path, display=display))
            else:
                events = list(read_events(events_path, display=display))
        except EngineError as exc:
            result.error = str(exc)
            return result
    else:
        events = [SourceEvent(e, f"{file}:{pos.at(path + ('events', i))[0]}") for i, e in enumerate(case["events"])]
    try:
        engine = Engine(playbooks)
        actions = engine.run(events, until=case.get("until"))
    except EngineError as exc:
        result.error = str(exc)
        return result
    skipped = engine.summary.skipped
    if skipped:
        total = sum(p.count for p in skipped.values())
        lines = [f"{total} event{'' if total == 1 else 's'} cannot be read (a run would skip them; fix the events):"]
        samples = sorted((s for p in skipped.values() for s in p.samples), key=_source_order)
        lines.extend(f"  {source}: {message}" for source, message in samples)
        if len(samples) < total:
            lines.append(f"  ... and {total - len(samples)} more")
        result.error = "\n".join(lines)
        return result
    produced = [a.record() for a in actions]
    result.produced = produced
    pairs = _assign(expected, produced, tz)
    result.missing = [e for i, e in enumerate(expected) if i not in pairs]
    used = set(pairs.values())
    if case.get("exact", True):
        result.unexpected = [p for j, p in enumerate(produced) if j not in used]
    result.passed = not result.missing and not result.unexpected
    return result


def _source_order(sample: tuple[str, str]) -> tuple[str, int]:
    source = sample[0]
    name, _, line = source.rpartition(":")
    return (name, int(line)) if line.isdigit() else (source, 0)


def _assign(expected: list[dict[str, Any]], produced: list[dict[str, Any]], tz: Any) -> dict[int, int]:
    """Match each expected entry to a distinct produced action (maximum bipartite matching)."""
    fits = [[j for j, rec in enumerate(produced) if matches(e, rec, tz)] for e in expected]
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in fits[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(len(expected)):
        augment(i, set())
    return {i: j for j, i in owner.items()}


def matches(expected: Any, actual: Any, tz: Any = None, field_name: str = "") -> bool:
    """Does a produced value satisfy an expected one? Mappings match on the keys listed."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        return all(k in actual and matches(v, actual[k], tz, k) for k, v in expected.items()) and (
            field_name != "subject" or set(expected) == set(actual)
        )
    if field_name in TIME_FIELDS and isinstance(expected, (str, int, float)) and not isinstance(expected, bool) and actual is not None:
        try:
            zone = tz or UTC
            return bool(parse_time(expected, zone) == parse_time(actual, zone))
        except TimeError:
            return False
    return equals(expected, actual)


def _nearest(entry: dict[str, Any], produced: list[dict[str, Any]], tz: Any = None) -> dict[str, Any] | None:
    """The produced action that agrees with ``entry`` on the most fields (the rule counting double)."""
    best, best_score = None, 0
    for rec in produced:
        score = sum(1 for k, v in entry.items() if k in rec and matches(v, rec[k], tz, k))
        if "rule" in entry and rec.get("rule") == entry["rule"]:
            score += 1
        if score > best_score:
            best, best_score = rec, score
    return best


def _differences(entry: dict[str, Any], rec: dict[str, Any], tz: Any = None) -> list[str]:
    return [k for k, v in entry.items() if not (k in rec and matches(v, rec[k], tz, k))]


# -- the side-by-side table ------------------------------------------------------------------

#: The widest an "expected" cell grows before the "produced" column stops aligning with it.
MAX_CELL = 44


def side_by_side(entry: dict[str, Any], rec: dict[str, Any], tz: Any = None) -> list[str]:
    """Rows of field, expected value, ``==``/``!=``, produced value, for the fields ``entry`` lists.

    A mapping (``params``, ``trigger``, ``subject``) takes one row per key it lists;
    a subject shows the produced keys too, since it must match exactly.
    """
    rows: list[tuple[str, str, bool, str]] = []
    for name, want in entry.items():
        have = rec.get(name)
        if isinstance(want, dict) and isinstance(have, dict) and want:
            keys = list(want) + ([k for k in have if k not in want] if name == "subject" else [])
            for i, sub in enumerate(keys):
                left = f"{_json(sub)}: {_json(want[sub])}" if sub in want else ABSENT
                right = f"{_json(sub)}: {_json(have[sub])}" if sub in have else ABSENT
                same = sub in want and sub in have and matches(want[sub], have[sub], tz, sub)
                rows.append((name if i == 0 else "", left, same, right))
            continue
        right = _json(have) if name in rec else ABSENT
        rows.append((name, _json(want), name in rec and matches(want, have, tz, name), right))
    label_w = max([len("field")] + [len(r[0]) for r in rows])
    cell_w = min(MAX_CELL, max([len("expected")] + [len(r[1]) for r in rows]))
    out = [f"  {'field'.ljust(label_w)}  {'expected'.ljust(cell_w)}     produced"]
    for label, left, same, right in rows:
        out.append(f"  {label.ljust(label_w)}  {left.ljust(cell_w)}  {'==' if same else '!='} {right}")
    return out


# -- JUnit XML ---------------------------------------------------------------------------------


def junit_xml(files: list[FileResult]) -> str:
    """The results as JUnit XML (one testsuite per file), for CI systems.

    A file that could not run is one test case in error, carrying its diagnostics.
    No timings, so the same results give the same bytes.
    """
    total = sum(max(len(f.cases), 1 if f.errors else 0) for f in files)
    failures = sum(1 for f in files for c in f.cases if c.status == "fail")
    errors = sum(1 for f in files for c in f.cases if c.status == "error") + sum(1 for f in files if f.errors)
    root = ET.Element("testsuites", name="playbook test", tests=str(total), failures=str(failures), errors=str(errors))
    for f in files:
        suite = ET.SubElement(root, "testsuite", name=f.file)
        if f.errors:
            suite.set("tests", "1")
            suite.set("failures", "0")
            suite.set("errors", "1")
            case = ET.SubElement(suite, "testcase", classname=f.file, name="(load test file)", file=f.file)
            err = ET.SubElement(case, "error", message=str(f.errors[0]), type="PlaybookError")
            err.text = "\n".join(str(d) for d in f.errors)
            continue
        suite.set("tests", str(len(f.cases)))
        suite.set("failures", str(sum(1 for c in f.cases if c.status == "fail")))
        suite.set("errors", str(sum(1 for c in f.cases if c.status == "error")))
        for c in f.cases:
            case = ET.SubElement(suite, "testcase", classname=f.file, name=c.name, file=f.file, line=str(c.line))
            if c.status != "pass":
                tag = "failure" if c.status == "fail" else "error"
                node = ET.SubElement(case, tag, message=c.headline(), type="ActionsDiffer" if tag == "failure" else "CaseError")
                node.text = c.report()
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
