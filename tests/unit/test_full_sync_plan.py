"""Full synchronization planning: who takes part, BC's recommendations, dependency waves, what starts next."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.domain.full_sync import (
    Recommendation,
    SideData,
    next_steps,
    plan,
    recommend,
    takes_part,
    waves,
)
from shared.domain.mapping import Direction, FullSyncRule
from shared.domain.records import LineStatus, ReviewLine
from shared.mappings import CATALOG, mapping_names

ORDERED = [CATALOG[name] for name in mapping_names()]
BOTH = SideData(bc_has_records=True, dataverse_has_records=True)
BC_ONLY = SideData(bc_has_records=True, dataverse_has_records=False)
DV_ONLY = SideData(bc_has_records=False, dataverse_has_records=True)
NONE = SideData(bc_has_records=False, dataverse_has_records=False)


def test_the_catalog_gives_bcs_documented_waves_in_unit_group_mode() -> None:
    taking_part = [m for m in ORDERED if takes_part(m) or m.name == "SHIPPING AGENT"]
    assert waves(taking_part) == [
        ["SALESPEOPLE", "CURRENCY", "PAYMENT TERMS", "SHIPMENT METHOD", "SHIPPING AGENT", "UNIT GROUP"],
        ["ITEM UOM", "RESOURCE UOM", "CUSTOMER", "VENDOR"],
        ["CONTACT", "ITEM-PRODUCT", "RESOURCE-PRODUCT"],
        ["PLHEADER-PRICE", "OPPORTUNITY"],
        ["PLLINE-PRODPRICE", "POSTEDSALESINV-INV"],
    ]


def test_document_lines_disabled_mappings_and_one_way_orders_take_no_part() -> None:
    assert not takes_part(CATALOG["SOLINE-ORDERDETAIL"])
    assert not takes_part(CATALOG["UNIT OF MEASURE"])  # legacy mode, disabled
    order = replace(CATALOG["SALESORDER-ORDER"], enabled=True)
    assert not takes_part(replace(order, direction=Direction.TO_DATAVERSE))
    assert takes_part(replace(order, direction=Direction.BIDIRECTIONAL))


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("CUSTOMER", BOTH, Recommendation.COUPLE_RECORDS),
        ("CUSTOMER", BC_ONLY, Recommendation.FULL_SYNCHRONIZATION),
        ("CUSTOMER", DV_ONLY, Recommendation.FULL_SYNCHRONIZATION),
        ("CUSTOMER", NONE, Recommendation.NO_RECORDS),
        ("SALESPEOPLE", NONE, Recommendation.FULL_SYNCHRONIZATION),
        ("CURRENCY", replace(BOTH, dataverse_only_base_currency=True), Recommendation.FULL_SYNCHRONIZATION),
        ("CURRENCY", BOTH, Recommendation.COUPLE_RECORDS),
        ("CURRENCY", DV_ONLY, Recommendation.NO_RECORDS),
    ],
)
def test_recommendations_follow_bc(name: str, data: SideData, expected: Recommendation) -> None:
    assert recommend(CATALOG[name], data) is expected


def test_option_mappings_couple_when_bc_has_codes() -> None:
    assert recommend(CATALOG["PAYMENT TERMS"], BC_ONLY) is Recommendation.COUPLE_RECORDS
    assert recommend(CATALOG["PAYMENT TERMS"], DV_ONLY) is Recommendation.NO_RECORDS


def test_the_rules_come_from_the_mapping_not_its_name() -> None:
    """A mapping declared like CURRENCY under another name plans like CURRENCY; one named SALESPEOPLE that declares
    BC's default rule plans by its data, and so on: the planner never reads a name."""
    only_base = replace(BOTH, dataverse_only_base_currency=True)
    assert recommend(replace(CATALOG["CURRENCY"], name="CURRENCY 2"), only_base) is Recommendation.FULL_SYNCHRONIZATION
    renamed = replace(CATALOG["CUSTOMER"], name="SALESPEOPLE")
    assert recommend(renamed, NONE) is Recommendation.NO_RECORDS
    assert recommend(replace(renamed, full_sync=FullSyncRule.ALWAYS_FULL), NONE) is Recommendation.FULL_SYNCHRONIZATION
    assert not takes_part(replace(CATALOG["CUSTOMER"], full_sync=FullSyncRule.NEVER))
    assert takes_part(replace(CATALOG["SOLINE-ORDERDETAIL"], full_sync=FullSyncRule.BY_DATA, enabled=True))


