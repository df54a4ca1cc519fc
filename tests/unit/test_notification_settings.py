"""The notification settings the safety net reads (issue 23): which sides are watched, and how late a change may be
before a poll counts its notification as missed (`domain/notification_watch.py`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.records import Side
from shared.settings import Settings, SettingsError, notification_watch
from tests.unit.test_companies_settings import ENV

ON = {"NOTIFICATION_BASE_URL": "https://sync.example", "NOTIFICATIONS_BC": "true", "NOTIFICATIONS_DATAVERSE": "true"}


def test_off_unless_a_side_is_on_and_the_base_url_is_set() -> None:
    assert Settings.from_env(ENV).notification_watch is None
    assert notification_watch({**ON, "NOTIFICATION_BASE_URL": ""}) is None
    assert notification_watch({**ON, "NOTIFICATIONS_BC": "false", "NOTIFICATIONS_DATAVERSE": "false"}) is None
    only_bc = notification_watch({**ON, "NOTIFICATIONS_DATAVERSE": "false"})
    assert only_bc is not None and only_bc.sides == (Side.BC,)


def test_the_expected_delays_default_to_the_service_delay_plus_the_wake_window_plus_the_margin() -> None:
    watch = Settings.from_env({**ENV, **ON}).notification_watch
    assert watch is not None
    assert watch.expected == {Side.BC: timedelta(seconds=30 + 5 + 60), Side.DATAVERSE: timedelta(seconds=5 + 5 + 60)}
    poll = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert watch.missed(Side.BC, poll - timedelta(seconds=96), poll)
    assert not watch.missed(Side.BC, poll - timedelta(seconds=94), poll)  # its notification may still be on its way
    assert watch.missed(Side.DATAVERSE, poll - timedelta(seconds=71), poll)
    tuned = notification_watch({**ON, "NOTIFY_BC_DELAY_SECONDS": "10", "NOTIFY_MISSED_MARGIN_SECONDS": "0"})
    assert tuned is not None and tuned.expected[Side.BC] == timedelta(seconds=15)


def test_a_malformed_value_is_named() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**ENV, **ON, "NOTIFICATIONS_BC": "yes", "NOTIFY_WAKE_WINDOW_SECONDS": "0"})
    assert "NOTIFICATIONS_BC must be true or false" in raised.value.problems
    assert "NOTIFY_WAKE_WINDOW_SECONDS must be a whole number of seconds from 1 to 300" in raised.value.problems
    watch = notification_watch({**ON, "NOTIFICATIONS_BC": "yes"})  # a raw reader falls back: that switch is off
    assert watch is not None and watch.sides == (Side.DATAVERSE,)


def test_both_sides_read_the_settings_alike_and_a_bad_value_is_off_for_them_and_named_at_start_up() -> None:
    """One reading for the BC and the Dataverse side (`settings._notification_values`): the same switches, base URL
    and window as the poll's watch; a malformed value is refused by `Settings.from_env` and read as its default by
    the functions reading the raw settings (a switch: off), never half on."""
    from shared.settings import BcNotificationSettings, DataverseNotificationSettings

    env = {**ON, "NOTIFY_WAKE_WINDOW_SECONDS": "7", "NOTIFICATION_BASE_URL": "https://app.example.net/"}
    bc, dv = BcNotificationSettings.from_env(env), DataverseNotificationSettings.from_env(env)
    assert (bc.active, bc.base_url, bc.wake_window_seconds) == (True, "https://app.example.net", 7)
    assert (dv.active, dv.notification_url) == (True, "https://app.example.net/api/notifications/dataverse")
    bad = {**ON, "NOTIFICATIONS_BC": "yes", "NOTIFY_WAKE_WINDOW_SECONDS": "0", "NOTIFICATION_BASE_URL": "ftp://x"}
    assert not BcNotificationSettings.from_env(bad).active
    assert not DataverseNotificationSettings.from_env(bad).active  # no usable base URL: off
    assert BcNotificationSettings.from_env(bad).wake_window_seconds == 5
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**ENV, **bad})
    assert any("NOTIFICATIONS_BC" in problem for problem in raised.value.problems)
    assert any("NOTIFICATION_BASE_URL" in problem for problem in raised.value.problems)
