"""Through the local host: every keyed route refuses a missing or wrong key, no answer carries a secret, an emulator
token for the wrong resource is refused, and 50 simultaneous calls on the same records give no 500 and no duplicate.
"""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from local.emulators.business_central.seed import COMPANY_ID
from local.emulators.business_central.seed import seeded_id as bc_id
from local.stack.launcher import LocalStack

pytestmark = pytest.mark.integration
DV_API = "/api/data/v9.2"
TOKEN_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")


def token(stack: LocalStack, resource: str) -> str:
    return stack.token(resource)


def operations(stack: LocalStack, api: requests.Session) -> list[tuple[str, str, bool]]:
    """(method, path with dummy parameters, keyed) for every documented operation."""
    document = api.get(f"{stack.urls['functions']}/openapi.json", timeout=30).json()
    found = []
    for path, methods in document["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        for method, operation in methods.items():
            keyed = operation.get("security") != []
            found.append((method.upper(), concrete, keyed))
    return found


def test_every_keyed_route_refuses_a_missing_or_wrong_key(
    local_stack: LocalStack, api: requests.Session, keyless: requests.Session
) -> None:
    base = local_stack.urls["functions"].removesuffix("/api")
    checked = 0
    for method, path, keyed in operations(local_stack, api):
        if not keyed:
            continue
        for headers in ({}, {"x-functions-key": "not-the-key"}):
            answer = keyless.request(method, f"{base}{path}", headers=headers, json={}, timeout=30)
            assert answer.status_code == 401, (method, path, headers, answer.status_code)
        checked += 1
    assert checked >= 25  # every route of the API but health and the document


def test_no_answer_carries_a_secret(local_stack: LocalStack, api: requests.Session) -> None:
    """Error paths included (bad input, unknown records, refused dependencies): no secret, key or token in a body."""
    base = local_stack.urls["functions"].removesuffix("/api")
    secrets = [local_stack.app_settings()["CLIENT_SECRET"], local_stack.function_key]
    for method, path, _ in operations(local_stack, api):
        bodies: tuple[dict[str, Any], ...] = ({}, {"mapping": "CUSTOMER", "bcId": "x", "dataverseId": "y"}, {"x": 1})
        if path == "/api/full-sync":  # an empty body would start a full synchronization of everything
            bodies = ({"start": False}, {"x": 1})
        for body in bodies:
            answer = api.request(method, f"{base}{path}", json=body, timeout=60)
            text = answer.text
            assert not any(secret in text for secret in secrets), (method, path)
            assert not TOKEN_SHAPE.search(text), (method, path)


def test_an_emulator_token_for_the_wrong_resource_is_refused(local_stack: LocalStack) -> None:
    session = requests.Session()
    session.trust_env = False
    dataverse_token = token(local_stack, local_stack.urls["dataverse"])
    bc_root = f"{local_stack.app_settings()['BC_BASE_URL']}/api/v2.0/companies({COMPANY_ID})/customers"
    assert session.get(bc_root, headers={"Authorization": f"Bearer {dataverse_token}"}, timeout=30).status_code == 401
    bc_token = token(local_stack, "https://api.businesscentral.dynamics.com")
    dv_url = f"{local_stack.urls['dataverse']}{DV_API}/accounts"
    assert session.get(dv_url, headers={"Authorization": f"Bearer {bc_token}"}, timeout=30).status_code == 401


def _bc_customer(stack: LocalStack) -> tuple[str, str]:
    """A customer nobody has coupled yet (the session's stack is shared with the fuzz test)."""
    session = requests.Session()
    session.trust_env = False
    headers = {"Authorization": f"Bearer {token(stack, 'https://api.businesscentral.dynamics.com')}"}
    root = f"{stack.app_settings()['BC_BASE_URL']}/api/v2.0/companies({COMPANY_ID})/customers"
    name = f"Race {uuid.uuid4().hex[:8]}"
    answer = session.post(root, json={"displayName": name}, headers=headers, timeout=30)
    answer.raise_for_status()
    return str(answer.json()["id"]), name


def _accounts_named(stack: LocalStack, name: str) -> list[dict[str, Any]]:
    session = requests.Session()
    session.trust_env = False
    headers = {"Authorization": f"Bearer {token(stack, stack.urls['dataverse'])}"}
    url = f"{stack.urls['dataverse']}{DV_API}/accounts?$select=accountid&$filter=name eq '{name}'"
    rows: list[dict[str, Any]] = session.get(url, headers=headers, timeout=30).json()["value"]
    return rows


def _sales_order(stack: LocalStack, account: str, product: str) -> str:
    session = requests.Session()
    session.trust_env = False
    headers = {"Authorization": f"Bearer {token(stack, stack.urls['dataverse'])}"}
    root = f"{stack.urls['dataverse']}{DV_API}"
    order_id = str(uuid.uuid4())
    body = {"salesorderid": order_id, "name": "RACE", "customerid_account@odata.bind": f"/accounts({account})"}
    session.post(f"{root}/salesorders", json=body, headers=headers, timeout=30).raise_for_status()
    line = {"salesorderid@odata.bind": f"/salesorders({order_id})", "productid@odata.bind": f"/products({product})",
            "isproductoverridden": False, "quantity": 1}  # fmt: skip
    session.post(f"{root}/salesorderdetails", json=line, headers=headers, timeout=30).raise_for_status()
    state = {"statecode": 1, "statuscode": 3}
    session.patch(f"{root}/salesorders({order_id})", json=state, headers={**headers, "If-Match": "*"}, timeout=30)
    return order_id


def test_fifty_simultaneous_calls_give_no_500_and_no_duplicate(local_stack: LocalStack, api: requests.Session) -> None:
    url = local_stack.urls["functions"]

    def call(method: str, path: str, body: Any = None) -> requests.Response:
        return api.request(method, f"{url}/{path}", json=body, timeout=120)

    for mapping in ("SALESPEOPLE", "CURRENCY", "UNIT GROUP", "ITEM UOM"):
        matched = call("POST", f"couplings/{mapping}/match", {})
        assert matched.status_code == 200, (mapping, matched.text[:500])
    assert call("POST", "couplings/ITEM-PRODUCT/match", {"createIfNoMatch": True}).status_code == 200
    fresh, name = _bc_customer(local_stack)
    buyer, _ = _bc_customer(local_stack)
    assert call("POST", "records/CUSTOMER/create-in-dataverse", {"bcId": buyer}).status_code in (201, 409)
    account = call("GET", f"couplings/CUSTOMER?bcId={buyer}").json()["dataverseId"]
    desk = call("GET", f"couplings/ITEM-PRODUCT?bcId={bc_id('item', '1896-S')}").json()["dataverseId"]
    order_id = _sales_order(local_stack, account, desk)
    calls = (
        [("POST", "records/CUSTOMER/create-in-dataverse", {"bcId": fresh})] * 20
        + [("POST", "synchronize", {"mapping": "CUSTOMER", "bcId": buyer, "direction": "toDataverse"})] * 15
        + [("POST", f"sales-orders/{order_id}/create-in-business-central", None)] * 15
    )
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda c: call(*c), calls))
    assert all(a.status_code < 500 for a in answers), [
        (a.status_code, a.text[:200]) for a in answers if a.status_code >= 500
    ]
    creates, syncs, orders = answers[:20], answers[20:35], answers[35:]
    assert all(a.status_code in (201, 409) for a in creates), [a.text[:200] for a in creates]
    coupled = call("GET", f"couplings/CUSTOMER?bcId={fresh}").json()["dataverseId"]
    assert {a.json()["dataverseId"] for a in creates if a.status_code == 201} <= {coupled}  # a racer's own coupling
    assert len(_accounts_named(local_stack, name)) == 1  # created once in Sales
    assert all(a.status_code in (200, 409) for a in syncs), [
        a.text[:200] for a in syncs if a.status_code not in (200, 409)
    ]
    assert [a.status_code for a in orders].count(201) == 1 and all(a.status_code in (200, 201) for a in orders)
    assert len({a.json()["bcId"] for a in orders}) == 1
