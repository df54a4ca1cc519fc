"""`GET /api/items/{bcId}/availability` and the `item_availability` timer through the registered functions, over the
real stack (BC and Dataverse emulators over HTTP, couplings on Azurite)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.coupling import Coupling
from tests.functions.conftest import FUNCTIONS, Api

pytestmark = pytest.mark.integration
DESK = bc_seeded("item", "1896-S")


def test_live_inventory_and_the_coupled_product(api: Api) -> None:
    response = api.stack.bc_handle.admin("POST", "inventory", json={"itemId": DESK, "inventory": -2.5})
    assert response.status_code == 200, response.text
    status, body = api.call("get_item_availability", route={"bcId": DESK.upper()})
    assert status == 200, body
    assert body == {
        "bcId": DESK,
        "number": "1896-S",
        "displayName": "ATHENS Desk",
        "inventory": -2.5,  # the live figure, as BC holds it (only the product's copy is floored at 0)
        "baseUnitOfMeasureCode": "PCS",
        "dataverseId": None,
    }
    product = str(uuid.uuid4())
    api.stack.context.couplings.create_coupling(Coupling("ITEM-PRODUCT", DESK, product))
    status, body = api.call("get_item_availability", route={"bcId": DESK})
    assert (status, body["dataverseId"]) == (200, product)


@pytest.mark.parametrize("bad", ["1896-S", "not-a-guid", ""])
def test_a_bc_id_that_is_not_a_guid_is_a_400(api: Api, bad: str) -> None:
    status, body = api.call("get_item_availability", route={"bcId": bad})
    assert status == 400 and body["error"]["field"] == "bcId", body


def test_an_unknown_item_is_a_404(api: Api) -> None:
    status, body = api.call("get_item_availability", route={"bcId": str(uuid.uuid4())})
    assert (status, body["error"]["code"], body["error"]["field"]) == (404, "itemNotFound", "bcId")
    status, body = api.call("get_item_availability", route={"bcId": DESK}, params={"verbose": "1"})
    assert (status, body["error"]["field"]) == (400, "verbose")


@dataclass
class FakeTimer:
    past_due: bool = False


def test_the_timer_runs_the_job_and_logs_its_counters(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    api.stack.context.couplings.create_coupling(Coupling("ITEM-PRODUCT", DESK, str(uuid.uuid4())))
    timer = FUNCTIONS["item_availability"]
    assert timer.get_trigger().schedule == "%ITEM_AVAILABILITY_SCHEDULE%" and not timer.get_trigger().run_on_startup
    with caplog.at_level(logging.INFO, logger="bc_sales_sync.availability"):
        timer.get_user_function()(FakeTimer())
    assert "'coupled': 1" in caplog.text and "'missing': 1" in caplog.text, caplog.text  # the product does not exist
