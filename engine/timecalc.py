"""Durations and timestamps.

Every instant inside the engine is an ``int`` of microseconds since the Unix
epoch (UTC): exact arithmetic, cheap comparisons, no float drift in deadlines.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

US = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
# Times a run accepts: from year 1 (plus a day) to year 9000, so that a deadline up
# to MAX_DURATION later still has an RFC 3339 form (years up to 9999).
_MIN_EPOCH = -62_135_510_400  # 0001-01-02T00:00:00Z
_MAX_EPOCH = 221_845_392_000  # 9000-01-01T00:00:00Z
MIN_TIME_US = _MIN_EPOCH * 1_000_000  # the first instant a run accepts (deadlines too: they are written out)
MAX_TIME_US = 253_402_300_799 * 1_000_000  # 9999-12-31T23:59:59Z: the last instant with an RFC 3339 form
MAX_DURATION_US = 500 * 366 * 86400 * US  # about 500 years
_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
_DURATION_FULL = re.compile(r"^(?:\d+(?:\.\d+)?[wdhms])+$")


@dataclass(frozen=True, slots=True)
class Duration:
    """A parsed duration such as ``1d4h``.

    ``days`` and ``weeks`` are kept apart from the clock part (``h m s``)
    because with a calendar ``d`` counts business days and ``h m s`` count
    open time only.
    """

    text: str
    weeks: float
    days: float
    clock_us: int  # the h/m/s part, in microseconds
    #: Elapsed time without a calendar: ``d`` = 24 h, ``w`` = 7 d (made once: the runtime reads it often).
    exact_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "exact_us", int(round((self.weeks * 7 + self.days) * 86400 * US)) + self.clock_us)

    @property
    def seconds(self) -> float | int:
        return seconds_value(self.exact_us)


class DurationError(ValueError):
    pass


def parse_duration(text: object) -> Duration:
    """Parse ``<number><unit>`` repeated (units ``w d h m s``), e.g. ``1h30m``."""
    if not isinstance(text, str):
        raise DurationError(
            f"a duration must be a string like '4h' or '1h30m', not {_describe(text)}"
        )
    compact = text.strip()
    if not compact or not _DURATION_FULL.match(compact):
        raise DurationError(
            f"invalid duration {text!r}: write <number><unit> repeated, units w d h m s (e.g. '90d', '4h', '1h30m')"
        )
    weeks = days = 0.0
    clock = 0.0
    for number, unit in _DURATION_PART.findall(compact):
        value = float(number)
        if unit == "w":
            weeks += value
        elif unit == "d":
            days += value
        else:
            clock += value * _UNIT_SECONDS[unit]
    if (weeks * 7 + days) * 86400 * US + clock * US > MAX_DURATION_US:
        raise DurationError(f"duration {text!r} is too long: at most about 500 years")
    return Duration(compact, weeks, days, int(round(clock * US)))


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r} (add a unit: '{value}s', '{value}h', ...)"
    return f"a {type(value).__name__}"


# --- timestamps -----------------------------------------------------------------

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)
_DATE_ONLY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class TimeError(ValueError):
    pass


def parse_time(value: object, tz: tzinfo = UTC) -> int:
    """An event or ``until`` time as microseconds since the epoch.

    Accepts RFC 3339 strings (with offset; without one the time is read in
    ``tz``), a bare date (midnight in ``tz``), or a number of seconds since the
    epoch. Raises :class:`TimeError` with a reason a user can act on.
    """
    if type(value) is str and (len(value) == 20 or len(value) == 25):
        # The hour (with its offset) and the minutes and seconds are looked up apart, each
        # remembered once seen in a valid time (below): a log has few distinct hours and
        # 3,600 tails, and a string made of a known hour and a known tail is valid.
        hour = _HOURS.get(value[:13] + value[19:])
        if hour is not None:
            tail = _TAILS.get(value[13:19])
            if tail is not None:
                return hour + tail
    if isinstance(value, bool) or value is None:
        raise TimeError(f"time must be an RFC 3339 string or epoch seconds, not {_describe(value)}")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise TimeError(f"time {value!r} is not a finite number")
        if not _MIN_EPOCH <= value < _MAX_EPOCH:
            if _MAX_EPOCH <= value < _MAX_MS:
                # Too large for seconds (year 9000 or later), twelve or thirteen digits: milliseconds
                # (1977-01-11 to 2286-11-20). A number in the range of seconds is always seconds.
                return value * 1000 if isinstance(value, int) else int(round(value * 1000))
            raise TimeError(_epoch_out_of_range(value))
        if isinstance(value, int):
            return value * US
        return int(round(value * US))
    if not isinstance(value, str):
        raise TimeError(f"time must be an RFC 3339 string or epoch seconds, not a {type(value).__name__}")
    # Fast path for the two shapes exports use most: ...T14:05:00Z and ...T09:05:00-05:00.
    n = len(value)
    shape_ok = (n == 20 and value[19] == "Z") or (n == 25 and value[22] == ":" and value[19] in "+-")
    if shape_ok and value[10] == "T" and value[4] == "-" and value[13] == ":":
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            us = _in_range((dt - _EPOCH) // _ONE_US, value)
            _remember(value, us)
            return us
    text = value.strip()
    m = _RFC3339.match(text)
    if m is None:
        d = _DATE_ONLY.match(text)
        if d is None:
            raise TimeError(
                f"unparseable time {value!r}: use RFC 3339 like '2026-03-02T14:05:00Z' or epoch seconds"
            )
        try:
            local = datetime(int(d[1]), int(d[2]), int(d[3]))
        except ValueError as exc:
            raise TimeError(f"invalid date {value!r}: {exc}") from None
        return _in_range(local_to_us(local, tz), value)
    year, month, day, hour, minute = (int(m[i]) for i in range(1, 6))
    second = int(m[6] or 0)
    frac = m[7] or ""
    micro = int((frac + "000000")[:6]) if frac else 0
    leap = second == 60  # RFC 3339 allows a leap second; fold it into the next one
    try:
        dt = datetime(year, month, day, hour, minute, 59 if leap else second, micro)
    except ValueError as exc:
        raise TimeError(f"invalid time {value!r}: {exc}") from None
    offset = m[8]
    if offset is None:
        return _in_range(local_to_us(dt, tz) + (US if leap else 0), value)
    if offset in ("Z", "z"):
        off_us = 0
    else:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        oh, om = int(digits[:2]), int(digits[2:])
        if oh > 23 or om > 59:
            raise TimeError(f"invalid offset in {value!r}")
        off_us = sign * (oh * 3600 + om * 60) * US
    naive_us = _naive_us(dt)
    return _in_range(naive_us - off_us + (US if leap else 0), value)


_HOURS: dict[str, int] = {}  # "2026-03-02T14" + offset -> the instant of HH:00:00 (microseconds)
_TAILS: dict[str, int] = {}  # ":05:09" -> microseconds past the hour


def _remember(value: str, us: int) -> None:
    """Cache the hour and tail of a time just read in full (``value`` in a fast-path shape).

    Only for whole-hour offsets (an hour of such a time never straddles the
    range's ends) and seconds below 60 (no leap second): then hour + tail is
    exactly what reading the whole text gives.
    """
    offset = value[19:]
    if offset != "Z" and offset[4:] != "00":
        return
    tail = value[13:19]
    minutes, seconds = tail[1:3], tail[4:6]
    if tail[3] != ":" or not (minutes.isascii() and minutes.isdigit() and seconds.isascii() and seconds.isdigit()):
        return
    if minutes > "59" or seconds > "59":
        return
    past = (int(minutes) * 60 + int(seconds)) * US
    if len(_HOURS) >= 20_000:
        _HOURS.clear()
    _HOURS[value[:13] + offset] = us - past
    _TAILS[tail] = past


_RANGE_TEXT = "from 0001-01-02T00:00:00Z up to (not including) 9000-01-01T00:00:00Z"


def _in_range(us: int, value: object) -> int:
    if not _MIN_EPOCH * US <= us < _MAX_EPOCH * US:
        raise TimeError(f"time {value!r} is out of the supported range: {_RANGE_TEXT}")
    return us


_MAX_MS = 10**13  # epoch milliseconds are read below this: 2286-11-20T17:46:40Z


def _epoch_out_of_range(value: float) -> str:
    text = (f"time {value!r} is out of range: epoch seconds {_MIN_EPOCH} to {_MAX_EPOCH - 1} "
            f"({_RANGE_TEXT}), or epoch milliseconds {_MAX_EPOCH} to {_MAX_MS - 1}")
    if 10**15 <= value < 10**17:
        return text + "; this looks like microseconds: divide by 1,000,000"
    if 10**18 <= value < 10**20:
        return text + "; this looks like nanoseconds: divide by 1,000,000,000"
    return text


def _naive_us(dt: datetime) -> int:
    """A naive datetime read as UTC, in microseconds since the epoch."""
    delta = dt - datetime(1970, 1, 1)
    return (delta.days * 86400 + delta.seconds) * US + delta.microseconds


def local_to_us(local: datetime, tz: tzinfo) -> int:
    """A naive local wall-clock time in ``tz`` as an instant.

    A time in the spring DST gap moves forward to the first instant that exists;
    an ambiguous autumn time takes its first occurrence.
    """
    aware = local.replace(tzinfo=tz, fold=0)
    utc = aware.astimezone(UTC)
    back = utc.astimezone(tz).replace(tzinfo=None)
    if back != local.replace(tzinfo=None):
        # Non-existent local time: the instant after the gap is the wall time with
        # the post-transition offset (fold=1 gives it), moved to the gap's end.
        later = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
        earlier = utc
        gap_end = max(earlier, later)
        # The first existing instant is the transition itself: walk back to it.
        transition = _transition_before(gap_end, tz)
        return _aware_us(transition)
    return _aware_us(utc)


def _transition_before(instant: datetime, tz: tzinfo) -> datetime:
    """The latest UTC instant <= ``instant`` at which ``tz``'s offset changed (binary search)."""
    hi = instant
    lo = instant - timedelta(hours=26)
    off_hi = hi.astimezone(tz).utcoffset()
    if lo.astimezone(tz).utcoffset() == off_hi:
        return hi
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(tz).utcoffset() == off_hi:
            hi = mid
        else:
            lo = mid
    return hi


def _aware_us(dt: datetime) -> int:
    delta = dt - _EPOCH
    return (delta.days * 86400 + delta.seconds) * US + delta.microseconds


def to_datetime(us: int, tz: tzinfo = UTC) -> datetime:
    """An instant as an aware datetime in ``tz``."""
    return (_EPOCH + timedelta(microseconds=us)).astimezone(tz)


def format_time(us: int) -> str:
    """RFC 3339 in UTC with ``Z``; fractional seconds only when not whole."""
    seconds, micro = divmod(us, US)
    day, second = divmod(seconds, 86400)
    date_text = _DATE_TEXT.get(day)
    if date_text is None:
        date_text = (_EPOCH + timedelta(days=day)).date().isoformat() + "T"  # four-digit years, as RFC 3339 wants
        if len(_DATE_TEXT) > 20_000:
            _DATE_TEXT.clear()
        _DATE_TEXT[day] = date_text
    minute, second = divmod(second, 60)
    text = date_text + _MINUTE_TEXT[minute] + _SECOND_TEXT[second]
    if micro:
        return f"{text}.{micro:06d}".rstrip("0") + "Z"
    return text + "Z"


_DATE_TEXT: dict[int, str] = {}  # days since the epoch -> "2026-03-02T"
_MINUTE_TEXT = tuple(f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440))
_SECOND_TEXT = tuple(f"{s:02d}" for s in range(60))


def format_local(us: int, tz: tzinfo, fmt: str | None = None) -> str:
    """An instant in ``tz``: RFC 3339 with the local offset, or ``strftime(fmt)``."""
    dt = to_datetime(us, tz)
    if fmt is not None:
        return dt.strftime(fmt)
    text = dt.isoformat(timespec="microseconds" if dt.microsecond else "seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") and getattr(tz, "key", "UTC") == "UTC" else text


def seconds_value(us: int) -> int | float:
    """Microseconds as seconds: an int when whole, else a float."""
    whole, micro = divmod(us, US)
    return whole if micro == 0 else us / US


def format_duration(seconds: float | int) -> str:
    """Seconds as a compact human duration: ``1d 4h 30m``, ``45s``, ``-2h``."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        raise TypeError("format_duration needs a number of seconds")
    sign = "-" if seconds < 0 else ""
    rest = int(round(abs(seconds)))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            count, rest = divmod(rest, size)
            parts.append(f"{count}{unit}")
    return sign + (" ".join(parts) if parts else "0s")
