"""The change decision (shared/domain/changes.py) and watermark rules (shared/domain/watermarks.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.changes import (
    Decision,
    FieldRule,
    Outcome,
    decide,
    decode_hashes,
    encode_hashes,
    field_hashes,
    forced,
    value_hash,
)
from shared.domain.mapping import ConflictPolicy, Direction
from shared.domain.watermarks import advance, read_from

TWO_WAY = (
    FieldRule("name", Direction.BIDIRECTIONAL),
    FieldRule("city", Direction.BIDIRECTIONAL),
    FieldRule("credit", Direction.TO_DATAVERSE),
    FieldRule("rating", Direction.FROM_DATAVERSE),
)
BASE = {"name": "Contoso", "city": "Seattle", "credit": 100, "rating": "A"}
STORED = field_hashes(BASE)


def run(
    bc: dict[str, object],
    dv: dict[str, object],
    policy: ConflictPolicy = ConflictPolicy.NONE,
    stored: dict[str, str] | None = STORED,
    direction: Direction = Direction.BIDIRECTIONAL,
) -> Decision:
    return decide(TWO_WAY, {**BASE, **bc}, {**BASE, **dv}, stored, table_direction=direction, policy=policy)


def test_equal_values_are_unchanged_whatever_changed_before() -> None:
    assert run({}, {}).outcome is Outcome.UNCHANGED
    assert run({"name": "Renamed"}, {"name": "Renamed"}).outcome is Outcome.UNCHANGED  # e.g. our own echo


def test_canonical_forms_hide_representation_differences() -> None:
    assert value_hash(None) == value_hash("") == value_hash("00000000-0000-0000-0000-000000000000")
    assert value_hash(1) == value_hash(1.0) == value_hash("1")
    assert value_hash(" Seattle ") == value_hash("Seattle")
    assert value_hash("2026-01-02T00:00:00Z") == value_hash("2026-01-02")


def test_one_side_changed_goes_to_the_other() -> None:
    assert run({"name": "New"}, {}).to_dataverse == ("name",)
    assert run({}, {"city": "Paris"}).to_bc == ("city",)


def test_one_way_fields_follow_their_direction_even_when_the_destination_changed() -> None:
    decision = run({}, {"credit": 5, "rating": "B"})
    assert decision.to_dataverse == ("credit",)  # BC is the master of credit: Sales' change is overwritten
    assert decision.to_bc == ("rating",)


@pytest.mark.parametrize(
    ("policy", "outcome", "to_dv", "to_bc"),
    [
        (ConflictPolicy.NONE, Outcome.CONFLICT, (), ()),
        (ConflictPolicy.BC_WINS, Outcome.WRITE, ("name",), ()),
        (ConflictPolicy.DATAVERSE_WINS, Outcome.WRITE, (), ("name",)),
        (ConflictPolicy.MERGE, Outcome.CONFLICT, (), ()),  # the same field changed on both sides: no merge
    ],
)
def test_same_field_changed_on_both_sides(
    policy: ConflictPolicy, outcome: Outcome, to_dv: tuple[str, ...], to_bc: tuple[str, ...]
) -> None:
    decision = run({"name": "From BC"}, {"name": "From Sales"}, policy)
    assert (decision.outcome, decision.to_dataverse, decision.to_bc) == (outcome, to_dv, to_bc)
    if outcome is Outcome.CONFLICT:
        assert decision.conflicting == ("name",)


def test_different_fields_changed_on_both_sides() -> None:
    none = run({"name": "From BC"}, {"city": "Paris"})
    assert none.outcome is Outcome.CONFLICT  # BC's rule: both records changed -> conflict under policy none
    assert set(none.conflicting) == {"name", "city"}
    merged = run({"name": "From BC"}, {"city": "Paris"}, ConflictPolicy.MERGE)
    assert (merged.outcome, merged.to_dataverse, merged.to_bc) == (Outcome.WRITE, ("name",), ("city",))
    bc_wins = run({"name": "From BC"}, {"city": "Paris"}, ConflictPolicy.BC_WINS)
    assert set(bc_wins.to_dataverse) == {"name", "city"} and bc_wins.to_bc == ()


def test_without_stored_hashes_the_hints_decide() -> None:
    only_bc = decide(
        TWO_WAY,
        {**BASE, "name": "X"},
        BASE,
        None,
        table_direction=Direction.BIDIRECTIONAL,
        policy=ConflictPolicy.NONE,
        bc_changed_hint=True,
        dataverse_changed_hint=False,
    )
    assert only_bc.to_dataverse == ("name",)
    unknown = decide(
        TWO_WAY, {**BASE, "name": "X"}, BASE, None, table_direction=Direction.BIDIRECTIONAL, policy=ConflictPolicy.NONE
    )
    assert unknown.outcome is Outcome.CONFLICT  # never a silent overwrite when we cannot tell who changed


def test_a_unidirectional_table_mapping_only_sends() -> None:
    decision = run({"name": "New"}, {"city": "Paris", "rating": "B"}, direction=Direction.TO_DATAVERSE)
    assert set(decision.to_dataverse) == {"name", "city"} and decision.to_bc == ()


def test_forced_direction_for_synchronize_now() -> None:
    decision = forced(
        TWO_WAY, {**BASE, "name": "BC"}, {**BASE, "city": "Paris", "rating": "B"}, Direction.FROM_DATAVERSE
    )
    assert set(decision.to_bc) == {"name", "city", "rating"}  # credit is BC-to-Sales only
    assert forced(TWO_WAY, BASE, BASE, Direction.TO_DATAVERSE).outcome is Outcome.UNCHANGED


def test_hash_encoding_round_trip_and_garbage() -> None:
    assert decode_hashes(encode_hashes(STORED)) == STORED
    assert decode_hashes(None) is None and decode_hashes("h0:xyz") is None and decode_hashes("h1:!!!") is None


NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def test_watermark_moves_forward_only_and_never_past_the_run_start() -> None:
    assert advance(None, ["2026-11-25T10:00:00Z", "2026-11-25T11:00:00Z"], NOW) == "2026-11-25T11:00:00.000Z"
    assert advance("2026-11-25T11:30:00.000Z", ["2026-11-25T10:00:00Z"], NOW) == "2026-11-25T11:30:00.000Z"
    assert advance(None, ["2026-11-25T13:00:00Z"], NOW) == "2026-11-25T12:00:00.000Z"
    assert advance("2026-11-25T11:30:00.000Z", [], NOW) == "2026-11-25T11:30:00.000Z"
    assert advance(None, [], NOW) is None


def test_reads_start_an_overlap_before_the_watermark() -> None:
    assert read_from(None) is None
    assert read_from("2026-11-25T11:00:00.000Z", timedelta(seconds=5)) == NOW.replace(hour=10, minute=59, second=55)
