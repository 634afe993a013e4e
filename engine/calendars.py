"""Business-hours calendars: open hours, holidays, and deadlines in working time.

A :class:`Calendar` is built once per playbook by :func:`compile_calendar` from
the YAML under ``calendars: NAME:`` (contract, section 4) and then answers
questions about instants (``int`` microseconds since the epoch, see
:mod:`engine.timecalc`).

Semantics (contract sections 3 and 4), with the choices this module makes where
the contract is silent:

* Open hours are weekly local intervals ``[open, close)``; ``24:00`` is allowed as
  a close. Each local interval counts the *real* time elapsed between its local
  start and end, both read with :func:`engine.timecalc.local_to_us`: a local time
  in the spring DST gap moves forward to the first instant that exists, and an
  ambiguous autumn time means its first occurrence. So ``01:00-05:00`` counts 3 h on
  a spring-forward day and 5 h on a fall-back day (``00:00-24:00`` counts 23 h and
  25 h), and ``01:00-01:30`` on a fall-back day is open during the first 01:00-01:30
  only.
* ``h m s`` count open time only. The deadline is the *earliest* instant at which
  that much open time has elapsed, so it may equal a closing time.
* A start outside open hours first moves to the next opening. A zero duration is
  therefore the next opening (the start itself when open).
* ``Nd`` counts business days: a business day is a day whose weekday has open hours
  and that is not a holiday. From the next opening, the deadline is the same local
  clock time N business days later, *clamped into that day's open hours*: before the
  day's first opening it becomes the first opening; in a gap between split hours it
  becomes the next opening of that day; at or after the day's last closing it becomes
  that last closing (never the next day: that would add a business day). The local
  time is then read with ``local_to_us`` (DST gap -> forward).
* ``1d4h`` adds the days first, then the working time. ``w`` and fractional days
  are errors with a calendar (:func:`calendar_duration_error` gives the message for
  the compiler; :meth:`Calendar.add` raises ``ValueError``).
* ``holidays`` is a list of local dates, or ``{country, subdivision, add, remove}``
  resolved with the ``holidays`` package (public holidays, observed days included)
  lazily for each year a computation reaches: there is no fixed year range.

Speed: walks never go minute by minute. Working time walks day by day, but whole
weeks are skipped arithmetically while no *barrier* day lies in them; barriers are
holidays on open weekdays and days on which the UTC offset changes (DST), both
precomputed once per calendar and year. Business days skip whole weeks the same way
and subtract the holidays counted in the skipped span with a bisection. So ``90d``
costs about what ``1d`` does. (A zone whose offset changes and changes back within
one local day would not be seen as a barrier; no current zone does that.)
"""

from __future__ import annotations

import bisect
import difflib
import functools
import importlib.util
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import Diagnostic
from .loader import Positions
from .messages import did_you_mean, suggest_timezone
from .timecalc import MIN_TIME_US, US, Duration, local_to_us, to_datetime

__all__ = [
    "DAY_NAMES",
    "ZONE_SEPARATOR",
    "Calendar",
    "CalendarError",
    "calendar_duration_error",
    "compile_calendar",
    "zone_named",
    "zone_names",
]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MINUTE_US = 60 * US
_DAY_MINUTES = 24 * 60
_CALENDAR_KEYS = ("timezone", "hours", "holidays")
_HOLIDAY_KEYS = ("country", "subdivision", "add", "remove")
#: How many days in a row without open time a walk accepts before giving up:
#: a safety net against a calendar whose holidays close it for good.
_MAX_IDLE_DAYS = 3700
#: Days :meth:`Calendar._back_open` walks back before it bisects.
_BACK_WALK_DAYS = 400
_DAY_CACHE_LIMIT = 20_000
#: How many calendars derived in other time zones (:meth:`Calendar.in_zone`) one calendar
#: keeps; past it, more are built on demand (each with empty caches: slower, never wrong).
_ZONE_CACHE_LIMIT = 1000
#: Separates a calendar's name from the zone it was derived in: "support@Europe/Paris".
ZONE_SEPARATOR = "@"

Week = tuple[tuple[tuple[int, int], ...], ...]


class CalendarError(ValueError):
    """A deadline cannot be computed (a duration unusable with a calendar, a date past 9999...)."""


