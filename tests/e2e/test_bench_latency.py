"""`make bench`'s latency section (bench/latency.py) at a tiny scale, as a smoke test: on its own stack, with a fast
poll and notifications off, every change made in BC shows in Sales and every change made in Sales shows in BC, and
the figures printed are of those changes (count, none lost, p50 <= p95 <= max). No time is asserted."""

from __future__ import annotations

import pytest

from bench.latency import BC_TO_SALES, PREFIX, SALES_TO_BC, measure_latency

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
