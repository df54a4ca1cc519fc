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


def run(stack: LocalStack) -> None:
    dataverse = stack.urls["dataverse"]
    admin = requests.Session()
    admin.trust_env = False
    seeded = admin.post(f"{dataverse}/_admin/seed", json={"profile": "demo"}, timeout=30).json()
    print(f"seeded the Dataverse emulator: {seeded['created']}")
    token = acquire_local_token(
        stack.urls["authority"], stack.ca_file, LOCAL_CLIENT_ID, stack.client_secret, dataverse, TENANT
    )
    print("got a token from the local authority with MSAL")
    api = _session(token)
    base = f"{dataverse}/api/data/v9.2"
    who = api.get(f"{base}/WhoAmI", timeout=30).json()
    print(f"calling as application user {who['UserId']}")
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
    print(f"\nDataverse requests: {stats['requests']}, charged service-protection units: {stats['chargedUnits']}")


def main() -> int:
    stack = LocalStack.on_free_ports()
    print("starting the local stack (token authority, Azurite, Dataverse emulator)...")
    stack.start()
    try:
        for name, url in stack.urls.items():
            print(f"  {name:<10} {url}")
        run(stack)
    finally:
        stack.stop()
    print("\ndemo finished; `make serve` keeps the stack running on the default ports.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
