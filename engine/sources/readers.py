"""Event sources: JSON Lines and CSV files (or streams), each event with its place.

Readers never stop at a bad line: a line that is not valid JSON becomes a
:class:`SourceEvent` with an ``error``, which the engine counts as skipped (or
raises, with ``strict``). Places are ``file:line``.
"""

from __future__ import annotations

import csv
import gzip
import heapq
import io
import itertools
import json
import os
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, cast

import orjson

from ..errors import UsageError

FORMATS = ("jsonl", "csv")

#: How deep an event may nest objects and lists (the event object itself is level 1).
#: Deeper events are skipped with their place: no walk over a value (a derived id, a
#: saved state, a rendering) may then run out of stack.
MAX_DEPTH = 100
#: The most digits an integer in an event may have (Python's limit for turning one into text).
MAX_INT_DIGITS = 4300
_BIG = 10**MAX_INT_DIGITS
#: The longest event line read, in bytes (its line ending not counted): a longer line is
#: skipped with its place, read past in chunks, never held whole (``--max-line-bytes``).
MAX_LINE_BYTES = 1 << 20
_SKIP_CHUNK = 1 << 16  # bytes read at a time past a line that is too long


@dataclass(slots=True)
class SourceEvent:
    """An event read from a source, with its ``file:line``; ``error`` when unreadable."""

    data: Any
    source: str
    error: str | None = None
    time: int | None = None  # the time already read by time_ordered (microseconds), to save reading it twice
    checked: bool = False  # the reader made sure the data passes value_problem (no need to look again)
    #: What was wrong with the input though the event could be read ("invalid UTF-8: ...", "duplicate
    #: key: ...", "NaN or Infinity: ...", "duplicate CSV column: ..."): counted in the summary, refused by strict.
    notes: tuple[str, ...] = ()


def value_problem(value: Any) -> str | None:
    """Why an event's value cannot be processed, or None: nested deeper than
    :data:`MAX_DEPTH` levels, or an integer longer than :data:`MAX_INT_DIGITS` digits.

    Iterative, so that it is itself safe for any depth.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, Mapping):
            children: Iterable[Any] = v.values()
        elif isinstance(v, (list, tuple, set, frozenset)):
            children = v
        elif isinstance(v, int) and not isinstance(v, bool):
            if not -_BIG < v < _BIG:
                return f"number too long: more than {MAX_INT_DIGITS} digits"
            continue
        else:
            continue
        if depth > MAX_DEPTH:
            return f"too deeply nested: more than {MAX_DEPTH} levels of objects and lists"
        for c in children:
            t = type(c)
            if t is not str and t is not float and t is not bool and c is not None:
                stack.append((c, depth + 1))
    return None


def event_problem(data: Any) -> str | None:
    """:func:`value_problem`, cheap for a flat object (the common event)."""
    if type(data) is dict:
        for v in data.values():
            t = type(v)
            if not (t is str or t is float or t is bool or v is None or (t is int and -_BIG < v < _BIG)):
                return value_problem(data)
        return None
    return value_problem(data)


def _bracket_problem(raw: bytes | str, data: Any) -> str | None:
    """:func:`value_problem` of a line's parsed value, looked at only when the line
    has more brackets than the depth limit (else it cannot nest that deep)."""
    n = raw.count(b"[") + raw.count(b"{") if isinstance(raw, bytes) else raw.count("[") + raw.count("{")
    if n <= MAX_DEPTH:
        return None
    problem = value_problem(data)
    if problem is not None and problem.startswith("too deeply nested"):
        return _too_deep(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw)
    return problem


def detect_format(path: str) -> str:
    """``jsonl`` or ``csv`` from a file name (``.gz`` allowed); JSON Lines otherwise."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return "csv" if name.endswith(".csv") else "jsonl"