@dataclass(frozen=True, slots=True)
class _Year:
    """What a calendar needs to know about one year, computed once on demand."""

    holidays: frozenset[date]
    #: ordinals of holidays that fall on an open weekday (they remove a business day)
    closed: tuple[int, ...]
    #: ordinals of days whose UTC offset changes before the next local midnight
    shifted: frozenset[int]
    #: closed + shifted, sorted: days a whole-week skip must not jump over
    barriers: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Calendar:
    """Weekly open hours in a time zone, minus holidays.

    ``hours[w]`` lists the open ``(start_minute, end_minute)`` local intervals of
    weekday ``w`` (0 = Monday), sorted and non-overlapping; ``end`` may be 1440.
    ``holidays`` are explicit local dates; ``country``/``subdivision`` add the
    public holidays of the ``holidays`` package, minus ``removed``.
    """

    name: str
    tz: ZoneInfo
    hours: Week
    holidays: frozenset[date] = frozenset()
    country: str | None = None
    subdivision: str | None = None
    removed: frozenset[date] = frozenset()
    # Lazy caches: filled on demand, so they take no part in equality or hashing.
    _years: dict[int, _Year] = field(default_factory=dict, init=False, repr=False, compare=False)
    _days: dict[int, tuple[int, tuple[tuple[int, int], ...]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # Nominal open time per weekday and per week (no holiday, no DST change).
    _day_us: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _week_us: int = field(init=False, repr=False, compare=False)
    #: [days visited by walks]: lets tests check that long durations stay cheap
    _steps: list[int] = field(default_factory=lambda: [0], init=False, repr=False, compare=False)
    # (closed from, open, close) of the open intervals found last: see add().
    _last_open: list[tuple[int, int, int]] = field(default_factory=lambda: [(0, 0, 0), (0, 0, 0)], init=False,
                                                   repr=False, compare=False)
    # in_zone(): the calendar this one was derived from (None: declared), and the derived ones.
    _base: Calendar | None = field(default=None, init=False, repr=False, compare=False)
    _zones: dict[str, Calendar] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.hours) != 7:
            raise ValueError("hours must give the open intervals of 7 weekdays")
        for day in self.hours:
            previous_end = -1
            for start, end in day:
                if not (0 <= start < end <= _DAY_MINUTES) or start < previous_end:
                    raise ValueError(f"invalid open hours {self.hours!r}")
                previous_end = end
        if not any(self.hours):
            raise ValueError(f"calendar {self.name!r} has no open hours")
        day_us = tuple(sum(end - start for start, end in day) * _MINUTE_US for day in self.hours)
        object.__setattr__(self, "_day_us", day_us)  # frozen: derived data is set once, here
        object.__setattr__(self, "_week_us", sum(day_us))

    # --- public API -----------------------------------------------------------

    @property
    def week_us(self) -> int:
        """Open time of a week without holidays or DST changes."""
        return self._week_us

    @property
    def business_weekdays(self) -> int:
        return sum(1 for day in self.hours if day)

    @property
    def day_steps(self) -> int:
        """Days visited by walks so far (a cost measure for tests, not for users)."""
        return self._steps[0]

    def add(self, start_us: int, duration: Duration) -> int:
        """The deadline ``duration`` after ``start_us`` in this calendar (section 4)."""
        message = calendar_duration_error(duration)
        if message is not None:
            raise CalendarError(message)
        if not duration.days:
            # Most deadlines fall in the open interval their start is in, or opens next: one of
            # the two found last, each remembered with the closed time known to come before it.
            for closed_from, open_us, close_us in self._last_open:
                if closed_from <= start_us < close_us:
                    end = (start_us if start_us > open_us else open_us) + duration.clock_us
                    if end <= close_us:
                        return end
        try:
            at = self._advance(start_us, 0)
            recent = self._last_open[0]
            if recent[1] == at and start_us < recent[0]:  # nothing open in [start_us, at)
                self._last_open[0] = (start_us, recent[1], recent[2])
            if duration.days:
                at = self._add_business_days(at, int(duration.days))
            if duration.clock_us:
                at = self._advance(at, duration.clock_us)
            return at
        except CalendarError:
            raise
        except (OverflowError, ValueError):  # datetime's own range errors
            raise CalendarError(f"{duration.text} from that start goes beyond the year 9999") from None

    def subtract(self, end_us: int, duration: Duration) -> int:
        """The instant ``duration`` before ``end_us`` in this calendar: the mirror of :meth:`add`.

        ``Nd`` first: the same local clock time N business days before ``end_us``'s local
        day (that day not counted), clamped into that day's open hours; then ``h m s``: the
        latest instant from which that much open time remains until there. So Monday 00:00
        minus ``1d`` is Friday 09:00 on ``mon-fri 09:00-17:00``, and Monday 11:00 minus
        ``4h`` is Friday 15:00.
        """
        message = calendar_duration_error(duration)
        if message is not None:
            raise CalendarError(message)
        try:
            at = end_us
            if duration.days:
                at = self._back_business_days(at, int(duration.days))
            if duration.clock_us:
                at = self._back_open(at, duration.clock_us)
            return at
        except CalendarError:
            raise
        except (OverflowError, ValueError):
            raise CalendarError(f"{duration.text} before that instant goes beyond the year 1") from None

    def _back_business_days(self, end_us: int, count: int) -> int:
        local = to_datetime(end_us, self.tz)
        clock_us = ((local.hour * 60 + local.minute) * 60 + local.second) * US + local.microsecond
        day = local.date().toordinal()
        idle = 0
        while count > 0:
            self._steps[0] += 1
            day -= 1
            idle = self._idle_after(day, idle)
            if not idle:
                count -= 1
        return self._land(day, clock_us)

    def _idle_after(self, day: int, idle: int) -> int:
        """Closed days in a row after ``day`` is counted (0: a business day); a calendar that
        stays closed for good is an error, not an endless walk."""
        if self.is_business_day(date.fromordinal(day)):
            return 0
        if idle + 1 > _MAX_IDLE_DAYS:
            raise CalendarError(f"calendar {self.name!r} has no business day for {_MAX_IDLE_DAYS} days in a row")
        return idle + 1

    def _land(self, day: int, clock_us: int) -> int:
        """The local clock time ``clock_us`` on ``day`` (an ordinal), clamped into its open hours."""
        target = date.fromordinal(day)
        clamped = _clamp(clock_us, self.hours[target.weekday()])
        return local_to_us(datetime(target.year, target.month, target.day) + timedelta(microseconds=clamped), self.tz)

    def _back_open(self, end_us: int, amount: int) -> int:
        """The latest instant ``s`` with ``working_us(s, end_us) >= amount``: a walk back over
        the open intervals, day by day (a reminder hours or days before a deadline costs a
        few days); beyond a year of days, bisection takes over from where the walk stopped."""
        at = end_us
        day = self._ordinal(end_us)
        remaining = amount
        for _ in range(_BACK_WALK_DAYS):
            self._steps[0] += 1
            day_start, intervals = self._day(day)
            for open_us, close_us in reversed(intervals):
                high = min(close_us, at)
                if high <= open_us:
                    continue
                if high - open_us >= remaining:
                    return high - remaining
                remaining -= high - open_us
            if day_start <= MIN_TIME_US:
                raise OverflowError("before the year 1")  # told as such by subtract()
            at = min(at, day_start)
            day -= 1
        return self._back_open_bisect(at, remaining)

    def _back_open_bisect(self, end_us: int, amount: int) -> int:
        """:meth:`_back_open` by bisection: open time before ``end_us`` only grows as ``s`` moves back."""
        span = max(amount * 2, 7 * 86_400 * US)
        # Not before the first instant a run knows: an answer after it is still found there.
        lo = max(end_us - span, MIN_TIME_US)
        while self.working_us(lo, end_us) < amount:
            if lo == MIN_TIME_US:
                raise OverflowError("before the year 1")  # told as such by subtract()
            span *= 2
            if span > 400 * 366 * 86_400 * US:
                raise CalendarError(f"calendar {self.name!r} has no open time for centuries before that instant")
            lo = max(end_us - span, MIN_TIME_US)
        hi = end_us
        while hi - lo > 1:  # working_us(lo) >= amount > working_us(hi)
            mid = (lo + hi) // 2
            if self.working_us(mid, end_us) >= amount:
                lo = mid
            else:
                hi = mid
        return lo

    def working_us(self, start_us: int, end_us: int) -> int:
        """Open time in ``[start_us, end_us)``, in microseconds."""
        if end_us <= start_us:
            return 0
        day = self._ordinal(start_us)
        end_day = self._ordinal(end_us)
        at = start_us
        total = 0
        while True:
            day_start, intervals = self._day(day)
            if day_start >= end_us:
                return total
            self._steps[0] += 1
            at = max(at, day_start)
            if at == day_start and day < end_day:
                # Whole days before end_us's day: count the barrier-free ones arithmetically.
                barrier = self._next_barrier(day, end_day)
                span = (end_day if barrier is None else barrier) - day
                if span:
                    total += self._nominal(day, span)
                    day += span
                    continue
            for open_us, close_us in intervals:
                low, high = max(open_us, at), min(close_us, end_us)
                if high > low:
                    total += high - low
            day += 1

    def is_open(self, at_us: int) -> bool:
        day = self._ordinal(at_us)
        # The neighbours matter only around a midnight that a DST change repeats.
        for d in (day - 1, day, day + 1):
            for open_us, close_us in self._day(d)[1]:
                if open_us <= at_us < close_us:
                    return True
        return False

    def next_open(self, at_us: int) -> int:
        """``at_us`` itself when open, else the next opening instant."""
        return self._advance(at_us, 0)

    @property
    def base(self) -> Calendar:
        """The declared calendar this one is (or was derived from by :meth:`in_zone`)."""
        return self._base or self

    def in_zone(self, zone: ZoneInfo) -> Calendar:
        """The same hours and holidays read in ``zone``: local open hours and local dates there.

        Named ``NAME@ZONE`` (saved state finds it again with :meth:`named_zone`); the
        calendar itself when ``zone`` is its own. Derived calendars are kept (at most
        :data:`_ZONE_CACHE_LIMIT` per calendar), each with its own caches.
        """
        base = self.base
        key = zone.key
        if key == base.tz.key:
            return base
        derived = base._zones.get(key)
        if derived is None:
            derived = replace(base, name=f"{base.name}{ZONE_SEPARATOR}{key}", tz=zone)
            object.__setattr__(derived, "_base", base)  # frozen: set once, here
            if len(base._zones) < _ZONE_CACHE_LIMIT:
                base._zones[key] = derived
        return derived

    def named_zone(self, name: str) -> Calendar:
        """The calendar derived in the zone ``name`` (the part after ``@`` of a derived
        calendar's name); this calendar itself when ``name`` is no known zone."""
        zone = zone_named(name)
        return self if zone is None else self.in_zone(zone)

    def is_holiday(self, day: date) -> bool:
        return day in self._year(day.year).holidays

    def holidays_in(self, year: int) -> frozenset[date]:
        """Every holiday of ``year`` (explicit dates and country holidays)."""
        return self._year(year).holidays

    def is_business_day(self, day: date) -> bool:
        return bool(self.hours[day.weekday()]) and not self.is_holiday(day)

    # --- walks ------------------------------------------------------------------

    def _advance(self, at: int, remaining: int) -> int:
        """The earliest instant by which ``remaining`` open time has elapsed since ``at``.

        With ``remaining == 0``: the next opening (``at`` itself when open).
        """
        day = self._ordinal(at)
        idle = 0
        while True:
            self._steps[0] += 1
            day_start, intervals = self._day(day)
            at = max(at, day_start)
            if at == day_start and remaining:
                span, work = self._skip(day, remaining)
                if span:
                    remaining -= work
                    day += span
                    continue
            for open_us, close_us in intervals:
                if close_us <= at:
                    continue
                idle = 0
                begin = max(open_us, at)
                if close_us - begin >= remaining:
                    recent = self._last_open
                    if recent[0][1] != open_us:
                        recent[1] = recent[0]
                        recent[0] = (open_us, open_us, close_us)
                    return begin + remaining
                remaining -= close_us - begin
            idle += 1
            if idle > _MAX_IDLE_DAYS:
                raise CalendarError(f"calendar {self.name!r} has no open hours for {_MAX_IDLE_DAYS} days in a row")
            day += 1

    def _skip(self, day: int, remaining: int) -> tuple[int, int]:
        """(days, open time) of the longest barrier-free run of whole days from ``day``
        whose open time stays *below* ``remaining``.

        Below, not up to: the end must be found by the walk inside a day, so that a
        deadline at a closing time stays at that closing time.
        """
        week = self._week_us
        weeks = (remaining - 1) // week
        limit = 7 * weeks + 7  # the end lies within the week after the whole weeks
        barrier = self._next_barrier(day, day + limit)
        room = limit if barrier is None else barrier - day
        weeks = min(weeks, room // 7)
        span, work = 7 * weeks, weeks * week
        weekday = (day - 1) % 7  # date.fromordinal(1) is a Monday
        while span < room:
            more = self._day_us[(weekday + span) % 7]
            if work + more >= remaining:
                break
            work += more
            span += 1
        return span, work

    def _nominal(self, day: int, days: int) -> int:
        """Open time of ``days`` barrier-free days from ``day``."""
        weeks, rest = divmod(days, 7)
        weekday = (day - 1) % 7
        return weeks * self._week_us + sum(self._day_us[(weekday + i) % 7] for i in range(rest))

    def _add_business_days(self, opened: int, count: int) -> int:
        """From an open instant: the same local clock time ``count`` business days later, clamped."""
        local = to_datetime(opened, self.tz)
        clock_us = ((local.hour * 60 + local.minute) * 60 + local.second) * US + local.microsecond
        day = local.date().toordinal()
        per_week = self.business_weekdays
        idle = 0
        while count > 0:
            self._steps[0] += 1
            if count > per_week:
                weeks = (count - 1) // per_week
                lost = self._closed_between(day + 1, day + 7 * weeks)
                count -= weeks * per_week - lost
                day += 7 * weeks
                continue
            day += 1
            idle = self._idle_after(day, idle)
            if not idle:
                count -= 1
        return self._land(day, clock_us)

    def _next_barrier(self, first: int, stop: int) -> int | None:
        """The first barrier day in ``[first, stop)``, if any."""
        year = date.fromordinal(first).year
        last_year = date.fromordinal(max(first, stop - 1)).year
        while year <= last_year:
            barriers = self._year(year).barriers
            i = bisect.bisect_left(barriers, first)
            if i < len(barriers):
                return barriers[i] if barriers[i] < stop else None
            year += 1
        return None

    def _closed_between(self, first: int, last: int) -> int:
        """How many holidays on open weekdays fall in ``[first, last]``."""
        total = 0
        for year in range(date.fromordinal(first).year, date.fromordinal(last).year + 1):
            closed = self._year(year).closed
            total += bisect.bisect_right(closed, last) - bisect.bisect_left(closed, first)
        return total

    # --- per-day and per-year data ---------------------------------------------------

    def _ordinal(self, at: int) -> int:
        return to_datetime(at, self.tz).date().toordinal()

    def _day(self, ordinal: int) -> tuple[int, tuple[tuple[int, int], ...]]:
        """(instant of local midnight, open intervals as instants) of one local day."""
        cached = self._days.get(ordinal)
        if cached is not None:
            return cached
        day = date.fromordinal(ordinal)
        midnight = datetime(day.year, day.month, day.day)
        day_start = local_to_us(midnight, self.tz)
        info = self._year(day.year)
        intervals: list[tuple[int, int]] = []
        if day not in info.holidays:
            steady = ordinal not in info.shifted
            for start, end in self.hours[day.weekday()]:
                if steady:  # one UTC offset all day: plain arithmetic
                    open_us, close_us = day_start + start * _MINUTE_US, day_start + end * _MINUTE_US
                else:
                    open_us = local_to_us(midnight + timedelta(minutes=start), self.tz)
                    close_us = local_to_us(midnight + timedelta(minutes=end), self.tz)
                if close_us > open_us:  # an interval inside a DST gap vanishes
                    intervals.append((open_us, close_us))
        result = (day_start, tuple(intervals))
        if len(self._days) >= _DAY_CACHE_LIMIT:
            self._days.clear()
        self._days[ordinal] = result
        return result

    def _year(self, year: int) -> _Year:
        info = self._years.get(year)
        if info is None:
            info = self._build_year(year)
            self._years[year] = info
        return info

    def _build_year(self, year: int) -> _Year:
        days = {d for d in self.holidays if d.year == year}
        if self.country is not None:
            days |= _country_holidays(self.country, self.subdivision, year) - self.removed
        holidays = frozenset(days)
        closed = tuple(sorted(d.toordinal() for d in holidays if self.hours[d.weekday()]))
        shifted: set[int] = set()
        first = date(year, 1, 1).toordinal()
        last = date(year, 12, 31).toordinal()
        previous = _midnight_offset(first, self.tz)
        for ordinal in range(first, last + 1):
            following = _midnight_offset(ordinal + 1, self.tz) if ordinal < date.max.toordinal() else previous
            if following != previous:
                shifted.add(ordinal)
            previous = following
        return _Year(holidays, closed, frozenset(shifted), tuple(sorted(shifted.union(closed))))


def _midnight_offset(ordinal: int, tz: ZoneInfo) -> timedelta | None:
    day = date.fromordinal(ordinal)
    # fold=0, like local_to_us: a midnight in a gap or a repeat reads the earlier offset.
    return datetime(day.year, day.month, day.day, tzinfo=tz).utcoffset()


def _clamp(clock_us: int, intervals: Iterable[tuple[int, int]]) -> int:
    """A local time of day clamped into a day's open intervals (see the module docstring)."""
    last_close = clock_us
    for start, end in intervals:
        if clock_us < start * _MINUTE_US:
            return start * _MINUTE_US
        if clock_us < end * _MINUTE_US:
            return clock_us
        last_close = end * _MINUTE_US
    return last_close


def calendar_duration_error(duration: Duration) -> str | None:
    """Why ``duration`` cannot be used with a calendar, or None when it can."""
    if duration.weeks:
        return (
            f"duration {duration.text!r}: weeks ('w') cannot be used with a calendar; "
            f"count business days instead (e.g. '{int(duration.weeks * 5) or 5}d')"
        )
    if duration.days != int(duration.days):
        return f"duration {duration.text!r}: business days must be whole with a calendar; use hours for the rest"
    return None


# --- holidays package -------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _country_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(_country_instance(country, subdivision, year).keys())


def _country_instance(country: str, subdivision: str | None, years: int | list[int]) -> Any:
    """``holidays.country_holidays(country, subdiv=..., years=...)``, from the country's
    module alone when it can be loaded so (see :func:`_country_class`)."""
    cls = _country_class(country)
    if cls is not None:
        try:
            return cls(years=years, subdiv=subdivision)
        except Exception:  # noqa: BLE001 - anything unexpected: the package's own way says what
            pass
    import holidays as holidays_package  # imported late: it is slow to import and often unused

    return holidays_package.country_holidays(country, subdiv=subdivision, years=years)


@functools.cache
def _country_class(code: str) -> Any:
    """The holidays package's class for a country (alpha-2 code), with only its own module
    loaded; None when that cannot be done, and the package's lookup is used instead.

    The package's lookup imports ``holidays.countries``, whose ``__init__`` imports every
    country's module (~0.13 s and 8 MB at every start-up); a playbook needs one or two.
    The registry and the modules' layout are the package's, not a documented API: any
    surprise falls back (tests/test_calendars.py checks both ways agree).
    """
    try:
        import holidays as holidays_package
        from holidays.registry import COUNTRIES

        for module_name, entry in COUNTRIES.items():
            if len(entry) < 2 or entry[1] != code:
                continue
            full = f"holidays.countries.{module_name}"
            module = sys.modules.get(full)
            if module is None:
                path = Path(holidays_package.__file__).parent / "countries" / f"{module_name}.py"
                spec = importlib.util.spec_from_file_location(full, path)
                if spec is None or spec.loader is None:
                    return None
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
            return getattr(module, entry[0])
    except Exception:  # noqa: BLE001 - see above
        return None
    return None


@functools.cache
def _countries() -> dict[str, tuple[str, ...]]:
    import holidays as holidays_package

    return {code: tuple(subdivs) for code, subdivs in holidays_package.list_supported_countries().items()}


@functools.cache
def _country_subdivisions(code: str) -> tuple[str, ...] | None:
    """The subdivisions of a supported country (alpha-2 code), None if it is not one.

    Much cheaper than :func:`_countries`, which imports every country's module.
    """
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        return None
    try:
        instance = _country_instance(code, None, [])
    except (NotImplementedError, KeyError, AttributeError):
        return None
    if getattr(instance, "country", None) != code:
        return None
    return tuple(instance.subdivisions)


@functools.cache
def _country_names() -> dict[str, str]:
    """Lower-case country names -> alpha-2 code, for "did you mean" on names."""
    try:
        from holidays.registry import COUNTRIES  # not a documented API: use it only for hints
    except ImportError:  # pragma: no cover - depends on the package version
        return {}
    names: dict[str, str] = {}
    for module, entry in COUNTRIES.items():
        if len(entry) >= 2:
            names[module.replace("_", " ")] = entry[1]
            names[re.sub(r"(?<!^)(?=[A-Z])", " ", entry[0]).lower()] = entry[1]
    return names


def _subdivision_aliases(country: str) -> dict[str, str]:
    try:
        instance = _country_instance(country, None, [])
    except NotImplementedError:  # pragma: no cover - country was checked first
        return {}
    return dict(getattr(instance, "subdivisions_aliases", {}) or {})


# --- compiling ------------------------------------------------------------------------

_TIME = r"(\d{1,2}):(\d{2})"
_INTERVAL = re.compile(rf"^\s*{_TIME}\s*-\s*{_TIME}\s*$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _suggest_day(word: str) -> str:
    lowered = word.lower()
    if lowered[:3] in DAY_NAMES:
        return f" (did you mean {lowered[:3]!r}?)"
    return did_you_mean(lowered, DAY_NAMES)


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return f"the text {value!r}"
    return f"a {type(value).__name__}"


def _parse_days(key: str) -> tuple[list[int], list[str]]:
    """Weekdays named by a key like ``mon-fri``, ``sat``, ``mon,wed``; errors as messages."""
    days: list[int] = []
    errors: list[str] = []
    for part in key.split(","):
        item = part.strip()
        if not item:
            errors.append(f"empty day name in {key!r}: use mon tue wed thu fri sat sun, ranges like 'mon-fri'")
            continue
        ends = [e.strip() for e in item.split("-")]
        if len(ends) > 2:
            errors.append(f"invalid day range {item!r}: write 'mon-fri'")
            continue
        indices: list[int] = []
        for end in ends:
            if end.lower() in DAY_NAMES:
                indices.append(DAY_NAMES.index(end.lower()))
            else:
                errors.append(f"unknown day {end!r}{_suggest_day(end)}: use mon tue wed thu fri sat sun")
        if len(indices) != len(ends):
            continue
        if len(indices) == 1:
            days.append(indices[0])
        else:
            # A range may wrap around the week end: fri-mon is fri sat sun mon.
            span = (indices[1] - indices[0]) % 7
            days.extend((indices[0] + i) % 7 for i in range(span + 1))
    return days, errors


def _parse_interval(text: str) -> tuple[tuple[int, int] | None, str | None]:
    m = _INTERVAL.match(text)
    if m is None:
        return None, f"invalid open hours {text!r}: write 'HH:MM-HH:MM', e.g. '09:00-17:00'"
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    for hour, minute in ((h1, m1), (h2, m2)):
        if hour > 24 or minute > 59 or (hour == 24 and minute != 0):
            return (
                None,
                f"invalid time {hour:02d}:{minute:02d} in {text!r}: hours are 00-23 (24:00 only as a closing time), minutes 00-59",
            )
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == _DAY_MINUTES:
        return None, f"invalid open hours {text!r}: 24:00 can only close an interval"
    if end == start:
        return None, f"empty open hours {text!r}: the closing time must be later than the opening time"
    if end < start:
        return None, (
            f"inverted open hours {text!r}: the closing time is earlier than the opening time "
            f"(intervals cannot cross midnight: split it, e.g. '{text.split('-')[0].strip()}-24:00' and '00:00-{text.split('-')[1].strip()}' on the next day)"
        )
    return (start, end), None


def _parse_date(value: object) -> tuple[date | None, str | None]:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value, None
    if isinstance(value, str):
        m = _DATE.match(value.strip())
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3])), None
            except ValueError as exc:
                return None, f"invalid date {value!r}: {exc}"
        return None, f"invalid date {value!r}: write YYYY-MM-DD, e.g. '2026-12-25'"
    return None, f"invalid date: expected YYYY-MM-DD, got {_describe(value)}"


