"""Source mappings: a declared file that says how the records of an export become events.

A source file (YAML, ``schemas/source.schema.json``) is loaded like a playbook: every
problem at once, each at its FILE:LINE:COL. :func:`read_mapped` then reads an events
file (CSV, JSON Lines, JSON array, Parquet; gzipped or not) through it and yields
:class:`SourceEvent` objects the engine reads as any event. Every record is counted
(:class:`MappingCounts`): mapped, dropped (by ``drop``), no type matched, or invalid
with its reason and place (``file:line``; ``file:row N`` for Parquet and JSON arrays).
"""

from __future__ import annotations

import ast
import os
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import Diagnostic, PlaybookError, UsageError
from ..expressions import EvalError, ExprError, Expression, Scope, _tilde_to_plus, compile_expression, truthy
from ..loader import Positions, load_yaml, read_yaml_file
from ..messages import describe, did_you_mean, suggest_timezone
from ..summary import Problem
from ..timecalc import TimeError, format_time, local_to_us, parse_time
from .functions import TimeReader, check_time_format, mapping_functions
from .readers import (
    MAX_DEPTH,
    MAX_LINE_BYTES,
    SourceEvent,
    _suspicious,
    check_max_line_bytes,
    csv_data,
    csv_rows,
    csv_text_lines,
    event_problem,
    open_binary,
    read_jsonl_binary,
)

#: The formats a source reads.
SOURCE_FORMATS = ("csv", "jsonl", "json", "parquet")
#: The name a source's expressions read the input record by.
RECORD = "record"
_RESERVED = frozenset({RECORD})
#: Largest source file read (bytes): a mapping is small.
MAX_SOURCE_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class FieldMap:
    """One event field: from an expression, or from a column (as it is, or read as a time)."""

    name: str
    expression: Expression | None = None
    column: str | None = None
    time: TimeReader | None = None
    place: tuple[int, int] = (0, 0)  # line, column of the value in the source file


@dataclass(frozen=True, slots=True)
class TypeRule:
    when: Expression | None  # None: the default (the last rule)
    type: str


@dataclass(frozen=True, slots=True)
class ColumnRef:
    """A column an expression or ``from:`` names, with its place in the source file."""

    name: str
    place: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Source:
    """A loaded source mapping (see docs/sources.md)."""

    name: str
    file: str
    format: str | None
    timezone: tzinfo
    timezone_name: str
    fields: tuple[FieldMap, ...]
    type_rules: tuple[TypeRule, ...] | None  # None: the type comes from the event's own 'type' field
    constant_type: str | None
    drop: Expression | None
    pass_through: bool
    tables: Mapping[str, Mapping[str, Any]]
    columns: tuple[ColumnRef, ...]  # every constant column named, for the check against a header
    nested: tuple[ColumnRef, ...] = ()  # every constant key named inside a value (record.a.b: 'b')

    def format_for(self, path: str) -> str:
        """The format this source reads ``path`` in: its own ``format``, else the file's name."""
        return self.format or detect_source_format(path)


def detect_source_format(path: str) -> str:
    """``csv``, ``json``, ``parquet`` or ``jsonl`` from a file name (``.gz`` allowed)."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".json"):
        return "json"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    return "jsonl"


# --- loading ----------------------------------------------------------------------


def load_source(path: str, display: str | None = None) -> Source:
    """Load and check a source file; raises :class:`PlaybookError` listing every problem
    with its FILE:LINE:COL."""
    name = display or path
    text = read_yaml_file(path, name, MAX_SOURCE_BYTES)[0]
    return load_source_text(text, name)


def load_source_text(text: str, file: str = "<source>") -> Source:
    """:func:`load_source` from the file's text."""
    from ..schema import validate_source

    data, positions = load_yaml(text, file)
    if not isinstance(data, dict):
        raise PlaybookError([Diagnostic(file, 1, 1, f"a source file is a mapping (source:, fields:, ...), not {describe(data)}")])
    errors = validate_source(data, positions)
    if errors:
        raise PlaybookError(errors)
    return _Builder(data, positions, file).build()


