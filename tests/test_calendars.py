"""Business-hours calendars (contract sections 3 and 4): golden cases, validation, properties.

Golden expectations were worked out by hand from the contract; the property tests
also compare the fast walks (which skip whole weeks) with a brute-force reference
that walks every day and resolves holidays straight from the ``holidays`` package.
"""

from __future__ import annotations

import functools
import pickle
import subprocess
import sys
from datetime import date, datetime, timedelta

import holidays as holidays_package
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.calendars import Calendar, calendar_duration_error, compile_calendar
from engine.errors import Diagnostic
from engine.loader import load_yaml
from engine.timecalc import US, Duration, local_to_us, parse_duration, parse_time, to_datetime
from tests.conftest import ROOT

H = 3600 * US

CALENDARS_YAML = """\
calendars:
  us:
    timezone: America/New_York
    hours: {mon-fri: "09:00-17:00"}
    holidays: {country: US}
  us-ny:
    timezone: America/New_York
    hours: {mon-fri: "09:00-17:00"}
    holidays: {country: US, subdivision: NY}
  us-extra:
    timezone: America/New_York
    hours: {mon-fri: "09:00-17:00"}
    holidays: {country: US, add: [2026-11-27], remove: [2026-12-25]}
  fixed:
    timezone: America/New_York
    hours: {mon-fri: "09:00-17:00"}
    holidays: [2026-12-24, 2026-12-25]
  split:
    timezone: Europe/Paris
    hours:
      mon-fri: ["13:00-17:00", "09:00-12:00"]
      sat: "10:00-12:00"
  clamp:
    timezone: UTC
    hours:
      mon,wed,fri: "09:00-17:00"
      tue: ["10:00-12:00", "14:00-16:00"]
      thu: "12:00-13:00"
  early:
    timezone: UTC
    hours: {mon-fri: "00:00-08:00"}
  ny-always:
    timezone: America/New_York
    hours: {mon-sun: "00:00-24:00"}
  ny-night:
    timezone: America/New_York
    hours: {mon-sun: "01:00-04:00"}
  ny-gap:
    timezone: America/New_York
    hours: {mon-sun: "02:00-05:00"}
  ny-lost:
    timezone: America/New_York
    hours: {mon-sun: ["02:00-02:30", "09:00-10:00"]}
  paris-always:
    timezone: Europe/Paris
    hours: {mon-sun: "00:00-24:00"}
  paris-night:
    timezone: Europe/Paris
    hours: {mon-sun: "01:00-04:00"}
  paris-gap:
    timezone: Europe/Paris
    hours: {mon-sun: "02:00-05:00"}
  paris-default:
    hours: {mon-fri: "09:00-17:00"}
"""


def _compile_all() -> dict[str, Calendar]:
    data, positions = load_yaml(CALENDARS_YAML, "calendars.yaml")
    built: dict[str, Calendar] = {}
    for name, spec in data["calendars"].items():
        cal, diags = compile_calendar(
            name, spec, default_tz="Europe/Paris", positions=positions, path=("calendars", name)
        )
        assert diags == [], diags
        assert cal is not None
        built[name] = cal
    return built


CAL = _compile_all()


def at(cal: str, local: str) -> int:
    """A local wall-clock time in the calendar's zone as an instant."""
    return parse_time(local, CAL[cal].tz)


def show(cal: str, us: int) -> str:
    return to_datetime(us, CAL[cal].tz).isoformat()


def add(cal: str, local: str, duration: str) -> str:
    return show(cal, CAL[cal].add(at(cal, local), parse_duration(duration)))


def clock(us: int) -> Duration:
    return Duration(f"{us}us", 0.0, 0.0, us)


# --- golden cases -------------------------------------------------------------------------