def compile_calendar(
    name: str,
    spec: object,
    *,
    default_tz: str,
    positions: Positions,
    path: tuple[str | int, ...],
    years: range | None = None,
) -> tuple[Calendar | None, list[Diagnostic]]:
    """Build the calendar ``name`` from its YAML mapping; every problem becomes a Diagnostic.

    Returns ``(calendar, [])`` or ``(None, diagnostics)``: all problems are reported,
    not only the first. ``years``, when given, resolves country holidays for those
    years now (a warm-up; other years still resolve on demand).
    """
    diags: list[Diagnostic] = []

    def error(where: tuple[str | int, ...], message: str, *, key: bool = False) -> None:
        diags.append(positions.diag(path + where, message, key=key))

    if not isinstance(spec, Mapping):
        error((), f"calendar {name!r} must be a mapping with 'timezone', 'hours' and 'holidays', not {_describe(spec)}")
        return None, diags

    for key in spec:
        if key not in _CALENDAR_KEYS:
            hint = did_you_mean(str(key), _CALENDAR_KEYS) or " (allowed: timezone, hours, holidays)"
            error((key,), f"unknown calendar key {key!r}{hint}", key=True)

    tz = _compile_timezone(name, spec, default_tz, error)
    hours = _compile_hours(name, spec, error)
    fixed, country, subdivision, removed = _compile_holidays(spec, error)

    if diags or tz is None or hours is None:
        return None, diags
    calendar = Calendar(name, tz, hours, fixed, country, subdivision, removed)
    if years is not None:
        for year in years:
            calendar.holidays_in(year)
    return calendar, diags


