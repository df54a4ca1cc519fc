"""`make demo`: bring the local stack up on free ports, seed it, and show what is there, the way the sync will.

It gets a token from the local authority with unmodified MSAL (as the Function App will from Entra), reads the
Dataverse emulator through the Web API with `$select` and paging, and prints the service-protection figures.
Later issues extend this into the whole story (coupling, Synchronize Now, full sync, documents).
"""

from __future__ import annotations

import sys
from typing import Any

import requests

from local.emulators.tokens import acquire_local_token
from local.stack import LOCAL_CLIENT_ID, LocalStack

BC_RESOURCE = "https://api.businesscentral.dynamics.com"

TENANT = "7e0c6b3a-0000-4000-8000-00000000de70"


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.headers.update(
        {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
        }
    )
    return session


def _show(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    print(f"\n{title} ({len(rows)})")
    for row in rows:
        print("  " + " | ".join(str(row.get(column, "")) for column in columns))


def show_dataverse(stack: LocalStack, admin: requests.Session) -> None:
    dataverse = stack.urls["dataverse"]
    seeded = admin.post(f"{dataverse}/_admin/seed", json={"profile": "demo"}, timeout=30).json()
    print(f"\n== Dynamics 365 Sales (Dataverse emulator) ==\nseeded: {seeded['created']}")
    token = acquire_local_token(
        stack.urls["authority"], stack.ca_file, LOCAL_CLIENT_ID, stack.client_secret, dataverse, TENANT
    )
    api = _session(token)
    base = f"{dataverse}/api/data/v9.2"
    who = api.get(f"{base}/WhoAmI", timeout=30).json()
    print(f"got a token with MSAL; calling as application user {who['UserId']}")
    currencies = api.get(
        f"{base}/transactioncurrencies", params={"$select": "isocurrencycode,currencyname"}, timeout=30
    ).json()["value"]
    _show("Currencies", currencies, ["isocurrencycode", "currencyname"])
    accounts = api.get(
        f"{base}/accounts",
        params={
            "$select": "name,address1_city",
            "$orderby": "name",
            "$expand": "contact_customer_accounts($select=fullname)",
        },
        timeout=30,
    ).json()["value"]
    for account in accounts:
        account["contacts"] = ", ".join(c["fullname"] for c in account["contact_customer_accounts"])
    _show("Accounts with their contacts", accounts, ["name", "address1_city", "contacts"])
    users = api.get(
        f"{base}/systemusers",
        params={"$select": "fullname,internalemailaddress", "$filter": "internalemailaddress ne null"},
        timeout=30,
    ).json()
    _show("Salespeople (users)", users["value"], ["fullname", "internalemailaddress"])
    stats = admin.get(f"{dataverse}/_admin/stats", timeout=30).json()
    print(f"Dataverse requests: {stats['requests']}, charged service-protection units: {stats['chargedUnits']}")


def show_business_central(stack: LocalStack, admin: requests.Session) -> None:
    bc = stack.urls["business_central"]
    seeded = admin.post(f"{bc}/_admin/seed", json={"profile": "demo"}, timeout=30).json()
    print(f"\n== Business Central (BC emulator) ==\nseeded: {seeded['created']}")
    token = acquire_local_token(
        stack.urls["authority"], stack.ca_file, LOCAL_CLIENT_ID, stack.client_secret, BC_RESOURCE, TENANT
    )
    api = _session(token)
    root = f"{bc}/{TENANT}/production/api/v2.0"
    company = api.get(f"{root}/companies", timeout=30).json()["value"][0]
    print(f"company: {company['name']} ({company['id']})")
    company_root = f"{root}/companies({company['id']})"
    customers = api.get(
        f"{company_root}/customers",
        params={"$select": "number,displayName,city,salespersonCode", "$orderby": "number"},
        timeout=30,
    ).json()["value"]
    _show("Customers", customers, ["number", "displayName", "city", "salespersonCode"])
    items = api.get(
        f"{company_root}/items", params={"$select": "number,displayName,unitPrice", "$orderby": "number"}, timeout=30
    ).json()["value"]
    _show("Items", items, ["number", "displayName", "unitPrice"])
    order = api.post(
        f"{company_root}/salesOrders",
        json={
            "customerNumber": "C00010",
            "externalDocumentNumber": "demo-order",
            "salesOrderLines": [
                {"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 2},
                {"lineType": "Comment", "description": "A comment line carries only a description"},
            ],
        },
        timeout=30,
    ).json()
    print(
        f"\ncreated sales order {order['number']} for {order['customerName']}: "
        f"{order['totalAmountExcludingTax']} {order['currencyCode']} (status {order['status']})"
    )
    stats = admin.get(f"{bc}/_admin/stats", timeout=30).json()
    print(f"BC requests: {stats['requests']}, charged units: {stats['chargedUnits']}")


def run(stack: LocalStack) -> None:
    admin = requests.Session()
    admin.trust_env = False
    show_business_central(stack, admin)
    show_dataverse(stack, admin)


def main() -> int:
    stack = LocalStack.on_free_ports()
    print("starting the local stack (token authority, Azurite, Dataverse and Business Central emulators)...")
    stack.start()
    try:
        for name, url in stack.urls.items():
            print(f"  {name:<17} {url}")
        run(stack)
    finally:
        stack.stop()
    print("\ndemo finished; `make serve` keeps the stack running on the default ports.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
