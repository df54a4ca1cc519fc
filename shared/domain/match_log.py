"""The coupling log of a match-based coupling job: one entry per BC record the job looked at, saying what became of
it.

Why a log of our own: BC logs a match-based coupling job as an "Integration Synch. Job" with its counts, and one
"Integration Synch. Job Errors" row per record that failed, so the records it left uncoupled are a number, not a
list (CRMIntegrationManagement.Codeunit.al, IntegrationSynchJob.Table.al). An admin who has to fix the data before
the next run needs the list: which records were coupled to which row, which were created, and which were left and
why. So every record gets one entry, keyed by its BC id within the job: a redelivered job writes the same entries
again, it never adds a second one.

Outcomes: `coupled` (to the one uncoupled Dataverse row holding its values), `created` (in Dataverse, then coupled:
create-if-no-match), `unmatched` (with the reason of `services/match_report.py`: `noMatch`, `severalMatches`,
`matchCoupled`) and `failed` (a lookup not coupled, a create refused, a race lost: `code` and `message`). A pair that
was coupled or created and whose synchronization afterwards failed stays `coupled` / `created`, with the failure's
`code` and `message`: the coupling stands.
"""

from __future__ import annotations

from dataclasses import dataclass

COUPLED, CREATED, UNMATCHED, FAILED = "coupled", "created", "unmatched", "failed"
OUTCOMES = (COUPLED, CREATED, UNMATCHED, FAILED)
REASONS = ("noMatch", "severalMatches", "matchCoupled")


@dataclass(frozen=True)
class MatchLogEntry:
    job_id: str
    bc_id: str
    outcome: str  # one of OUTCOMES
    mapping: str = ""
    number: str = ""  # the BC record's No. (or Code), when its row has one
    name: str = ""  # its name or description, when its row has one
    dataverse_id: str = ""  # coupled: the row it was coupled to; created: the row created
    reason: str = ""  # unmatched: one of REASONS
    matches: int = 0  # unmatched: the rows that held its values (several, or the one coupled elsewhere)
    priority: int | None = None  # coupled: the priority whose fields matched
    code: str = ""  # failed (or a coupled pair's failed synchronization): the error's code
    message: str = ""
    logged_on: str = ""  # when the job wrote the entry (an ISO instant)


@dataclass(frozen=True)
class MatchLogPage:
    """One page of a job's log, in BC id order, and the token of the next page (None on the last)."""

    entries: tuple[MatchLogEntry, ...]
    continuation_token: str | None = None
