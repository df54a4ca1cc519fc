"""Several page entities in one read: BC refuses `or` across properties, so only one key field may vary per filter."""

from __future__ import annotations

from shared.connectors.business_central.entity_sources import DEFAULT_SOURCES, EntitySource
from shared.connectors.business_central.pages import keys_filters, page_sources


def _source(entity_set: str, service: str) -> EntitySource:
    return next(s for s in page_sources(DEFAULT_SOURCES, entity_set) if s.name == service)


def test_a_one_field_key_is_one_or_of_that_field() -> None:
    source = _source("resources", "ResourceCard")
    assert keys_filters(source, ["R0010", "R0020"]) == ["(No eq 'R0010' or No eq 'R0020')"]


def test_item_units_sharing_a_code_vary_the_item_number() -> None:
    source = _source("itemUnitsOfMeasure", "ItemUnitsOfMeasure")
    ids = [f"BI{n:06d}|PCS" for n in range(3)] + ["BI000000|BOX"]
    filters = keys_filters(source, ids)
    assert filters == [
        "Code eq 'PCS' and (Item_No eq 'BI000000' or Item_No eq 'BI000001' or Item_No eq 'BI000002')",
        "Code eq 'BOX' and (Item_No eq 'BI000000')",
    ]
    for text in filters:  # never an `or` between different properties
        varying = text.split("(", 1)[1]
        assert len({term.split(" eq ")[0] for term in varying.rstrip(")").split(" or ")}) == 1


def test_unit_groups_fix_the_source_type_and_vary_the_source_id() -> None:
    source = _source("unitGroups", "ItemUnitGroupList")
    a, b = "0b7c4d0e-5a3b-4c1e-9f7a-2d6e8c9b1a20", "1b7c4d0e-5a3b-4c1e-9f7a-2d6e8c9b1a20"
    assert keys_filters(source, [f"Item|{a}", f"Item|{b}"]) == [
        f"Source_Type eq 'Item' and (Source_Id eq {a} or Source_Id eq {b})"
    ]
