"""Timer-trigger schedules as Azure Functions reads them: six-field NCRONTAB, or a TimeSpan interval.

Why our own parser: the local host must fire a timer exactly when Azure would, and the cron libraries on PyPI read
five fields, or OR the day-of-month with the day-of-week (Vixie cron), or accept syntax Azure refuses. This follows
NCrontab, the library the Functions host uses (`IncludingSeconds = true`), rule for rule:

- fields: second minute hour day month day-of-week; `*`, `a`, `a-b`, lists `a,b-c`, steps `*/n`, `a-b/n` and `a/n`
  (from a to the field's maximum); month and day names by any prefix of the English name (`JAN`, `Mon`, `monday`);
  day-of-week 0-6 with Sunday 0 (7 is refused, as NCrontab does);
- the day must match the day-of-month AND the day-of-week (NCrontab ANDs them, unlike Vixie cron);
- the next occurrence is strictly after the given moment, whose fraction of a second is ignored;
- anything that is not six fields is read as a .NET TimeSpan (`hh:mm:ss`, `hh:mm`, `d.hh:mm:ss`, and `dd:hh:mm`
  when the first number is 24 or more, as the Functions docs describe): a fixed interval after the last run.

Times are UTC (the host's default; `WEBSITE_TIME_ZONE` is not applied locally).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "CronSchedule",
    "IntervalSchedule",
    "Schedule",
    "ScheduleError",
    "parse_cron",
    "parse_schedule",
    "parse_timespan",
]

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
          "December")  # fmt: skip
DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# Feb 29 on a given weekday can be 40 years away (the century rule); nothing valid is further.
SEARCH_YEARS = 50
TIMESPAN = re.compile(r"^(?:(?P<days>\d+)\.)?(?P<a>\d+):(?P<b>\d+)(?::(?P<c>\d+)(?:\.(?P<fraction>\d{1,7}))?)?$")


class ScheduleError(ValueError):
    """A schedule the Functions host would refuse (or one that never occurs)."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def parse(self, text: str) -> frozenset[int]:
        values: set[int] = set()
        for item in text.split(","):
            values.update(self._parse_item(item))
        return frozenset(values)

    def _parse_item(self, item: str) -> range:
        if not item:
            raise ScheduleError(f"empty value in the {self.name} field")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ScheduleError(f"step {step_text!r} in the {self.name} field must be a whole number of 1 or more")
            step = int(step_text)
        if base == "*":
            return range(self.low, self.high + 1, step)
        first_text, dash, last_text = base.partition("-")
        first = self._value(first_text)
        # `a/n` runs from a to the field's maximum (NCrontab); a bare `a` is just a.
        last = self._value(last_text) if dash else (self.high if slash else first)
        if first > last:
            raise ScheduleError(f"range {base!r} in the {self.name} field runs backwards")
        return range(first, last + 1, step)

    def _value(self, text: str) -> int:
        if text.isdigit():
            value = int(text)
        elif text.isalpha() and self.names:
            matches = [index for index, name in enumerate(self.names) if name.lower().startswith(text.lower())]
            if not matches:
                raise ScheduleError(f"{text!r} is not a {self.name} name (use one of {', '.join(self.names)})")
            value = matches[0] + self.low
        else:
            raise ScheduleError(f"{text!r} is not a valid {self.name} value")
        if not self.low <= value <= self.high:
            raise ScheduleError(f"{value} is outside the {self.name} field's range {self.low}-{self.high}")
        return value


FIELDS = (
    _Field("second", 0, 59),
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day", 1, 31),
    _Field("month", 1, 12, MONTHS),
    _Field("day-of-week", 0, 6, DAYS),
)


def _first_from(values: tuple[int, ...], start: int) -> int | None:
    """The smallest allowed value >= start, or None (the caller carries into the next larger unit)."""
    return next((value for value in values if value >= start), None)


