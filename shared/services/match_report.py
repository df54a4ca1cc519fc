"""What one match-based coupling job reports (`services/matching.py`): the pairs it coupled, the records it created,
those left without a unique uncoupled match (by reason) and those that failed; the API's JSON shape, the counters a
full-sync line adds, what the review shows as left uncoupled, and its coupling log (`log_entries`: one entry per BC
record, `domain/match_log.py`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from shared.domain.match_log import COUPLED, CREATED, FAILED, UNMATCHED, MatchLogEntry
from shared.domain.records import Counters, LeftUncoupled


@dataclass(frozen=True)
class Matched:
    bc_id: str
    dataverse_id: str
    priority: int | None  # None: created in Dataverse because nothing matched


@dataclass(frozen=True)
class Unmatched:
    bc_id: str
    reason: str  # "noMatch" | "severalMatches" | "matchCoupled" (the one match is coupled to another record)
    count: int


@dataclass(frozen=True)
class MatchFailure:
    bc_id: str
    code: str  # e.g. dependencyNotCoupled, alreadyCoupled (a race), a create or sync error
    message: str


@dataclass
class MatchReport:
    mapping: str
    job_id: str
    examined: int = 0  # uncoupled BC records in the filter
    coupled: list[Matched] = field(default_factory=list)
    created: list[Matched] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    failed: list[MatchFailure] = field(default_factory=list)
    synchronized: list[str] = field(default_factory=list)  # BC ids synchronized after coupling
    dry_run: bool = False  # what would be coupled and created: nothing was written
    # pairs this job made in an earlier delivery that died before its chunk was counted (a full-sync chunk's job id
    # is the same on every delivery): counted once now, since the line counts each chunk once
    resumed_created: int = 0
    resumed_coupled: int = 0
    names: dict[str, str] = field(default_factory=dict)  # BC id -> the record's name, for the records reported

    def as_dict(self) -> dict[str, Any]:
        """The API's JSON shape (camelCase keys)."""
        shape: dict[str, Any] = _camel(asdict(self))
        return shape

    def counters(self) -> Counters:
        created = len(self.created) + self.resumed_created
        return Counters(
            inserted=created,
            coupled=len(self.coupled) + self.resumed_coupled + created,
            failed=len(self.failed) + len(self.unmatched),
            modified=len(self.synchronized),
        )

    def left(self) -> LeftUncoupled:
        """The BC records left uncoupled, by reason, for the full-sync review line."""
        reasons = [u.reason for u in self.unmatched]
        return LeftUncoupled(
            no_match=reasons.count("noMatch"),
            several_matches=reasons.count("severalMatches"),
            match_coupled=reasons.count("matchCoupled"),
        )


def log_entries(
    report: MatchReport,
    labels: Mapping[str, tuple[str, str]],
    resumed: Mapping[str, tuple[str, str]],
    logged_on: str,
) -> list[MatchLogEntry]:
    """The job's coupling log: one entry per BC record (`domain/match_log.py`). `labels`: BC id -> (No., name);
    `resumed`: BC id -> (outcome, Dataverse id) of the pairs an earlier delivery of the job finished, logged again as
    they were. A pair whose synchronization failed keeps its outcome and carries the failure."""
    entries: dict[str, MatchLogEntry] = {}

    def put(bc_id: str, outcome: str, **values: Any) -> None:
        number, name = labels.get(bc_id, ("", ""))
        entries[bc_id] = MatchLogEntry(
            report.job_id, bc_id, outcome, report.mapping, number, name, logged_on=logged_on, **values
        )

    for bc_id, (outcome, dataverse_id) in resumed.items():
        put(bc_id, outcome, dataverse_id=dataverse_id)
    for pair in report.coupled:
        put(pair.bc_id, COUPLED, dataverse_id=pair.dataverse_id, priority=pair.priority)
    for pair in report.created:
        put(pair.bc_id, CREATED, dataverse_id=pair.dataverse_id)
    for unmatched in report.unmatched:
        put(unmatched.bc_id, UNMATCHED, reason=unmatched.reason, matches=unmatched.count)
    for failure in report.failed:
        kept = entries.get(failure.bc_id)
        if kept is not None and kept.outcome in (COUPLED, CREATED):  # coupled, then its synchronization failed
            entries[failure.bc_id] = replace(kept, code=failure.code, message=failure.message)
        else:
            put(failure.bc_id, FAILED, code=failure.code, message=failure.message)
    return [entries[bc_id] for bc_id in sorted(entries)]


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): _camel(v) for k, v in value.items()}
    return [_camel(v) for v in value] if isinstance(value, list) else value
