"""The deterministic fault simulation (`simulation.py`): many small seeds, each a scenario run once clean and once
with the worker killed between two writes, then checked against the invariants (`simulation_checks.py`).

A short slice runs in `make test`; hundreds of seeds with `make chaos`. Environment:
- `SIM_SEED=<n>`: replay one seed, printing everything it did; a failure prints the line to use, e.g.
  `SIM_SEED=31 SIM_MAX_RECORDS=10 .venv/bin/pytest tests/chaos/test_simulation.py -k short`;
- `SIM_SEEDS=<count>` and `SIM_FIRST_SEED=<n>` for a range;
- `SIM_MAX_RECORDS` (default 8 in the slice, 10 in the full run): most records per side and mapping;
- `SIM_EDIT_CREATED_SIDE=0`: never edit a decoupled pair on its created side only (the one case the ids cannot
  tell: a record created from its partner carries no trace of it, its id being derived one way only, so only a
  memory of the deleted coupling can find that partner again).

The report printed at the end: seeds run, crashes and the distinct write sites they hit, records, what each
invariant found after crashes and in the clean runs (a clean-run failure needs no crash at all), the failing seeds
by scenario, and per crash site how many seeds failed only after a crash there.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from shared.domain.coupling import Coupling
from shared.domain.records import Counters
from shared.engine.sides import deterministic_id
from tests.chaos.simulation import write_site
from tests.chaos.simulation_checks import EndState, counters, identity
from tests.chaos.simulation_scenarios import INVARIANTS, SeedResult, Simulation, summary_of

pytestmark = pytest.mark.chaos
SHOWN_FAILURES = 30


def seeds(default: int) -> range:
    if one := os.environ.get("SIM_SEED"):
        return range(int(one), int(one) + 1)
    first = int(os.environ.get("SIM_FIRST_SEED", "1"))
    return range(first, first + int(os.environ.get("SIM_SEEDS", str(default))))


def configured(simulation: Simulation, max_records: int) -> Simulation:
    simulation.max_records = int(os.environ.get("SIM_MAX_RECORDS", str(max_records)))
    simulation.edit_created_side = os.environ.get("SIM_EDIT_CREATED_SIDE", "1") != "0"
    return simulation


def report(results: list[SeedResult], chosen: range) -> str:
    s = summary_of(results)
    names = INVARIANTS
    after = ", ".join(f"{n} {s[n]}" for n in names)
    clean = ", ".join(f"{n} {s['clean_' + n]}" for n in names)
    fired = Counter(c.site for r in results for c in r.crashed.crashes)
    failing_at = Counter(
        c.site for r in results if r.crashed.violations and not r.clean.violations for c in r.crashed.crashes[:1]
    )
    lines = [
        f"fault simulation: {s['seeds']} seeds ({s['full']} full sync, {s['incremental']} incremental), "
        f"seeds {chosen.start}..{chosen.stop - 1}",
        f"  crash points: {s['crashes']} crashes at {len(s['crash_sites'])} distinct write sites "
        f"(of {len(s['write_sites'])} sites the clean runs wrote to)",
        f"  records: {s['records']}",
        f"  found after crashes: {after}",
        f"  found in clean runs: {clean}",
        f"  failing seeds: {len(s['failing'])} {s['failing'][:60]}",
        "  by scenario (seeds failing / run, of which failing without a crash; seeds per broken invariant):",
        *by_scenario(results),
        "  crash sites (crashes / seeds failing only after a crash, their first crash there):",
        *(f"    {fired[site]:4} / {failing_at[site]:<4} {site}" for site in sorted(fired, key=lambda x: -fired[x])),
    ]
    unreached = sorted(s["write_sites"] - s["crash_sites"])
    if unreached:
        lines.append(f"  write sites not crashed at: {unreached}")
    return "\n".join(lines)


def by_scenario(results: list[SeedResult]) -> list[str]:
    groups: dict[str, list[SeedResult]] = {}
    for r in results:
        kinds = "+".join(r.plan.kinds)
        key = f"incremental {kinds}" if r.plan.scenario == "incremental" else f"full sync {r.plan.mode} {kinds}"
        groups.setdefault(key, []).append(r)
    lines = []
    for key, group in sorted(groups.items()):
        failing = [r for r in group if r.failed]
        broken = Counter(
            name for r in failing for name in {v.invariant for v in r.clean.violations + r.crashed.violations}
        )
        clean = sum(bool(r.clean.violations) for r in group)
        detail = ", ".join(f"{name} {broken[name]}" for name in INVARIANTS if broken[name])
        lines.append(f"    {len(failing):3}/{len(group):<3} ({clean} clean)  {key}: {detail or 'all hold'}")
    return lines


def simulate(simulation: Simulation, chosen: range, capsys: pytest.CaptureFixture[str]) -> list[SeedResult]:
    results = [simulation.run_seed(seed) for seed in chosen]
    failing = [r for r in results if r.failed]
    with capsys.disabled():
        print("\n" + report(results, chosen))
        if os.environ.get("SIM_SEED"):  # a replay: everything the seed did
            print("\n".join(r.describe(notes=100) for r in results))
    details = "\n".join(r.describe() for r in failing[:SHOWN_FAILURES])
    more = f"\n... and {len(failing) - SHOWN_FAILURES} more seeds" if len(failing) > SHOWN_FAILURES else ""
    assert not failing, f"{len(failing)} of {len(results)} seeds broke an invariant:\n{details}{more}"
    return results


@pytest.mark.integration
def test_a_short_slice_of_seeds_holds_every_invariant(
    simulation: Simulation, capsys: pytest.CaptureFixture[str]
) -> None:
    simulate(configured(simulation, 8), seeds(20), capsys)


@pytest.mark.integration
@pytest.mark.chaos_full
@pytest.mark.timeout(1800)
def test_hundreds_of_seeds_hold_every_invariant(simulation: Simulation, capsys: pytest.CaptureFixture[str]) -> None:
    simulate(configured(simulation, 10), seeds(200), capsys)


# -- the harness's own parts, without I/O: a checker that sees nothing would pass every seed ----------------------
def test_each_write_is_named_by_its_service_method_and_table_or_entity_set() -> None:
    table = "http://127.0.0.1:1/devstoreaccount1/s0123456789abSyncJobs(PartitionKey='CUSTOMER',RowKey='9_fs-1%2FC%2F2')"
    assert write_site("PUT", table, None) == "table PUT SyncJobs"
    transaction = (
        "--changeset\r\nPOST http://127.0.0.1:1/devstoreaccount1/s0123456789abCouplings HTTP/1.1\r\n\r\n{}\r\n"
        "PUT http://127.0.0.1:1/devstoreaccount1/s0123456789abCouplings(PartitionKey='C',RowKey='bc%3A1') HTTP/1.1"
    )
    assert write_site("POST", "http://127.0.0.1:1/devstoreaccount1/$batch", transaction.encode()) == (
        "table $batch[POST Couplings, PUT Couplings]"
    )
    batch = json.dumps(
        {"requests": [{"method": "POST", "url": "companies(1)/customers"}, {"method": "PATCH", "url": "customers(2)"}]}
    )
    assert (
        write_site("POST", "http://x/t/production/api/v2.0/$batch", batch)
        == "bc $batch[PATCH customers, POST customers]"
    )
    reads = json.dumps({"requests": [{"method": "GET", "url": "customers(2)"}]})
    assert write_site("POST", "http://x/t/production/api/v2.0/$batch", reads) is None  # a batch of reads writes nothing
    bulk = "http://x/api/data/v9.2/accounts/Microsoft.Dynamics.CRM.UpsertMultiple"
    assert write_site("POST", bulk, "{}") == "dv POST accounts/UpsertMultiple"


def test_the_checks_name_each_broken_invariant() -> None:
    bc_a, bc_b, dv_c = "a" * 8 + "-0000-4000-8000-000000000001", "b" * 8 + "-0000-4000-8000-000000000002", "c" * 8
    made_a = deterministic_id("CUSTOMER", "bc", bc_a)  # Sales' copy of BC a
    round_trip = deterministic_id("CUSTOMER", "dv", made_a)  # BC's copy of that copy: a duplicate of a
    state = EndState(
        "CUSTOMER",
        bc={bc_a: {"displayName": "A"}, round_trip: {"displayName": "A"}},
        dv={made_a: {"name": "A"}, dv_c: {"name": "C"}},
        couplings=[Coupling("CUSTOMER", bc_a, made_a), Coupling("CUSTOMER", round_trip, "gone")],
        half=[],
    )
    found = identity(state, [bc_a, bc_b], [dv_c], expected=1)
    assert {v.invariant for v in found} == {"lost", "duplicate", "coupling", "uncoupled"}, found
    assert any("round trip" in v.text for v in found if v.invariant == "duplicate")  # where the duplicate came from
    assert [v.count for v in found if v.invariant == "lost"] == [1]  # BC b is gone
    clean = EndState(
        "CUSTOMER", {bc_a: {"displayName": "A"}}, {made_a: {"name": "A"}}, [Coupling("CUSTOMER", bc_a, made_a)], []
    )
    assert identity(clean, [bc_a], [], expected=1) == []
    assert [v.invariant for v in counters("line", Counters(inserted=1, coupled=1), inserted=2, coupled=1)] == [
        "counter"
    ]
    assert counters("runs", Counters(inserted=1, coupled=1), inserted=2, coupled=1, exact=False) == []  # a killed run