GOLDEN = [
    # Friday afternoon to Monday (and the contract's two examples).
    ("us", "2026-03-06T15:00", "4h", "2026-03-09T11:00:00-04:00"),
    ("us", "2026-03-06T13:00", "4h", "2026-03-06T17:00:00-05:00"),
    # A deadline exactly at closing: the earliest instant, [open, close).
    ("us", "2026-03-09T08:00", "8h", "2026-03-09T17:00:00-04:00"),
    ("us", "2026-03-09T09:00", "40h", "2026-03-13T17:00:00-04:00"),  # exactly one week of work
    ("us", "2026-03-09T09:00", "41h", "2026-03-16T10:00:00-04:00"),
    ("us", "2026-03-09T09:00", "80h", "2026-03-20T17:00:00-04:00"),
    # Whole weeks skipped from a midnight opening still end at the last closing.
    ("early", "2026-03-02T00:00", "40h", "2026-03-06T08:00:00+00:00"),
    ("early", "2026-03-02T00:00", "80h", "2026-03-13T08:00:00+00:00"),
    ("early", "2026-03-01T12:00", "48h", "2026-03-09T08:00:00+00:00"),
    # Zero: the next opening, or the start itself when open; a closing time is closed.
    ("us", "2026-03-06T17:00", "0s", "2026-03-09T09:00:00-04:00"),
    ("us", "2026-03-06T16:59", "0s", "2026-03-06T16:59:00-05:00"),
    ("us", "2026-03-06T17:00", "1s", "2026-03-09T09:00:01-04:00"),
    # A start on a closed day.
    ("us", "2026-03-07T10:00", "2h", "2026-03-09T11:00:00-04:00"),
    ("us", "2026-03-08T23:00", "30m", "2026-03-09T09:30:00-04:00"),
    # A start in the gap between split hours (Paris, lunch 12:00-13:00).
    ("split", "2026-03-02T12:30", "1h", "2026-03-02T14:00:00+01:00"),
    ("split", "2026-03-02T12:30", "0s", "2026-03-02T13:00:00+01:00"),
    ("split", "2026-03-02T11:30", "1h", "2026-03-02T13:30:00+01:00"),
    ("split", "2026-03-06T16:00", "2h", "2026-03-07T11:00:00+01:00"),  # Saturday hours
    ("split", "2026-03-07T11:00", "2h", "2026-03-09T10:00:00+01:00"),
    # Holidays: US Thanksgiving 2026-11-26, Christmas (Fri), New Year 2027 (Fri).
    ("us", "2026-11-25T16:00", "2h", "2026-11-27T10:00:00-05:00"),
    ("us", "2026-11-26T10:00", "1h", "2026-11-27T10:00:00-05:00"),
    ("us", "2026-12-24T16:00", "2h", "2026-12-28T10:00:00-05:00"),
    ("us", "2026-12-31T16:00", "2h", "2027-01-04T10:00:00-05:00"),  # next year resolved on demand
    ("fixed", "2026-12-23T16:00", "2h", "2026-12-28T10:00:00-05:00"),
    ("us-extra", "2026-12-24T16:00", "2h", "2026-12-25T10:00:00-05:00"),  # removed Christmas
    # Business days over a long weekend.
    ("us", "2026-11-25T10:00", "1d", "2026-11-27T10:00:00-05:00"),
    ("us", "2026-11-25T10:00", "2d", "2026-11-30T10:00:00-05:00"),
    ("us", "2026-11-26T12:00", "1d", "2026-11-30T09:00:00-05:00"),  # holiday start: Fri 09:00 + 1
    ("us-extra", "2026-11-25T10:00", "1d", "2026-11-30T10:00:00-05:00"),  # added day after
    ("us", "2026-11-02T10:00", "1d", "2026-11-03T10:00:00-05:00"),
    ("us-ny", "2026-11-02T10:00", "1d", "2026-11-04T10:00:00-05:00"),  # NY: Election Day
    # 90 business days: MLK, Washington's Birthday and Memorial Day skipped.
    ("us", "2026-01-05T10:00", "90d", "2026-05-13T10:00:00-04:00"),
    # Saturday 10:00 + 1d is Monday 09:00 + 1 business day.
    ("us", "2026-03-07T10:00", "1d", "2026-03-10T09:00:00-04:00"),
    ("split", "2026-03-08T10:00", "1d", "2026-03-10T09:00:00+01:00"),
    ("split", "2026-03-06T10:00", "1d", "2026-03-07T10:00:00+01:00"),  # Saturday is a business day
    # Nd clamping into the target day's open hours.
    ("clamp", "2026-03-02T11:00", "1d", "2026-03-03T11:00:00+00:00"),  # open: kept
    ("clamp", "2026-03-02T09:30", "1d", "2026-03-03T10:00:00+00:00"),  # before the first opening
    ("clamp", "2026-03-02T13:00", "1d", "2026-03-03T14:00:00+00:00"),  # in a gap: next opening
    ("clamp", "2026-03-02T16:30", "1d", "2026-03-03T16:00:00+00:00"),  # after the last closing
    ("clamp", "2026-03-04T16:00", "1d", "2026-03-05T13:00:00+00:00"),
    ("clamp", "2026-03-04T09:00", "1d", "2026-03-05T12:00:00+00:00"),
    ("split", "2026-03-06T15:00", "1d", "2026-03-07T12:00:00+01:00"),
    # Mixed: the days first, then the working time.
    ("us", "2026-03-06T15:00", "1d4h", "2026-03-10T11:00:00-04:00"),
    ("clamp", "2026-03-02T16:30", "1d1h", "2026-03-04T10:00:00+00:00"),
    ("us", "2026-11-25T16:00", "1d4h", "2026-11-30T12:00:00-05:00"),
    # DST, New York: spring forward 2026-03-08 02:00, fall back 2026-11-01 02:00.
    ("ny-always", "2026-03-07T12:00", "24h", "2026-03-08T13:00:00-04:00"),  # 24 real hours
    ("ny-always", "2026-03-07T12:00", "1d", "2026-03-08T12:00:00-04:00"),  # same clock time
    ("ny-always", "2026-10-31T12:00", "24h", "2026-11-01T11:00:00-05:00"),
    ("ny-always", "2026-10-31T12:00", "1d", "2026-11-01T12:00:00-05:00"),
    ("ny-night", "2026-03-08T01:00", "2h", "2026-03-08T04:00:00-04:00"),  # 01:00-04:00 is 2 h
    ("ny-night", "2026-03-08T01:00", "2h30m", "2026-03-09T01:30:00-04:00"),
    ("ny-night", "2026-03-07T03:30", "1h30m", "2026-03-08T03:00:00-04:00"),  # straddles the gap
    ("ny-night", "2026-11-01T01:00", "4h", "2026-11-01T04:00:00-05:00"),  # 01:00-04:00 is 4 h
    ("ny-night", "2026-11-01T01:00", "3h", "2026-11-01T03:00:00-05:00"),
    ("ny-night", "2026-11-01T01:00", "1h30m", "2026-11-01T01:30:00-05:00"),  # the repeated hour
    ("ny-night", "2026-11-01T01:00", "5h", "2026-11-02T02:00:00-05:00"),
    # DST, Paris: spring forward 2026-03-29 02:00, fall back 2026-10-25 03:00.
    ("paris-always", "2026-03-28T12:00", "24h", "2026-03-29T13:00:00+02:00"),
    ("paris-always", "2026-03-28T12:00", "1d", "2026-03-29T12:00:00+02:00"),
    ("paris-always", "2026-10-24T12:00", "24h", "2026-10-25T11:00:00+01:00"),
    ("paris-night", "2026-03-29T01:00", "2h", "2026-03-29T04:00:00+02:00"),
    ("paris-night", "2026-10-25T01:00", "2h", "2026-10-25T02:00:00+01:00"),  # second 02:00
    ("paris-night", "2026-10-25T01:00", "3h", "2026-10-25T03:00:00+01:00"),
    ("paris-night", "2026-10-25T01:00", "4h", "2026-10-25T04:00:00+01:00"),
    # Local times that do not exist move forward to the first instant that does.
    ("ny-always", "2026-03-07T02:30", "1d", "2026-03-08T03:00:00-04:00"),
    ("paris-always", "2026-03-28T02:30", "1d", "2026-03-29T03:00:00+02:00"),
    ("ny-gap", "2026-03-08T00:00", "0s", "2026-03-08T03:00:00-04:00"),  # opening at 02:00 is 03:00
    ("ny-gap", "2026-03-08T00:00", "2h", "2026-03-08T05:00:00-04:00"),
    ("paris-gap", "2026-03-29T00:00", "0s", "2026-03-29T03:00:00+02:00"),
    ("ny-lost", "2026-03-08T00:00", "0s", "2026-03-08T09:00:00-04:00"),  # 02:00-02:30 vanishes
    ("ny-lost", "2026-03-07T02:15", "1d", "2026-03-08T03:00:00-04:00"),
    # Ambiguous autumn times mean their first occurrence.
    ("ny-always", "2026-10-31T01:30", "1d", "2026-11-01T01:30:00-04:00"),
    # The playbook's timezone is the default.
    ("paris-default", "2026-03-06T16:00", "2h", "2026-03-09T10:00:00+01:00"),
]


