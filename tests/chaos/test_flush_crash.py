"""Issue 21: a worker killed between a page's writes to the apps and its unit-of-work flush (the transaction that
records the page's couplings, `shared/engine/unit_of_work.py`). The apps then hold the page's creates and updates
while the couplings still hold the claims and the hashes of before; the redelivered chunk (or the next incremental
tick) must find its records by their deterministic ids and claims and converge: no duplicate, no loss, every record
coupled once, the line's counters exact. Same seeds, world and invariants as `test_simulation.py`; only the crash
points are chosen: the flushes that follow a write to an app.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from tests.chaos.simulation_scenarios import Simulation
from tests.chaos.test_simulation import configured, seeds, simulate

pytestmark = pytest.mark.chaos
FLUSH = "table $batch[PUT Couplings]"  # the unit of work's coupling transaction (each coupling row replaced)


def flushes_after_app_writes(sites: Sequence[str]) -> list[int]:
    """The 1-based ordinals of the coupling flushes that follow at least one write to BC or Dataverse since the
    previous flush: a crash just before one of them is a crash between a page's writes and its flush."""
    points, wrote = [], False
    for ordinal, site in enumerate(sites, start=1):
        if site.startswith(("bc ", "dv ")):
            wrote = True
        elif site == FLUSH:
            if wrote:
                points.append(ordinal)
            wrote = False
    return points


def before_a_flush(rng: random.Random, sites: Sequence[str]) -> frozenset[int]:
    points = flushes_after_app_writes(sites)
    return frozenset(rng.sample(points, min(len(points), rng.choice([1, 1, 2])))) if points else frozenset()


def test_the_crash_points_are_the_flushes_after_app_writes() -> None:
    sites = [
        "table $batch[POST Couplings]",  # claims
        "dv POST accounts/UpsertMultiple",
        "table $batch[PUT Couplings]",  # the page's flush: chosen
        "table $batch[PUT Couplings]",  # nothing written to an app since: not chosen
        "bc $batch[PATCH customers]",
        "table $batch[POST SyncErrors]",
        "table $batch[PUT Couplings]",
    ]
    assert flushes_after_app_writes(sites) == [3, 7]


@pytest.mark.integration
def test_a_crash_between_a_pages_writes_and_its_flush_converges(
    simulation: Simulation, capsys: pytest.CaptureFixture[str]
) -> None:
    simulation = configured(simulation, 8)
    simulation.choose = before_a_flush
    chosen = seeds(12)
    results = simulate(simulation, chosen, capsys)
    fired = [c.site for r in results for c in r.crashed.crashes]
    assert len(fired) >= len(chosen) // 2 and set(fired) == {FLUSH}, f"crashes before a flush: {fired}"
