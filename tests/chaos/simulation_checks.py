"""The invariants a seed's end state must hold, whatever was killed and redelivered on the way.

Identity (per mapping): every record in scope has exactly one partner on the other side and exactly one coupling;
no coupling points at a missing record or is half written; nothing the seed made is gone; each side holds exactly
the expected number of records, so one more is a duplicate. Counters: what the job said it did equals what was
done (a full-sync line's `inserted` = records created, `coupled` = couplings made, whatever was redelivered).
Convergence: a coupled pair holds the same name on both sides.

A violation says which invariant broke and, for a duplicate, where it came from: a created record's id is
deterministic (`sides.deterministic_id`), so its origin is known, and "made from a record that was itself made from
its own partner" is the signature of a create that did not look for the partner first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.domain.coupling import Coupling
from shared.domain.records import Counters
from shared.ports import Row
from tests.chaos.simulation import Crash
from tests.chaos.simulation_world import KINDS, Run, World, origin

SIDE_NAMES = {"bc": "BC", "dv": "Sales"}


@dataclass(frozen=True)
class Violation:
    invariant: str  # duplicate | missing | lost | coupling | uncoupled | counter | diverged | stuck | handover
    count: int
    text: str

    def __str__(self) -> str:
        return f"[{self.invariant}] {self.text}"


@dataclass
class RunOutcome:
    """What one run of a seed left: the invariants it broke, notes for the report, its writes and crashes."""

    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sites: list[str] = field(default_factory=list)  # every write, in order
    crashes: list[Crash] = field(default_factory=list)
    records: int = 0


@dataclass
class EndState:
    """One mapping's records and couplings after a run, read with no crash point armed."""

    kind: str
    bc: dict[str, Row]
    dv: dict[str, Row]
    couplings: list[Coupling]
    half: list[str]

    @classmethod
    def read(cls, world: World, run: Run, kind: str) -> EndState:
        return cls(
            kind, world.bc_rows(kind), world.dv_rows(kind), world.couplings(run, kind), world.half_couplings(run, kind)
        )

    @property
    def records(self) -> int:
        return len(self.bc) + len(self.dv)


def identity(
    state: EndState,
    bc_before: Sequence[str],
    dv_before: Sequence[str],
    expected: int,
    *,
    expected_dv: int | None = None,
    left_dv: int = 0,
) -> list[Violation]:
    """`bc_before`/`dv_before`: the records that existed before the sync (they must all still be there);
    `expected`: how many records each side must end with (`expected_dv` for Sales when it differs); `left_dv`: how
    many of Sales' own rows may stay uncoupled (BC's Couple Records leaves Sales rows nothing matched)."""
    kind, found = state.kind, []
    wanted = {"bc": expected, "dv": expected if expected_dv is None else expected_dv}
    for side, before, rows in (("bc", bc_before, state.bc), ("dv", dv_before, state.dv)):
        expected = wanted[side]
        if lost := [record_id for record_id in before if record_id not in rows]:
            found.append(
                Violation("lost", len(lost), f"{kind}: {len(lost)} {SIDE_NAMES[side]} record(s) gone: {_ids(lost)}")
            )
        if len(rows) < expected:
            found.append(
                Violation(
                    "missing",
                    expected - len(rows),
                    f"{kind}: {len(rows)} {SIDE_NAMES[side]} records, {expected} expected",
                )
            )
        if len(rows) > expected:
            extra = len(rows) - expected
            why = _duplicates(state, side, before)
            found.append(
                Violation(
                    "duplicate", extra, f"{kind}: {len(rows)} {SIDE_NAMES[side]} records, {expected} expected; {why}"
                )
            )
    for side, ids in (("bc", [c.bc_id for c in state.couplings]), ("dv", [c.dataverse_id for c in state.couplings])):
        if twice := [record_id for record_id, n in Counter(ids).items() if n > 1]:
            found.append(
                Violation("coupling", len(twice), f"{kind}: {SIDE_NAMES[side]} record(s) coupled twice: {_ids(twice)}")
            )
    dangling = [c for c in state.couplings if c.bc_id not in state.bc or c.dataverse_id not in state.dv]
    if dangling:
        pairs = ", ".join(_dangling(state, c) for c in dangling[:4])
        found.append(
            Violation("coupling", len(dangling), f"{kind}: {len(dangling)} coupling(s) to a missing record: {pairs}")
        )
    if state.half:
        found.append(Violation("coupling", len(state.half), f"{kind}: half-written coupling rows {state.half[:4]}"))
    coupled_bc = {c.bc_id for c in state.couplings}
    coupled_dv = {c.dataverse_id for c in state.couplings}
    for side, rows, coupled in (("bc", state.bc, coupled_bc), ("dv", state.dv, coupled_dv)):
        alone = [record_id for record_id in rows if record_id not in coupled]
        if side == "dv" and left_dv:
            own = set(dv_before)
            if len(alone) == left_dv and all(record_id in own for record_id in alone):
                alone = []  # exactly Sales' unmatched rows, left as BC leaves them
        if alone:
            why = "; ".join(_describe(state, side, record_id, before=()) for record_id in alone[:3])
            found.append(
                Violation(
                    "uncoupled", len(alone), f"{kind}: {len(alone)} {SIDE_NAMES[side]} record(s) left uncoupled: {why}"
                )
            )
    spec = KINDS[kind]
    diverged = [
        (c, state.bc[c.bc_id].get(spec.bc_name), state.dv[c.dataverse_id].get(spec.dv_name))
        for c in state.couplings
        if c.bc_id in state.bc and c.dataverse_id in state.dv
        and str(state.bc[c.bc_id].get(spec.bc_name) or "") != str(state.dv[c.dataverse_id].get(spec.dv_name) or "")
    ]  # fmt: skip
    if diverged:
        sample = "; ".join(f"{c.bc_id[:8]} {b!r} vs {d!r}" for c, b, d in diverged[:3])
        found.append(Violation("diverged", len(diverged), f"{kind}: {len(diverged)} coupled pair(s) differ: {sample}"))
    return found


