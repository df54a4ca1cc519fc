"""Full synchronization planning (BC's "Full Synch. Review"): which mappings take part, what each line should do,
and which lines may start once others finish. Pure: the service reads both apps and stores the run.

Why these rules (see `design/reference/bc-integration-facts.md`, "full synchronization order"):
- Document lines (SOLINE-ORDERDETAIL, POSTEDSALESLINE-INV) never get a line: they travel with their documents.
  SALESORDER-ORDER only takes part when it runs both ways (a BC -> Sales only order sync is the SALESORDER-ORDER
  process, not a table copy). Disabled mappings do not take part.
- The recommendation is computed from both apps' data as BC does: data on one side only -> `fullSynchronization`
  (copy it across), data on both -> `coupleRecords` (match-based coupling instead of creating duplicates), none ->
  `noRecords`. SALESPEOPLE is always a full synchronization (users are never created, only coupled and read);
  CURRENCY is a full synchronization only when Dataverse holds nothing but its base currency; option mappings
  couple when BC has codes. A line whose dependency is not in the run and has nothing coupled is
  `dependencyNotSatisfied`: running it would only produce lookup errors.
- A line starts when every dependency in the run is finished, or was recommended `noRecords` (nothing to wait
  for). A dependency that failed fails its dependents with the reason instead of leaving them waiting forever;
  restarting the run re-runs exactly those.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from shared.domain.mapping import Direction, TableMapping
from shared.domain.records import LineStatus, ReviewLine

NEVER_IN_FULL_SYNC = frozenset({"SOLINE-ORDERDETAIL", "POSTEDSALESLINE-INV"})
BOTH_WAYS_ONLY = frozenset({"SALESORDER-ORDER"})
ALWAYS_FULL = frozenset({"SALESPEOPLE"})
CURRENCY = "CURRENCY"


class Recommendation(StrEnum):
    FULL_SYNCHRONIZATION = "fullSynchronization"
    COUPLE_RECORDS = "coupleRecords"
    NO_RECORDS = "noRecords"
    DEPENDENCY_NOT_SATISFIED = "dependencyNotSatisfied"


@dataclass(frozen=True)
class SideData:
    """What the planner needs to know about one mapping's data, read by the service (a `$top=1` per side)."""

    bc_has_records: bool
    dataverse_has_records: bool
    coupled: int = 0  # couplings the mapping already has (a dependency outside the run may already be done)
    dataverse_only_base_currency: bool = False  # CURRENCY: Dataverse has exactly one currency, rate 1


def takes_part(mapping: TableMapping) -> bool:
    if not mapping.enabled or mapping.name in NEVER_IN_FULL_SYNC:
        return False
    return mapping.name not in BOTH_WAYS_ONLY or mapping.direction is Direction.BIDIRECTIONAL


def recommend(mapping: TableMapping, data: SideData, *, option_mapping: bool = False) -> Recommendation:
    if mapping.name in ALWAYS_FULL:
        return Recommendation.FULL_SYNCHRONIZATION
    if mapping.name == CURRENCY:
        if data.dataverse_only_base_currency:
            return Recommendation.FULL_SYNCHRONIZATION
        return Recommendation.COUPLE_RECORDS if data.bc_has_records else Recommendation.NO_RECORDS
    if option_mapping:
        return Recommendation.COUPLE_RECORDS if data.bc_has_records else Recommendation.NO_RECORDS
    if data.bc_has_records and data.dataverse_has_records:
        return Recommendation.COUPLE_RECORDS
    if data.bc_has_records or data.dataverse_has_records:
        return Recommendation.FULL_SYNCHRONIZATION
    return Recommendation.NO_RECORDS


def plan(
    mappings: Sequence[TableMapping],
    data: Mapping[str, SideData],
    *,
    catalog: Mapping[str, TableMapping],
    option_mappings: Iterable[str] = (),
) -> list[ReviewLine]:
    """One waiting line per mapping taking part, in the given (dependency) order. `data` must cover every mapping
    in the run and every dependency outside it; `catalog` resolves dependencies outside the run."""
    in_run = {m.name for m in mappings if takes_part(m)}
    options = set(option_mappings)
    lines: list[ReviewLine] = []
    for mapping in mappings:
        if mapping.name not in in_run:
            continue
        recommendation = recommend(mapping, data[mapping.name], option_mapping=mapping.name in options)
        missing = [
            dependency
            for dependency in mapping.dependencies
            if dependency not in in_run
            and catalog[dependency].enabled
            and not data[dependency].coupled
            and (data[dependency].bc_has_records or data[dependency].dataverse_has_records)
        ]
        if missing and recommendation is not Recommendation.NO_RECORDS:
            recommendation = Recommendation.DEPENDENCY_NOT_SATISFIED
        lines.append(ReviewLine(mapping.name, recommendation.value))
    return lines


def dependencies_in_run(mapping: TableMapping, lines: Sequence[ReviewLine]) -> list[str]:
    names = {line.mapping for line in lines}
    return [dependency for dependency in mapping.dependencies if dependency in names]


def _satisfied(line: ReviewLine) -> bool:
    """Finished. BC also counts a line recommended 'No Records Found' as satisfied while it waits; we do not: such
    a line finishes (at once) only after its own dependencies did, so a mapping never starts before a mapping its
    empty parent depends on (ITEM-PRODUCT needs the unit groups even when ITEM UOM has nothing to copy)."""
    return line.status is LineStatus.FINISHED


def next_steps(lines: Sequence[ReviewLine], catalog: Mapping[str, TableMapping]) -> tuple[list[str], dict[str, str]]:
    """(lines to start now, lines to fail with their reason). A waiting line starts when all its dependencies in
    the run are satisfied; it fails when one of them failed or can never run."""
    by_name = {line.mapping: line for line in lines}
    start: list[str] = []
    fail: dict[str, str] = {}
    for line in lines:
        if line.status is not LineStatus.WAITING:
            continue
        if line.recommendation == Recommendation.DEPENDENCY_NOT_SATISFIED.value:
            fail[line.mapping] = "A mapping it depends on is not part of this run and has nothing coupled."
            continue
        parents = [by_name[name] for name in dependencies_in_run(catalog[line.mapping], lines)]
        broken = [p.mapping for p in parents if p.status is LineStatus.FAILED]
        if broken:
            fail[line.mapping] = f"Not started: {', '.join(broken)} failed; restart the run after fixing it."
        elif all(_satisfied(parent) for parent in parents):
            start.append(line.mapping)
    return start, fail


def waves(mappings: Sequence[TableMapping]) -> list[list[str]]:
    """The mappings in dependency layers (what starts together when nothing waits for data): for the review page
    and the demo. A dependency outside `mappings` counts as done."""
    names = {m.name for m in mappings}
    level: dict[str, int] = {}
    for mapping in mappings:  # the catalog order has every mapping after its dependencies
        parents = [level[d] for d in mapping.dependencies if d in names and d in level]
        level[mapping.name] = 1 + max(parents, default=-1)
    layers: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for mapping in mappings:
        layers[level[mapping.name]].append(mapping.name)
    return layers


def chunk_counted(bitmap: str, chunk: int) -> bool:
    value = int(bitmap, 16) if bitmap else 0
    return bool(value >> chunk & 1)


def count_chunk(bitmap: str, chunk: int) -> str:
    """The bitmap with `chunk` set (hex, no prefix): a few hundred characters for thousands of chunks."""
    value = (int(bitmap, 16) if bitmap else 0) | (1 << chunk)
    return format(value, "x")
