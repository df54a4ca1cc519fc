"""NCRONTAB and TimeSpan schedules read as the Azure Functions host reads them (NCrontab with seconds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from local.host.ncrontab import (
    CronSchedule,
    IntervalSchedule,
    ScheduleError,
    parse_cron,
    parse_schedule,
    parse_timespan,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("*/5 * * * * *", "2026-01-05T10:00:03", "2026-01-05T10:00:05"),
        ("* * * * * *", "2026-01-05T10:00:00.900", "2026-01-05T10:00:01"),  # the fraction is ignored
        ("0 */5 * * * *", "2026-01-05T10:02:00", "2026-01-05T10:05:00"),
        ("0 */5 * * * *", "2026-01-05T10:05:00", "2026-01-05T10:10:00"),  # strictly after
        ("0 0 * * * *", "2026-01-05T23:59:59", "2026-01-06T00:00:00"),
        ("0 30 9 * * 1-5", "2026-01-09T10:00:00", "2026-01-12T09:30:00"),  # Friday after 9:30 -> Monday
        ("0 0 0 29 2 *", "2026-03-01T00:00:00", "2028-02-29T00:00:00"),  # leap day
        ("0 0 0 31 * *", "2026-04-01T00:00:00", "2026-05-31T00:00:00"),  # April has no 31st
        ("0 0 0 1 1 *", "2026-12-31T23:59:59", "2027-01-01T00:00:00"),  # year roll-over
        ("5/20 * * * * *", "2026-01-05T10:00:26", "2026-01-05T10:00:45"),  # a/n: from a to the maximum
        ("0 0 10-14/2 * * *", "2026-01-05T10:00:00", "2026-01-05T12:00:00"),
        ("0 0 9,17 * * *", "2026-01-05T09:00:00", "2026-01-05T17:00:00"),
        ("0 15 10 * * *", "2026-01-05T10:15:30", "2026-01-06T10:15:00"),
        ("30 59 23 31 12 *", "2026-06-01T00:00:00", "2026-12-31T23:59:30"),
    ],
)
def test_next_occurrence(expression: str, after: str, expected: str) -> None:
    assert parse_cron(expression).next_after(at(after)) == at(expected)


def test_day_of_month_and_day_of_week_must_both_match() -> None:
    """NCrontab ANDs the two day fields (Vixie cron would OR them): Friday the 13th, not every Friday."""
    schedule = parse_cron("0 0 0 13 * FRI")
    assert schedule.next_after(at("2026-01-01T00:00:00")) == at("2026-02-13T00:00:00")
    assert schedule.next_after(at("2026-02-13T00:00:00")) == at("2026-03-13T00:00:00")


@pytest.mark.parametrize(
    ("expression", "field", "values"),
    [
        ("0 0 12 * JAN,jul mon", "months", (1, 7)),
        ("0 0 12 * Jan-Mar *", "months", (1, 2, 3)),
        ("0 0 0 1 M *", "months", (3,)),  # a prefix picks the first name it starts (March before May)
        ("0 0 0 * * sunday", "days_of_week", (0,)),
        ("0 0 0 * * MON-FRI", "days_of_week", (1, 2, 3, 4, 5)),
        ("0 0 0 * * */2", "days_of_week", (0, 2, 4, 6)),
        ("0 0 0 * * 1,3-4", "days_of_week", (1, 3, 4)),
    ],
)
def test_names_lists_ranges_and_steps(expression: str, field: str, values: tuple[int, ...]) -> None:
    assert getattr(parse_cron(expression), field) == values


def test_times_are_utc_whatever_the_input_zone() -> None:
    schedule = parse_cron("0 0 9 * * *")
    plus_two = timezone(timedelta(hours=2))
    assert schedule.next_after(datetime(2026, 1, 5, 12, 30, tzinfo=plus_two)) == at("2026-01-06T09:00:00")
    assert schedule.next_after(datetime(2026, 1, 5, 8, 30)) == at("2026-01-05T09:00:00")  # naive = UTC
    assert schedule.next_after(at("2026-01-05T08:00:00")).tzinfo is UTC


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 */5 * * *", "needs 6"),
        ("0 0 0 * * * 2026", "NCRONTAB"),
        ("60 * * * * *", "outside the second field"),
        ("* * * * * 7", "outside the day-of-week field"),  # NCrontab: 0-6 only
        ("* * * 0 * *", "outside the day field"),
        ("*/0 * * * * *", "step"),
        ("* * 5-1 * * *", "backwards"),
        ("* * * ? * *", "not a valid day value"),
        ("* * * * FOO *", "not a month name"),
        ("* * JAN * * *", "not a valid hour value"),
        ("1,,2 * * * * *", "empty value"),
    ],
)
def test_invalid_expressions_are_refused_with_a_reason(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(expression)


def test_a_schedule_that_never_occurs_says_so() -> None:
    with pytest.raises(ScheduleError, match="no occurrence"):
        parse_cron("0 0 0 30 2 *").next_after(at("2026-01-01T00:00:00"))


def test_feb_29_on_a_weekday_is_found_decades_ahead() -> None:
    # The next Feb 29 that is a Monday after 2024 is in 2044 (20 years later).
    assert parse_cron("0 0 0 29 2 MON").next_after(at("2024-03-01T00:00:00")) == at("2044-02-29T00:00:00")


@pytest.mark.parametrize(
    ("expression", "interval"),
    [
        ("00:00:05", timedelta(seconds=5)),
        ("01:30", timedelta(hours=1, minutes=30)),
        ("1.02:00:00", timedelta(days=1, hours=2)),
        ("24:00:00", timedelta(days=24)),  # the Functions docs: 24 or more is dd:hh:mm
        ("00:00:01.5", timedelta(seconds=1.5)),
    ],
)
def test_timespan_schedules_are_intervals(expression: str, interval: timedelta) -> None:
    schedule = parse_schedule(expression)
    assert isinstance(schedule, IntervalSchedule) and schedule.interval == interval
    assert schedule.next_after(at("2026-01-05T10:00:00")) == at("2026-01-05T10:00:00") + interval


@pytest.mark.parametrize("expression", ["00:00:00", "00:61:00", "abc", "1:2:3:4:5", ""])
def test_invalid_timespans_are_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(expression)


def test_host_json_durations_parse_as_timespans() -> None:
    assert parse_timespan("00:10:00") == timedelta(minutes=10)


def _matches_minute(schedule: CronSchedule, moment: datetime) -> bool:
    weekday = (moment.weekday() + 1) % 7  # cron counts from Sunday
    return (
        moment.minute in schedule.minutes
        and moment.hour in schedule.hours
        and moment.day in schedule.days
        and moment.month in schedule.months
        and weekday in schedule.days_of_week
    )


@pytest.mark.parametrize(
    "expression", ["7,37 */13 1-23/5 * * *", "0 0 */7 * * 2,4", "*/11 3-4 * 1-10 * SAT", "0 0 0 2-3 * *"]
)
def test_next_after_agrees_with_a_scan_of_the_clock(expression: str) -> None:
    """A reference check: walking the clock minute by minute (then second by second) finds the same times."""
    schedule = parse_cron(expression)
    start = at("2026-02-27T22:00:00")
    moment, found = start, []
    for _ in range(4):
        moment = schedule.next_after(moment)
        found.append(moment)
    expected: list[datetime] = []
    minute = start
    while len(expected) < 4 and minute < at("2026-05-01T00:00:00"):
        if _matches_minute(schedule, minute):
            expected += [
                minute.replace(second=s)
                for s in range(60)
                if s in schedule.seconds and minute.replace(second=s) > start
            ]
        minute += timedelta(minutes=1)
    assert found == expected[:4]
