"""The incremental scenario of the simulation: the timer's runs of CUSTOMER (both ways, creating) until quiet, then
what users do between runs (BC's Delete Coupling, edits on both sides, new records), then runs until quiet again.

A killed run is simply followed by the next tick, as the timer does; a run killed before its job log line reports
nothing (the invocation failed), so after a crash the summed counters may fall short but never exceed what was done.
"""

from __future__ import annotations

import random

from local.host.chaos import WorkerCrashed
from shared.domain.records import Counters, SyncJob
from shared.engine.mapping_run import run_mapping
from shared.services.coupling import uncouple
from tests.chaos.simulation import WriteCrasher, describe_error
from tests.chaos.simulation_checks import EndState, RunOutcome, Violation, counters, created, identity
from tests.chaos.simulation_world import Records, Run, World, make_records

MAX_TICKS = 10


def incremental(world: World, run: Run, crasher: WriteCrasher, made: Records, edits: Edits) -> RunOutcome:
    """Both phases, then the checks: every record (the seed's and those added between the runs) exactly once on each
    side and coupled once; the runs' summed `inserted` equal to the records created and `coupled` to the couplings
    made (those Delete Coupling removed included); every edit of a coupled pair on both sides at the end."""
    outcome = RunOutcome()
    ticker = Ticker(run, crasher, outcome.notes)
    first = ticker.until_quiet("before the edits")
    edits.apply(made)
    second = ticker.until_quiet("after the edits")
    for phase, last in (("before the edits", first), ("after the edits", second)):
        if last is not None:
            outcome.violations.append(Violation("stuck", 1, f"not quiet after {MAX_TICKS} ticks {phase}: {last}"))
    state = EndState.read(world, run, made.kind)
    outcome.records = state.records
    bc_before, dv_before = [*made.bc, *edits.new_bc], [*made.dv, *edits.new_dv]
    outcome.violations += identity(state, bc_before, dv_before, len(bc_before) + len(dv_before))
    outcome.violations += counters(
        "CUSTOMER runs (summed)",
        ticker.totals,
        inserted=created(state, bc_before, dv_before),
        coupled=len(state.couplings) + edits.decoupled,
        exact=not crasher.crashes,
    )
    outcome.violations += edits.lost_updates(state)
    outcome.notes += edits.notes
    outcome.notes += [f"left: {error}" for error in record_errors(run)]
    return outcome


class Ticker:
    """The timer: run again after a killed run, a transient stop or a run that still did something."""

    def __init__(self, run: Run, crasher: WriteCrasher, notes: list[str]) -> None:
        self.run, self.crasher, self.notes = run, crasher, notes
        self.totals = Counters()
        self.ticks = 0

    def until_quiet(self, phase: str) -> Counters | str | None:
        """None once a run changed nothing; else what the last tick did."""
        last: Counters | str = "no tick"
        for _ in range(MAX_TICKS):
            self.ticks += 1
            during = f"tick {self.ticks} ({phase})"
            try:
                with self.crasher.invocation(during):
                    job: SyncJob = run_mapping(self.run.context, "CUSTOMER")
            except WorkerCrashed:
                last = "killed"
                continue
            except Exception as error:
                last = describe_error(error)
                self.notes.append(f"{during}: {last}")
                continue
            self.totals = self.totals.add(job.counters)
            last = job.counters
            c = job.counters
            done = {name: value for name, value in c.as_dict().items() if value and name != "unchanged"}
            self.notes.append(f"{during}: {done or 'quiet'}")
            if c.failed:
                self.notes += [f"  {error}" for error in record_errors(self.run)]
            if not (c.inserted or c.modified or c.coupled or c.uncoupled or c.failed or c.deleted):
                return None
        return last


