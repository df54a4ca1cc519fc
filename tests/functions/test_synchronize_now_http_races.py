"""POST /api/synchronize raced in opposite directions through the registered function (issue 17): every answer is
a 200 report saying which direction it applied or a 409 `concurrencyConflict`, and the apps end holding the value
of the one call that says it modified them. Smaller than the service-level bursts (tests/sync), which repeat it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from tests.functions.conftest import Api
from tests.functions.test_http_handlers import couple_basics

pytestmark = pytest.mark.integration
CANNON = bc_seeded("customer", "The Cannon Group PLC")
BURSTS = 3
PER_DIRECTION = 10


def coupled_cannon(api: Api) -> str:
    couple_basics(api)
    status, body = api.call("create_in_dataverse", "POST", {"bcId": CANNON}, route={"mapping": "CUSTOMER"})
    assert status == 201, body
    account_id: str = body["dataverseId"]
    return account_id


def set_cities(api: Api, account_id: str, bc_city: str, dv_city: str) -> None:
    customer = api.stack.bc.get_entity("customers", CANNON) or {}
    api.stack.bc.update_entity("customers", CANNON, {"city": bc_city}, str(customer["@odata.etag"]))
    api.stack.dataverse.update_row("accounts", account_id, {"address1_city": dv_city})


def cities(api: Api, account_id: str) -> tuple[str, str]:
    customer = api.stack.bc.get_entity("customers", CANNON, ["city"]) or {}
    account = api.stack.dataverse.get_row("accounts", account_id, ["address1_city"]) or {}
    return customer["city"], account["address1_city"]


def burst(api: Api) -> list[tuple[int, Any]]:
    bodies = [{"mapping": "CUSTOMER", "bcId": CANNON, "direction": d} for d in ("toDataverse", "fromDataverse")]
    calls = bodies * PER_DIRECTION
    start = threading.Barrier(len(calls))
    answers: list[tuple[int, Any]] = [(0, None)] * len(calls)

    def call(index: int) -> None:
        start.wait()
        answers[index] = api.call("synchronize_now", "POST", calls[index])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_opposite_calls_answer_200_or_409_and_leave_the_winners_value(api: Api) -> None:
    account_id = coupled_cannon(api)
    for round_ in range(BURSTS):
        bc_city, dv_city = f"BC city {round_}", f"Sales city {round_}"
        set_cities(api, account_id, bc_city, dv_city)
        answers = burst(api)
        assert {status for status, _ in answers} <= {200, 409}, [a for a in answers if a[0] not in (200, 409)]
        conflicts = [body["error"] for status, body in answers if status == 409]
        assert all(e["code"] == "concurrencyConflict" for e in conflicts), conflicts
        assert all("changed while it was being synchronized" in e["message"] for e in conflicts)
        reports = [body for status, body in answers if status == 200]
        assert all(r["direction"] in ("toDataverse", "fromDataverse") for r in reports)
        winners = [r for r in reports if r["outcome"] == "modified"]
        assert len(winners) == 1, [(r["direction"], r["outcome"]) for r in reports]
        winner = winners[0]
        expected = bc_city if winner["direction"] == "toDataverse" else dv_city
        city = next(c for c in winner["changes"] if c["dataverseField"] == "address1_city")
        assert city["new"] == expected
        assert cities(api, account_id) == (expected, expected)


def test_bc_request_entity_changed_is_a_409_not_a_400(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    account_id = coupled_cannon(api)
    set_cities(api, account_id, "BC city", "Sales city")
    original = api.stack.bc.execute_batch

    def edited_first(*args: Any, **kwargs: Any) -> Any:
        customer = api.stack.bc.get_entity("customers", CANNON) or {}
        api.stack.bc.update_entity("customers", CANNON, {"city": "Edited in BC"}, str(customer["@odata.etag"]))
        monkeypatch.setattr(api.stack.bc, "execute_batch", original)
        return original(*args, **kwargs)

    monkeypatch.setattr(api.stack.bc, "execute_batch", edited_first)
    status, body = api.call(
        "synchronize_now", "POST", {"mapping": "CUSTOMER", "bcId": CANNON, "direction": "fromDataverse"}
    )
    assert status == 409, body
    assert body["error"]["code"] == "concurrencyConflict"
    assert "Request_EntityChanged" in body["error"]["message"]
    assert cities(api, account_id) == ("Edited in BC", "Sales city")
    status, body = api.call(
        "synchronize_now", "POST", {"mapping": "CUSTOMER", "bcId": CANNON, "direction": "fromDataverse"}
    )
    assert (status, body["outcome"], body["direction"]) == (200, "modified", "fromDataverse")  # try again: it applies
    assert cities(api, account_id) == ("Sales city", "Sales city")
