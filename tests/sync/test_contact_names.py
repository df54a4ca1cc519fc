"""CONTACT name parts on the real stack (emulators + Azurite): First Name, Middle Name and Surname kept as BC keeps
them (behaviour `nameParts`), from BC's Name breakdown, or from page 5055 Name Details once it is published."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.connectors.business_central.entity_sources import default_sources
from shared.domain.mapping import FieldMapping, TableMapping
from shared.domain.records import Side
from shared.engine.mapping_run import run_mapping
from shared.engine.pair_decisions import CHANGED_IN_BOTH
from shared.mappings.common import TO
from shared.mappings.contacts import CONTACT
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.test_incremental import dv_get

pytestmark = pytest.mark.integration
PARTS = "firstname,middlename,lastname,fullname"


@pytest.fixture
def customers_coupled(sync_stack: SyncStack) -> SyncStack:
    for name in ("SALESPEOPLE", "CURRENCY"):
        match_and_couple(sync_stack.context, name)
    match_and_couple(sync_stack.context, "CUSTOMER", create_if_no_match=True)
    return sync_stack


def _new_person(stack: SyncStack, name: str) -> str:
    """A BC person of Adatum's company contact; its BC id."""
    company = stack.bc.get_entity("contacts", bc_seeded("contact-company", "Adatum Corporation"), ["number"])
    assert company is not None
    row = stack.bc.create_entity(
        "contacts",
        {"displayName": name, "type": "Person", "companyNumber": company["number"], "email": f"{id(name)}@x"},
    )
    return str(row["id"])


def _sales(stack: SyncStack, bc_id: str) -> tuple[str, dict[str, Any]]:
    coupling = stack.context.couplings.find_by_bc_id("CONTACT", bc_id)
    assert coupling is not None
    row = dv_get(stack, f"contacts({coupling.dataverse_id})", **{"$select": PARTS})
    return coupling.dataverse_id, {k: row.get(k) or "" for k in PARTS.split(",")}


def _bc(stack: SyncStack, bc_id: str) -> dict[str, Any]:
    return stack.bc.get_entity("contacts", bc_id, ["displayName", "number", "phoneNumber"]) or {}


def _created(stack: SyncStack) -> None:
    report = match_and_couple(stack.context, "CONTACT", create_if_no_match=True).as_dict()
    assert not report.get("failed"), report


def _parts(first: str, middle: str, last: str) -> dict[str, str]:
    return {
        "firstname": first,
        "middlename": middle,
        "lastname": last,
        "fullname": " ".join(p for p in (first, middle, last) if p),
    }


def test_a_bc_person_created_in_sales_gets_first_middle_and_last(customers_coupled: SyncStack) -> None:
    stack = customers_coupled
    three = _new_person(stack, "Mary  Ann Smith")  # BC's breakdown ignores the empty part
    _created(stack)
    assert _sales(stack, bc_seeded("contact-person", "Robert Townes"))[1] == _parts("Robert", "", "Townes")
    assert _sales(stack, three)[1] == _parts("Mary", "Ann", "Smith")


def test_a_coupled_contact_keeps_its_first_name_across_runs_both_ways(customers_coupled: SyncStack) -> None:
    stack = customers_coupled
    person = bc_seeded("contact-person", "Robert Townes")
    other = _new_person(stack, "Mary Ann Smith")
    _created(stack)
    other_dv, _ = _sales(stack, other)
    # a Sales user says the first name is "Mary Ann": BC's name does not change, so the parts stay Sales'
    stack.dataverse.update_row("contacts", other_dv, {"firstname": "Mary Ann", "middlename": ""}, "*")
    assert run_mapping(stack.context, "CONTACT").counters.failed == 0
    assert _bc(stack, other)["displayName"] == "Mary Ann Smith"
    for bc_id in (person, other):  # a BC-side change of another field, then a Sales-side one: parts kept
        row = _bc(stack, bc_id)
        stack.bc.update_entity("contacts", bc_id, {"phoneNumber": "+1 555 0100"}, str(row["@odata.etag"]))
    assert run_mapping(stack.context, "CONTACT").counters.failed == 0
    stack.dataverse.update_row("contacts", _sales(stack, person)[0], {"telephone1": "+1 555 0199"}, "*")
    assert run_mapping(stack.context, "CONTACT").counters.failed == 0
    assert run_mapping(stack.context, "CONTACT").counters.failed == 0
    assert _sales(stack, person)[1] == _parts("Robert", "", "Townes")
    assert _sales(stack, other)[1] == _parts("Mary Ann", "", "Smith")
    assert _bc(stack, person)["displayName"] == "Robert Townes" and _bc(stack, other)["displayName"] == "Mary Ann Smith"
    # a BC rename sends its parts together
    row = _bc(stack, person)
    stack.bc.update_entity("contacts", person, {"displayName": "Robert J Townes"}, str(row["@odata.etag"]))
    assert run_mapping(stack.context, "CONTACT").counters.failed == 0
    assert _sales(stack, person)[1] == _parts("Robert", "J", "Townes")