class _ErrorFn(Protocol):
    def __call__(self, where: tuple[str | int, ...], message: str, *, key: bool = False) -> None: ...


def zone_named(name: object) -> ZoneInfo | None:
    """The IANA time zone ``name`` names, or None (not a string, empty, not in the tz database).

    Names are checked against the tz database's list first, so that what a run accepts
    does not depend on the file system ('europe/paris' on a case-insensitive one) and no
    file outside the database is ever opened for a name an event carries.
    """
    if not isinstance(name, str) or name not in zone_names():
        return None
    return _zone(name)


@functools.cache
def zone_names() -> frozenset[str]:
    """The tz database's zone names (read once; the compiler reads them before a run needs them)."""
    from zoneinfo import available_timezones

    return frozenset(available_timezones()) - {"localtime", "posixrules"}


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # ValueError: not a zone key at all ('../x')
        return None


def _compile_timezone(name: str, spec: Mapping[str, Any], default_tz: str, error: _ErrorFn) -> ZoneInfo | None:
    if "timezone" in spec:
        value = spec["timezone"]
        if not isinstance(value, str) or not value.strip():
            error(("timezone",), f"timezone must be an IANA name like 'America/New_York', not {_describe(value)}")
            return None
        zone = _zone(value)
        if zone is None:
            error(("timezone",), f"unknown time zone {value!r}{suggest_timezone(value)}")
        return zone
    zone = _zone(default_tz)
    if zone is None:
        # The playbook's timezone is reported where it is written; say why this calendar has none.
        error(
            (),
            f"calendar {name!r} has no valid time zone: the playbook's timezone {default_tz!r} is unknown; set 'timezone:'",
            key=True,
        )
    return zone