class _Builder:
    def __init__(self, data: dict[str, Any], positions: Positions, file: str):
        self.data = data
        self.positions = positions
        self.file = file
        self.errors: list[Diagnostic] = []
        self.columns: list[ColumnRef] = []
        self.nested: list[ColumnRef] = []  # keys read inside a record's values (record.a.b: 'b')
        self.tables: dict[str, dict[str, Any]] = {}

    def build(self) -> Source:
        data = self.data
        tz_name = data.get("timezone", "UTC")
        try:
            tz: tzinfo = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            self.errors.append(self.positions.diag(("timezone",), f"unknown time zone {tz_name!r}{suggest_timezone(tz_name)}"))
            tz = ZoneInfo("UTC")
        for table, pairs in (data.get("tables") or {}).items():
            self.tables[table] = {str(k): v for k, v in pairs.items()}
        fields = tuple(self.field(name, spec, tz) for name, spec in (data.get("fields") or {}).items())
        rules: tuple[TypeRule, ...] | None = None
        constant: str | None = None
        given = data.get("type")
        if isinstance(given, str):
            constant = given
        elif isinstance(given, list):
            rules = tuple(self.type_rules(given))
        drop = self.expression(data["drop"], ("drop",)) if "drop" in data else None
        if self.errors:
            raise PlaybookError(self.errors)
        return Source(
            name=data["source"], file=self.file, format=data.get("format"), timezone=tz, timezone_name=tz_name,
            fields=fields, type_rules=rules, constant_type=constant, drop=drop,
            pass_through=bool(data.get("pass_through", False)), tables=self.tables, columns=tuple(self.columns),
            nested=tuple(self.nested))

    def expression(self, text: str, path: tuple[Any, ...]) -> Expression | None:
        try:
            expr = compile_expression(text, _RESERVED, functions=mapping_functions(self.tables), tilde=True)
        except ExprError as exc:
            self.errors.append(self.at(path, exc.offset, exc.message))
            return None
        self.note_columns(expr, path)
        return expr

    def at(self, path: tuple[Any, ...], offset: int, message: str) -> Diagnostic:
        """A diagnostic at ``offset`` characters into the expression at ``path`` (as the
        playbook compiler places them: a later line of a block scalar by its line)."""
        line, col = self.positions.at(path)
        text = self.text_at(path)
        before = text[:max(0, min(offset, len(text)))]
        newlines = before.count("\n")
        if newlines == 0:
            col += self.positions.expr_offset(path) + len(before)
        else:
            line += newlines + (1 if self.positions.styles.get(tuple(path)) in ("|", ">") else 0)
        return Diagnostic(self.file, line, col, f"invalid expression: {message}")

    def text_at(self, path: tuple[Any, ...]) -> str:
        value: Any = self.data
        for step in path:
            value = value[step]
        return value if isinstance(value, str) else ""

    def note_columns(self, expr: Expression, path: tuple[Any, ...]) -> None:
        """The columns an expression names as constants (``record['X']``, ``record.X``,
        a bare name), for the check against a CSV header or a Parquet schema."""
        text = _tilde_to_plus(expr.source)[0]  # only the operators: a '~' inside a name or text stays
        try:
            tree = ast.parse("(" + text + "\n)", mode="eval")
        except SyntaxError:
            return
        line, col = self.positions.at(path)
        lead = self.positions.expr_offset(path)
        calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        for node in ast.walk(tree):
            name: str | None = None
            where: ast.AST = node
            nested = False
            if isinstance(node, ast.Subscript) and _from_record(node.value):
                if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                    name, where = node.slice.value, node.slice
                    nested = not isinstance(node.value, ast.Name)
            elif isinstance(node, ast.Attribute) and _from_record(node.value):
                name = node.attr
                nested = not isinstance(node.value, ast.Name)
            elif (isinstance(node, ast.Name) and node.id != RECORD and id(node) not in calls
                  and node.id not in ("true", "false", "null", "True", "False", "None")):
                name = node.id
            if name is None:
                continue
            offset = _offset(text, getattr(where, "lineno", 1), getattr(where, "col_offset", 1)) - 1
            (self.nested if nested else self.columns).append(ColumnRef(name, (line, col + lead + max(offset, 0))))

    def field(self, name: str, spec: Any, tz: tzinfo) -> FieldMap:
        path = ("fields", name)
        place = self.positions.at(path)
        if isinstance(spec, str):
            return FieldMap(name, expression=self.expression(spec, path), place=place)
        column = spec["from"]
        self.columns.append(ColumnRef(column, self.positions.at((*path, "from"))))
        fmt = spec.get("format")
        if fmt is None:
            return FieldMap(name, column=column, place=place)
        problem = check_time_format(fmt)
        if problem is not None:
            self.errors.append(self.positions.diag((*path, "format"), problem))
        return FieldMap(name, column=column, time=TimeReader(fmt, tz), place=place)

    def type_rules(self, items: list[Any]) -> Iterator[TypeRule]:
        for i, item in enumerate(items):
            path = ("type", i)
            if "default" in item:
                if set(item) != {"default"}:
                    self.errors.append(self.positions.diag(path, "a default stands alone: {default: TYPE}, "
                                                                 "as the last item (no 'when' or 'is' beside it)"))
                elif i != len(items) - 1:
                    self.errors.append(self.positions.diag(path, "the default must be the last item: the rules "
                                                                 "after it would never be tried"))
                else:
                    yield TypeRule(None, item["default"])
                continue
            missing = [k for k in ("when", "is") if k not in item]
            if missing:
                hint = " (to keep the records no rule matches, end the list with {default: TYPE})" if "when" in missing else ""
                self.errors.append(self.positions.diag(path, f"a type rule needs {' and '.join(repr(k) for k in missing)}{hint}"))
                continue
            when = self.expression(item["when"], (*path, "when"))
            if when is not None:
                yield TypeRule(when, item["is"])


