"""The functions source mappings add to the playbook expression language.

Text and value handling for records read from exports (split, strip, replace, title,
bool), ``parse_time`` in the source's time zone, and ``lookup`` in a table the source
file declares. None of them touches a file, the network or the clock; each raises
:class:`~engine.expressions.EvalError` for a value it cannot take.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from ..expressions import MAX_SIZE, EvalError, FunctionSpec, Scope, compile_error, render_text, simple_function
from ..messages import did_you_mean
from ..timecalc import TimeError, format_time, local_to_us, parse_time

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_TIME_WORDS = ("iso", "epoch", "epoch_ms")


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def _split(text: Any, sep: Any = None) -> Any:
    if text is None:
        return None
    if not isinstance(text, str):
        raise EvalError(f"split() needs a string, not {_kind(text)}")
    if sep is not None and (not isinstance(sep, str) or sep == ""):
        raise EvalError(f"split(): the separator must be a non-empty string, not {_short(sep)}")
    parts = text.split(sep)
    if len(parts) > MAX_SIZE // 10:
        raise EvalError(f"split()'s result has more than {MAX_SIZE // 10:,} parts")
    return parts


def _strip(text: Any, chars: Any = None) -> Any:
    if text is None:
        return None
    if not isinstance(text, str):
        raise EvalError(f"strip() needs a string, not {_kind(text)}")
    if chars is not None and not isinstance(chars, str):
        raise EvalError(f"strip(): the characters to remove must be a string, not {_kind(chars)}")
    return text.strip(chars)


def _replace(text: Any, old: Any, new: Any) -> Any:
    if text is None:
        return None
    if not isinstance(text, str) or not isinstance(old, str) or not isinstance(new, str):
        raise EvalError(f"replace() needs three strings, not {_kind(text)}, {_kind(old)}, {_kind(new)}")
    if old == "":
        raise EvalError("replace(): the text to replace must not be empty")
    if len(new) > len(old) and len(text) + text.count(old) * (len(new) - len(old)) > MAX_SIZE:
        raise EvalError(f"replace()'s result would be longer than {MAX_SIZE:,} characters")
    return text.replace(old, new)


def _title(text: Any) -> Any:
    if text is None:
        return None
    if not isinstance(text, str):
        raise EvalError(f"title() needs a string, not {_kind(text)}")
    result = text.title()
    if len(result) > MAX_SIZE and len(result) > len(text):
        raise EvalError(f"title()'s result is longer than {MAX_SIZE:,} characters")
    return result


_TRUE = frozenset({"true", "yes", "y", "t", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "f", "0", "off", ""})


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        if value in (0, 1):
            return bool(value)
        raise EvalError(f"bool() reads 0 or 1, not {_short(value)}")
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise EvalError(f"bool() cannot read {_short(value)}: use true/false, yes/no, y/n, t/f, on/off, 1/0 or ''")
    if value is None:
        return False
    raise EvalError(f"bool() needs a string, a number or a boolean, not {_kind(value)}")


class TimeReader:
    """Reads a time written in one format, in one zone, as microseconds since the epoch.

    ``fmt`` is a strftime format (read in ``tz`` unless it has ``%z``), ``iso`` (RFC 3339
    or ISO 8601; without an offset, in ``tz``), ``epoch`` (seconds) or ``epoch_ms``.
    Exports repeat their times (a minute's resolution, many records a minute): results
    are remembered, a bounded number.
    """

    __slots__ = ("fmt", "tz", "_seen")

    def __init__(self, fmt: str, tz: tzinfo):
        self.fmt = fmt
        self.tz = tz
        self._seen: dict[Any, int] = {}

    def __call__(self, value: Any) -> int:
        """The time, or :class:`ValueError` saying why the value is not one."""
        seen = self._seen
        try:
            return seen[value]
        except (KeyError, TypeError):
            pass
        us = self._read(value)
        if type(value) is str:
            if len(seen) >= 50_000:
                seen.clear()
            seen[value] = us
        return us

    def _read(self, value: Any) -> int:
        fmt = self.fmt
        if fmt == "iso":
            try:
                return parse_time(value, self.tz)
            except TimeError as exc:
                raise ValueError(str(exc)) from None
        if fmt in ("epoch", "epoch_ms"):
            number = value
            if isinstance(value, str):
                try:
                    number = float(value.strip()) if "." in value or "e" in value.lower() else int(value.strip())
                except ValueError:
                    raise ValueError(f"{_short(value)} is not a number of {'milliseconds' if fmt == 'epoch_ms' else 'seconds'}") from None
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
                raise ValueError(f"{_short(value)} is not a number of seconds since the epoch")
            seconds = number / 1000 if fmt == "epoch_ms" else number
            try:
                return parse_time(seconds if isinstance(seconds, int) or not float(seconds).is_integer() else int(seconds))
            except TimeError as exc:
                raise ValueError(str(exc)) from None
        if not isinstance(value, str):
            if isinstance(value, datetime):  # a Parquet timestamp
                return local_to_us(value, self.tz) if value.tzinfo is None else (value - _EPOCH) // _ONE_US
            raise ValueError(f"{_kind(value)} is not a time written as {fmt!r}")
        try:
            dt = datetime.strptime(value.strip(), fmt)
        except ValueError:
            raise ValueError(f"{_short(value)} does not match the format {fmt!r}") from None
        # without an offset: in the zone, a time in the spring gap moved on to the first that exists
        us = local_to_us(dt, self.tz) if dt.tzinfo is None else (dt - _EPOCH) // _ONE_US
        try:
            parse_time(us // 1_000_000)  # within the years a run accepts
        except TimeError as exc:
            raise ValueError(f"{_short(value)}: {exc}") from None
        return us


def check_time_format(fmt: str) -> str | None:
    """Why ``fmt`` cannot read times (None when it can): a strftime format needs a ``%``."""
    if fmt in _TIME_WORDS:
        return None
    if "%" not in fmt:
        return (f"{fmt!r} is not a time format: write a strftime format such as '%m/%d/%Y %H:%M', "
                f"or one of {', '.join(_TIME_WORDS)}")
    sample = _SAMPLE_TIME if "%z" in fmt or "%Z" in fmt else _SAMPLE_TIME.replace(tzinfo=None)
    try:  # a round trip: a bad directive ('%Q') or a stray '%' is refused here, not at every record
        datetime.strptime(sample.strftime(fmt), fmt)
    except ValueError as exc:
        return f"{fmt!r} cannot read times: {exc}"
    if not any(d in fmt.replace("%%", "") for d in ("%Y", "%y", "%G", "%c", "%x")):
        return (f"the format {fmt!r} has no year (%Y or %y): its times would fall in 1900; "
                "add the year to the format (or build the text with one, ~ and parse_time())")
    return None


_SAMPLE_TIME = datetime(2026, 3, 2, 14, 5, 6, 123456, tzinfo=UTC)


def _build_parse_time(comp: Any, node: ast.Call, args: list[Any]) -> Any:
    """``parse_time(text, format)``: RFC 3339 in UTC, read in the source's zone (``scope.tz``)."""
    fmt = args[1]
    if not fmt.const or not isinstance(fmt.value, str):
        raise compile_error(comp, node.args[1], "parse_time(): the format must be a string in quotes, "
                                                "such as '%m/%d/%Y %H:%M', 'iso', 'epoch' or 'epoch_ms'")
    problem = check_time_format(fmt.value)
    if problem is not None:
        raise compile_error(comp, node.args[1], f"parse_time(): {problem}")
    readers: dict[Any, TimeReader] = {}
    tf = args[0].fn
    fmt_text = fmt.value

    def f(s: Scope) -> Any:
        value = tf(s)
        if value is None:
            return None
        reader = readers.get(s.tz)
        if reader is None:
            reader = readers[s.tz] = TimeReader(fmt_text, s.tz)
        try:
            return format_time(reader(value))
        except ValueError as exc:
            raise EvalError(f"parse_time(): {exc}") from None

    return type(args[0])(f)


def lookup_builder(tables: Mapping[str, Mapping[str, Any]]) -> Callable[[Any, ast.Call, list[Any]], Any]:
    """``lookup(table, key[, default])`` over the tables a source file declares; the table
    name must be written in quotes, and is checked when the expression is compiled."""

    def build(comp: Any, node: ast.Call, args: list[Any]) -> Any:
        name = args[0]
        if not name.const or not isinstance(name.value, str):
            raise compile_error(comp, node.args[0], "lookup(): the first argument is a table's name in quotes")
        table = tables.get(name.value)
        if table is None:
            known = f"; the tables are: {', '.join(sorted(tables))}" if tables else "; declare it under 'tables:'"
            raise compile_error(comp, node.args[0], f"no table {name.value!r}{did_you_mean(name.value, tables)}{known}")
        kf = args[1].fn
        df = args[2].fn if len(args) > 2 else None

        def f(s: Scope) -> Any:
            key = kf(s)
            if key is not None and type(key) is not str:
                key = render_text(key)
            value = table.get(key) if key is not None else None
            if value is None and key not in table:
                return df(s) if df is not None else None
            return value

        return type(args[0])(f)

    return build


def mapping_functions(tables: Mapping[str, Mapping[str, Any]]) -> dict[str, FunctionSpec]:
    """The functions a source's expressions may call, besides the playbook language's own."""
    return {
        "split": (1, 2, simple_function(_split)),
        "strip": (1, 2, simple_function(_strip)),
        "replace": (3, 3, simple_function(_replace)),
        "title": (1, 1, simple_function(_title)),
        "bool": (1, 1, simple_function(_bool)),
        "parse_time": (2, 2, _build_parse_time),
        "lookup": (2, 3, lookup_builder(tables)),
    }
