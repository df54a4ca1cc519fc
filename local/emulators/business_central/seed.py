"""Seed data for the BC emulator.

`demo`: one CRONUS-like company: currencies (USD is the local currency and not a row, as in BC), units,
salespeople, payment terms, shipment methods, customers with contacts, items; resources and a price list come from
`pages/seed.py` (they live behind page web services). The company names no environment, so every environment name
serves it (companies.py). `bench`: generated customers, contacts and items (`counts`) in that company.
`companies` (`seed_companies`, into an empty emulator): the tenant layout of `COMPANY_LAYOUT`: in environment
`production` the demo company, unchanged, and `Fabrikam, Inc.`; in environment `sandbox` a company also named
`CRONUS USA, Inc.` (another id). Each has its own customers, contacts, items and resources; `Trey Research` is a
customer of all three (with another number, city and SystemId in each).
Ids are uuid5 of a readable name, so a seeded record has the same id on every run; another company's ids are made
in its own scope, so no two companies share a SystemId.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from local.emulators.business_central.api import gl_accounts
from local.emulators.business_central.api.business_relations import RELATED_CUSTOMER
from local.emulators.business_central.api.writer import Writer
from local.emulators.business_central.companies import add_company
from local.emulators.business_central.pages import seed as page_seed
from local.emulators.business_central.pages.context import Context
from local.emulators.business_central.pages.data import ensure_setup
from local.emulators.business_central.posting import exchange_rates

SEED_NAMESPACE = uuid.UUID("0b7c4d0e-5a3b-4c1e-9f7a-2d6e8c9b1a20")
COMPANY_NAME = "CRONUS USA, Inc."
COMPANY_ID = str(uuid.uuid5(SEED_NAMESPACE, "company:CRONUS USA, Inc."))
BENCH_COUNTS = frozenset({"customers", "contacts", "items"})
BENCH_PERSONS_PER_COMPANY = 5
PROFILES: tuple[str, ...] = ("demo", "bench", "companies")
PRODUCTION = "production"
SANDBOX = "sandbox"

# (name, city, post code, country, salesperson, currency, contact person)
Customer = tuple[str, str, str, str, str, str, str]
Item = tuple[str, str, float, str]  # (number, description, unit price, base unit)
Resource = tuple[str, str, float, float]  # (number, name, unit price, unit cost)

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


FABRIKAM_NAME = "Fabrikam, Inc."
FABRIKAM_CUSTOMERS: list[Customer] = [
    ("Trey Research", "Seattle", "98052", "US", "OF", "", "Kim Abercrombie"),  # a name CRONUS has too
    ("Coho Winery", "Portland", "97201", "US", "JO", "", "Ben Miller"),
    ("Northwind Traders", "Vancouver", "V6B 1A1", "CA", "LM", "CAD", "Nancy Davolio"),
]
FABRIKAM_ITEMS: list[Item] = [
    ("FB-1000", "Espresso Machine", 499.0, "PCS"),
    ("FB-2000", "Coffee Grinder", 129.0, "PCS"),
]
FABRIKAM_RESOURCES: list[Resource] = [("R1000", "Kim Ralls", 95.0, 60.0)]
SANDBOX_CUSTOMERS: list[Customer] = [
    ("Trey Research", "Atlanta", "31772", "US", "LM", "", "Jeff Smith"),  # as in production, another SystemId
    ("Sandbox Test Customer", "Redmond", "98052", "US", "JO", "", "Terry Adams"),
]
SANDBOX_ITEMS: list[Item] = [("1896-S", "ATHENS Desk", 1000.8, "PCS"), ("TEST-1", "Test Item", 1.0, "PCS")]
SANDBOX_RESOURCES: list[Resource] = [("R0010", "Lina Townsend", 80.0, 55.0)]


def seeded_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(SEED_NAMESPACE, f"{kind}:{name}"))


def scoped_ids(scope: str) -> Callable[[str, str], str]:
    """The id maker of a company seeded in `scope` (blank: the demo company's `seeded_id`)."""
    if not scope:
        return seeded_id
    return lambda kind, name: str(uuid.uuid5(SEED_NAMESPACE, f"{scope}|{kind}:{name}"))


@dataclass(frozen=True)
class CompanySeed:
    """One company of the `companies` layout: where it lives, its name and id, and its own data."""

    environment: str
    name: str
    customers: Sequence[Customer]
    items: Sequence[Item]
    resources: Sequence[Resource]
    demo: bool = False  # the demo company: its id, ids and data exactly as the `demo` profile seeds them

    @property
    def scope(self) -> str:
        return "" if self.demo else f"{self.environment}/{self.name}"

    @property
    def company_id(self) -> str:
        return COMPANY_ID if self.demo else seeded_id("company", self.scope)


COMPANY_LAYOUT = (
    CompanySeed(PRODUCTION, COMPANY_NAME, (), (), (), demo=True),
    CompanySeed(PRODUCTION, FABRIKAM_NAME, FABRIKAM_CUSTOMERS, FABRIKAM_ITEMS, FABRIKAM_RESOURCES),
    CompanySeed(SANDBOX, COMPANY_NAME, SANDBOX_CUSTOMERS, SANDBOX_ITEMS, SANDBOX_RESOURCES),
)
FABRIKAM_ID = COMPANY_LAYOUT[1].company_id
SANDBOX_COMPANY_ID = COMPANY_LAYOUT[2].company_id


def _create(writer: Writer, entity_set: str, body: dict[str, Any], company_id: str = COMPANY_ID) -> None:
    writer.create(company_id, writer.entity_set(entity_set), body)


def ensure_company(writer: Writer) -> None:
    if writer.store.get("companies", COMPANY_ID) is None:
        add_company(writer.store, COMPANY_ID, COMPANY_NAME)


def seed_demo(writer: Writer) -> dict[str, int]:
    ensure_company(writer)
    created = _seed_company_data(writer, COMPANY_ID, seeded_id, CUSTOMERS, ITEMS)
    created.update(page_seed.seed_demo(Context(writer, COMPANY_ID)))
    return created


def _seed_company_data(
    writer: Writer,
    company_id: str,
    make_id: Callable[[str, str], str],
    customers: Sequence[Customer],
    items: Sequence[Item],
) -> dict[str, int]:
    """A company's API data: the reference tables, customers with their contacts, items, rates and accounts."""
    for code, name, symbol in CURRENCIES:
        _create(
            writer,
            "currencies",
            {"id": make_id("currency", code), "code": code, "displayName": name, "symbol": symbol},
            company_id,
        )
    for code, name in UNITS:
        _create(writer, "unitsOfMeasure", {"id": make_id("unit", code), "code": code, "displayName": name}, company_id)
    for code, name, email in SALESPEOPLE:
        _create(
            writer,
            "salespeoplePurchasers",
            {"id": make_id("salesperson", code), "code": code, "displayName": name, "email": email},
            company_id,
        )
    for code, name, formula in PAYMENT_TERMS:
        _create(
            writer,
            "paymentTerms",
            {"id": make_id("terms", code), "code": code, "displayName": name, "dueDateCalculation": formula},
            company_id,
        )
    for code, name in SHIPMENT_METHODS:
        _create(
            writer,
            "shipmentMethods",
            {"id": make_id("shipment", code), "code": code, "displayName": name},
            company_id,
        )
    for name, city, postcode, country, salesperson, currency, contact in customers:
        _create(
            writer,
            "customers",
            {
                "id": make_id("customer", name),
                "displayName": name,
                "type": "Company",
                "city": city,
                "postalCode": postcode,
                "country": country,
                "salespersonCode": salesperson,
                "currencyCode": currency,
            },
            company_id,
        )
        _create(
            writer,
            "contacts",
            {
                "id": make_id("contact-company", name),
                "type": "Company",
                "displayName": name,
                "city": city,
                "contactBusinessRelation": "Customer",
            },
            company_id,
        )
        company_contact = writer.get(company_id, writer.entity_set("contacts"), make_id("contact-company", name))
        # the business relation BC makes when a customer gets its company contact (contactsInformation)
        company_contact = {**company_contact, RELATED_CUSTOMER: make_id("customer", name)}
        writer.put(company_id, writer.entity_set("contacts"), company_contact)
        _create(
            writer,
            "contacts",
            {
                "id": make_id("contact-person", contact),
                "type": "Person",
                "displayName": contact,
                "companyNumber": company_contact["number"],
                "companyName": name,
                "contactBusinessRelation": "Customer",
            },
            company_id,
        )
    for number, name, price, unit in items:
        _create(
            writer,
            "items",
            {
                "id": make_id("item", number),
                "number": number,
                "displayName": name,
                "type": "Inventory",
                "unitPrice": price,
                "baseUnitOfMeasureCode": unit,
            },
            company_id,
        )
    created = {
        "currencies": len(CURRENCIES),
        "unitsOfMeasure": len(UNITS),
        "salespeoplePurchasers": len(SALESPEOPLE),
        "paymentTerms": len(PAYMENT_TERMS),
        "shipmentMethods": len(SHIPMENT_METHODS),
        "customers": len(customers),
        "contacts": 2 * len(customers),
        "items": len(items),
    }
    created.update(exchange_rates.seed_demo(writer, company_id))
    created.update(gl_accounts.seed_demo(writer, company_id, make_id))
    return created


def seed_companies(writer: Writer) -> dict[str, int]:
    """The `companies` layout (`COMPANY_LAYOUT`) into an emulator that has no company yet (reset it first)."""
    if writer.store.count("companies"):
        raise ValueError("the 'companies' profile seeds an empty emulator: POST /_admin/reset first")
    totals: dict[str, int] = {"companies": len(COMPANY_LAYOUT)}
    for company in COMPANY_LAYOUT:
        add_company(writer.store, company.company_id, company.name, company.environment)
        if company.demo:
            created = seed_demo(writer)
        else:
            make_id = scoped_ids(company.scope)
            ctx = Context(writer, company.company_id)
            created = _seed_company_data(writer, company.company_id, make_id, company.customers, company.items)
            created["resources"] = page_seed.seed_resources(ctx, company.resources, company.scope)
            created["itemUnitsOfMeasure"] = page_seed.seed_item_units(ctx, company.scope)
            ensure_setup(ctx)
        for name, count in created.items():
            totals[name] = totals.get(name, 0) + count
    return totals


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
        if profile == "demo":
            return seed_demo(writer)
        if profile == "companies":
            return seed_companies(writer)
        return seed_bench(writer, counts)