@pytest.mark.parametrize(("cal", "start", "duration", "expected"), GOLDEN)
def test_golden(cal: str, start: str, duration: str, expected: str) -> None:
    assert add(cal, start, duration) == expected


@pytest.mark.parametrize(
    ("cal", "day", "hours"),
    [
        ("ny-always", "2026-03-08", 23),
        ("ny-always", "2026-11-01", 25),
        ("ny-always", "2026-03-09", 24),
        ("ny-night", "2026-03-08", 2),
        ("ny-night", "2026-11-01", 4),
        ("ny-night", "2026-03-09", 3),
        ("ny-gap", "2026-03-08", 2),
        ("paris-always", "2026-03-29", 23),
        ("paris-always", "2026-10-25", 25),
        ("paris-night", "2026-03-29", 2),
        ("paris-night", "2026-10-25", 4),
        ("us", "2026-11-26", 0),  # Thanksgiving
        ("us", "2026-11-27", 8),
    ],
)
def test_working_time_of_one_day(cal: str, day: str, hours: int) -> None:
    start = at(cal, day)
    end = at(cal, (date.fromisoformat(day) + timedelta(days=1)).isoformat())
    assert CAL[cal].working_us(start, end) == hours * H


def test_working_us_spans() -> None:
    us = CAL["us"]
    assert us.working_us(at("us", "2026-03-06T15:00"), at("us", "2026-03-09T11:00")) == 4 * H
    assert us.working_us(at("us", "2026-03-09T11:00"), at("us", "2026-03-06T15:00")) == 0
    # 2026 has 261 weekdays and 11 federal holidays on weekdays (Independence Day observed on Fri 3 July).
    assert us.working_us(at("us", "2026-01-01"), at("us", "2027-01-01")) == (261 - 11) * 8 * H


