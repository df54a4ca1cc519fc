"""The mapping catalog: every table mapping of BC's default Dataverse / Sales integration, as frozen data.

Why data and not code: the engine interprets these `TableMapping`s, so changing what is synchronized is a reviewed
edit of data, checked by one test (names unique, fields present in both schemas, lookups and dependencies resolvable,
filters accepted by the emulators, coverage of BC's defaults complete) and documented by one generator
(`python -m tools.mapping_docs` -> docs/mappings.md; a test fails when the two drift).

The catalog holds all 23 names of BC's 24 default table mappings (SALESORDER-ORDER has two variants in BC): the ones
this project runs, the ones it keeps disabled (legacy modes, document lines), and gap-only ones (SHIPPING AGENT,
SALESPRC-PRODPRICE) that say why nothing can be carried. The order of `mapping_names()` puts every mapping
after its dependencies, which is the order a full synchronization runs them in; a disabled dependency counts as
satisfied (BC's "no records found").

Administrators change a mapping through overrides (`with_overrides`), never by editing the catalog at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from shared.domain.errors import InvalidInputError
from shared.domain.mapping import TableMapping
from shared.mappings import (
    contacts,
    currencies,
    customers,
    document_lines,
    documents,
    opportunities,
    options,
    prices,
    products,
    salespeople,
    units,
    vendors,
)
from shared.mappings.common import CONSTANT
from shared.mappings.describe import coverage_counts, coverage_rows, describe
from shared.mappings.options import OPTION_MAPS
from shared.mappings.overrides import InvalidOverride, with_overrides

__all__ = [
    "CATALOG",
    "CONSTANT",
    "OPTION_MAPS",
    "InvalidOverride",
    "coverage_counts",
    "coverage_rows",
    "describe",
    "describe_all",
    "get_mapping",
    "mapping_names",
    "with_overrides",
]

_FAMILIES = (
    salespeople.MAPPINGS,
    currencies.MAPPINGS,
    options.MAPPINGS,
    units.MAPPINGS,
    customers.MAPPINGS,
    vendors.MAPPINGS,
    contacts.MAPPINGS,
    products.MAPPINGS,
    prices.MAPPINGS,
    opportunities.MAPPINGS,
    documents.MAPPINGS,
    document_lines.MAPPINGS,
)


# Dataverse attributes valid on create only (IsValidForUpdate = false): sent when creating, never on update.
CREATE_ONLY = frozenset(
    {
        ("uomschedule", "baseuomname"),
        ("uom", "uomscheduleid"),
        ("productpricelevel", "pricelevelid"),
        ("salesorder", "transactioncurrencyid"),
        ("invoice", "invoicenumber"),
        ("salesorderdetail", "salesorderid"),
        ("salesorderdetail", "producttypecode"),
        ("invoicedetail", "invoiceid"),
        ("invoicedetail", "producttypecode"),
        ("product", "productstructure"),
    }
)
# BC's "Not Null" on the owner: a salesperson left blank in BC keeps the owner Sales has.
KEEP_WHEN_BLANK = frozenset({"ownerid"})


def _with_attribute_rules(mapping: TableMapping) -> TableMapping:
    fields = tuple(
        replace(
            f,
            create_only=(mapping.dataverse_table, f.dataverse_field) in CREATE_ONLY or f.create_only,
            keep_when_blank=f.dataverse_field in KEEP_WHEN_BLANK or f.keep_when_blank,
        )
        for f in mapping.fields
    )
    return replace(mapping, fields=fields)


def _registry() -> Mapping[str, TableMapping]:
    registry: dict[str, TableMapping] = {}
    for family in _FAMILIES:
        for mapping in family:
            if mapping.name in registry:
                raise ValueError(f"two mappings are named {mapping.name!r}")
            registry[mapping.name] = _with_attribute_rules(mapping)
    return MappingProxyType(registry)


CATALOG: Mapping[str, TableMapping] = _registry()


def mapping_names() -> tuple[str, ...]:
    """Every mapping name, each after its dependencies."""
    return tuple(CATALOG)


def get_mapping(name: str) -> TableMapping:
    """The catalog mapping `name` (without overrides); KeyError names the known ones."""
    try:
        return CATALOG[name]
    except KeyError:
        raise UnknownMapping(name) from None


class UnknownMapping(InvalidInputError, KeyError):
    """An unknown mapping name: the API answers 400 naming the `mapping` field (and it is still a KeyError)."""

    def __init__(self, name: str) -> None:
        super().__init__("unknownMapping", f"no mapping named {name!r}; known: {', '.join(CATALOG)}", field="mapping")

    def __str__(self) -> str:
        return self.message


def describe_all(overrides: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """`GET /api/mappings`: every mapping with its stored overrides applied, and those overrides shown."""
    given = dict(overrides or {})
    unknown = sorted(set(given) - set(CATALOG))
    if unknown:
        raise KeyError(f"overrides for unknown mappings: {', '.join(unknown)}")
    described = []
    for name, mapping in CATALOG.items():
        own = given.get(name, {})
        description = describe(with_overrides(mapping, own))
        description["overrides"] = dict(own)
        described.append(description)
    return described
