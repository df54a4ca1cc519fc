"""`POST /api/customers/{bcId}/update-statistics` through the registered function, over the real stack (BC and
Dataverse emulators over HTTP, couplings on Azurite)."""

from __future__ import annotations

import uuid

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.coupling import Coupling
from shared.domain.statistics import statistics_id
from shared.triggers.openapi import document
from tests.functions.conftest import Api

pytestmark = pytest.mark.integration
CANNON = bc_seeded("customer", "The Cannon Group PLC")
ROUTE = "update_customer_statistics"


def couple_cannon(api: Api) -> str:
    """An account coupled to Cannon directly (the coupling paths have their own tests)."""
    account = str(uuid.uuid4())
    api.stack.dataverse.create_row("accounts", account, {"name": "The Cannon Group PLC"})
    api.stack.context.couplings.create_coupling(Coupling("CUSTOMER", CANNON, account))
    return account


def post_invoice(api: Api) -> None:
    bc = api.stack.bc
    lines = [{"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 2}]
    draft = bc.create_entity("salesInvoices", {"customerId": CANNON, "salesInvoiceLines": lines})
    bc.invoke_action("salesInvoices", str(draft["id"]), "post")


def test_a_coupled_customer_gets_bc_figures_and_a_second_call_changes_nothing(api: Api) -> None:
    account = couple_cannon(api)
    post_invoice(api)
    status, body = api.call(ROUTE, "POST", route={"bcId": CANNON.upper()})
    assert status == 200, body
    figures = api.stack.bc.get_entity("customerFinancialDetails", CANNON)
    assert figures is not None and figures["balance"] > 0
    assert (body["bcId"], body["accountId"], body["statisticsId"]) == (CANNON, account, statistics_id(CANNON))
    assert (body["outcome"], body["linked"]) == ("created", True)
    values = body["values"]
    assert (values["nav_customerno"], values["nav_name"]) == ("C00010", "The Cannon Group PLC")
    assert (values["nav_balancelcy"], values["nav_overdueamountslcy"]) == (figures["balance"], figures["overdueAmount"])
    assert values["nav_totallcy"] is None
    row = api.stack.dataverse.get_row("nav_accountstatisticses", body["statisticsId"], ["nav_balancelcy"])
    assert row is not None and row["nav_balancelcy"] == figures["balance"]
    linked = api.stack.dataverse.get_row("accounts", account, ["_nav_accountstatisticsid_value"])
    assert linked is not None and linked["_nav_accountstatisticsid_value"] == body["statisticsId"]

    status, again = api.call(ROUTE, "POST", route={"bcId": CANNON})
    assert (status, again["outcome"], again["linked"], again["values"]) == (200, "unchanged", False, values)


def test_an_uncoupled_customer_is_a_409(api: Api) -> None:
    status, body = api.call(ROUTE, "POST", route={"bcId": CANNON})
    assert (status, body["error"]["code"], body["error"]["field"]) == (409, "customerNotCoupled", "bcId"), body


def test_a_coupled_account_gone_from_dataverse_is_a_409(api: Api) -> None:
    api.stack.context.couplings.create_coupling(Coupling("CUSTOMER", CANNON, str(uuid.uuid4())))
    status, body = api.call(ROUTE, "POST", route={"bcId": CANNON})
    assert (status, body["error"]["code"]) == (409, "accountNotFound"), body
    assert api.stack.dataverse.get_row("nav_accountstatisticses", statistics_id(CANNON)) is None


def test_an_unknown_customer_is_a_404(api: Api) -> None:
    status, body = api.call(ROUTE, "POST", route={"bcId": str(uuid.uuid4())})
    assert (status, body["error"]["code"], body["error"]["field"]) == (404, "customerNotFound", "bcId"), body


@pytest.mark.parametrize("bad", ["C00010", "not-a-guid", ""])
def test_a_bc_id_that_is_not_a_guid_is_a_400(api: Api, bad: str) -> None:
    status, body = api.call(ROUTE, "POST", route={"bcId": bad})
    assert (status, body["error"]["code"], body["error"]["field"]) == (400, "invalidGuid", "bcId"), body
    status, body = api.call(ROUTE, "POST", route={"bcId": CANNON}, params={"force": "1"})
    assert (status, body["error"]["field"]) == (400, "force")


def test_the_route_is_in_the_openapi_document() -> None:
    operation = document()["paths"]["/api/customers/{bcId}/update-statistics"]["post"]
    assert operation["operationId"] == ROUTE
    assert {"200", "400", "404", "409"} <= set(operation["responses"])
