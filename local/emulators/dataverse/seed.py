"""Seed data for the Dataverse emulator.

`demo`: a small Sales org beside BC's CRONUS: the base currency and two others, a few salespeople (users), a default
price list and some accounts and contacts already typed in Sales, so match-based coupling has something to find.
`bench`: generated volume (`counts`: accounts, contacts, products) for benchmarks and the chaos suite.
Ids are uuid5 of a readable name, so a seeded row has the same id on every run.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from local.emulators.dataverse.organization import ROOT_BUSINESS_UNIT_ID
from local.emulators.dataverse.writer import Writer

SEED_NAMESPACE = uuid.UUID("6f1c3a52-1d0e-4d5e-9a41-5b2f8e0c7d10")
PROFILES: tuple[str, ...] = ("demo", "bench")
SYSTEM_USER = str(uuid.uuid5(SEED_NAMESPACE, "systemuser:SYSTEM"))

CURRENCIES = [("USD", "US Dollar", "$", 1.0), ("EUR", "Euro", "€", 0.92), ("GBP", "British Pound", "£", 0.79)]
USERS = [
    ("Jim", "Olive", "jim.olive@cronus.example"),
    ("Otis", "Falls", "otis.falls@cronus.example"),
    ("Linda", "Martin", "linda.martin@cronus.example"),
]
ACCOUNTS = [
    ("The Cannon Group PLC", "Birmingham", "B27 4KT", "Andy", "Teal"),
    ("Selangorian Ltd.", "Coventry", "CV6 1GY", "Mindy", "Martin"),
    ("Trey Research", "Atlanta", "31772", "Jeff", "Smith"),
    ("Alpine Ski House", "Zug", "6300", "Ian", "Deberry"),
]


def seeded_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(SEED_NAMESPACE, f"{kind}:{name}"))


def _ensure_system_user(writer: Writer) -> None:
    if writer.store.get("systemuser", SYSTEM_USER) is None:
        row: dict[str, Any] = {
            "systemuserid": SYSTEM_USER,
            "lastname": "SYSTEM",
            "fullname": "SYSTEM",
            "isdisabled": False,
            "_businessunitid_value": ROOT_BUSINESS_UNIT_ID,
        }
        version = writer.store.next_version()
        row["versionnumber"] = version
        writer.store.put("systemuser", SYSTEM_USER, row, version=version, track=False)


def _create(writer: Writer, logical: str, body: dict[str, Any]) -> None:
    writer.create(writer.schema.tables[logical], body, SYSTEM_USER)


def seed_demo(writer: Writer) -> dict[str, int]:
    _ensure_system_user(writer)
    for iso, name, symbol, rate in CURRENCIES:
        _create(
            writer,
            "transactioncurrency",
            {
                "transactioncurrencyid": seeded_id("currency", iso),
                "isocurrencycode": iso,
                "currencyname": name,
                "currencysymbol": symbol,
                "exchangerate": rate,
                "currencyprecision": 2,
            },
        )
    usd = f"/transactioncurrencies({seeded_id('currency', 'USD')})"
    for first, last, email in USERS:
        _create(
            writer,
            "systemuser",
            {
                "systemuserid": seeded_id("user", email),
                "firstname": first,
                "lastname": last,
                "internalemailaddress": email,
                "domainname": email,
                "islicensed": True,
                "isintegrationuser": False,
                "isdisabled": False,
            },
        )
    _create(
        writer,
        "pricelevel",
        {
            "pricelevelid": seeded_id("pricelevel", "Default"),
            "name": "Default price list",
            "transactioncurrencyid@odata.bind": usd,
        },
    )
    for name, city, postcode, first, last in ACCOUNTS:
        account_id = seeded_id("account", name)
        _create(
            writer,
            "account",
            {
                "accountid": account_id,
                "name": name,
                "address1_city": city,
                "address1_postalcode": postcode,
                "customertypecode": 3,
                "transactioncurrencyid@odata.bind": usd,
            },
        )
        _create(
            writer,
            "contact",
            {
                "contactid": seeded_id("contact", name),
                "firstname": first,
                "lastname": last,
                "parentcustomerid_account@odata.bind": f"/accounts({account_id})",
            },
        )
    return {
        "transactioncurrency": len(CURRENCIES),
        "systemuser": len(USERS),
        "pricelevel": 1,
        "account": len(ACCOUNTS),
        "contact": len(ACCOUNTS),
    }


BENCH_COUNTS = frozenset({"accounts", "account", "contacts", "contact"})


def seed_bench(writer: Writer, counts: Mapping[str, int]) -> dict[str, int]:
    unknown = sorted(set(counts) - BENCH_COUNTS)
    if unknown:
        raise ValueError(f"unknown bench counts {unknown}; known: accounts, contacts")
    _ensure_system_user(writer)
    created: dict[str, int] = {}
    accounts = counts.get("accounts", counts.get("account", 0))
    for number in range(accounts):
        _create(
            writer,
            "account",
            {
                "accountid": seeded_id("bench-account", str(number)),
                "name": f"Bench account {number:06d}",
                "accountnumber": f"B{number:06d}",
                "customertypecode": 3,
                "address1_city": "Seattle",
            },
        )
    created["account"] = accounts
    contacts = counts.get("contacts", counts.get("contact", 0))
    for number in range(contacts):
        body: dict[str, Any] = {
            "contactid": seeded_id("bench-contact", str(number)),
            "firstname": "Bench",
            "lastname": f"Contact {number:06d}",
        }
        if accounts:
            parent = seeded_id("bench-account", str(number % accounts))
            body["parentcustomerid_account@odata.bind"] = f"/accounts({parent})"
        _create(writer, "contact", body)
    created["contact"] = contacts
    return created


def seed(writer: Writer, profile: str, counts: Mapping[str, int]) -> dict[str, int]:
    with writer.store.transaction():
        return seed_demo(writer) if profile == "demo" else seed_bench(writer, counts)
