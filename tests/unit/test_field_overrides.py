"""Field overrides (BC's Integration Field Mapping: Status, Direction, Constant Value): a direction may only narrow a
two-way field to a way the mapping carries, a constant only goes on a field that writes one (no source field), of its
type; every refusal names `fields.<key>.<attribute>`; what is stored is the short form when it only switches."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.mapping import Direction
from shared.mappings import CATALOG, InvalidOverride, describe, with_overrides
from shared.mappings.overrides import stored_field, takes_constant

CUSTOMER = CATALOG["CUSTOMER"]
CONTACT = CATALOG["CONTACT"]
PRICES = CATALOG["PLLINE-PRODPRICE"]
PHONE = "phoneNumber>telephone1"
PRICING = "=>pricingmethodcode"  # BC writes the constant 1 (Currency Amount)
CONTACT_TYPE = "type>="  # a contact from Sales is a "Person" in BC


def field(mapping: Any, key: str) -> Any:
    return next(f for f in mapping.fields if f.key == key)


def refused(mapping: Any, overrides: dict[str, Any]) -> InvalidOverride:
    with pytest.raises(InvalidOverride) as raised:
        with_overrides(mapping, overrides)
    return raised.value


@pytest.mark.parametrize("way", [Direction.TO_DATAVERSE, Direction.FROM_DATAVERSE])
def test_a_two_way_field_narrows_to_either_way_and_the_others_stay(way: Direction) -> None:
    changed = with_overrides(CUSTOMER, {"fields": {PHONE: {"direction": way.value}}})
    assert field(changed, PHONE).direction is way and field(changed, PHONE).enabled
    assert changed.field_mappings(way) != changed.field_mappings(Direction.BIDIRECTIONAL)
    other = Direction.FROM_DATAVERSE if way is Direction.TO_DATAVERSE else Direction.TO_DATAVERSE
    assert PHONE not in {f.key for f in changed.field_mappings(other)}  # not carried the other way any more
    assert field(changed, "city>address1_city").direction is Direction.BIDIRECTIONAL


def test_a_direction_never_widens_and_respects_the_mapping() -> None:
    one_way = "creditLimit>creditlimit"  # toDataverse in the catalog
    error = refused(CUSTOMER, {"fields": {one_way: {"direction": "bidirectional"}}})
    assert (error.field, error.shape) == (f"fields.{one_way}.direction", False)
    error = refused(CUSTOMER, {"fields": {one_way: {"direction": "fromDataverse"}}})
    assert error.field == f"fields.{one_way}.direction" and "widen" in error.message
    error = refused(CUSTOMER, {"direction": "toDataverse", "fields": {PHONE: {"direction": "fromDataverse"}}})
    assert error.field == f"fields.{PHONE}.direction" and "mapping's direction" in error.message
    error = refused(CUSTOMER, {"fields": {PHONE: {"direction": "sideways"}}})
    assert (error.field, error.shape) == (f"fields.{PHONE}.direction", True)
    same = with_overrides(CUSTOMER, {"fields": {one_way: {"direction": "toDataverse"}}})  # its own: a no-op
    assert field(same, one_way) == field(CUSTOMER, one_way)


def test_a_constant_goes_only_on_a_field_that_writes_one_and_of_its_type() -> None:
    assert takes_constant(field(PRICES, PRICING)) and takes_constant(field(CONTACT, CONTACT_TYPE))
    assert not takes_constant(field(CUSTOMER, PHONE))
    assert field(with_overrides(PRICES, {"fields": {PRICING: {"constant": 2}}}), PRICING).constant == 2
    assert field(
        with_overrides(CONTACT, {"fields": {CONTACT_TYPE: {"constant": "Company"}}}), CONTACT_TYPE
    ).constant == ("Company")
    cases: list[tuple[Any, str, dict[str, Any]]] = [
        (CUSTOMER, PHONE, {"constant": "555"}),  # has a source field: BC would ignore the constant
        (PRICES, PRICING, {"constant": "one"}),  # a number's constant
        (PRICES, PRICING, {"constant": True}),  # a bool is not a number
        (CONTACT, CONTACT_TYPE, {"constant": 1}),
    ]
    for mapping, key, change in cases:
        error = refused(mapping, {"fields": {key: change}})
        assert (error.field, error.shape) == (f"fields.{key}.constant", False), change
    for shape in ({"constant": None}, {"constant": ["x"]}, {"constant": "x" * 101}):
        error = refused(CONTACT, {"fields": {CONTACT_TYPE: shape}})
        assert (error.field, error.shape) == (f"fields.{CONTACT_TYPE}.constant", True), shape


def test_the_object_form_switches_narrows_and_sets_together_and_the_short_form_still_works() -> None:
    changed = with_overrides(
        CUSTOMER, {"fields": {PHONE: False, "city>address1_city": {"enabled": False, "direction": "toDataverse"}}}
    )
    assert not field(changed, PHONE).enabled
    city = field(changed, "city>address1_city")
    assert not city.enabled and city.direction is Direction.TO_DATAVERSE
    error = refused(CUSTOMER, {"fields": {PHONE: {}}})
    assert (error.field, error.shape) == (f"fields.{PHONE}", True)
    error = refused(CUSTOMER, {"fields": {PHONE: {"enabled": True, "transform": "upper"}}})
    assert error.field == f"fields.{PHONE}"


def test_what_is_stored_is_short_when_it_only_switches() -> None:
    assert stored_field(False) is False
    assert stored_field({"enabled": True}) is True
    assert stored_field({"direction": "toDataverse", "enabled": True}) == {"enabled": True, "direction": "toDataverse"}
    assert stored_field({"constant": 2}) == {"constant": 2}


def test_describe_shows_each_field_as_it_runs_and_what_an_override_may_make_of_it() -> None:
    narrowed = with_overrides(CUSTOMER, {"fields": {PHONE: {"direction": "toDataverse"}}})
    by_key = {f["key"]: f for f in describe(narrowed, CUSTOMER)["fields"]}
    assert by_key[PHONE]["direction"] == "toDataverse"
    assert by_key[PHONE]["directions"] == ["toDataverse", "fromDataverse", "bidirectional"]  # the catalog's choices
    assert by_key["creditLimit>creditlimit"]["directions"] == ["toDataverse"]
    assert not by_key[PHONE]["takesConstant"]
    one_way = describe(with_overrides(CUSTOMER, {"direction": "toDataverse"}), CUSTOMER)
    assert {f["key"]: f["directions"] for f in one_way["fields"]}[PHONE] == ["toDataverse"]
    prices = {f["key"]: f for f in describe(PRICES)["fields"]}
    assert prices[PRICING]["takesConstant"] and prices[PRICING]["constant"] == 1