def _compile_hours(name: str, spec: Mapping[str, Any], error: _ErrorFn) -> Week | None:
    if "hours" not in spec:
        error((), f"calendar {name!r} needs 'hours', e.g. hours: {{mon-fri: \"09:00-17:00\"}}", key=True)
        return None
    hours = spec["hours"]
    if not isinstance(hours, Mapping):
        error(("hours",), f"hours must map days to 'HH:MM-HH:MM' (or a list of them), not {_describe(hours)}")
        return None
    week: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    given_by: dict[int, str] = {}
    ok = True
    for key, value in hours.items():
        where: tuple[str | int, ...] = ("hours", key)
        days, day_errors = _parse_days(str(key))
        for message in day_errors:
            error(where, message, key=True)
        ok = ok and not day_errors

        items: list[tuple[tuple[str | int, ...], object]] = (
            [(where + (i,), v) for i, v in enumerate(value)] if isinstance(value, list) else [(where, value)]
        )
        intervals: list[tuple[tuple[int, int], tuple[str | int, ...], str]] = []
        for item_path, item in items:
            if not isinstance(item, str):
                error(item_path, f"open hours must be 'HH:MM-HH:MM', not {_describe(item)}")
                ok = False
                continue
            interval, problem = _parse_interval(item)
            if interval is None:
                error(item_path, problem or "invalid open hours")
                ok = False
                continue
            intervals.append((interval, item_path, item))
        intervals.sort()
        merged: list[tuple[int, int]] = []
        previous_text = ""
        for interval, item_path, item in intervals:
            if merged and interval[0] < merged[-1][1]:
                error(item_path, f"open hours {item!r} overlap {previous_text!r} on the same day")
                ok = False
                continue
            if merged and merged[-1][1] == interval[0]:  # touching intervals: one stretch
                merged[-1] = (merged[-1][0], interval[1])
            else:
                merged.append(interval)
            previous_text = item

        twice: list[int] = []
        for day in days:
            if day in given_by:
                twice.append(day)
                continue
            given_by[day] = str(key)
            week[day] = list(merged)
        if twice:
            ok = False
            earlier = list(dict.fromkeys(given_by[d] for d in twice if given_by[d] != str(key)))
            also = f" (already given by {', '.join(repr(k) for k in earlier)})" if earlier else ""
            if len(twice) == 1:
                error(where, f"day {DAY_NAMES[twice[0]]!r} is given twice{also}", key=True)
            else:
                named = ", ".join(repr(DAY_NAMES[d]) for d in dict.fromkeys(twice))
                error(where, f"days {named} are given twice{also}", key=True)
    if not ok:
        return None
    if not any(week):
        error(
            ("hours",),
            f'calendar {name!r} has no open hours at all: give at least one day, e.g. mon-fri: "09:00-17:00"',
        )
        return None
    return tuple(tuple(day) for day in week)