def open_text(path: str) -> IO[str]:
    """Open a file (or ``-`` for stdin) as UTF-8 text; gzip by extension."""
    try:
        if path == "-":
            import sys

            return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="")
        if path.lower().endswith(".gz"):
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", errors="replace", newline="")
        return open(path, encoding="utf-8-sig", errors="replace", newline="")  # -sig: drop a BOM
    except OSError as exc:
        raise _cannot_open(path, exc) from None


def _cannot_open(path: str, exc: OSError) -> UsageError:
    """Why an event file cannot be opened, for the user."""
    if isinstance(exc, FileNotFoundError):
        return UsageError(f"{path}: no such file")
    if isinstance(exc, IsADirectoryError):
        return UsageError(f"{path}: is a directory, not an event file")
    return UsageError(f"{path}: cannot read ({exc.strerror})")


def read_sources(paths: Iterable[str], fmt: str | None = None, *,
                 max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[SourceEvent]:
    """The events of several sources, one after the other (each format by its name unless
    ``fmt``). For :meth:`Engine.run`, whose stable sort by time then orders equal times by
    the order of the sources, then by their order in each."""
    paths = list(paths)
    for path in paths:
        if path != "-" and not os.path.exists(path):
            raise UsageError(f"{path}: no such file")
    if paths.count("-") > 1:
        raise UsageError("stdin (-) can be read only once")
    for path in paths:
        yield from read_events(path, fmt, max_line_bytes=max_line_bytes)


def merge_ordered(streams: Iterable[Iterable[SourceEvent]], time_of: Callable[[Any], int | None]) -> Iterator[SourceEvent]:
    """One stream in time order from several, each in time order (as :func:`time_ordered`
    gives them): equal times in the order of the streams, then in each one's order.

    ``time_of`` reads an event's time where its reader did not (kept in ``SourceEvent.time``);
    events without a valid time (skipped anyway) pass as soon as they are read.
    """

    def timed(stream: Iterable[SourceEvent]) -> Iterator[SourceEvent]:
        for ev in stream:
            if ev.time is None and ev.error is None:
                ev.time = time_of(ev.data)
            yield ev

    return heapq.merge(*(timed(s) for s in streams), key=_merge_key)


def _merge_key(ev: SourceEvent) -> int:
    return -(1 << 62) if ev.time is None else ev.time


def open_binary(path: str) -> IO[bytes]:
    """Open a file (or ``-`` for stdin) as bytes; gzip by extension."""
    try:
        if path == "-":
            import sys

            return sys.stdin.buffer
        if path.lower().endswith(".gz"):
            return cast(IO[bytes], gzip.open(path, "rb"))
        return open(path, "rb")
    except OSError as exc:
        raise _cannot_open(path, exc) from None


def check_max_line_bytes(max_line_bytes: int) -> int:
    if isinstance(max_line_bytes, bool) or not isinstance(max_line_bytes, int) or max_line_bytes < 1:
        raise UsageError(f"max_line_bytes must be a positive number of bytes, not {max_line_bytes!r}")
    return max_line_bytes


def bounded_lines(fh: IO[bytes], limit: int = MAX_LINE_BYTES) -> Iterator[bytes | int]:
    """The lines of a binary stream (each with its line ending), or, for a line longer
    than ``limit`` bytes, its length (an ``int``): that line is read past in chunks
    of 64 KiB, so memory stays bounded by ``limit`` whatever the input."""
    readline = fh.readline
    while True:
        raw = readline(limit + 1)
        if not raw:
            return
        if len(raw) <= limit or raw[-1] == 10:
            yield raw
            continue
        yield _read_past(fh, raw)


def _read_past(fh: IO[bytes], raw: bytes) -> int:
    """The length of a line too long to keep, of which ``raw`` was read: the rest is read
    (past) in chunks of 64 KiB."""
    size = len(raw)
    while raw[-1] != 10:
        raw = fh.readline(_SKIP_CHUNK)
        if not raw:
            break
        size += len(raw)
    return size


def _too_long(source: str, size: int, limit: int) -> SourceEvent:
    return SourceEvent(None, source, f"line too long: {size:,} bytes, more than the limit of {limit:,} "
                                     "(raise it with --max-line-bytes)")


def read_events(path: str, fmt: str | None = None, *, display: str | None = None,
                max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[SourceEvent]:
    """Events from a JSON Lines or CSV file (``-`` is stdin, read as JSON Lines).

    A line longer than ``max_line_bytes`` is skipped with its place, never read whole.
    """
    fmt = fmt or ("jsonl" if path == "-" else detect_format(path))
    if fmt not in FORMATS:
        raise UsageError(f"unknown event format {fmt!r}: use one of {', '.join(FORMATS)}")
    check_max_line_bytes(max_line_bytes)
    name = display or ("<stdin>" if path == "-" else path)
    if path != "-" and not os.path.exists(path):
        raise UsageError(f"{path}: no such file")
    stream = open_binary(path)
    try:
        if fmt == "jsonl":
            yield from read_jsonl_binary(stream, name, max_line_bytes)
        else:
            yield from read_csv_binary(stream, name, max_line_bytes)
    except (OSError, EOFError, zlib.error) as exc:  # a damaged .gz, a disk error
        raise UsageError(f"{path}: cannot read further: {exc}") from None
    finally:
        if path != "-":
            stream.close()


def _suspicious(value: Any) -> bool:
    """A top-level float that may be an integer orjson could not hold."""
    if type(value) is dict and float in map(type, value.values()):
        for v in value.values():
            if type(v) is float and abs(v) >= 9.2e18:
                return True
    return False


def parse_json_line(line: str | bytes) -> Any:
    """One JSON value; raises ValueError (json.JSONDecodeError) when it is not JSON.

    orjson is fast, but reads integers beyond 64 bits as floats (two long
    account numbers would become one) and refuses NaN and lone surrogates:
    such lines go to the json module, which keeps them exact. (Only fields at
    the top of an event are checked for such numbers, to keep this cheap.)
    """
    return _parse(line)[0]


def _parse(line: str | bytes, notes: list[str] | None = None) -> tuple[Any, bool]:
    """The value, and whether orjson alone read the line (so it may again).

    ``notes``, when given, receives what was wrong with a line read anyway, for lines
    orjson does not read alone (see :func:`_notes` for those it does)."""
    raw = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
    bom = raw.startswith(b"\xef\xbb\xbf")  # a byte-order mark (spreadsheet exports)
    if bom:
        raw = raw[3:]
        line = raw
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    else:
        if not _suspicious(value):
            return value, not bom
    if isinstance(line, str):
        text = line
    else:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = line.decode("utf-8", "replace")
            if notes is not None:
                column = len(line[:exc.start].decode("utf-8", "replace")) + 1
                notes.append(f"invalid UTF-8: byte 0x{line[exc.start]:02x} at column {column} read as U+FFFD "
                             "(two different values may now read the same): save the file as UTF-8")
    text = text.rstrip()  # the line ending and trailing blanks: an error is placed on the line, not after it
    try:
        if notes is None:
            return json.loads(text), False
        return json.loads(text, parse_constant=_Constants(notes), object_pairs_hook=_Pairs(notes)), False
    except RecursionError:
        raise LineProblem(_too_deep(text)) from None
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text):
            raise LineProblem(f"invalid JSON: the line ends at column {exc.colno}, where more is expected "
                              f"({exc.msg.lower()}): is it cut short?") from None
        raise LineProblem(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    except ValueError:  # an integer too long to read (more than 4300 digits)
        digits = re.search(r"\d{" + str(MAX_INT_DIGITS + 1) + ",}", text)
        where = f", at column {digits.start() + 1}" if digits else ""
        raise LineProblem(f"number too long: more than {MAX_INT_DIGITS} digits{where}") from None


class _Constants:
    """json's parse_constant: NaN and Infinity are read, and noted."""

    def __init__(self, notes: list[str]):
        self.notes = notes

    def __call__(self, name: str) -> float:
        if not any(n.startswith("NaN or Infinity") for n in self.notes):
            self.notes.append(f"NaN or Infinity: {name} is not JSON (read as a number equal to nothing)")
        return float(name)


class _Pairs:
    """json's object_pairs_hook: a key given twice in an object is noted (the last value is used)."""

    def __init__(self, notes: list[str]):
        self.notes = notes

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) < len(pairs) and not any(n.startswith("duplicate key") for n in self.notes):
            seen: set[str] = set()
            dupe = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
            self.notes.append(f"duplicate key: {dupe!r} is given more than once in an object (the last value is used)")
        return obj


def _notes(raw: bytes, data: Any) -> tuple[str, ...]:
    """What was wrong with a line orjson read alone: a duplicate key (orjson keeps the last).

    Cheap in the common case: every colon outside strings separates a key from its
    value, and orjson writes the value back with one per key kept and the colons of
    its strings; the line has as many colons exactly when no key was dropped (unless
    an escape spells a colon: then the line is read again to be sure).
    """
    if raw.count(b":") == orjson.dumps(data).count(b":") and b"\\u003a" not in raw and b"\\u003A" not in raw:
        return ()
    notes: list[str] = []
    json.loads(raw.decode("utf-8", "replace"), object_pairs_hook=_Pairs(notes))
    return tuple(notes)


class LineProblem(ValueError):
    """Why a line is not an event, in full (its place is added by the reader)."""


def _too_deep(text: str) -> str:
    return f"too deeply nested: more than {MAX_DEPTH} levels of objects and lists, at column {_depth_column(text)}"


def _depth_column(text: str) -> int:
    """The column (from 1) of the first bracket beyond :data:`MAX_DEPTH` levels, outside strings."""
    depth = 0
    in_string = escaped = False
    for i, c in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return i + 1
        elif c in "]}":
            depth -= 1
    return 1


def _invalid_json(source: str, exc: ValueError) -> SourceEvent:
    if isinstance(exc, LineProblem):
        return SourceEvent(None, source, str(exc))
    return SourceEvent(None, source, f"invalid JSON: {getattr(exc, 'msg', exc)}")


def _not_an_object(source: str, data: Any) -> SourceEvent:
    return SourceEvent(None, source, f"not a JSON object: {type(data).__name__}")


def read_jsonl(stream: IO[str], name: str, first_line: int = 1) -> Iterator[SourceEvent]:
    """One JSON object per line; blank lines are passed over."""
    for lineno, line in enumerate(stream, first_line):
        if not line.strip():
            continue
        try:
            data = parse_json_line(line)
        except ValueError as exc:
            yield _invalid_json(f"{name}:{lineno}", exc)
            continue
        if not isinstance(data, dict):
            yield _not_an_object(f"{name}:{lineno}", data)
            continue
        problem = _bracket_problem(line, data)
        if problem is not None:
            yield SourceEvent(None, f"{name}:{lineno}", problem)
            continue
        yield SourceEvent(data, f"{name}:{lineno}", checked=True)


def csv_value(text: str) -> Any:
    """A CSV cell as a JSON value: numbers and true/false/null are typed, the rest is text."""
    if text in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[text]
    if text and (text[0].isdigit() or text[0] == "-"):
        try:
            value = json.loads(text)  # JSON numbers only: '007' and '1e' stay strings
        except ValueError:
            return text
        if isinstance(value, (int, float)):
            return value
    return text


def read_csv_binary(fh: IO[bytes], name: str, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[SourceEvent]:
    """:func:`read_csv` over a binary stream, lines longer than ``max_line_bytes`` skipped
    with their place (an empty line takes the place of each, so line numbers stay right)."""
    errors: list[SourceEvent] = []
    line_notes: dict[int, str] = {}

    def too_long(lineno: int, size: int) -> None:
        errors.append(_too_long(f"{name}:{lineno}", size, max_line_bytes))

    for item in read_csv(csv_text_lines(fh, max_line_bytes, too_long, line_notes), name, line_notes):
        if errors:
            yield from errors
            errors.clear()
        yield item
    yield from errors


def csv_text_lines(fh: IO[bytes], max_line_bytes: int, too_long: Callable[[int, int], None],
                   notes: dict[int, str]) -> Iterator[str]:
    """The lines of a CSV byte stream as text for the csv module: a line longer than
    ``max_line_bytes`` is told to ``too_long(line, size)`` and read as an empty line (line
    numbers stay right); a byte-order mark is dropped; invalid UTF-8 is read as U+FFFD and
    noted in ``notes`` by line number."""
    for lineno, raw in enumerate(bounded_lines(fh, max_line_bytes), 1):
        if isinstance(raw, int):
            too_long(lineno, raw)
            yield "\n"
            continue
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a byte-order mark (spreadsheet exports)
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            column = len(raw[:exc.start].decode("utf-8", "replace")) + 1
            notes[lineno] = (f"invalid UTF-8: byte 0x{raw[exc.start]:02x} at column {column} of line {lineno} "
                             "read as U+FFFD (two different values may now read the same): save the file as UTF-8")
            yield raw.decode("utf-8", "replace")


def csv_rows(stream: Iterable[str]) -> Iterator[tuple[int, list[str] | None, str, list[tuple[int, str]]]]:
    """The rows of CSV text (the header first): (the line a row starts on, its cells or
    None when damaged, what is wrong then, the (number, text) lines read for it: valid
    until the next row). A damaged row (a quote that never closes, text after a closing
    quote) is reported at its line and the lines it would have swallowed are read again."""
    source = iter(stream)
    numbers = itertools.count(1)
    again: deque[tuple[int, str]] = deque()  # lines of a damaged row, to read again
    consumed: list[tuple[int, str]] = []     # the lines of the row being read

    def lines() -> Iterator[str]:
        while True:
            if again:
                item = again.popleft()
            else:
                text = next(source, None)
                if text is None:
                    return
                item = (next(numbers), text)
            consumed.append(item)
            yield item[1]

    # strict: an unbalanced quote is an error (at the end of the data at the latest), not rows run together
    reader = csv.reader(lines(), strict=True)
    header = True
    while True:
        consumed.clear()
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            first = consumed[0][0] if consumed else next(numbers)
            yield first, None, (str(exc) if header else _csv_damage(str(exc), consumed)), consumed
            if header:
                return
            if len(consumed) > 1:
                again.extendleft(reversed(consumed[1:]))
                reader = csv.reader(lines(), strict=True)
            continue
        header = False
        yield (consumed[0][0] if consumed else 0), row, "", consumed


def read_csv(stream: Iterable[str], name: str, line_notes: Mapping[int, str] | None = None) -> Iterator[SourceEvent]:
    """CSV with a header row. Empty cells are absent fields; ``a.b`` headers nest.

    A row's place is the line it starts on. A damaged row (a quote that never
    closes, text after a closing quote) is reported at that line, and the lines
    it would have swallowed are read again as rows of their own. ``line_notes``: notes
    on lines (by number), given to the rows read from them (see ``SourceEvent.notes``).
    """
    paths: list[list[str]] | None = None
    for lineno, row, damage, consumed in csv_rows(stream):
        if row is None:
            if paths is None:
                yield SourceEvent(None, f"{name}:1", f"invalid CSV header: {damage}")
                return
            yield SourceEvent(None, f"{name}:{lineno}", damage)
            continue
        if paths is None:
            paths = [h.strip().split(".") for h in row]
            deepest = max((len(p) for p in paths), default=0)
            if deepest > MAX_DEPTH:
                yield SourceEvent(None, f"{name}:1", f"invalid CSV header: a column name has {deepest} dotted parts "
                                  f"(at most {MAX_DEPTH}): its rows are not read")
                return
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(paths):
            yield SourceEvent(None, f"{name}:{lineno}", f"{len(row)} cells but the header names {len(paths)} columns")
            continue
        notes: list[str] = [line_notes[n] for n, _ in consumed if n in line_notes] if line_notes else []
        data = csv_data(paths, row, notes)
        yield SourceEvent(data, f"{name}:{lineno}", checked=True, notes=tuple(dict.fromkeys(notes)))


def csv_data(paths: list[list[str]], row: list[str], notes: list[str]) -> dict[str, Any]:
    """A CSV row as an event's data: empty cells absent, values typed (:func:`csv_value`),
    dotted headers (``paths``: each split at '.') nested; a cell overwriting another is noted."""
    data: dict[str, Any] = {}
    for path, cell in zip(paths, row, strict=False):
        if cell == "":
            continue
        target = data
        for part in path[:-1]:
            nxt = target.get(part)
            if not isinstance(nxt, dict):
                if nxt is not None:
                    notes.append(_csv_overwrite(path))
                nxt = target[part] = {}
            target = nxt
        if path[-1] in target:
            notes.append(_csv_overwrite(path))
        target[path[-1]] = csv_value(cell)
    return data


def _csv_overwrite(path: list[str]) -> str:
    return (f"duplicate CSV column: {'.'.join(path)!r} sets a field another column of the header sets too "
            "(the last non-empty cell is used)")


def _csv_damage(error: str, lines: list[tuple[int, str]]) -> str:
    if len(lines) <= 1:
        return f"invalid CSV: {error} (a quote in the middle of a cell? double it, or quote the whole cell)"
    last = lines[-1][0]
    if "end of data" in error:
        return (f"invalid CSV: a quote opened in this row is never closed (it would take in lines "
                f"{lines[0][0]} to {last}, to the end of the file): the row is skipped, the lines after it are read")
    return (f"invalid CSV: {error} on line {last}, in a row starting here (an unbalanced quote?): "
            "the row is skipped, the lines after it are read")


def _time_text(raw: bytes, needle: bytes) -> str | None:
    """The text of a line's ``"<field>": "..."`` string, found without parsing the JSON.

    Only where it is surely the top-level field, if the line is an object with
    that field at all: the name occurs once and the line has no backslash, so
    no escape can spell another occurrence. None otherwise (parse the line).
    """
    i = raw.find(needle)
    if i < 0 or raw.find(needle, i + len(needle)) >= 0 or b"\\" in raw:
        return None
    j = i + len(needle)
    k = raw.find(b'"', j)
    if k < 0 or raw[j:k].strip() != b":":
        return None
    end = raw.find(b'"', k + 1)
    if end < 0:
        return None
    try:
        return raw[k + 1:end].decode("ascii")
    except UnicodeDecodeError:
        return None


def _line_time(raw: bytes, time_of: Callable[[Any], int | None], needle: bytes | None,
               parse_text: Callable[[str], int | None] | None) -> tuple[int | None, Any, int]:
    """A line's time, and its parsed value when parsing was needed (else ``_UNPARSED``).

    The third item: 1 when orjson alone read the line as it is, 0 when it needed
    the json module, 2 when the line was not parsed. Raises ValueError when the
    line is not JSON.
    """
    if needle is not None and parse_text is not None:
        text = _time_text(raw, needle)
        if text is not None:
            t = parse_text(text)
            if t is not None:
                return t, _UNPARSED, 2
    data, exact = _parse(raw)
    return time_of(data), data, 1 if exact else 0


_UNPARSED = object()


def read_jsonl_binary(fh: IO[bytes], name: str, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[SourceEvent]:
    """Like :func:`read_jsonl` over a file opened in binary (faster: no decoding to text first).

    The hot loop of reading: :func:`bounded_lines`, :func:`_bracket_problem` and the
    common case of :func:`_notes` are inlined here."""
    loads, dumps = orjson.loads, orjson.dumps
    readline = fh.readline
    limit = max_line_bytes
    lineno = 0
    while True:
        raw = readline(limit + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > limit and raw[-1] != 10:
            yield _too_long(f"{name}:{lineno}", _read_past(fh, raw), limit)
            continue
        notes: list[str] | None = None
        try:
            # What _parse does, inline for the common case: orjson read it, no float that may be a long integer.
            data = loads(raw)
            if type(data) is dict and float in map(type, data.values()) and _suspicious(data):
                raise orjson.JSONDecodeError("", "", 0)
        except orjson.JSONDecodeError:
            notes = []
            try:
                data, exact = _parse(raw, notes)
            except ValueError as exc:
                if not raw.strip():
                    continue
                yield _invalid_json(f"{name}:{lineno}", exc)
                continue
        if type(data) is not dict:
            yield _not_an_object(f"{name}:{lineno}", data)
            continue
        if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:  # else it cannot nest that deep
            problem = _bracket_problem(raw, data)
            if problem is not None:
                yield SourceEvent(None, f"{name}:{lineno}", problem)
                continue
        # Where orjson read the line alone, look for what it does not tell (see _notes).
        found: tuple[str, ...] = ()
        if notes is not None:
            found = (*notes, *(_notes(raw, data) if exact else ()))
        elif raw.count(b":") != dumps(data).count(b":") or b"\\u003" in raw:
            found = _notes(raw, data)
        yield SourceEvent(data, f"{name}:{lineno}", None, None, True, found)


def time_ordered(path: str, time_of: Callable[[Any], int | None], *, display: str | None = None,
                 field: str | None = None, parse_text: Callable[[str], int | None] | None = None,
                 max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[SourceEvent]:
    """The events of a JSON Lines file in time order (stable), reading it twice.

    A first pass reads only each line's time and checks the order. A file
    already in time order (exports usually are) is then read once more, line
    by line, keeping nothing per event. Otherwise a second look keeps each
    line's time and byte offset (24 bytes an event) and the events are read in
    order by seeking; unreadable lines and events without a valid time come
    first then (they are skipped anyway). For a plain (not gzipped) file only.

    ``time_of(data)`` reads an event's time (None when it has no valid one).
    With ``field`` (the top-level time field) and ``parse_text`` (the reading
    of a time given as a string), most lines' times are found without parsing
    their JSON; ``parse_text`` must agree with ``time_of``.
    """
    name = display or path
    limit = check_max_line_bytes(max_line_bytes)
    needle = orjson.dumps(field) if field is not None and parse_text is not None else None
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the "with fh" below
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    with fh:
        if _in_time_order(fh, time_of, needle, parse_text, limit):
            fh.seek(0)
            yield from read_jsonl_binary(fh, name, limit)
            return
        fh.seek(0)
        yield from _sorted_by_time(fh, name, time_of, field if needle is not None else None, parse_text, limit)


_CHUNK = 1 << 22  # bytes the order check reads at a time
_ASCII_ESCAPE = re.compile(rb"\\u00[0-7]")  # a \u escape of an ASCII character


def _in_time_order(fh: IO[bytes], time_of: Callable[[Any], int | None], needle: bytes | None,
                   parse_text: Callable[[str], int | None] | None, limit: int = MAX_LINE_BYTES) -> bool:
    """Are the events with a valid time in time order (unreadable lines aside)?

    Read in chunks of whole lines. Where every occurrence of the time field's
    name in a chunk is followed by a time in the shape ``2026-03-02T14:05:00Z``
    and no escape in the chunk could spell the name (no ``\\u`` escape of an
    ASCII character; names holding a character with a short escape are never
    read this way), every object's own time is among those found: the times
    are then compared as text, which for that shape is time order, without
    parsing a line. Other chunks are read line by line.
    """
    shaped = None
    plain_name = needle is not None and needle.isascii() and not any(c in needle[1:-1] for c in b'"\\/\b\f\n\r\t')
    if needle is not None and parse_text is not None and plain_name:
        shaped = re.compile(re.escape(needle) + rb'\s*:\s*"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"')
    last: int | None = None
    rest = b""
    skipping = False  # in a line longer than the limit: read on to its end (the second pass skips it)
    while True:
        block = fh.read(_CHUNK)
        if skipping and block:
            end = block.find(b"\n")
            if end < 0:
                continue
            skipping = False
            block = block[end + 1:]
            if not block:
                continue
        if not block:
            chunk, rest = rest, b""
        else:
            block = rest + block
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                rest = block
                if len(rest) > limit:
                    rest, skipping = b"", True
                continue
            chunk, rest = block[:cut], block[cut:]
            if len(rest) > limit:
                rest, skipping = b"", True
        if not chunk:
            return True
        found: list[bytes] | None = None
        if shaped is not None and needle is not None and _ASCII_ESCAPE.search(chunk) is None:
            found = shaped.findall(chunk)
            if chunk.count(needle) != len(found):
                found = None
        if found is not None:
            if found != sorted(found):
                return False
            first = _first_valid(found, parse_text)
            if first is not None:
                if last is not None and first < last:
                    return False
                last = _first_valid(reversed(found), parse_text)
        else:
            for raw in chunk.split(b"\n"):  # lines as the second pass reads them (a lone CR is whitespace)
                if len(raw) > limit:
                    continue
                try:
                    t = _line_time(raw, time_of, needle, parse_text)[0]
                except ValueError:
                    continue
                if t is None:
                    continue
                if last is not None and t < last:
                    return False
                last = t
        if not block:
            return True


def _first_valid(texts: Iterable[bytes], parse_text: Callable[[str], int | None] | None) -> int | None:
    assert parse_text is not None
    for text in texts:
        t = parse_text(text.decode("ascii"))
        if t is not None:
            return t
    return None


def _sorted_by_time(fh: IO[bytes], name: str, time_of: Callable[[Any], int | None], field: str | None,
                    parse_text: Callable[[str], int | None] | None, limit: int = MAX_LINE_BYTES) -> Iterator[SourceEvent]:
    from array import array

    needle = orjson.dumps(field) if field is not None else None
    times, offsets, lines = array("q"), array("q"), array("q")
    plain = bytearray()  # how the second read parses the line (see _line_time)
    invalid: list[SourceEvent] = []
    offset = 0
    for lineno, raw in enumerate(bounded_lines(fh, limit), 1):
        start = offset
        if isinstance(raw, int):
            offset += raw
            invalid.append(_too_long(f"{name}:{lineno}", raw, limit))
            continue
        offset += len(raw)
        if not raw.strip():
            continue
        try:
            t, data, how = _line_time(raw, time_of, needle, parse_text)
        except ValueError:
            invalid.extend(read_jsonl(io.StringIO(raw.decode("utf-8", "replace")), name, first_line=lineno))
            continue
        if t is None:
            invalid.append(SourceEvent(data, f"{name}:{lineno}"))  # the engine says what is wrong
            continue
        times.append(t)
        offsets.append(start)
        lines.append(lineno)
        plain.append(how)
    yield from invalid
    invalid.clear()
    order = sorted(range(len(times)), key=times.__getitem__)
    for i in order:
        fh.seek(offsets[i])
        raw = fh.readline()
        source = f"{name}:{lines[i]}"
        how = plain[i]
        notes: list[str] = []
        if how == 1:
            data, exact = orjson.loads(raw), True
        else:
            try:
                data, exact = _parse(raw, notes)
            except ValueError as exc:
                yield _invalid_json(source, exc)
                continue
            if not isinstance(data, dict):
                yield _not_an_object(source, data)
                continue
        # A time found without parsing is the event's own only when the field is there (see _time_text).
        yield _checked(raw, data, source, times[i] if how != 2 or field in data else None, notes, exact)


def _checked(raw: bytes, data: dict[str, Any], source: str, t: int | None, notes: list[str], exact: bool) -> SourceEvent:
    """A line's event once read: skipped if it nests too deep; else with what was wrong with
    its input (``notes`` from reading it, and what :func:`_notes` finds where orjson read it
    alone). :func:`read_jsonl_binary` does the same inline, in the hot loop of reading."""
    problem = _bracket_problem(raw, data)
    if problem is not None:
        return SourceEvent(None, source, problem)
    if exact:
        notes.extend(_notes(raw, data))
    return SourceEvent(data, source, None, t, True, tuple(notes))
