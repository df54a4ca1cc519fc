"""Small, explicit mappings for engine tests (the catalog's own mappings are tested with the catalog)."""

from __future__ import annotations

from typing import Any

from shared.domain.mapping import (
    ConflictPolicy,
    DeletionPolicy,
    Direction,
    FieldMapping,
    FullSyncRule,
    Lookup,
    TableMapping,
)

TWO_WAY = Direction.BIDIRECTIONAL


def currency_mapping() -> TableMapping:
    return TableMapping(
        name="CURRENCY",
        bc_entity="currency",
        bc_entity_set="currencies",
        dataverse_table="transactioncurrency",
        dataverse_entity_set="transactioncurrencies",
        dataverse_id="transactioncurrencyid",
        direction=Direction.TO_DATAVERSE,
        sync_only_coupled=True,
        full_sync=FullSyncRule.BASE_CURRENCY,  # as the catalog's CURRENCY declares it
        fields=(
            FieldMapping("code", "isocurrencycode", Direction.TO_DATAVERSE, match_priority=1),
            FieldMapping("displayName", "currencyname", Direction.TO_DATAVERSE),
        ),
    )


def customer_mapping(**changes: Any) -> TableMapping:
    fields = (
        FieldMapping("displayName", "name", TWO_WAY, match_priority=1),
        FieldMapping("city", "address1_city", TWO_WAY),
        FieldMapping("phoneNumber", "telephone1", TWO_WAY),
        FieldMapping("email", "emailaddress1", TWO_WAY),
        FieldMapping("creditLimit", "creditlimit", Direction.TO_DATAVERSE, transform="nonNegative"),
        FieldMapping(
            "currencyCode",
            "transactioncurrencyid",
            TWO_WAY,
            lookup=Lookup(
                "CURRENCY",
                "transactioncurrencies",
                "transactioncurrencyid",
                bc_key="code",
                bc_entity_set="currencies",
                local_currency=True,  # blank is the LCY, as the catalog's currency lookup declares it
            ),
        ),
    )
    base: dict[str, Any] = {
        "name": "CUSTOMER",
        "bc_entity": "customer",
        "bc_entity_set": "customers",
        "dataverse_table": "account",
        "dataverse_entity_set": "accounts",
        "dataverse_id": "accountid",
        "direction": TWO_WAY,
        "fields": fields,
        "bc_filter": "blocked eq '_x0020_'",
        "dataverse_filter": "statecode eq 0",
        "dependencies": ("CURRENCY",),
        "sync_only_coupled": False,
        "conflict_policy": ConflictPolicy.NONE,
        "deletion_policy": DeletionPolicy.NONE,
        "dataverse_on_create": {"customertypecode": 3},
    }
    base.update(changes)
    return TableMapping(**base)