def _as_utc(moment: datetime) -> datetime:
    """Aware datetimes are converted; a naive one is taken to be UTC already (as the Functions host's clock is)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed NCRONTAB expression; each field is the sorted tuple of the values it allows."""

    expression: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    days_of_week: tuple[int, ...]

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (its microseconds ignored), in UTC."""
        start = _as_utc(moment).replace(microsecond=0) + timedelta(seconds=1)
        year, month, day, hour, minute, second = start.timetuple()[:6]
        while year <= start.year + SEARCH_YEARS:
            found = _first_from(self.months, month)
            if found is None:
                year, month, day, hour, minute, second = year + 1, 1, 1, 0, 0, 0
                continue
            if found != month:
                month, day, hour, minute, second = found, 1, 0, 0, 0
            found = _first_from(self.days, day)
            if found is None or found > calendar.monthrange(year, month)[1]:
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
                day, hour, minute, second = 1, 0, 0, 0
                continue
            if found != day:
                day, hour, minute, second = found, 0, 0, 0
            if (calendar.weekday(year, month, day) + 1) % 7 not in self.days_of_week:  # cron: Sunday is 0
                day, hour, minute, second = day + 1, 0, 0, 0
                continue
            found = _first_from(self.hours, hour)
            if found is None:
                day, hour, minute, second = day + 1, 0, 0, 0
                continue
            if found != hour:
                hour, minute, second = found, 0, 0
            found = _first_from(self.minutes, minute)
            if found is None:
                hour, minute, second = hour + 1, 0, 0
                continue
            if found != minute:
                minute, second = found, 0
            found = _first_from(self.seconds, second)
            if found is None:
                minute, second = minute + 1, 0
                continue
            return datetime(year, month, day, hour, minute, found, tzinfo=UTC)
        raise ScheduleError(f"{self.expression!r} has no occurrence in the {SEARCH_YEARS} years after {moment}")


@dataclass(frozen=True)
class IntervalSchedule:
    """A TimeSpan schedule: the Functions host runs it `interval` after the previous run (or after start-up)."""

    expression: str
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return _as_utc(moment) + self.interval


Schedule = CronSchedule | IntervalSchedule


def parse_cron(expression: str) -> CronSchedule:
    tokens = expression.split()
    if len(tokens) != len(FIELDS):
        raise ScheduleError(
            f"{expression!r} is not an NCRONTAB expression: Azure Functions needs 6 fields "
            "(second minute hour day month day-of-week)"
        )
    try:
        fields = [tuple(sorted(field.parse(token))) for field, token in zip(FIELDS, tokens, strict=True)]
    except ScheduleError as error:
        raise ScheduleError(f"{expression!r}: {error}") from None
    return CronSchedule(expression, *fields)


def parse_timespan(expression: str) -> timedelta:
    """A .NET TimeSpan string as `TimeSpan.Parse` reads the forms used for schedules and host.json durations."""
    match = TIMESPAN.match(expression.strip())
    if match is None:
        raise ScheduleError(f"{expression!r} is neither an NCRONTAB expression nor a TimeSpan (hh:mm:ss)")
    a, b = int(match["a"]), int(match["b"])
    c = int(match["c"]) if match["c"] is not None else None
    days = int(match["days"]) if match["days"] is not None else 0
    if match["days"] is None and c is not None and a >= 24 and match["fraction"] is None:
        days, hours, minutes, seconds = a, b, c, 0  # `24:00:00` is 24 days: dd:hh:mm
    else:
        hours, minutes, seconds = a, b, c or 0
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ScheduleError(f"{expression!r} is not a valid TimeSpan")
    fraction = float(f"0.{match['fraction']}") if match["fraction"] else 0.0
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds + fraction)


def parse_schedule(expression: str) -> Schedule:
    """As the Functions host does: NCRONTAB when it has six fields, otherwise a TimeSpan interval."""
    if len(expression.split()) == len(FIELDS):
        return parse_cron(expression)
    if len(expression.split()) == 5:
        raise ScheduleError(
            f"{expression!r} has 5 fields; Azure Functions NCRONTAB needs 6 (seconds first, e.g. '0 {expression}')"
        )
    interval = parse_timespan(expression)
    if interval <= timedelta(0):
        raise ScheduleError(f"{expression!r}: an interval schedule must be longer than zero")
    return IntervalSchedule(expression, interval)