def test_is_open_and_next_open() -> None:
    us = CAL["us"]
    assert us.is_open(at("us", "2026-03-06T09:00"))
    assert us.is_open(at("us", "2026-03-06T16:59:59"))
    assert not us.is_open(at("us", "2026-03-06T17:00"))  # [open, close)
    assert not us.is_open(at("us", "2026-03-07T12:00"))
    assert not us.is_open(at("us", "2026-11-26T12:00"))  # Thanksgiving
    t = at("us", "2026-03-06T10:00")
    assert us.next_open(t) == t
    assert show("us", us.next_open(at("us", "2026-11-26T12:00"))) == "2026-11-27T09:00:00-05:00"
    night = CAL["ny-night"]
    assert night.is_open(at("ny-night", "2026-11-01T01:30"))
    assert night.is_open(at("ny-night", "2026-11-01T01:30") + H)  # the repeated 01:30 is inside 01:00-04:00
    always = CAL["ny-always"]
    assert always.is_open(at("ny-always", "2026-03-08T03:00"))


def test_holiday_queries_and_country_data() -> None:
    us = CAL["us"]
    assert us.is_holiday(date(2026, 11, 26))
    assert us.is_holiday(date(2031, 11, 27))  # any year, resolved on demand
    assert not us.is_business_day(date(2026, 11, 26))
    assert date(2026, 11, 3) in CAL["us-ny"].holidays_in(2026)
    assert date(2026, 11, 3) not in us.holidays_in(2026)
    extra = CAL["us-extra"]
    assert extra.is_holiday(date(2026, 11, 27)) and not extra.is_holiday(date(2026, 12, 25))
    assert extra.is_holiday(date(2027, 12, 24))  # 'remove' names a date, not every year's Christmas
    assert CAL["fixed"].holidays_in(2026) == {date(2026, 12, 24), date(2026, 12, 25)}
    assert CAL["fixed"].holidays_in(2027) == frozenset()


def test_weeks_and_fractional_days_are_errors() -> None:
    us = CAL["us"]
    with pytest.raises(ValueError, match="weeks"):
        us.add(at("us", "2026-03-02T10:00"), parse_duration("1w"))
    with pytest.raises(ValueError, match="whole"):
        us.add(at("us", "2026-03-02T10:00"), parse_duration("1.5d"))
    assert calendar_duration_error(parse_duration("2w")) is not None
    assert calendar_duration_error(parse_duration("1.5d")) is not None
    assert calendar_duration_error(parse_duration("2.0d4h")) is None
    assert calendar_duration_error(parse_duration("1.5h")) is None
    assert add("us", "2026-03-06T16:00", "1.5h") == "2026-03-09T09:30:00-04:00"


def test_far_future_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="9999"):
        CAL["us"].add(at("us", "9999-12-30T10:00"), parse_duration("20d"))


def test_calendar_is_hashable_comparable_and_picklable() -> None:
    us = CAL["us"]
    us.add(at("us", "2026-03-06T15:00"), parse_duration("4h"))  # fill the caches first
    copy = pickle.loads(pickle.dumps(us))
    assert copy == us and hash(copy) == hash(us)
    assert copy.add(at("us", "2026-03-06T15:00"), parse_duration("4h")) == at("us", "2026-03-09T11:00")
    assert us != CAL["us-ny"]


def test_direct_construction_is_checked() -> None:
    tz = CAL["us"].tz
    with pytest.raises(ValueError, match="no open hours"):
        Calendar("closed", tz, ((),) * 7)
    with pytest.raises(ValueError):
        Calendar("overlap", tz, (((540, 720), (600, 800)),) + ((),) * 6)
    with pytest.raises(ValueError):
        Calendar("six", tz, (((540, 720),),) * 6)


# --- cost: never minute by minute, whole weeks skipped ------------------------------------


def _steps(cal: Calendar, start: int, duration: str) -> int:
    before = cal.day_steps
    cal.add(start, parse_duration(duration))
    return cal.day_steps - before


def test_long_durations_cost_about_what_short_ones_do() -> None:
    us = CAL["us"]
    start = at("us", "2026-01-05T10:00")
    one = _steps(us, start, "1d")
    assert _steps(us, start, "90d") <= 3 * one + 4
    assert _steps(us, start, "900d") <= 3 * one + 4
    short = _steps(us, start, "4h")
    # Each holiday or DST day in the way costs a couple of steps, never a day-by-day walk.
    assert _steps(us, start, "720h") <= short + 2 * 16
    assert _steps(CAL["clamp"], at("clamp", "2026-01-05T10:00"), "5000h") <= 10
    night = CAL["ny-night"]
    before = night.day_steps
    night.working_us(at("ny-night", "2026-01-01"), at("ny-night", "2036-01-01"))
    assert night.day_steps - before <= 10 * 2 * 3 + 5  # two DST days a year


