"""Issue 24's `matchCoupling` payload: the job's criteria and its queued time, read strictly, and a message without
them (any sent before) parsed as before."""

from __future__ import annotations

import pytest

from shared.domain.jobs import InvalidJobMessage, JobKind, JobMessage, MatchChoice, MatchCoupling, parse_command


def test_criteria_and_the_queued_time_are_read_and_an_older_message_parses_as_before() -> None:
    payload = {
        "mapping": "CUSTOMER",
        "criteria": [{"field": "email", "priority": 1}, {"field": "displayName", "priority": 2, "caseSensitive": True}],
        "queuedOn": "2026-12-07T08:00:00.000Z",
    }
    command = parse_command(JobMessage(JobKind.MATCH_COUPLING, "match-1", payload))
    assert command == MatchCoupling(
        "match-1",
        "CUSTOMER",
        criteria=(MatchChoice("email", 1), MatchChoice("displayName", 2, True)),
        queued_on="2026-12-07T08:00:00.000Z",
    )
    older = parse_command(JobMessage(JobKind.MATCH_COUPLING, "match-0", {"mapping": "CUSTOMER", "fields": ["x"]}))
    assert older == MatchCoupling("match-0", "CUSTOMER") and older.criteria is None and older.queued_on is None


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ({"criteria": "email"}, "'criteria' must be a list"),
        ({"criteria": ["email"]}, "'criteria[0]' must be an object"),
        ({"criteria": [{"priority": 1}]}, "'criteria[0].field' must be"),
        ({"criteria": [{"field": "email", "priority": "1"}]}, "'criteria[0].priority' must be"),
        ({"criteria": [{"field": "email", "priority": True}]}, "'criteria[0].priority' must be"),
        ({"criteria": [{"field": "email", "priority": 1, "caseSensitive": 1}]}, "'criteria[0].caseSensitive' must"),
        ({"queuedOn": 5}, "'queuedOn' must be"),
    ],
)
def test_a_payload_the_job_cannot_run_is_refused_naming_the_key(payload: dict[str, object], why: str) -> None:
    with pytest.raises(InvalidJobMessage, match=why.replace("[", r"\[").replace("]", r"\]")):
        parse_command(JobMessage(JobKind.MATCH_COUPLING, "m-1", {"mapping": "CUSTOMER", **payload}))
