"""Playbook test files (section 11): cases of events in, expected actions out.

A test file names its playbooks (relative to itself) and lists cases. Each case
runs the playbooks over its events; every expected entry must match a distinct
produced action on the fields it lists, and with ``exact`` (the default) no
other action may be produced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from .compiler import load_playbook
from .engine import Engine
from .errors import Diagnostic, EngineError, PlaybookError
from .expressions import equals
from .loader import Positions, load_yaml_file
from .model import Playbook
from .sources import SourceEvent, read_events
from .timecalc import TimeError, parse_time

TIME_FIELDS = frozenset({"at", "deadline", "time"})
CASE_KEYS = frozenset({"name", "events", "events_file", "until", "expect", "exact", "description"})


@dataclass
class CaseResult:
    file: str
    name: str
    line: int
    passed: bool
    expected: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)      # expected entries with no action
    unexpected: list[dict[str, Any]] = field(default_factory=list)   # produced actions not listed (exact)
    produced: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def report(self) -> str:
        """What was expected and what was produced, for a failing case."""
        if self.passed:
            return ""
        lines = []
        if self.error:
            lines.append(f"  error: {self.error}")
        for entry in self.missing:
            lines.append(f"  expected, not produced: {_short(entry)}")
            near = _nearest(entry, self.produced)
            if near is not None:
                diffs = _differences(entry, near)
                lines.append(f"    nearest produced:     {_short({k: near.get(k) for k in entry})}")
                if diffs:
                    lines.append(f"    differs in:           {', '.join(diffs)}")
        for rec in self.unexpected:
            lines.append(f"  produced, not expected: {_short(_brief(rec))}")
        return "\n".join(lines)


def _short(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def _brief(rec: dict[str, Any]) -> dict[str, Any]:
    keep = ("rule", "outcome", "reason", "at", "key", "subject", "do", "params")
    return {k: rec[k] for k in keep if rec.get(k) not in (None, {}, "")}


def run_test_file(path: str) -> list[CaseResult]:
    """Run every case of one test file. A bad file or playbook raises PlaybookError."""
    data, pos = load_yaml_file(path)
    errors: list[Diagnostic] = []
    if not isinstance(data, dict):
        raise PlaybookError([pos.diag((), "a test file must be a mapping with 'playbooks' and 'cases'")])
    for key in data:
        if key not in ("playbooks", "cases", "description"):
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
            playbooks.append(load_playbook(full, display=os.path.relpath(full)))
        except PlaybookError as exc:
            errors.extend(exc.diagnostics)
    for i, case in enumerate(cases):
        errors.extend(_check_case(case, pos, ("cases", i)))
    if errors:
        raise PlaybookError(errors)
    return [_run_case(path, base, playbooks, case, pos, ("cases", i)) for i, case in enumerate(cases)]


def _check_case(case: Any, pos: Positions, path: tuple[Any, ...]) -> list[Diagnostic]:
    if not isinstance(case, dict):
        return [pos.diag(path, "a case must be a mapping with name, events and expect")]
    out = [pos.diag(path + (k,), f"unknown key '{k}' in a test case", key=True) for k in case if k not in CASE_KEYS]
    if not isinstance(case.get("name"), str):
        out.append(pos.diag(path, "a case needs a 'name'"))
    if ("events" in case) == ("events_file" in case):
        out.append(pos.diag(path, "a case needs 'events' (a list) or 'events_file' (a path), not both"))
    elif "events" in case and not isinstance(case["events"], list):
        out.append(pos.diag(path + ("events",), "'events' must be a list of events"))
    expect = case.get("expect", [])
    if not isinstance(expect, list) or not all(isinstance(e, dict) for e in expect):
        out.append(pos.diag(path + ("expect",), "'expect' must be a list of mappings (fields an action must have)"))
    if "exact" in case and not isinstance(case["exact"], bool):
        out.append(pos.diag(path + ("exact",), "'exact' must be true or false"))
    return out


def _run_case(file: str, base: str, playbooks: list[Playbook], case: dict[str, Any], pos: Positions, path: tuple[Any, ...]) -> CaseResult:
    name = case["name"]
    line = pos.at(path)[0]
    expected = case.get("expect") or []
    result = CaseResult(file, name, line, False, expected=list(expected))
    events: list[Any]
    if "events_file" in case:
        try:
            events = list(read_events(os.path.join(base, str(case["events_file"]))))
        except EngineError as exc:
            result.error = str(exc)
            return result
    else:
        events = [SourceEvent(e, f"{file}:{pos.at(path + ('events', i))[0]}") for i, e in enumerate(case["events"])]
    try:
        actions = Engine(playbooks).run(events, until=case.get("until"))
    except EngineError as exc:
        result.error = str(exc)
        return result
    produced = [a.record() for a in actions]
    result.produced = produced
    tz = playbooks[0].timezone if playbooks else None
    pairs = _assign(expected, produced, tz)
    result.missing = [e for i, e in enumerate(expected) if i not in pairs]
    used = set(pairs.values())
    if case.get("exact", True):
        result.unexpected = [p for j, p in enumerate(produced) if j not in used]
    result.passed = not result.missing and not result.unexpected
    return result


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


def _nearest(entry: dict[str, Any], produced: list[dict[str, Any]]) -> dict[str, Any] | None:
    best, best_score = None, -1
    for rec in produced:
        score = sum(1 for k, v in entry.items() if k in rec and matches(v, rec[k], None, k))
        if score > best_score and score > 0:
            best, best_score = rec, score
    return best


def _differences(entry: dict[str, Any], rec: dict[str, Any]) -> list[str]:
    return [k for k, v in entry.items() if not (k in rec and matches(v, rec[k], None, k))]