def test_a_sales_only_edit_of_the_first_name_reaches_bc(customers_coupled: SyncStack) -> None:
    stack = customers_coupled
    person = bc_seeded("contact-person", "Robert Townes")
    _created(stack)
    stack.dataverse.update_row("contacts", _sales(stack, person)[0], {"firstname": "Bob"}, "*")
    assert run_mapping(stack.context, "CONTACT").counters.failed == 0
    assert _bc(stack, person)["displayName"] == "Bob Townes"
    assert run_mapping(stack.context, "CONTACT").counters.failed == 0
    assert _sales(stack, person)[1] == _parts("Bob", "", "Townes")


def _publish_name_details(stack: SyncStack) -> None:
    """The admin published page 5055: the stack's BC client for those page services (the client is immutable)."""
    stack.bc = stack.bc.configured(sources=default_sources({"contactNameDetails": "NameDetails"}))
    stack.context.bc = stack.bc


def test_with_page_5055_published_the_parts_come_from_it(customers_coupled: SyncStack) -> None:
    stack = customers_coupled
    _publish_name_details(stack)
    person = _new_person(stack, "Mary Ann Smith")
    number = str(_bc(stack, person)["number"])
    page = stack.bc.get_entity("contactNameDetails", number, ["firstName", "middleName", "surname"]) or {}
    assert (page["firstName"], page["middleName"], page["surname"]) == ("Mary", "Ann", "Smith")  # BC's breakdown
    stack.bc.update_entity(
        "contactNameDetails", number, {"firstName": "Mary Ann", "middleName": ""}, page["@odata.etag"]
    )
    assert _bc(stack, person)["displayName"] == "Mary Ann Smith"  # the name did not change, its parts did
    _created(stack)
    dv_id, parts = _sales(stack, person)
    assert parts == _parts("Mary Ann", "", "Smith")
    # a Sales edit of a part goes to BC through the page; the name is rebuilt from the parts
    stack.dataverse.update_row("contacts", dv_id, {"firstName".lower(): "Mary Anne", "middlename": "K"}, "*")
    assert run_mapping(stack.context, "CONTACT").counters.failed == 0
    page = stack.bc.get_entity("contactNameDetails", number, ["firstName", "middleName", "surname"]) or {}
    assert (page["firstName"], page["middleName"], page["surname"]) == ("Mary Anne", "K", "Smith")
    assert _bc(stack, person)["displayName"] == "Mary Anne K Smith"
    assert run_mapping(stack.context, "CONTACT").counters.failed == 0
    assert _sales(stack, person)[1] == _parts("Mary Anne", "K", "Smith")


def _the_old_contact_mapping() -> TableMapping:
    """CONTACT as it was before the name parts (fcef4d5): BC's whole name into `lastname`, `firstname` and
    `middlename` cleared by constants."""
    kept = tuple(f for f in CONTACT.fields if f.bc_field not in ("firstName", "middleName", "surname"))
    old = (
        FieldMapping("displayName", "lastname", TO),
        FieldMapping(None, "firstname", TO, constant=""),
        FieldMapping(None, "middlename", TO, constant=""),
    )
    return replace(CONTACT, fields=kept + old, behaviours=())


def _synchronized_by_the_old_engine(stack: SyncStack) -> None:
    """The contacts created and then synchronized by the old mapping: Sales holds the whole name in its last name,
    the couplings' stored hashes are the old fields', and the checkpoints are past the old engine's own writes."""
    stack.use(_the_old_contact_mapping())
    _created(stack)
    assert run_mapping(stack.context, "CONTACT").counters.failed == 0
    stack.use(CONTACT)


@pytest.mark.parametrize("page", [False, True], ids=["breakdown", "page5055"])
def test_a_contact_the_old_engine_left_without_first_name_is_repaired_by_its_next_bc_change(
    customers_coupled: SyncStack, page: bool
) -> None:
    """Contacts coupled before this change: a BC edit of any field gives Sales its first name back, and a contact
    changed on both sides since is a conflict (BC's "both records changed"), never a silent overwrite."""
    stack = customers_coupled
    if page:
        _publish_name_details(stack)
    person, other = bc_seeded("contact-person", "Robert Townes"), _new_person(stack, "Mary Ann Smith")
    _synchronized_by_the_old_engine(stack)
    other_dv = _sales(stack, other)[0]
    assert _sales(stack, person)[1] == _parts("", "", "Robert Townes")
    for bc_id in (person, other):
        row = _bc(stack, bc_id)
        stack.bc.update_entity("contacts", bc_id, {"phoneNumber": "+1 555 0142"}, str(row["@odata.etag"]))
    stack.dataverse.update_row("contacts", other_dv, {"telephone1": "+1 555 0143"}, "*")  # both sides changed
    report = run_mapping(stack.context, "CONTACT")
    assert _sales(stack, person)[1] == _parts("Robert", "", "Townes")
    assert _bc(stack, person)["displayName"] == "Robert Townes"
    assert report.counters.failed == 1, report.counters
    conflict = stack.context.errors.find_error("CONTACT", Side.BC, other)
    assert conflict is not None and conflict.code == CHANGED_IN_BOTH, conflict
    assert _sales(stack, other)[1] == _parts("", "", "Mary Ann Smith")  # left for the admin to choose
    assert _bc(stack, other)["displayName"] == "Mary Ann Smith"
