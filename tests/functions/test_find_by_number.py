"""`GET /api/records/{mapping}/by-number`: a BC record by its number or code, over the real stack (BC emulator over
HTTP, couplings on Azurite)."""

from __future__ import annotations

import uuid

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.coupling import Coupling
from tests.functions.conftest import Api

pytestmark = pytest.mark.integration
ADATUM = bc_seeded("customer", "Adatum Corporation")


def test_a_customer_number_in_any_case_finds_its_id_then_its_coupling(api: Api) -> None:
    status, body = api.call("find_by_number", route={"mapping": "CUSTOMER"}, params={"number": " c00050 "})
    assert (status, body) == (200, {"mapping": "CUSTOMER", "number": "C00050", "bcId": ADATUM, "coupling": None})
    account = str(uuid.uuid4())
    api.stack.context.couplings.create_coupling(Coupling("CUSTOMER", ADATUM, account))
    status, body = api.call("find_by_number", route={"mapping": "CUSTOMER"}, params={"number": "C00050"})
    assert status == 200 and body["coupling"]["dataverseId"] == account and body["coupling"]["bcId"] == ADATUM


@pytest.mark.parametrize(("mapping", "number"), [("CURRENCY", "eur"), ("RESOURCE-PRODUCT", "R0010")])
def test_codes_and_page_sources_resolve_to_the_id_the_sync_couples_by(api: Api, mapping: str, number: str) -> None:
    status, body = api.call("find_by_number", route={"mapping": mapping}, params={"number": number})
    assert status == 200, body
    bc_mapping = api.stack.context.mapping(mapping)
    row = api.stack.context.bc.get_entity(bc_mapping.bc_entity_set, body["bcId"])
    assert row is not None and str(row["id"]) == body["bcId"] and body["number"] == number.upper()


@pytest.mark.parametrize(
    ("mapping", "params", "status", "code"),
    [
        ("CUSTOMER", {"number": "C99999"}, 404, "bcRecordNotFound"),
        ("CUSTOMER", {"number": "O'BRIEN"}, 404, "bcRecordNotFound"),  # quoted, not an OData syntax error
        ("CUSTOMER", {"number": "C" * 21}, 400, "tooLong"),
        ("CURRENCY", {"number": "EUROPEANXYZ"}, 400, "tooLong"),  # a currency code is Code[10]
        ("CUSTOMER", {"number": "   "}, 400, "required"),
        ("CUSTOMER", {"number": "\x85"}, 404, "bcRecordNotFound"),  # text for the document's pattern: looked up
        ("CUSTOMER", {}, 400, "required"),
        ("UNIT GROUP", {"number": "PCS"}, 400, "noNumberLookup"),  # keyed by item and type, not by one code
    ],
)
def test_bad_or_unknown_numbers_are_named_errors(
    api: Api, mapping: str, params: dict[str, str], status: int, code: str
) -> None:
    got, body = api.call("find_by_number", route={"mapping": mapping}, params=params)
    assert (got, body["error"]["code"], body["error"]["field"]) == (status, code, "number"), body


def test_an_unknown_mapping_or_query_parameter_is_a_400(api: Api) -> None:
    status, body = api.call("find_by_number", route={"mapping": "NOPE"}, params={"number": "C00050"})
    assert (status, body["error"]["field"]) == (400, "mapping")
    status, body = api.call("find_by_number", route={"mapping": "CUSTOMER"}, params={"number": "C1", "no": "x"})
    assert status == 400 and body["error"]["field"] == "no"