# --- validation -------------------------------------------------------------------------------


def _compile(body: str, default_tz: str = "UTC") -> tuple[Calendar | None, list[Diagnostic], str]:
    text = "calendars:\n  c:\n" + "".join(f"    {line}\n" for line in body.strip("\n").splitlines())
    data, positions = load_yaml(text, "pb.yaml")
    cal, diags = compile_calendar(
        "c", data["calendars"]["c"], default_tz=default_tz, positions=positions, path=("calendars", "c")
    )
    return cal, diags, text


def _where(text: str, needle: str) -> tuple[int, int]:
    offset = text.index(needle)
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


ERRORS = [
    # (calendar body, text the error points at, message)
    (
        'hours: {mon-fry: "09:00-17:00"}',
        "mon-fry",
        "unknown day 'fry' (did you mean 'fri'?): use mon tue wed thu fri sat sun",
    ),
    ('hours: {thursday: "09:00-17:00"}', "thursday", "unknown day 'thursday' (did you mean 'thu'?)"),
    ('hours: {"mon,,tue": "09:00-17:00"}', '"mon,,tue"', "empty day name in 'mon,,tue'"),
    ('hours: {mon-wed-fri: "09:00-17:00"}', "mon-wed-fri", "invalid day range 'mon-wed-fri': write 'mon-fri'"),
    ('hours: {mon: "9-17"}', '"9-17"', "invalid open hours '9-17': write 'HH:MM-HH:MM', e.g. '09:00-17:00'"),
    ('hours: {mon: "09:00 to 17:00"}', '"09:00 to', "invalid open hours '09:00 to 17:00'"),
    (
        'hours: {mon: "17:00-09:00"}',
        '"17:00-09:00"',
        "inverted open hours '17:00-09:00': the closing time is earlier than the opening time",
    ),
    (
        'hours: {mon: "09:00-09:00"}',
        '"09:00-09:00"',
        "empty open hours '09:00-09:00': the closing time must be later than the opening time",
    ),
    ('hours: {mon: "25:00-26:00"}', '"25:00', "invalid time 25:00 in '25:00-26:00'"),
    ('hours: {mon: "09:60-17:00"}', '"09:60', "invalid time 09:60"),
    ('hours: {mon: "24:00-24:00"}', '"24:00-24:00"', "24:00 can only close an interval"),
    ("hours: {mon: 9}", "9}", "open hours must be 'HH:MM-HH:MM', not the number 9"),
    (
        'hours: {mon: ["09:00-12:00", "11:00-13:00"]}',
        '"11:00-13:00"',
        "open hours '11:00-13:00' overlap '09:00-12:00' on the same day",
    ),
    ('hours: {mon: ["09:00-12:00", 5]}', "5]", "open hours must be 'HH:MM-HH:MM', not the number 5"),
    (
        'hours:\n  mon-fri: "09:00-17:00"\n  wed: "18:00-19:00"',
        "wed",
        "day 'wed' is given twice (already given by 'mon-fri')",
    ),
    (
        'hours:\n  mon-wed: "09:00-17:00"\n  tue-fri: "18:00-19:00"',
        "tue-fri",
        "days 'tue', 'wed' are given twice (already given by 'mon-wed')",
    ),
    ('hours: {"mon,mon": "09:00-17:00"}', '"mon,mon"', "day 'mon' is given twice"),
    ("hours: {sat: [], sun: []}", "{sat", "calendar 'c' has no open hours at all"),
    ("hours: []", "[]", "hours must map days to 'HH:MM-HH:MM' (or a list of them), not a list"),
    ("timezone: Europe/Paris", "c:", "calendar 'c' needs 'hours'"),
    (
        'timezone: America/New_Yrok\nhours: {mon: "09:00-17:00"}',
        "America/New_Yrok",
        "unknown time zone 'America/New_Yrok' (did you mean 'America/New_York'?)",
    ),
    (
        'timezone: europe/paris\nhours: {mon: "09:00-17:00"}',
        "europe/paris",
        "unknown time zone 'europe/paris' (did you mean 'Europe/Paris'?)",
    ),
    ('timezone: Tokyo\nhours: {mon: "09:00-17:00"}', "Tokyo", "unknown time zone 'Tokyo' (did you mean 'Asia/Tokyo'?)"),
    (
        'timezone: 5\nhours: {mon: "09:00-17:00"}',
        "5",
        "timezone must be an IANA name like 'America/New_York', not the number 5",
    ),
    (
        'timezon: Europe/Paris\nhours: {mon: "09:00-17:00"}',
        "timezon",
        "unknown calendar key 'timezon' (did you mean 'timezone'?)",
    ),
    (
        'hours: {mon: "09:00-17:00"}\nholiday: [2026-12-25]',
        "holiday:",
        "unknown calendar key 'holiday' (did you mean 'holidays'?)",
    ),
    (
        'hours: {mon: "09:00-17:00"}\nholidays: [2026-13-01]',
        "2026-13-01",
        "invalid date '2026-13-01': month must be in 1..12",
    ),
    (
        'hours: {mon: "09:00-17:00"}\nholidays: [2026-02-30]',
        "2026-02-30",
        "invalid date '2026-02-30': day is out of range for month",
    ),
    (
        'hours: {mon: "09:00-17:00"}\nholidays: ["26-12-25"]',
        '"26-12-25"',
        "invalid date '26-12-25': write YYYY-MM-DD, e.g. '2026-12-25'",
    ),
    (
        'hours: {mon: "09:00-17:00"}\nholidays: [20261225]',
        "20261225",
        "invalid date: expected YYYY-MM-DD, got the number 20261225",
    ),
    (
        'hours: {mon: "09:00-17:00"}\nholidays: 2026-12-25',
        "2026-12-25",
        "holidays must be a list of dates (YYYY-MM-DD) or a mapping",
    ),
    ('hours: {mon: "09:00-17:00"}\nholidays: {country: XY}', "XY", "unknown country code 'XY' ("),
    (
        'hours: {mon: "09:00-17:00"}\nholidays: {country: United States}',
        "United States",
        "unknown country code 'United States' (did you mean 'US'?)",
    ),
    ('hours: {mon: "09:00-17:00"}\nholidays: {country: USS}', "USS", "unknown country code 'USS' (did you mean 'US"),
    (
        'hours: {mon: "09:00-17:00"}\nholidays: {country: US, subdivision: ZZ}',
        "ZZ",
        "unknown subdivision 'ZZ' of US: supported: AK, AL, ",
    ),
    (
        'hours: {mon: "09:00-17:00"}\nholidays: {country: US, subdivision: New Yrok}',
        "New Yrok",
        "unknown subdivision 'New Yrok' of US (did you mean 'NY'?)",
    ),
    (
        'hours: {mon: "09:00-17:00"}\nholidays: {country: US, subdiv: NY}',
        "subdiv:",
        "unknown holidays key 'subdiv' (did you mean 'subdivision'?)",
    ),
    (
        'hours: {mon: "09:00-17:00"}\nholidays: {subdivision: NY}',
        "{subdivision",
        "holidays as a mapping needs 'country'",
    ),
    (
        'hours: {mon: "09:00-17:00"}\nholidays: {country: US, add: 2026-11-27}',
        "2026-11-27",
        "holidays add must be a list of dates",
    ),
    (
        'hours: {mon: "09:00-17:00"}\nholidays: {country: US, remove: [2026-11-31]}',
        "2026-11-31",
        "invalid date '2026-11-31'",
    ),
]


