"""Issue 21's transactions, each broken on purpose: the worker is killed just before one of the writes that now go
out batched, and the seed's invariants must still hold (every record once on each side, each coupled once, nothing
lost, the line's counters exact, the run finished, no message stuck). Same world, seeds and checks as
`test_simulation.py`; only full-synchronization seeds, and only crash points at the chosen kind of write:

- the run moved on in one transaction (`advancing.py`: lines started, failed or finished, hand-over marks cleared,
  the run closed): `table $batch[PUT SyncRuns]`;
- a finished line's two checkpoints handed over in one transaction (`lines.hand_over`): `table $batch[POST
  Checkpoints]`;
- a chunk counted on its line without reading the run first (`counting.py`): `table PUT SyncRuns`;
- the pairs a Couple Records chunk matched, now written through its unit of work 50 to a transaction, and its
  claims (`services/matcher.py`, `Creator._claim`): `table $batch[POST Couplings]` of `coupleRecords` seeds.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from tests.chaos.simulation_scenarios import COUPLE, Chooser, SeedPlan, SeedResult, Simulation
from tests.chaos.test_simulation import configured

pytestmark = pytest.mark.chaos
MAX_RECORDS = 8
SEEDS = 6  # full-synchronization seeds per kind of write (about 2 s each on two cores)


def full_sync_seeds(count: int, *, mode: str | None = None) -> list[int]:
    """The first `count` seeds whose scenario is a full synchronization (of `mode`, when given)."""
    found: list[int] = []
    for seed in range(1, 2000):
        plan = SeedPlan.of(seed, MAX_RECORDS)
        if plan.scenario == "full" and mode in (None, plan.mode):
            found.append(seed)
            if len(found) == count:
                break
    return found


def at(site: str) -> Chooser:
    """A chooser: one or two of the clean run's writes to `site` (none when the seed never writes there)."""

    def choose(rng: random.Random, sites: Sequence[str]) -> frozenset[int]:
        points = [ordinal for ordinal, name in enumerate(sites, start=1) if name == site]
        return frozenset(rng.sample(points, min(len(points), rng.choice([1, 1, 2])))) if points else frozenset()

    return choose


def run(simulation: Simulation, site: str, seeds: list[int]) -> list[SeedResult]:
    simulation = configured(simulation, MAX_RECORDS)
    simulation.choose = at(site)
    results = [simulation.run_seed(seed) for seed in seeds]
    failing = [r.describe() for r in results if r.failed]
    assert not failing, f"{len(failing)} of {len(results)} seeds broke an invariant:\n" + "\n".join(failing)
    fired = [crash.site for r in results for crash in r.crashed.crashes]
    assert fired and set(fired) == {site}, f"crashes: {fired}"
    return results


@pytest.mark.integration
@pytest.mark.parametrize(
    "site", ["table $batch[PUT SyncRuns]", "table $batch[POST Checkpoints]", "table PUT SyncRuns"]
)
def test_a_crash_at_the_runs_own_bookkeeping_converges(simulation: Simulation, site: str) -> None:
    run(simulation, site, full_sync_seeds(SEEDS))


@pytest.mark.integration
def test_a_crash_at_a_couple_records_chunks_coupling_transactions_converges(simulation: Simulation) -> None:
    results = run(simulation, "table $batch[POST Couplings]", full_sync_seeds(SEEDS, mode=COUPLE))
    assert any(shared for r in results for _, _, shared in r.plan.sizes)  # some seeds match records, not only create