def _compile_holidays(
    spec: Mapping[str, Any], error: _ErrorFn
) -> tuple[frozenset[date], str | None, str | None, frozenset[date]]:
    """(explicit dates, country, subdivision, removed dates); problems go to ``error``."""
    nothing: tuple[frozenset[date], str | None, str | None, frozenset[date]] = (frozenset(), None, None, frozenset())
    if "holidays" not in spec or spec["holidays"] is None:
        return nothing
    value = spec["holidays"]
    if isinstance(value, list):
        return _compile_dates(value, ("holidays",), error), None, None, frozenset()
    if not isinstance(value, Mapping):
        error(
            ("holidays",),
            f"holidays must be a list of dates (YYYY-MM-DD) or a mapping {{country: US, subdivision: NY, add: [...], remove: [...]}}, not {_describe(value)}",
        )
        return nothing
    for key in value:
        if key not in _HOLIDAY_KEYS:
            hint = did_you_mean(str(key), _HOLIDAY_KEYS) or " (allowed: country, subdivision, add, remove)"
            error(("holidays", key), f"unknown holidays key {key!r}{hint}", key=True)
    added: frozenset[date] = frozenset()
    removed: frozenset[date] = frozenset()
    for key in ("add", "remove"):
        if key in value:
            dates = value[key]
            if not isinstance(dates, list):
                error(("holidays", key), f"holidays {key} must be a list of dates (YYYY-MM-DD), not {_describe(dates)}")
            elif key == "add":
                added = _compile_dates(dates, ("holidays", key), error)
            else:
                removed = _compile_dates(dates, ("holidays", key), error)
    country, subdivision = _compile_country(value, error)
    return added, country, subdivision, removed