def _from_record(node: ast.AST) -> bool:
    """Whether ``node`` is ``record`` or a path into it (``record.a``, ``record['a'][0]``)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return isinstance(node, ast.Name) and node.id == RECORD


def _offset(text: str, lineno: int, col: int) -> int:
    """A character offset into ``text`` from a position in ``"(" + text + "\\n)"``."""
    lines = ("(" + text).split("\n")
    before = sum(len(s) + 1 for s in lines[: lineno - 1])
    line = lines[lineno - 1] if lineno - 1 < len(lines) else ""
    chars = len(line.encode("utf-8")[:col].decode("utf-8", "ignore"))
    return before + chars


# --- counts -----------------------------------------------------------------------


@dataclass
class MappingCounts:
    """What became of every record of one events file read through one source."""

    source: str
    file: str
    records: int = 0
    mapped: int = 0
    dropped: Problem = field(default_factory=Problem)
    unmatched: Problem = field(default_factory=Problem)
    invalid: Problem = field(default_factory=Problem)

    def to_dict(self) -> dict[str, Any]:
        def problem(p: Problem) -> dict[str, Any]:
            return {"count": p.count, "examples": [{"source": s, "message": m} for s, m in p.samples]}

        return {"source": self.source, "file": self.file, "records": self.records, "mapped": self.mapped,
                "dropped": problem(self.dropped), "unmatched": problem(self.unmatched), "invalid": problem(self.invalid)}


# --- reading ----------------------------------------------------------------------


class MappedEvents:
    """The events of one file read through a source, as :class:`SourceEvent` objects
    (``file:line`` places); iterate once. ``counts`` fills in as it is read;
    ``pairs()`` gives each input record beside its outcome (for ``sources check``)."""

    def __init__(self, source: Source, path: str, *, display: str | None = None,
                 max_line_bytes: int = MAX_LINE_BYTES):
        self.source = source
        self.path = path
        self.name = display or ("<stdin>" if path == "-" else path)
        self.format = "jsonl" if path == "-" and source.format is None else source.format_for(path)
        self.max_line_bytes = check_max_line_bytes(max_line_bytes)
        if path != "-" and not os.path.exists(path):
            raise UsageError(f"{path}: no such file")
        if self.format == "parquet":
            _pyarrow()  # say now, not at the first record, that the extra is missing
        self.counts = MappingCounts(source.name, self.name)
        #: After ``pairs(check=True)``: what the check found suspicious though no record is invalid for it.
        self.warnings: list[str] = []

    def __iter__(self) -> Iterator[SourceEvent]:
        for _record, event in self.pairs():
            if event is not None:
                yield event

    def pairs(self, check: bool = False) -> Iterator[tuple[Any, SourceEvent | None]]:
        """(input record, its event or None when dropped); an invalid or unmatched record's
        event has an ``error``. The record is None where it could not be read.

        ``check``: also apply the engine's own check to each event (a JSON object with a
        ``type``, a ``time`` it reads, values within the limits), as a playbook with the
        default field names would; an event failing it is counted invalid with the reason
        (``sources check``). Names the mapping reads that no record has are then in
        :attr:`warnings` at the end (JSON Lines and JSON: CSV and Parquet check columns)."""
        mapper = _Mapper(self.source, self.counts)
        counts = self.counts
        tz = self.source.timezone
        keys: set[str] | None = set() if check and self.format in ("jsonl", "json") else None
        for place, record, error, notes in _records(self.path, self.name, self.format, self.max_line_bytes, mapper):
            event = mapper.map(place, record, error, notes)
            if check and event is not None and event.error is None:
                problem = engine_check(event.data, tz)
                if problem is not None:
                    counts.mapped -= 1
                    counts.invalid.add(place, problem)
                    event = SourceEvent(None, place, f"{mapper.label}: {problem}")
            if keys is not None and isinstance(record, dict) and len(keys) < _MAX_KEYS_SEEN:
                _collect_keys(record, keys)
            yield record, event
        if keys is not None and counts.records:
            self.warnings.extend(_unseen_names(self.source, keys))


_MAX_KEYS_SEEN = 10_000


def engine_check(data: Any, tz: tzinfo) -> str | None:
    """Why the engine would skip this mapped event (with a playbook's default field names
    ``type`` and ``time``), or None."""
    if not isinstance(data, dict):
        return "not a JSON object"
    etype = data.get("type")
    if not isinstance(etype, str) or not etype:
        return "missing 'type'" if etype is None else "'type' must be a non-empty string"
    raw = data.get("time")
    if raw is None:
        return "missing 'time': map a time field (see {from: COLUMN, format: ...})"
    try:
        parse_time(raw, tz)
    except TimeError as exc:
        return f"bad 'time': {exc} (read it with {{from: COLUMN, format: ...}} or parse_time())"
    return event_problem(data)


def _collect_keys(value: Any, keys: set[str], depth: int = 0) -> None:
    if depth > 8:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            keys.add(str(k))
            if isinstance(v, (dict, list)):
                _collect_keys(v, keys, depth + 1)
    elif isinstance(value, list):
        for v in value[:20]:
            _collect_keys(v, keys, depth + 1)


def _unseen_names(source: Source, keys: set[str]) -> Iterator[str]:
    """A warning for each name the mapping reads that no record checked has as a key."""
    done: set[str] = set()
    for ref in (*source.columns, *source.nested):
        if ref.name in keys or ref.name in done:
            continue
        done.add(ref.name)
        yield (f"{source.file}:{ref.place[0]}:{ref.place[1]}: no record checked has a key {ref.name!r}"
               f"{did_you_mean(ref.name, keys)}: it reads as null")


def read_mapped(source: Source | str, path: str, *, display: str | None = None,
                max_line_bytes: int = MAX_LINE_BYTES) -> MappedEvents:
    """The events of ``path`` read through ``source`` (a :class:`Source`, or a source
    file's path), for :meth:`Engine.run` or :meth:`Engine.stream`; the counts are in
    the result's ``counts`` once it is read."""
    if isinstance(source, str):
        source = load_source(source)
    return MappedEvents(source, path, display=display, max_line_bytes=max_line_bytes)


class _Mapper:
    """Maps one record after another (one scope reused: the hot loop of a mapped run)."""

    def __init__(self, source: Source, counts: MappingCounts):
        self.source = source
        self.counts = counts
        self.scope = Scope({}, None, source.timezone)
        self.label = f"source {source.name}"
        self.checked = False

    def check_columns(self, columns: list[str], where: str) -> None:
        """At the first record of a file with a header (CSV) or a schema (Parquet): every
        column the source names must exist; a misspelt one is an error at its place."""
        if self.checked:
            return
        self.checked = True
        have = set(columns)
        shown = ", ".join(repr(c) for c in columns[:30]) + (", ..." if len(columns) > 30 else "")
        errors = [Diagnostic(self.source.file, ref.place[0], ref.place[1],
                             f"no column {ref.name!r} in {where}{did_you_mean(ref.name, have)}; columns: {shown}")
                  for ref in self.source.columns if ref.name not in have]
        if errors:
            raise PlaybookError(errors)

    def map(self, place: str, record: Any, error: str | None, notes: tuple[str, ...] = ()) -> SourceEvent | None:
        counts = self.counts
        counts.records += 1
        if error is not None:
            counts.invalid.add(place, error)
            return SourceEvent(None, place, f"{self.label}: {error}")
        source = self.source
        scope = self.scope
        scope.vars[RECORD] = record
        scope.bare = record
        what = "drop"
        try:
            if source.drop is not None and truthy(source.drop.evaluate(scope)):
                counts.dropped.add(place, "drop")
                return None
            event: dict[str, Any] = dict(record) if source.pass_through else {}
            for fm in source.fields:
                what = f"field {fm.name!r}"
                if fm.expression is not None:
                    value = fm.expression.evaluate(scope)
                    if value is None:  # absent, which reads as null: one mapping, several event shapes
                        event.pop(fm.name, None)
                    else:
                        event[fm.name] = value
                    continue
                value = record.get(fm.column)
                if fm.time is None:
                    if value is None:
                        event.pop(fm.name, None)
                    else:
                        event[fm.name] = value
                elif value is None or value == "":
                    raise EvalError(f"no time in column {fm.column!r}")
                else:
                    try:
                        event[fm.name] = format_time(fm.time(value))
                    except ValueError as exc:
                        raise EvalError(f"column {fm.column!r}: {exc}") from None
            what = "type"
            if source.constant_type is not None:
                event["type"] = source.constant_type
            elif source.type_rules is not None:
                for rule in source.type_rules:
                    if rule.when is None or truthy(rule.when.evaluate(scope)):
                        event["type"] = rule.type
                        break
                else:  # skipped by the engine as any bad input (with its place, toward --max-skipped, refused by strict)
                    counts.unmatched.add(place, "no type rule matched")
                    return SourceEvent(None, place, f"{self.label}: no type rule matched (to keep such records, "
                                                    "end the type list with {default: TYPE}; to leave them out, drop them)")
        except EvalError as exc:
            message = f"{what}: {exc}"
            counts.invalid.add(place, message)
            return SourceEvent(None, place, f"{self.label}: {message}")
        counts.mapped += 1
        return SourceEvent(event, place, notes=notes) if notes else SourceEvent(event, place)


def _records(path: str, name: str, fmt: str, max_line_bytes: int,
             mapper: _Mapper) -> Iterator[tuple[str, Any, str | None, tuple[str, ...]]]:
    """(place, record, error, notes on damaged input) for each record of the file."""
    if fmt == "csv":
        yield from _csv_records(path, name, mapper, max_line_bytes)
    elif fmt == "jsonl":
        try:
            with _closing(open_binary(path), path) as fh:
                for ev in read_jsonl_binary(fh, name, max_line_bytes):
                    yield ev.source, ev.data, ev.error, ev.notes
        except (OSError, EOFError, zlib.error) as exc:
            raise UsageError(f"{path}: cannot read further: {exc}") from None
    elif fmt == "json":
        yield from _json_records(path, name)
    elif fmt == "parquet":
        yield from _parquet_records(path, name, mapper)
    else:
        raise UsageError(f"unknown source format {fmt!r}: use one of {', '.join(SOURCE_FORMATS)}")


class _closing:
    def __init__(self, fh: Any, path: str):
        self.fh, self.path = fh, path

    def __enter__(self) -> Any:
        return self.fh

    def __exit__(self, *exc: object) -> None:
        if self.path != "-":
            self.fh.close()


def _csv_records(path: str, name: str, mapper: _Mapper,
                 max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[str, Any, str | None, tuple[str, ...]]]:
    """CSV rows as {column: text} (every cell text, empty cells ''), each at the line it starts on;
    with ``pass_through``, as the plain CSV reader reads them (:func:`csv_data`).

    Lines longer than ``max_line_bytes`` are invalid records, read past, never held whole;
    invalid UTF-8 is read as U+FFFD and noted on the record (counted; ``strict`` refuses it)."""
    too_long: list[tuple[int, int]] = []
    damaged: dict[int, str] = {}

    def lines(fh: Any) -> Iterator[str]:
        return csv_text_lines(fh, max_line_bytes, lambda lineno, size: too_long.append((lineno, size)), damaged)

    def long_lines() -> Iterator[tuple[str, Any, str | None, tuple[str, ...]]]:
        for lineno, size in too_long:
            yield (f"{name}:{lineno}", None, f"line too long: {size:,} bytes, more than the limit of "
                   f"{max_line_bytes:,} (raise it with --max-line-bytes)", ())
        too_long.clear()

    def notes(first: int, last: int) -> tuple[str, ...]:
        return tuple(damaged.pop(n) for n in range(first, last + 1) if n in damaged)

    try:
        with _closing(open_binary(path), path) as fh:
            rows = csv_rows(lines(fh))
            first_row = next(rows, None)
            if first_row is not None and first_row[1] is None:
                raise UsageError(f"{name}:1: invalid CSV header: {first_row[2]}")
            if too_long:
                raise UsageError(f"{name}:1: the CSV header is longer than {max_line_bytes:,} bytes "
                                 "(raise the limit with --max-line-bytes)")
            if first_row is None:
                return
            header = [h.strip() for h in first_row[1] or ()]
            seen: set[str] = set()
            for h in header:
                if h in seen and h:  # (unnamed columns, a trailing comma's, cannot be read by name anyway)
                    raise UsageError(f"{name}:1: the CSV header names the column {h!r} twice: rename one")
                seen.add(h)
            mapper.check_columns(header, name)
            width = len(header)
            # pass_through: the rows as the plain CSV reader gives them (typed, empty cells absent,
            # dotted headers nested), so that a log in the engine's shape maps through unchanged
            paths = [h.split(".") for h in header] if mapper.source.pass_through else None
            if paths and max(len(p) for p in paths) > MAX_DEPTH:
                raise UsageError(f"{name}:1: invalid CSV header: a column name has more than {MAX_DEPTH} dotted parts")
            for lineno, row, damage, consumed in rows:
                if too_long:
                    yield from long_lines()
                place = f"{name}:{lineno}"
                if row is None:  # (its other lines are read again: their notes stay for them)
                    notes(lineno, lineno)
                    yield place, None, damage, ()
                    continue
                found = notes(consumed[0][0], consumed[-1][0]) if damaged and consumed else ()
                n = len(row)
                if paths is not None and 0 < n <= width and any(cell.strip() for cell in row):
                    noted = list(found)
                    data = csv_data(paths, row, noted)
                    yield place, data, None, tuple(dict.fromkeys(noted))
                elif n == width:
                    yield place, dict(zip(header, row, strict=True)), None, found
                elif n == 0 or not any(row):
                    continue  # a blank line
                elif n > width:
                    yield place, None, f"{n} cells but the header names {width} columns", ()
                else:
                    yield place, dict(zip(header, row + [""] * (width - n), strict=True)), None, found
            yield from long_lines()
    except (OSError, EOFError, zlib.error) as exc:
        raise UsageError(f"{path}: cannot read further: {exc}") from None


def _json_records(path: str, name: str) -> Iterator[tuple[str, Any, str | None, tuple[str, ...]]]:
    """A JSON array of objects (read whole: exports in this shape are small), each at its row number."""
    import orjson

    try:
        with _closing(open_binary(path), path) as fh:
            raw = fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{name}: not JSON ({exc}); a source of format json reads one array of objects "
                         "(for one object per line, use format: jsonl)") from None
    if not isinstance(data, list):
        raise UsageError(f"{name}: a source of format json reads one array of objects, not {describe(data)}")
    if any(map(_suspicious, data)):  # an integer beyond 64 bits, which orjson reads as a float: as JSON Lines does
        import json

        try:
            data = json.loads(raw.decode("utf-8", "replace"))
        except ValueError as exc:
            raise UsageError(f"{name}: cannot read: {exc}") from None
    for i, item in enumerate(data, 1):
        if isinstance(item, dict):
            yield f"{name}:row {i}", item, None, ()
        else:
            yield f"{name}:row {i}", None, f"not a JSON object: {describe(item)}", ()