@pytest.mark.parametrize(("body", "needle", "message"), ERRORS)
def test_validation_error(body: str, needle: str, message: str) -> None:
    cal, diags, text = _compile(body)
    assert cal is None
    assert len(diags) == 1, diags
    (diag,) = diags
    assert diag.file == "pb.yaml"
    assert (diag.line, diag.col) == _where(text, needle), (diag, text)
    assert message in diag.message


def test_every_error_is_reported_not_just_the_first() -> None:
    cal, diags, text = _compile(
        """
timezone: Mars/Olympus
hours:
  mon-fry: "09:00-17:00"
  tue: "17:00-09:00"
  wed: ["09:00-12:00", "10:00-11:00"]
holidays: {country: US, subdivision: ZZ, add: [2026-13-01]}
colour: blue
"""
    )
    assert cal is None
    found = sorted((d.line, d.col) for d in diags)
    expected = sorted(
        _where(text, needle)
        for needle in ("Mars/Olympus", "mon-fry", '"17:00-09:00"', '"10:00-11:00"', "ZZ", "2026-13-01", "colour")
    )
    assert found == expected, diags


def test_valid_forms_compile() -> None:
    cal, diags, _ = _compile(
        """
timezone: America/Chicago
hours:
  "Tue, thu": ["9:00-12:00", "12:00-17:30"]   # touching intervals merge
  fri-mon: "10:00 - 24:00"                     # wraps past the week's end
  wed: []                                      # explicitly closed
holidays: {country: us, subdivision: new york, add: [2026-11-27], remove: [2026-11-26]}
"""
    )
    assert diags == []
    assert cal is not None
    assert cal.hours[1] == cal.hours[3] == ((540, 1050),)
    assert cal.hours[4] == cal.hours[5] == cal.hours[6] == cal.hours[0] == ((600, 1440),)
    assert cal.hours[2] == ()
    assert (cal.country, cal.subdivision) == ("US", "NY")
    assert cal.is_holiday(date(2026, 11, 27)) and not cal.is_holiday(date(2026, 11, 26))