def counters(label: str, got: Counters, *, inserted: int, coupled: int, exact: bool = True) -> list[Violation]:
    """`exact=False`: an incremental run killed before its job log line is written reports nothing (by design: the
    invocation failed), so after a crash the totals may only fall short, never exceed what was done."""
    found: list[Violation] = []
    for name, value, done in (("inserted", got.inserted, inserted), ("coupled", got.coupled, coupled)):
        if value != done and (exact or value > done):
            found.append(Violation("counter", 1, f"{label}: {name} = {value}, but {done} were {name}"))
    return found


def created(state: EndState, bc_before: Sequence[str], dv_before: Sequence[str]) -> int:
    """Records the sync created: those that exist now and did not before."""
    return len(set(state.bc) - set(bc_before)) + len(set(state.dv) - set(dv_before))


# -- explaining ----------------------------------------------------------------------------------------------------
def _duplicates(state: EndState, side: str, before: Sequence[str]) -> str:
    rows = state.bc if side == "bc" else state.dv
    made = [record_id for record_id in rows if record_id not in set(before)]
    suspects = [
        record_id for record_id in made if _round_trip(state, side, record_id) or not _coupled(state, side, record_id)
    ]
    return "; ".join(_describe(state, side, record_id, before) for record_id in (suspects or made)[:3])


def _describe(state: EndState, side: str, record_id: str, before: Sequence[str]) -> str:
    rows: Mapping[str, Row] = state.bc if side == "bc" else state.dv
    spec = KINDS[state.kind]
    name = rows[record_id].get(spec.bc_name if side == "bc" else spec.dv_name) if record_id in rows else None
    text = f"{SIDE_NAMES[side]} {record_id[:8]} {name!r}"
    source = origin(state.kind, record_id, state.bc, state.dv)
    if source is not None:
        text += f" made from {SIDE_NAMES[source[:2]]} {source[3:11]}"
        again = origin(state.kind, source[3:], state.bc, state.dv)
        if again is not None and again[:2] == side:
            text += f", itself made from {SIDE_NAMES[side]} {again[3:11]} (a round trip: its partner existed)"
    elif record_id in set(before):
        text += " (there before the sync)"
    text += ", coupled" if _coupled(state, side, record_id) else ", uncoupled"
    return text


def _dangling(state: EndState, coupling: Coupling) -> str:
    gone = [name for side, name, rows, record_id in (("bc", "BC", state.bc, coupling.bc_id),
            ("dv", "Sales", state.dv, coupling.dataverse_id)) if record_id not in rows]  # fmt: skip
    claim = f", a claim to create it (job {coupling.created_by})" if coupling.creating is not None else ""
    return f"bc:{coupling.bc_id[:8]} <-> dv:{coupling.dataverse_id[:8]} ({' and '.join(gone)} record missing{claim})"


def _round_trip(state: EndState, side: str, record_id: str) -> bool:
    source = origin(state.kind, record_id, state.bc, state.dv)
    again = origin(state.kind, source[3:], state.bc, state.dv) if source else None
    return again is not None and again[:2] == side


def _coupled(state: EndState, side: str, record_id: str) -> bool:
    return any((c.bc_id if side == "bc" else c.dataverse_id) == record_id for c in state.couplings)


def _ids(ids: Sequence[Any]) -> str:
    return ", ".join(str(i)[:8] for i in list(ids)[:4]) + (" ..." if len(ids) > 4 else "")