def _pyarrow() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError("reading Parquet needs pyarrow: pip install 'playbook-engine[parquet]' "
                         "(or pip install pyarrow)") from None
    return pq


#: Rows read from a Parquet file at a time (a row group can hold a million rows).
PARQUET_BATCH_ROWS = 4096


def _parquet_records(path: str, name: str, mapper: _Mapper) -> Iterator[tuple[str, Any, str | None, tuple[str, ...]]]:
    """Parquet rows, a batch of rows at a time (never a whole row group in memory), each at its row number.

    Columns are converted one at a time: a column of a type that cannot be read is read as
    text (noted on the records when the mapping reads it), never the whole row refused."""
    pq = _pyarrow()
    import pyarrow as pa

    source = mapper.source
    named = {ref.name for ref in source.columns}
    try:
        if path.lower().endswith(".gz"):  # Parquet needs to seek: a gzipped file is read into memory first
            with _closing(open_binary(path), path) as fh:
                handle: Any = pa.BufferReader(fh.read())
        else:
            handle = path
        pf = pq.ParquetFile(handle)
        names = list(pf.schema_arrow.names)
        mapper.check_columns(names, name)
        n = 0
        for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            columns: list[list[Any]] = []
            column_notes: list[dict[int, str]] = []
            for column_name, array in zip(batch.schema.names, batch.columns, strict=True):
                values, noted = _parquet_column(pa, array, column_name, source.timezone)
                columns.append(values)
                if noted and (source.pass_through or column_name in named):
                    column_notes.append(noted)
            keys = batch.schema.names
            for j in range(batch.num_rows):
                n += 1
                found = tuple(c[j] for c in column_notes if j in c) if column_notes else ()
                yield f"{name}:row {n}", {k: c[j] for k, c in zip(keys, columns, strict=True)}, None, found
    except (OSError, pa.ArrowException, zlib.error, EOFError) as exc:
        raise UsageError(f"{name}: cannot read as Parquet: {exc}") from None


