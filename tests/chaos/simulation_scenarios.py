"""The simulated scenarios, a seed's plan, and the two runs of every seed (clean, then crashed).

A seed decides everything, so `SIM_SEED=<n>` replays it exactly: the scenario, the mappings, how many records on
each side (and how many share a match value), the chunk size, the edits between incremental runs, Service Bus's
duplicates and lost completions, and the crash points. The clean run comes first: it counts the writes the
scenario makes (the crash points are drawn among them) and proves the scenario itself holds the invariants, so a
failure after a crash is the crash's doing; a failure of the clean run says the bug needs no crash at all.

1. `full`: a full synchronization of CUSTOMER, CONTACT or OPPORTUNITY (or all three, one line after the other) with
   uncoupled records on both sides, planned and started as the HTTP API does, then every message delivered through
   the real `sync-jobs` trigger by `simulation.drain` (peek-lock, redelivery after a killed worker's lock expires,
   duplicates, lost completions).
2. `incremental` (`simulation_incremental.py`): timer runs of CUSTOMER (both ways, creating: `sync_only_coupled`
   off) until quiet; then couplings deleted (BC's Delete Coupling) and both sides edited, new records on both sides;
   then runs until quiet again. A killed run is simply followed by the next tick, as the timer does.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from local.fakes.queue import LockedMessage, to_function_message
from shared.bootstrap import Services, set_services
from shared.domain.full_sync import Recommendation
from shared.domain.records import LineStatus, ReviewLine, Side
from shared.domain.watermarks import parse_instant
from shared.services.full_sync import coordinator as full_sync_module
from shared.services.full_sync.coordinator import FullSync
from tests.chaos.simulation import DeliveryChaos, WriteCrasher, choose_crashes, drain
from tests.chaos.simulation_checks import EndState, RunOutcome, Violation, counters, created, identity
from tests.chaos.simulation_incremental import Edits, incremental
from tests.chaos.simulation_world import KINDS, Records, Run, World, make_records
from tests.functions.conftest import FUNCTIONS

SYNC_JOB = FUNCTIONS["sync_job"].get_user_function()  # get_functions() registers: it may run once per app
COUPLE, FULL = Recommendation.COUPLE_RECORDS.value, Recommendation.FULL_SYNCHRONIZATION.value
MOST_CRASHES = 3
Chooser = Callable[[random.Random, Sequence[str]], frozenset[int]]
INVARIANTS = ("duplicate", "missing", "lost", "coupling", "uncoupled", "counter", "diverged", "stuck", "handover")


@dataclass(frozen=True)
class SeedPlan:
    seed: int
    scenario: str  # full | incremental
    kinds: tuple[str, ...]
    sizes: tuple[tuple[int, int, int], ...]  # per kind: BC records, Sales records, of which share a match value
    mode: str = ""  # full: coupleRecords | fullSynchronization
    chunk_records: int = 200
    chaos: DeliveryChaos = field(default_factory=DeliveryChaos)
    edit_created_side: bool = True  # incremental: a decoupled pair may be edited on its created side only
    max_records: int = 12

    @classmethod
    def of(cls, seed: int, max_records: int = 12, edit_created_side: bool = True) -> SeedPlan:
        rng = random.Random(seed)
        scenario = rng.choice(["full", "incremental"])
        chaos = DeliveryChaos(rng.choice([0.0, 0.1, 0.25]), rng.choice([0.0, 0.1, 0.2]))
        if scenario == "incremental":
            size = (rng.randint(3, max_records), rng.randint(3, max_records), 0)
            return cls(seed, scenario, ("CUSTOMER",), (size,), chaos=chaos, edit_created_side=edit_created_side,
                       max_records=max_records)  # fmt: skip
        kinds = rng.choices([("CUSTOMER",), ("CONTACT",), ("OPPORTUNITY",), tuple(KINDS)], weights=[4, 2, 2, 2])[0]
        mode = rng.choices([COUPLE, FULL], weights=[3, 2])[0]
        most = max_records if len(kinds) == 1 else max(2, max_records // 2)
        sizes = []
        for _ in kinds:
            bc, dv = rng.randint(2, most), rng.randint(2, most)
            sizes.append((bc, dv, rng.randint(0, min(bc, dv) // 2) if mode == COUPLE else 0))
        return cls(seed, scenario, kinds, tuple(sizes), mode, rng.randint(2, 5), chaos, max_records=max_records)

    def label(self) -> str:
        sizes = ", ".join(f"{k} {bc} BC + {dv} Sales" + (f" ({s} matching)" if s else "")
                          for k, (bc, dv, s) in zip(self.kinds, self.sizes, strict=True))  # fmt: skip
        if self.scenario == "incremental":
            return f"incremental runs, {sizes}, couplings deleted and both sides edited between runs"
        return f"full sync ({self.mode}, chunks of {self.chunk_records}), {sizes}"

    def records(self) -> list[Records]:
        return [
            make_records(random.Random(self.seed * 31 + n), kind, bc, dv, shared)
            for n, (kind, (bc, dv, shared)) in enumerate(zip(self.kinds, self.sizes, strict=True))
        ]


@dataclass
class SeedResult:
    plan: SeedPlan
    crash_at: frozenset[int]
    clean: RunOutcome
    crashed: RunOutcome

    @property
    def failed(self) -> bool:
        return bool(self.clean.violations or self.crashed.violations)

    def describe(self, *, notes: int = 6) -> str:
        """What a failure prints: the seed to replay, the scenario, the crash points, each broken invariant."""
        replay = f"SIM_SEED={self.plan.seed} SIM_MAX_RECORDS={self.plan.max_records}" + (
            "" if self.plan.edit_created_side else " SIM_EDIT_CREATED_SIDE=0"
        )
        lines = [f"{replay}  {self.plan.label()}  ({len(self.clean.sites)} writes when clean)"]
        if self.clean.violations:
            lines.append("  the clean run (no crash, no duplicate) already fails:")
            lines += [f"    {v}" for v in self.clean.violations]
        if notes > 6:
            lines += [f"    clean note: {n}" for n in self.clean.notes[:notes]]
        points = ", ".join(f"#{c.ordinal} `{c.site}` during {c.during}" for c in self.crashed.crashes) or "none fired"
        lines.append(f"  crashed before write {points}")
        lines += [f"    {v}" for v in self.crashed.violations]
        lines += [f"    note: {n}" for n in self.crashed.notes[:notes]]
        return "\n".join(lines)


class Simulation:
    def __init__(self, world: World, crasher: WriteCrasher, *, max_records: int = 12, edit_created_side: bool = True):
        self.world, self.crasher = world, crasher
        self.max_records, self.edit_created_side = max_records, edit_created_side
        self.choose: Chooser | None = None  # which of the clean run's writes to crash before (None: 1 to 3 drawn)

    def run_seed(self, seed: int) -> SeedResult:
        choose = self.choose
        plan = SeedPlan.of(seed, self.max_records, self.edit_created_side)
        self.crasher.reset()
        clean = self._execute(plan, DeliveryChaos())
        rng = random.Random(seed * 7 + 1)
        crash_at = choose(rng, clean.sites) if choose else choose_crashes(rng, clean.sites, MOST_CRASHES)
        self.crasher.reset(crash_at)
        crashed = self._execute(plan, plan.chaos)
        return SeedResult(plan, crash_at, clean, crashed)

    def _execute(self, plan: SeedPlan, chaos: DeliveryChaos) -> RunOutcome:
        records = plan.records()
        self.world.empty_apps()
        for batch in records:
            self.world.add(batch)
        run = self.world.fresh_run({kind: KINDS[kind].mapping for kind in plan.kinds})
        try:
            if plan.scenario == "full":
                outcome = self._full(plan, records, run, chaos)
            else:
                outcome = self._incremental(plan, records[0], run)
        finally:
            self.world.drop(run)
        outcome.sites, outcome.crashes = list(self.crasher.sites), list(self.crasher.crashes)
        return outcome

    # -- 1. full synchronization through the queue ------------------------------------------------------------
    def _full(self, plan: SeedPlan, records: Sequence[Records], run: Run, chaos: DeliveryChaos) -> RunOutcome:
        outcome = RunOutcome()
        full = FullSync(run.context, run.services.runs, run.queue)
        sync_run, lines = full.plan(list(plan.kinds), {kind: FULL for kind in plan.kinds} if plan.mode == FULL else {})
        outcome.notes += [
            f"{ln.mapping} planned as {ln.recommendation}" for ln in lines if ln.recommendation != plan.mode
        ]
        full.start(sync_run.run_id)

        def deliver(message: LockedMessage) -> None:
            SYNC_JOB(to_function_message(message))

        with _chunks_of(plan.chunk_records), _services(run.services):
            log = drain(run.queue, run.clock, deliver, self.crasher, random.Random(plan.seed * 11 + 2), chaos)
        outcome.notes += log.failures
        outcome.notes.append(
            f"{log.deliveries} deliveries: {log.crashed} killed, {log.duplicates} duplicated, "
            f"{log.lost_completions} completions lost"
        )
        if not log.drained:
            outcome.violations.append(
                Violation("stuck", 1, f"the queue still had work after {log.deliveries} deliveries")
            )
        for dead in run.queue.dead_letters():
            outcome.violations.append(Violation("stuck", 1, f"dead-lettered {dead.envelope.message_id}: {dead.reason}"))
        sync_run, lines = run.services.runs.get_run(sync_run.run_id)
        if sync_run.status != "finished":
            states = ", ".join(f"{ln.mapping} {ln.status.value} {ln.error or ''}".strip() for ln in lines)
            outcome.violations.append(Violation("stuck", 1, f"run {sync_run.status}: {states}"))
        by_kind = {r.kind: r for r in records}
        for line in lines:
            made = by_kind[line.mapping]
            state = EndState.read(self.world, run, line.mapping)
            outcome.records += state.records
            if line.recommendation == COUPLE:  # BC's Couple Records: BC's records matched or created, Sales' left
                bc_only = len(made.bc) - made.shared
                outcome.violations += identity(
                    state,
                    list(made.bc),
                    list(made.dv),
                    len(made.bc),
                    expected_dv=len(made.dv) + bc_only,
                    left_dv=len(made.dv) - made.shared,
                )
            else:
                expected = len(made.bc) + len(made.dv)
                outcome.violations += identity(state, list(made.bc), list(made.dv), expected)
            if line.chunks_done != line.chunks_total:
                outcome.violations.append(
                    Violation("stuck", 1, f"{line.mapping}: {line.chunks_done} of {line.chunks_total} chunks done")
                )
            outcome.violations += counters(
                f"{line.mapping} line",
                line.counters,
                inserted=created(state, list(made.bc), list(made.dv)),
                coupled=len(state.couplings),
            )
            outcome.violations += handed_over(run, line)
        return outcome

    # -- 2. incremental runs, edits, Delete Coupling ------------------------------------------------------------
    def _incremental(self, plan: SeedPlan, made: Records, run: Run) -> RunOutcome:
        edits = Edits(self.world, run, random.Random(plan.seed * 13 + 5), plan.edit_created_side)
        return incremental(self.world, run, self.crasher, made, edits)


def handed_over(run: Run, line: ReviewLine) -> list[Violation]:
    """A finished line handed its mapping over: both checkpoints at its start or later (the incremental runs read
    what changed since, not the whole table again, and nothing changed after it is skipped)."""
    if line.status is not LineStatus.FINISHED or line.hand_over_pending:
        return [Violation("handover", 1, f"{line.mapping}: {line.status.value}, hand-over pending")]
    found = []
    for side in Side:
        checkpoint = run.context.checkpoints.find_checkpoint(line.mapping, side)
        watermark = checkpoint.watermark if checkpoint else None
        if not watermark or parse_instant(watermark) < parse_instant(line.started_on):
            why = f"{line.mapping} {side.value}: checkpoint {watermark}, the line started {line.started_on}"
            found.append(Violation("handover", 1, why))
    return found


@contextlib.contextmanager
def _chunks_of(size: int) -> Iterator[None]:
    """Several chunks per line on a few records (the trigger builds its FullSync with the module's value)."""
    before = full_sync_module.CHUNK_RECORDS
    full_sync_module.CHUNK_RECORDS = size
    try:
        yield
    finally:
        full_sync_module.CHUNK_RECORDS = before


@contextlib.contextmanager
def _services(services: Services) -> Iterator[None]:
    set_services(services)
    try:
        yield
    finally:
        set_services(None)


def summary_of(results: Sequence[SeedResult]) -> dict[str, Any]:
    """The figures a run prints (and a test may assert on)."""
    crashed = [v for r in results for v in r.crashed.violations]
    clean = [v for r in results for v in r.clean.violations]

    def total(found: Sequence[Violation], invariant: str) -> int:
        return sum(v.count for v in found if v.invariant == invariant)

    all_sites = {site for r in results for site in r.clean.sites}
    crash_sites = {c.site for r in results for c in r.crashed.crashes}
    return {
        "seeds": len(results),
        "full": sum(r.plan.scenario == "full" for r in results),
        "incremental": sum(r.plan.scenario == "incremental" for r in results),
        "crashes": sum(len(r.crashed.crashes) for r in results),
        "crash_sites": crash_sites,
        "write_sites": all_sites,
        "records": sum(r.crashed.records for r in results),
        **{name: total(crashed, name) for name in INVARIANTS},
        **{f"clean_{name}": total(clean, name) for name in INVARIANTS},
        "failing": [r.plan.seed for r in results if r.failed],
    }
