"""`make bench`'s latency section (bench/latency.py) at a tiny scale, as a smoke test, each mode on its own stack:
with a fast poll and notifications off, and with notifications on (short emulator delays) and the poll quiet, every
change made in BC shows in Sales and every change made in Sales shows in BC, and the figures printed are of those
changes (count, none lost, p50 <= p95 <= max, the delays in force). No time is asserted."""

from __future__ import annotations

import pytest

from bench.latency import BC_TO_SALES, PREFIX, SALES_TO_BC, measure_latency
from local.stack.launcher import QUIET_SCHEDULE

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
CHANGES = 3


def test_latency_figures_each_way_with_notifications_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_LATENCY_CUSTOMERS", "3")
    monkeypatch.setenv("BENCH_LATENCY_SPACING", "0.5")
    figures = measure_latency(CHANGES, schedule="*/5 * * * * *")

    assert figures[f"{PREFIX}.polling.poll_period_s"] == 5.0
    for direction in (BC_TO_SALES, SALES_TO_BC):
        key = f"{PREFIX}.polling.{direction}"
        assert (figures[f"{key}.changes"], figures[f"{key}.lost"]) == (CHANGES, 0), figures
        assert 0 < figures[f"{key}.p50_s"] <= figures[f"{key}.p95_s"] <= figures[f"{key}.max_s"], figures
        assert f"{key}.p95_beyond_service_delay_s" not in figures  # only said with notifications on


def test_latency_figures_each_way_with_notifications_on_and_the_poll_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """The poll never ticks (`QUIET_SCHEDULE`), so every change that shows came through a notification: BC's
    webhook (batched 2 s here) and the Dataverse step (posted after 0.25 s), each waking the mapping's run."""
    monkeypatch.setenv("BENCH_LATENCY_CUSTOMERS", "3")
    monkeypatch.setenv("BENCH_LATENCY_SPACING", "0.5")
    monkeypatch.setenv("BENCH_LATENCY_TIMEOUT", "60")
    monkeypatch.setenv("BENCH_LATENCY_BC_DELAY", "2")
    monkeypatch.setenv("BENCH_LATENCY_DATAVERSE_DELAY", "0.25")
    figures = measure_latency(CHANGES, notifications=True, schedule=QUIET_SCHEDULE)

    mode = f"{PREFIX}.notifications"
    assert figures[f"{mode}.bc_subscriptions"] >= 1 and figures[f"{mode}.dataverse_steps"] >= 1, figures
    delays = {BC_TO_SALES: 2.0, SALES_TO_BC: 0.25}
    for direction, delay in delays.items():
        key = f"{mode}.{direction}"
        assert figures[f"{key}.service_delay_s"] == delay
        assert (figures[f"{key}.changes"], figures[f"{key}.lost"]) == (CHANGES, 0), figures
        assert 0 < figures[f"{key}.p50_s"] <= figures[f"{key}.p95_s"] <= figures[f"{key}.max_s"], figures
        assert figures[f"{key}.p95_beyond_service_delay_s"] == round(figures[f"{key}.p95_s"] - delay, 2)
    # BC's changes timed from the notification post the host received: never longer than the whole latency
    after = f"{mode}.{BC_TO_SALES}.after_notification"
    assert 1 <= figures[f"{after}_changes"] <= CHANGES, figures
    assert 0 < figures[f"{after}_p95_s"] <= figures[f"{mode}.{BC_TO_SALES}.max_s"], figures
