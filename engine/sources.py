"""Event sources: JSON Lines and CSV files (or streams), each event with its place.

Readers never stop at a bad line: a line that is not valid JSON becomes a
:class:`SourceEvent` with an ``error``, which the engine counts as skipped (or
raises, with ``strict``). Places are ``file:line``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

from .errors import UsageError

FORMATS = ("jsonl", "csv")


@dataclass(slots=True)
class SourceEvent:
    """An event read from a source, with its ``file:line``; ``error`` when unreadable."""

    data: Any
    source: str
    error: str | None = None
    time: int | None = None  # the time already read by time_ordered (microseconds), to save reading it twice


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
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not an event file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None


def read_events(path: str, fmt: str | None = None, *, display: str | None = None) -> Iterator[SourceEvent]:
    """Events from a JSON Lines or CSV file (``-`` is stdin, read as JSON Lines)."""
    fmt = fmt or ("jsonl" if path == "-" else detect_format(path))
    if fmt not in FORMATS:
        raise UsageError(f"unknown event format {fmt!r}: use one of {', '.join(FORMATS)}")
    name = display or ("<stdin>" if path == "-" else path)
    if path != "-" and not os.path.exists(path):
        raise UsageError(f"{path}: no such file")
    stream = open_text(path)
    try:
        reader = read_jsonl(stream, name) if fmt == "jsonl" else read_csv(stream, name)
        yield from reader
    except (OSError, EOFError, zlib.error) as exc:  # a damaged .gz, a disk error
        raise UsageError(f"{path}: cannot read further: {exc}") from None
    finally:
        if path != "-":
            stream.close()


def _suspicious(value: Any) -> bool:
    """A top-level float that may be an integer orjson could not hold."""
    if isinstance(value, dict):
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


def _parse(line: str | bytes) -> tuple[Any, bool]:
    """The value, and whether orjson alone read the line (so it may again)."""
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
    text = line if isinstance(line, str) else line.decode("utf-8", "replace")
    try:
        return json.loads(text), False
    except RecursionError:
        raise ValueError("nested too deeply") from None


def read_jsonl(stream: IO[str], name: str, first_line: int = 1) -> Iterator[SourceEvent]:
    """One JSON object per line; blank lines are passed over."""
    for lineno, line in enumerate(stream, first_line):
        if not line.strip():
            continue
        try:
            data = parse_json_line(line)
        except ValueError as exc:
            yield SourceEvent(None, f"{name}:{lineno}", f"invalid JSON: {getattr(exc, 'msg', exc)} at column {getattr(exc, 'colno', '?')}")
            continue
        if not isinstance(data, dict):
            yield SourceEvent(None, f"{name}:{lineno}", f"not a JSON object: {type(data).__name__}")
            continue
        yield SourceEvent(data, f"{name}:{lineno}")


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


def read_csv(stream: IO[str], name: str) -> Iterator[SourceEvent]:
    """CSV with a header row. Empty cells are absent fields; ``a.b`` headers nest."""
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield SourceEvent(None, f"{name}:1", f"invalid CSV header: {exc}")
        return
    paths = [h.strip().split(".") for h in header]
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield SourceEvent(None, f"{name}:{reader.line_num}", f"invalid CSV: {exc}")
            continue
        lineno = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(paths):
            yield SourceEvent(None, f"{name}:{lineno}", f"{len(row)} cells but the header names {len(paths)} columns")
            continue
        data: dict[str, Any] = {}
        for path, cell in zip(paths, row, strict=False):
            if cell == "":
                continue
            target = data
            for part in path[:-1]:
                nxt = target.get(part)
                if not isinstance(nxt, dict):
                    nxt = target[part] = {}
                target = nxt
            target[path[-1]] = csv_value(cell)
        yield SourceEvent(data, f"{name}:{lineno}")


def time_ordered(path: str, time_of: Callable[[Any], int | None], *, display: str | None = None) -> Iterator[SourceEvent]:
    """The events of a JSON Lines file in time order (stable), reading it twice.

    The first pass keeps only each line's time and byte offset (16 bytes an
    event); the second reads the events again in order (sequentially when the
    file is sorted already, by seeking otherwise). Unreadable lines and events
    without a valid time come first (they are skipped anyway), so memory does
    not grow with the file. For a plain (not gzipped) file only.
    """
    from array import array

    name = display or path
    times, offsets, lines = array("q"), array("q"), array("q")
    plain = bytearray()  # 1 where orjson read the line as it is (the second pass can trust it again)
    invalid: list[SourceEvent] = []
    ordered = True
    last = None
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the "with fh" below
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    with fh:
        offset = 0
        for lineno, raw in enumerate(fh, 1):
            start = offset
            offset += len(raw)
            if not raw.strip():
                continue
            try:
                data, exact = _parse(raw)
            except ValueError:
                invalid.extend(read_jsonl(io.StringIO(raw.decode("utf-8", "replace")), name, first_line=lineno))
                continue
            t = time_of(data)
            if t is None:
                invalid.append(SourceEvent(data, f"{name}:{lineno}"))  # the engine says what is wrong
                continue
            if last is not None and t < last:
                ordered = False
            last = t
            times.append(t)
            offsets.append(start)
            lines.append(lineno)
            plain.append(1 if exact else 0)
        yield from invalid
        invalid.clear()
        order: Iterable[int] = range(len(times)) if ordered else sorted(range(len(times)), key=times.__getitem__)
        fh.seek(0)
        position = 0
        for i in order:
            if offsets[i] != position:
                fh.seek(offsets[i])
            raw = fh.readline()
            position = offsets[i] + len(raw)
            data = orjson.loads(raw) if plain[i] else parse_json_line(raw)
            yield SourceEvent(data, f"{name}:{lines[i]}", None, times[i])