class Edits:
    """Between the two phases, as users would: Delete Coupling on some pairs (then an edit on the record that was
    there first, on the one the sync created from it, or on both), edits on one side of coupled pairs (BC's city,
    Sales' phone: never both sides of one pair, which would be a conflict by design), and new records on both sides.
    No crash point is armed here."""

    def __init__(self, world: World, run: Run, rng: random.Random, created_side: bool) -> None:
        self.world, self.run, self.rng, self.created_side = world, run, rng, created_side
        self.new_bc: list[str] = []
        self.new_dv: list[str] = []
        self.decoupled = 0
        self.expected: list[tuple[str, str, str, str]] = []  # (bc id, dv id, field, value) on both sides at the end
        self.notes: list[str] = []

    def apply(self, made: Records) -> None:
        store = self.run.context.couplings
        sources = [("bc", i) for i in made.bc] + [("dv", i) for i in made.dv]
        self.rng.shuffle(sources)
        cut = max(1, len(sources) // 4)
        for side, record_id in sources[:cut]:
            coupling = (
                store.find_by_bc_id("CUSTOMER", record_id)
                if side == "bc"
                else store.find_by_dataverse_id("CUSTOMER", record_id)
            )
            how = self.rng.choice(["source", "both", *(["created"] if self.created_side else [])])
            if coupling is None:
                self.notes.append(f"{side}:{record_id[:8]} was not coupled when its coupling was to be deleted")
                self._edit(side, record_id)
                continue
            uncouple(self.run.context, "CUSTOMER", coupling.bc_id)  # BC's Delete Coupling, as the API runs it
            self.decoupled += 1
            partner = ("dv", coupling.dataverse_id) if side == "bc" else ("bc", coupling.bc_id)
            edited = {"source": f"the original {side}", "both": "both", "created": f"the created {partner[0]}"}[how]
            self.notes.append(
                f"Delete Coupling bc:{coupling.bc_id[:8]} <-> dv:{coupling.dataverse_id[:8]} "
                f"(original {side}:{record_id[:8]}), then edited {edited}"
            )
            if how in ("source", "both"):
                self._edit(side, record_id)
            if how in ("both", "created"):
                self._edit(*partner)
        for n, (side, record_id) in enumerate(sources[cut : cut * 3]):
            coupling = (
                store.find_by_bc_id("CUSTOMER", record_id)
                if side == "bc"
                else store.find_by_dataverse_id("CUSTOMER", record_id)
            )
            if coupling is None:
                continue
            target = (
                (side, record_id)
                if n % 2
                else (("dv", coupling.dataverse_id) if side == "bc" else ("bc", coupling.bc_id))
            )
            field_name, value = self._edit(*target)
            self.expected.append((coupling.bc_id, coupling.dataverse_id, field_name, value))
        new = make_records(self.rng, "CUSTOMER", self.rng.randint(0, 2), self.rng.randint(0, 2), 0, serial=900)
        self.world.add(new)
        self.new_bc, self.new_dv = list(new.bc), list(new.dv)

    def _edit(self, side: str, record_id: str) -> tuple[str, str]:
        if side == "bc":
            city = f"Edited {self.rng.randint(100, 999)}"
            row = self.world.stack.bc.get_entity("customers", record_id) or {}
            self.world.stack.bc.update_entity("customers", record_id, {"city": city}, str(row.get("@odata.etag", "*")))
            return "city", city
        phone = f"+1 206 555 {self.rng.randint(1000, 9999)}"
        self.world.stack.dataverse.update_row("accounts", record_id, {"telephone1": phone})
        return "phone", phone

    def lost_updates(self, state: EndState) -> list[Violation]:
        lost: list[str] = []
        pairs = {(c.bc_id, c.dataverse_id) for c in state.couplings}
        for bc_id, dv_id, field_name, value in self.expected:
            if (bc_id, dv_id) not in pairs or bc_id not in state.bc or dv_id not in state.dv:
                continue  # the identity check reports what happened to this pair
            bc_value = state.bc[bc_id].get("city" if field_name == "city" else "phoneNumber")
            dv_value = state.dv[dv_id].get("address1_city" if field_name == "city" else "telephone1")
            if (bc_value, dv_value) != (value, value):
                lost.append(f"{bc_id[:8]} {field_name} {value!r}: BC {bc_value!r}, Sales {dv_value!r}")
        return (
            [Violation("diverged", len(lost), f"CUSTOMER: edit(s) not applied: {'; '.join(lost[:3])}")] if lost else []
        )


def record_errors(run: Run) -> list[str]:
    return [
        f"record error {e.side.value}:{e.record_id[:8]} {e.code} x{e.count}{' (skipped)' if e.skipped else ''}: "
        f"{e.message}"
        for e in run.context.errors.list_errors("CUSTOMER")
    ]