def _compile_dates(values: list[object], where: tuple[str | int, ...], error: _ErrorFn) -> frozenset[date]:
    dates: set[date] = set()
    for i, item in enumerate(values):
        parsed, message = _parse_date(item)
        if parsed is None:
            error(where + (i,), message or "invalid date")
        else:
            dates.add(parsed)
    return frozenset(dates)


def _compile_country(value: Mapping[str, Any], error: _ErrorFn) -> tuple[str | None, str | None]:
    if "country" not in value:
        error(
            ("holidays",),
            "holidays as a mapping needs 'country' (an ISO 3166 code such as US); for your own dates give a list",
        )
        return None, None
    raw = value["country"]
    if not isinstance(raw, str) or not raw.strip():
        error(("holidays", "country"), f"country must be an ISO 3166 code such as 'US', not {_describe(raw)}")
        return None, None
    code = raw.strip().upper()
    known = _country_subdivisions(code)
    countries = {code: known} if known is not None else _countries()  # the whole list only for hints
    if code not in countries:
        named = _country_names().get(raw.strip().lower())
        if named:
            hint = f" (did you mean {named!r}?)"
        else:
            hint = (
                did_you_mean(code, countries)
                or f" ({len(countries)} codes are supported, e.g. US, GB, DE, FR, CA, AU)"
            )
        error(("holidays", "country"), f"unknown country code {raw!r}{hint}")
        return None, None
    if "subdivision" not in value or value["subdivision"] is None:
        return code, None
    sub = value["subdivision"]
    if not isinstance(sub, str) or not sub.strip():
        error(("holidays", "subdivision"), f"subdivision must be a code such as 'NY', not {_describe(sub)}")
        return None, None
    supported = countries[code]
    if not supported:
        error(
            ("holidays", "subdivision"),
            f"country {code!r} has no subdivisions in the holiday data; remove 'subdivision'",
        )
        return None, None
    by_upper = {s.upper(): s for s in supported}
    wanted = sub.strip()
    if wanted.upper() in by_upper:
        return code, by_upper[wanted.upper()]
    aliases = {alias.lower(): target for alias, target in _subdivision_aliases(code).items()}
    if wanted.lower() in aliases:
        return code, aliases[wanted.lower()]
    hint = did_you_mean(wanted.upper(), by_upper)
    if not hint:  # maybe a misspelt name, e.g. 'New Yrok'
        close = difflib.get_close_matches(wanted.lower(), list(aliases), n=1, cutoff=0.75)
        hint = f" (did you mean {aliases[close[0]]!r}?)" if close else ""
    listing = ", ".join(supported)
    error(("holidays", "subdivision"), f"unknown subdivision {sub!r} of {code}{hint}: supported: {listing}")
    return None, None