def _parquet_column(pa: Any, array: Any, column: str, tz: tzinfo) -> tuple[list[Any], dict[int, str]]:
    """A Parquet column as JSON-like values, and notes by row on what could not be read as it is."""
    kind = array.type
    if pa.types.is_timestamp(kind) and kind.unit == "ns":  # Python's datetime holds microseconds: truncate
        array = array.cast(pa.timestamp("us", kind.tz), safe=False)
    notes: dict[int, str] = {}
    try:
        raw = array.to_pylist()
    except (pa.ArrowException, ValueError, OverflowError) as exc:
        try:
            raw = array.cast(pa.string()).to_pylist()
        except (pa.ArrowException, ValueError, OverflowError):
            note = f"column {column!r}: values of type {kind} cannot be read ({exc}): read as null"
            return [None] * len(array), {j: note for j in range(len(array))}
        note = f"column {column!r}: values of type {kind} read as text"
        return raw, {j: note for j, v in enumerate(raw) if v is not None}
    out: list[Any] = []
    for j, value in enumerate(raw):
        try:
            out.append(_plain(value, tz))
        except UnicodeDecodeError:
            out.append(_plain(value, tz, "replace"))
            notes[j] = (f"column {column!r}: invalid UTF-8 read as U+FFFD (two different values may now "
                        "read the same)")
        except ValueError as exc:
            out.append(str(value))
            notes[j] = f"column {column!r}: {exc}: read as text"
    return out, notes


def _plain(value: Any, tz: tzinfo = UTC, errors: str = "strict") -> Any:
    """A Parquet value as a JSON-like one: times as RFC 3339 text (a time without a zone
    read in ``tz``), decimals as numbers. Raises UnicodeDecodeError for bytes that are
    not UTF-8, ValueError for a type it cannot read."""
    t = type(value)
    if t is str or t is int or t is float or t is bool or value is None:
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return format_time(local_to_us(value, tz))
        return format_time((value - _EPOCH) // _ONE_US)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors)
    if isinstance(value, list):
        return [_plain(v, tz, errors) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, tz, errors) for k, v in value.items()}
    if isinstance(value, tuple):  # a Parquet map: (key, value) pairs
        return [_plain(v, tz, errors) for v in value]
    raise ValueError(f"a value of type {t.__name__} cannot be read as it is")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)

__all__ = ["SOURCE_FORMATS", "MappedEvents", "MappingCounts", "Source", "detect_source_format",
           "load_source", "load_source_text", "read_mapped"]