def test_default_timezone_and_warm_years() -> None:
    cal, diags, _ = _compile('hours: {mon: "09:00-17:00"}\nholidays: {country: FR}', default_tz="Europe/Paris")
    assert diags == [] and cal is not None and cal.tz.key == "Europe/Paris"
    _, bad, _ = _compile('hours: {mon: "09:00-17:00"}', default_tz="Nowhere/Town")
    assert len(bad) == 1 and "playbook's timezone 'Nowhere/Town' is unknown" in bad[0].message
    data, positions = load_yaml('c: {hours: {mon: "09:00-17:00"}, holidays: {country: DE}}')
    warm, diags = compile_calendar(
        "c", data["c"], default_tz="UTC", positions=positions, path=("c",), years=range(2026, 2028)
    )
    assert diags == [] and warm is not None
    assert date(2027, 10, 3) in warm.holidays_in(2027)


def test_not_a_mapping() -> None:
    data, positions = load_yaml("calendars:\n  c: [1, 2]\n", "pb.yaml")
    cal, diags = compile_calendar(
        "c", data["calendars"]["c"], default_tz="UTC", positions=positions, path=("calendars", "c")
    )
    assert cal is None and [(d.line, d.col) for d in diags] == [(2, 6)]
    assert "must be a mapping" in diags[0].message


# --- properties -------------------------------------------------------------------------------


@functools.cache
def _ref_holidays(cal: Calendar, year: int) -> frozenset[date]:
    days = {d for d in cal.holidays if d.year == year}
    if cal.country:
        found = holidays_package.country_holidays(cal.country, subdiv=cal.subdivision, years=year)
        days |= set(found) - cal.removed
    return frozenset(days)


def _ref_intervals(cal: Calendar, day: date) -> list[tuple[int, int]]:
    if day in _ref_holidays(cal, day.year):
        return []
    midnight = datetime(day.year, day.month, day.day)
    out = []
    for start, end in cal.hours[day.weekday()]:
        a = local_to_us(midnight + timedelta(minutes=start), cal.tz)
        b = local_to_us(midnight + timedelta(minutes=end), cal.tz)
        if b > a:
            out.append((a, b))
    return out


def _ref_advance(cal: Calendar, t: int, remaining: int) -> int:
    """Brute force: every day, every interval, no skipping."""
    day = to_datetime(t, cal.tz).date()
    while True:
        for a, b in _ref_intervals(cal, day):
            if b <= t:
                continue
            begin = max(a, t)
            if b - begin >= remaining:
                return begin + remaining
            remaining -= b - begin
        day += timedelta(days=1)


def _ref_add(cal: Calendar, t: int, days: int, clock_us: int) -> int:
    t = _ref_advance(cal, t, 0)
    if days:
        local = to_datetime(t, cal.tz)
        day = local.date()
        while days:
            day += timedelta(days=1)
            if cal.hours[day.weekday()] and day not in _ref_holidays(cal, day.year):
                days -= 1
        of_day = timedelta(hours=local.hour, minutes=local.minute, seconds=local.second, microseconds=local.microsecond)
        opens = [(timedelta(minutes=s), timedelta(minutes=e)) for s, e in cal.hours[day.weekday()]]
        if any(s <= of_day < e for s, e in opens):
            offset = of_day
        else:
            later = [s for s, _ in opens if s > of_day]
            offset = later[0] if later else opens[-1][1]
        t = local_to_us(datetime(day.year, day.month, day.day) + offset, cal.tz)
    if clock_us:
        t = _ref_advance(cal, t, clock_us)
    return t


PROPERTY_CALENDARS = ["us", "us-ny", "split", "clamp", "early", "ny-night", "ny-lost", "paris-night", "paris-always"]
_LO = parse_time("2025-12-20T00:00:00Z")
_HI = parse_time("2027-01-10T00:00:00Z")
_DST_DAYS = [
    "2026-03-07",
    "2026-03-08",
    "2026-03-28",
    "2026-03-29",
    "2026-10-24",
    "2026-10-25",
    "2026-10-31",
    "2026-11-01",
    "2026-11-25",
    "2026-12-31",
]

calendars = st.sampled_from(PROPERTY_CALENDARS)
# Starts: anywhere, or on a quarter hour (to hit openings and closings), often near a DST change.
instants = st.one_of(
    st.integers(_LO, _HI),
    st.builds(lambda t: t - t % (15 * 60 * US), st.integers(_LO, _HI)),
    st.builds(
        lambda day, q: parse_time(day + "T00:00:00Z") + q * 15 * 60 * US,
        st.sampled_from(_DST_DAYS),
        st.integers(-96, 192),
    ),
)
clock_amounts = st.one_of(
    st.integers(1, 120 * 60).map(lambda m: m * 60 * US),  # whole minutes up to 120 h
    st.integers(1, 300 * H),
)
day_counts = st.integers(0, 30)
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(calendars, instants, day_counts, st.one_of(st.just(0), clock_amounts))
def test_matches_brute_force(name: str, start: int, days: int, clock_us: int) -> None:
    cal = CAL[name]
    duration = Duration("p", 0.0, float(days), clock_us)
    assert cal.add(start, duration) == _ref_add(cal, start, days, clock_us)


