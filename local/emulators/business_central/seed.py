"""Seed data for the BC emulator.

`demo`: one CRONUS-like company: currencies (USD is the local currency and not a row, as in BC), units,
salespeople, payment terms, shipment methods, customers with contacts, items; resources and a price list come from
`pages/seed.py` (they live behind page web services). `bench`: generated customers, contacts and items (`counts`).
Ids are uuid5 of a readable name, so a seeded record has the same id on every run.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from local.emulators.business_central.api import gl_accounts
from local.emulators.business_central.api.business_relations import RELATED_CUSTOMER
from local.emulators.business_central.api.writer import Writer
from local.emulators.business_central.companies import add_company
from local.emulators.business_central.pages import seed as page_seed
from local.emulators.business_central.pages.context import Context
from local.emulators.business_central.posting import exchange_rates

SEED_NAMESPACE = uuid.UUID("0b7c4d0e-5a3b-4c1e-9f7a-2d6e8c9b1a20")
COMPANY_NAME = "CRONUS USA, Inc."
COMPANY_ID = str(uuid.uuid5(SEED_NAMESPACE, "company:CRONUS USA, Inc."))
BENCH_COUNTS = frozenset({"customers", "contacts", "items"})
BENCH_PERSONS_PER_COMPANY = 5

CURRENCIES = [("EUR", "Euro", "€"), ("GBP", "British Pound", "£"), ("CAD", "Canadian Dollar", "$")]
UNITS = [("PCS", "Piece"), ("BOX", "Box"), ("HOUR", "Hour"), ("SET", "Set")]
SALESPEOPLE = [
    ("JO", "Jim Olive", "jim.olive@cronus.example"),
    ("OF", "Otis Falls", "otis.falls@cronus.example"),
    ("LM", "Linda Martin", "linda.martin@cronus.example"),
]
PAYMENT_TERMS = [
    ("1M(8D)", "1 Month/2% 8 days", "P1M"),
    ("14 DAYS", "Net 14 days", "P14D"),
    ("CM", "Current month", "P0D"),
]
SHIPMENT_METHODS = [("EXW", "Ex Works"), ("CIF", "Cost Insurance and Freight"), ("PICKUP", "Pickup at Location")]
CUSTOMERS = [
    ("The Cannon Group PLC", "Birmingham", "B27 4KT", "GB", "JO", "", "Andy Teal"),
    ("Selangorian Ltd.", "Coventry", "CV6 1GY", "GB", "OF", "", "Mindy Martin"),
    ("Trey Research", "Atlanta", "31772", "US", "LM", "", "Jeff Smith"),
    ("Alpine Ski House", "Zug", "6300", "CH", "JO", "EUR", "Ian Deberry"),
    ("Adatum Corporation", "Atlanta", "31772", "US", "OF", "", "Robert Townes"),
    ("School of Fine Art", "Miami", "37125", "US", "LM", "", "Meagan Bond"),
]
ITEMS = [
    ("1896-S", "ATHENS Desk", 1000.8, "PCS"),
    ("1900-S", "PARIS Guest Chair, black", 192.8, "PCS"),
    ("1906-S", "ATHENS Mobile Pedestal", 281.4, "PCS"),
    ("1908-S", "LONDON Swivel Chair, blue", 190.1, "PCS"),
    ("1920-S", "ANTWERP Conference Table", 420.4, "PCS"),
    ("1953-W", "Guest Section 1", 142.9, "SET"),
]


def seeded_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(SEED_NAMESPACE, f"{kind}:{name}"))


def _create(writer: Writer, entity_set: str, body: dict[str, Any]) -> None:
    writer.create(COMPANY_ID, writer.entity_set(entity_set), body)


def ensure_company(writer: Writer) -> None:
    if writer.store.get("companies", COMPANY_ID) is None:
        add_company(writer.store, COMPANY_ID, COMPANY_NAME)


def seed_demo(writer: Writer) -> dict[str, int]:
    ensure_company(writer)
    for code, name, symbol in CURRENCIES:
        _create(
            writer,
            "currencies",
            {"id": seeded_id("currency", code), "code": code, "displayName": name, "symbol": symbol},
        )
    for code, name in UNITS:
        _create(writer, "unitsOfMeasure", {"id": seeded_id("unit", code), "code": code, "displayName": name})
    for code, name, email in SALESPEOPLE:
        _create(
            writer,
            "salespeoplePurchasers",
            {"id": seeded_id("salesperson", code), "code": code, "displayName": name, "email": email},
        )
    for code, name, formula in PAYMENT_TERMS:
        _create(
            writer,
            "paymentTerms",
            {"id": seeded_id("terms", code), "code": code, "displayName": name, "dueDateCalculation": formula},
        )
    for code, name in SHIPMENT_METHODS:
        _create(writer, "shipmentMethods", {"id": seeded_id("shipment", code), "code": code, "displayName": name})
    for name, city, postcode, country, salesperson, currency, contact in CUSTOMERS:
        _create(
            writer,
            "customers",
            {
                "id": seeded_id("customer", name),
                "displayName": name,
                "type": "Company",
                "city": city,
                "postalCode": postcode,
                "country": country,
                "salespersonCode": salesperson,
                "currencyCode": currency,
            },
        )
        _create(
            writer,
            "contacts",
            {
                "id": seeded_id("contact-company", name),
                "type": "Company",
                "displayName": name,
                "city": city,
                "contactBusinessRelation": "Customer",
            },
        )
        company_contact = writer.get(COMPANY_ID, writer.entity_set("contacts"), seeded_id("contact-company", name))
        # the business relation BC makes when a customer gets its company contact (contactsInformation)
        company_contact = {**company_contact, RELATED_CUSTOMER: seeded_id("customer", name)}
        writer.put(COMPANY_ID, writer.entity_set("contacts"), company_contact)
        _create(
            writer,
            "contacts",
            {
                "id": seeded_id("contact-person", contact),
                "type": "Person",
                "displayName": contact,
                "companyNumber": company_contact["number"],
                "companyName": name,
                "contactBusinessRelation": "Customer",
            },
        )
    for number, name, price, unit in ITEMS:
        _create(
            writer,
            "items",
            {
                "id": seeded_id("item", number),
                "number": number,
                "displayName": name,
                "type": "Inventory",
                "unitPrice": price,
                "baseUnitOfMeasureCode": unit,
            },
        )
    created = {
        "currencies": len(CURRENCIES),
        "unitsOfMeasure": len(UNITS),
        "salespeoplePurchasers": len(SALESPEOPLE),
        "paymentTerms": len(PAYMENT_TERMS),
        "shipmentMethods": len(SHIPMENT_METHODS),
        "customers": len(CUSTOMERS),
        "contacts": 2 * len(CUSTOMERS),
        "items": len(ITEMS),
    }
    created.update(exchange_rates.seed_demo(writer, COMPANY_ID))
    created.update(gl_accounts.seed_demo(writer, COMPANY_ID, seeded_id))
    created.update(page_seed.seed_demo(Context(writer, COMPANY_ID)))
    return created


def seed_bench(writer: Writer, counts: Mapping[str, int]) -> dict[str, int]:
    unknown = sorted(set(counts) - BENCH_COUNTS)
    if unknown:
        raise ValueError(f"unknown bench counts {unknown}; known: {', '.join(sorted(BENCH_COUNTS))}")
    ensure_company(writer)
    customers = counts.get("customers", 0)
    for n in range(customers):
        _create(
            writer,
            "customers",
            {
                "id": seeded_id("bench-customer", str(n)),
                "number": f"B{n:06d}",
                "displayName": f"Bench customer {n:06d}",
                "city": "Seattle",
            },
        )
    persons = counts.get("contacts", 0)
    companies = (persons + BENCH_PERSONS_PER_COMPANY - 1) // BENCH_PERSONS_PER_COMPANY
    for n in range(companies):  # the CONTACT mapping takes persons of a company only, as BC's does
        company = {"number": f"BK{n:06d}", "type": "Company", "displayName": f"Bench company {n:06d}"}
        company_id = seeded_id("bench-company", str(n))
        _create(writer, "contacts", {"id": company_id, **company})
        if n < customers:  # BC makes a company contact with a business relation for each customer
            stored = writer.get(COMPANY_ID, writer.entity_set("contacts"), company_id)
            related = {**stored, RELATED_CUSTOMER: seeded_id("bench-customer", str(n))}
            writer.put(COMPANY_ID, writer.entity_set("contacts"), related)
    for n in range(persons):
        _create(
            writer,
            "contacts",
            {
                "id": seeded_id("bench-contact", str(n)),
                "number": f"BC{n:06d}",
                "type": "Person",
                "displayName": f"Bench contact {n:06d}",
                "companyNumber": f"BK{n // BENCH_PERSONS_PER_COMPANY:06d}",
                "email": f"contact{n:06d}@bench.example",
            },
        )
    items = counts.get("items", 0)
    if items:  # every BC item has a base unit, with its item unit row
        _create(writer, "unitsOfMeasure", {"id": seeded_id("unit", "PCS"), "code": "PCS", "displayName": "Piece"})
    for n in range(items):
        _create(
            writer,
            "items",
            {
                "id": seeded_id("bench-item", str(n)),
                "number": f"BI{n:06d}",
                "displayName": f"Bench item {n:06d}",
                "unitPrice": 10 + n % 90,
                "baseUnitOfMeasureCode": "PCS",
            },
        )
    if items:
        page_seed.seed_item_units(Context(writer, COMPANY_ID))
    return {name: counts.get(name, 0) for name in sorted(BENCH_COUNTS)}


def seed(writer: Writer, profile: str, counts: Mapping[str, int]) -> dict[str, int]:
    with writer.store.transaction():
        return seed_demo(writer) if profile == "demo" else seed_bench(writer, counts)
