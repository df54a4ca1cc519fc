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

What BC decides in code per table is declared here too (`TableMapping.kind`, `full_sync`, `behaviours`, an option
mapping's `option_map` and `document_picklists`, a lookup's `local_currency`), so the engine never asks a mapping's
name (tests/unit/test_import_rules.py checks it) and a mapping that behaves like another is added here alone. Lists
of mappings to run (the bench's, the tests') are derived from the catalog (`run_list`), not written out.

Administrators change a mapping through overrides (`with_overrides`), never by editing the catalog at run time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from shared.domain.errors import InvalidInputError
from shared.domain.full_sync import takes_part
from shared.domain.mapping import Direction, MappingKind, TableMapping
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
    "carrying",
    "coverage_counts",
    "coverage_rows",
    "describe",
    "describe_all",
    "get_mapping",
    "mapping_names",
    "run_list",
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


def run_list(*names: str) -> tuple[str, ...]:
    """`names` and every mapping they depend on, directly or not, that takes part in a full synchronization (enabled,
    its `full_sync` rule allowing a line), in the catalog's order: what a full synchronization of `names` must run,
    so a list of mappings to run (the bench's, a test's) follows the catalog when a dependency is added."""
    wanted: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo += get_mapping(name).dependencies
    return tuple(name for name, mapping in CATALOG.items() if name in wanted and takes_part(mapping))


def carrying(*, bc_sets: Iterable[str] = (), dataverse_sets: Iterable[str] = ()) -> tuple[str, ...]:
    """The table mappings (kind TABLE) that carry the records of these BC entity sets to Sales, or of these Dataverse
    entity sets to BC, in the catalog's order: what synchronizes records seeded there (a benchmark's, a test's), to
    be run with what they depend on (`run_list`)."""
    bc, dataverse = set(bc_sets), set(dataverse_sets)
    return tuple(
        name
        for name, m in CATALOG.items()
        if m.kind is MappingKind.TABLE
        and (
            (m.bc_entity_set in bc and m.direction.allows(Direction.TO_DATAVERSE))
            or (m.dataverse_entity_set in dataverse and m.direction.allows(Direction.FROM_DATAVERSE))
        )
    )


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
        description = describe(with_overrides(mapping, own), mapping)
        description["overrides"] = dict(own)
        described.append(description)
    return described