def test_a_subset_without_an_uncoupled_dependency_is_not_satisfied() -> None:
    data = {name: BOTH for name in CATALOG}
    data["SALESPEOPLE"] = replace(BOTH, coupled=3)  # done before: fine
    run = [CATALOG["CUSTOMER"], CATALOG["VENDOR"], CATALOG["CONTACT"]]
    lines = plan(run, data, catalog=CATALOG)
    by_name = {line.mapping: line.recommendation for line in lines}
    assert by_name["CUSTOMER"] == Recommendation.DEPENDENCY_NOT_SATISFIED  # CURRENCY has data and no coupling
    assert by_name["VENDOR"] == Recommendation.DEPENDENCY_NOT_SATISFIED  # the same dependencies as CUSTOMER
    assert by_name["CONTACT"] == Recommendation.COUPLE_RECORDS  # CUSTOMER and VENDOR are in the run
    without_vendors = plan([CATALOG["CONTACT"]], {**data, "CUSTOMER": replace(BOTH, coupled=1)}, catalog=CATALOG)
    assert without_vendors[0].recommendation == Recommendation.DEPENDENCY_NOT_SATISFIED  # VENDOR: data, no coupling
    no_vendors = {**data, "CUSTOMER": replace(BOTH, coupled=1), "VENDOR": NONE}
    assert plan([CATALOG["CONTACT"]], no_vendors, catalog=CATALOG)[0].recommendation == Recommendation.COUPLE_RECORDS
    data["CURRENCY"] = replace(BOTH, coupled=2)
    data["PAYMENT TERMS"] = data["SHIPMENT METHOD"] = replace(BC_ONLY, coupled=4)
    lines = plan([CATALOG["CUSTOMER"]], data, catalog=CATALOG)
    assert lines[0].recommendation == Recommendation.COUPLE_RECORDS


def _line(
    name: str, status: LineStatus = LineStatus.WAITING, recommendation: str = "fullSynchronization"
) -> ReviewLine:
    return ReviewLine(name, recommendation, status)


def test_lines_start_when_their_dependencies_are_finished() -> None:
    lines = [_line("UNIT GROUP"), _line("ITEM UOM"), _line("ITEM-PRODUCT")]
    assert next_steps(lines, CATALOG) == (["UNIT GROUP"], {})
    lines[0] = _line("UNIT GROUP", LineStatus.RUNNING)
    assert next_steps(lines, CATALOG) == ([], {})
    lines[0] = _line("UNIT GROUP", LineStatus.FINISHED)
    assert next_steps(lines, CATALOG) == (["ITEM UOM"], {})


def test_an_empty_line_satisfies_its_dependents_only_once_its_own_dependencies_finished() -> None:
    """ITEM UOM with no records must not let ITEM-PRODUCT start while the unit groups are still being copied."""
    lines = [
        _line("UNIT GROUP", LineStatus.RUNNING),
        _line("ITEM UOM", recommendation="noRecords"),
        _line("ITEM-PRODUCT"),
    ]
    assert next_steps(lines, CATALOG) == ([], {})
    lines[0] = _line("UNIT GROUP", LineStatus.FINISHED)
    assert next_steps(lines, CATALOG) == (["ITEM UOM"], {})
    lines[1] = _line("ITEM UOM", LineStatus.FINISHED, recommendation="noRecords")
    assert next_steps(lines, CATALOG) == (["ITEM-PRODUCT"], {})


def test_a_failed_dependency_fails_its_dependents_with_the_reason() -> None:
    lines = [
        _line("UNIT GROUP", LineStatus.FAILED),
        _line("ITEM UOM"),
        _line("CUSTOMER", recommendation="dependencyNotSatisfied"),
    ]
    start, fail = next_steps(lines, CATALOG)
    assert start == []
    assert "UNIT GROUP failed" in fail["ITEM UOM"]
    assert "not part of this run" in fail["CUSTOMER"]