@FAST
@given(calendars, instants, st.lists(st.integers(-4 * H, 12 * H), min_size=1, max_size=8),
       st.one_of(st.just(0), st.integers(1, 10 * H)))
def test_deadlines_close_together_match_brute_force(name: str, start: int, offsets: list[int], clock_us: int) -> None:
    # Starts near each other reuse the open interval found last (a shortcut): it must not show.
    cal = CAL[name]
    duration = Duration("p", 0.0, 0.0, clock_us)
    for offset in offsets:
        assert cal.add(start + offset, duration) == _ref_add(cal, start + offset, 0, clock_us)


def test_a_start_at_closing_time_is_not_in_the_interval_it_closes() -> None:
    cal = CAL["us"]
    hour = Duration("1h", 0.0, 0.0, H)
    start = at("us", "2026-03-04 15:00")
    close = cal.add(start, Duration("2h", 0.0, 0.0, 2 * H))  # 17:00, the closing instant, found in [09:00, 17:00)
    assert close == at("us", "2026-03-04 17:00")
    assert cal.add(close, Duration("0s", 0.0, 0.0, 0)) == at("us", "2026-03-05 09:00")
    assert cal.add(close, hour) == at("us", "2026-03-05 10:00")


@FAST
@given(calendars, instants, instants, day_counts, st.one_of(st.just(0), clock_amounts))
def test_monotonic(name: str, t1: int, t2: int, days: int, clock_us: int) -> None:
    cal = CAL[name]
    duration = Duration("p", 0.0, float(days), clock_us)
    early, late = sorted((t1, t2))
    assert cal.add(early, duration) <= cal.add(late, duration)


@FAST
@given(calendars, instants, st.one_of(st.just(0), clock_amounts), clock_amounts)
def test_working_time_adds_up(name: str, start: int, a: int, b: int) -> None:
    # b > 0: a zero duration moves a closing-time deadline on to the next opening.
    cal = CAL[name]
    assert cal.add(start, clock(a + b)) == cal.add(cal.add(start, clock(a)), clock(b))


@FAST
@given(calendars, instants, st.one_of(st.just(0), clock_amounts))
def test_working_us_inverts_add(name: str, start: int, amount: int) -> None:
    cal = CAL[name]
    end = cal.add(start, clock(amount))
    assert cal.working_us(cal.next_open(start), end) == amount
    if amount:  # the earliest such instant: a microsecond less is not enough
        assert cal.working_us(cal.next_open(start), end - 1) == amount - 1


@FAST
@given(calendars, instants, st.integers(0, 60 * 24 * H))
def test_working_us_matches_brute_force(name: str, start: int, span: int) -> None:
    cal = CAL[name]
    end = start + span
    expected = 0
    day = to_datetime(start, cal.tz).date() - timedelta(days=1)
    while local_to_us(datetime(day.year, day.month, day.day), cal.tz) < end:
        for a, b in _ref_intervals(cal, day):
            expected += max(0, min(b, end) - max(a, start))
        day += timedelta(days=1)
    assert cal.working_us(start, end) == expected


@FAST
@given(calendars, instants)
def test_next_open_is_open(name: str, start: int) -> None:
    cal = CAL[name]
    opened = cal.next_open(start)
    assert opened >= start and cal.is_open(opened)
    assert cal.is_open(start) == (opened == start)


def test_a_country_loaded_alone_has_the_holidays_of_the_package_s_lookup() -> None:
    """Calendars load one country's module of the holidays package, not all of them; the
    holidays (dates and names) are those of holidays.country_holidays."""
    import holidays

    from engine.calendars import _country_class

    for code in ["US", "GB", "DE", "FR", "JP", "BR", "IN", "CA", "AU", "MX", "ES", "CH", "SG", "AS", "AX"]:
        cls = _country_class(code)
        assert cls is not None, code
        for subdiv in [None, *list(cls.subdivisions)[:3]]:
            for year in (2024, 2026, 2031):
                assert dict(cls(years=year, subdiv=subdiv)) == dict(
                    holidays.country_holidays(code, subdiv=subdiv, years=year)), (code, subdiv, year)
    assert _country_class("ZZ") is None


def test_a_run_with_a_us_calendar_imports_one_country() -> None:
    code = (
        "import sys\n"
        "from engine import Engine, load_playbook\n"
        "engine = Engine(load_playbook('playbooks/us-retention.yaml'))\n"
        "engine.run([{'id': 'e1', 'type': 'message.received', 'time': '2026-07-03T21:00:00Z', 'account': 'a',"
        " 'thread': 't', 'channel': 'email'}], until='2026-07-08T00:00:00Z')\n"
        "print(sorted(m for m in sys.modules if m.startswith('holidays.countries')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # the US module is loaded alone, under its own name but not registered
