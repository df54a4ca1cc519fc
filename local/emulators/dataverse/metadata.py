"""Table definitions (EntityMetadata, AttributeMetadata, EntityKeyMetadata, OptionSet) built from the schema facts.

Why: a standard SDK resolves a table name to its entity set and primary key through `EntityDefinitions` before its
first data call, and maps picklist labels through the attributes' option sets; without them a stranger's client
cannot even start. Everything here is derived from the schema the emulator already enforces (schema.py), so the
metadata can never promise a column, type, length or key the data API then refuses.

Sources (Power Apps developer docs): "Query table definitions using the Web API" (the URL forms, typed casts such as
`Microsoft.Dynamics.CRM.PicklistAttributeMetadata`, `MetadataId` always returned, no paging), the Web API reference
of EntityMetadata, AttributeMetadata and its derived types, AttributeTypeCode, AttributeRequiredLevel,
EntityKeyMetadata and OptionSetMetadata (property names and enum members).

UNCONFIRMED, the emulator's choices:
- `SchemaName` is the logical name: the facts give logical names only (a real SchemaName differs in case only,
  e.g. `Account`); compare names case-insensitively.
- `MetadataId` values are stable UUIDv5 of the names, not the real org's ids.
- option labels of picklists the facts take from BC's proxy tables are BC's AL member names (`PreferredCustomer`),
  not the org's display labels; the account picklists BC manages come from option_sets.py.
- `RequiredLevel` is `SystemRequired` for the primary key, `ApplicationRequired` for what the emulator requires on
  create, `None` otherwise.
"""

from __future__ import annotations

import uuid
from typing import Any

from local.emulators.dataverse.option_sets import OptionSets
from local.emulators.dataverse.schema import Attribute, Table

_NAMESPACE = uuid.UUID("6f1c3c2e-5d0b-4b7e-9a43-0c6de0a1b001")
LANGUAGE = 1033
CRM = "Microsoft.Dynamics.CRM."

# facts' CRM type -> (AttributeTypeCode member, derived metadata type, AttributeTypeDisplayName member)
TYPES: dict[str, tuple[str, str, str]] = {
    "Uniqueidentifier": ("Uniqueidentifier", "UniqueIdentifierAttributeMetadata", "UniqueidentifierType"),
    "String": ("String", "StringAttributeMetadata", "StringType"),
    "Memo": ("Memo", "MemoAttributeMetadata", "MemoType"),
    "Picklist": ("Picklist", "PicklistAttributeMetadata", "PicklistType"),
    "State": ("State", "StateAttributeMetadata", "StateType"),
    "Status": ("Status", "StatusAttributeMetadata", "StatusType"),
    "Boolean": ("Boolean", "BooleanAttributeMetadata", "BooleanType"),
    "Integer": ("Integer", "IntegerAttributeMetadata", "IntegerType"),
    "BigInt": ("BigInt", "BigIntAttributeMetadata", "BigIntType"),
    "Decimal": ("Decimal", "DecimalAttributeMetadata", "DecimalType"),
    "Double": ("Double", "DoubleAttributeMetadata", "DoubleType"),
    "Money": ("Money", "MoneyAttributeMetadata", "MoneyType"),
    "DateTime": ("DateTime", "DateTimeAttributeMetadata", "DateTimeType"),
    "DateOnly": ("DateTime", "DateTimeAttributeMetadata", "DateTimeType"),
    "Lookup": ("Lookup", "LookupAttributeMetadata", "LookupType"),
    "Customer": ("Customer", "LookupAttributeMetadata", "CustomerType"),
    "Owner": ("Owner", "LookupAttributeMetadata", "OwnerType"),
    "EntityName": ("EntityName", "EntityNameAttributeMetadata", "EntityNameType"),
}
ENUM_TYPES = frozenset({"PicklistAttributeMetadata", "StateAttributeMetadata", "StatusAttributeMetadata"})
# properties of each derived type beyond AttributeMetadata's (navigation properties are not listed here)
DERIVED_PROPERTIES: dict[str, tuple[str, ...]] = {
    "StringAttributeMetadata": ("MaxLength",),
    "MemoAttributeMetadata": ("MaxLength",),
    "LookupAttributeMetadata": ("Targets",),
    "DateTimeAttributeMetadata": ("Format",),
}
ENTITY_PROPERTIES = (
    "MetadataId", "LogicalName", "SchemaName", "EntitySetName", "LogicalCollectionName", "PrimaryIdAttribute",
    "PrimaryNameAttribute", "ChangeTrackingEnabled", "IsCustomEntity", "IsPrivate", "IsActivity",
)  # fmt: skip
ATTRIBUTE_PROPERTIES = (
    "MetadataId", "LogicalName", "SchemaName", "EntityLogicalName", "AttributeType", "AttributeTypeName",
    "IsPrimaryId", "IsPrimaryName", "IsValidForCreate", "IsValidForUpdate", "IsValidForRead", "RequiredLevel",
    "IsCustomAttribute", "AttributeOf",
)  # fmt: skip
KEY_PROPERTIES = (
    "MetadataId", "LogicalName", "SchemaName", "EntityLogicalName", "KeyAttributes", "EntityKeyIndexStatus",
)  # fmt: skip
OPTION_SET_PROPERTIES = ("MetadataId", "Name", "IsGlobal", "OptionSetType", "Options")


def metadata_id(*names: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(names)))


def label(text: str) -> dict[str, Any]:
    localized = {"Label": text, "LanguageCode": LANGUAGE, "IsManaged": True, "HasChanged": None}
    return {"LocalizedLabels": [localized], "UserLocalizedLabel": localized}


def _is_custom(logical_name: str) -> bool:
    """Tables and columns with a publisher prefix (`nav_`, `bcbi_`: BC's solution) are custom."""
    return logical_name.split("_", 1)[0] in ("nav", "bcbi", "bcs")


def entity(table: Table) -> dict[str, Any]:
    return {
        "MetadataId": metadata_id(table.logical_name),
        "LogicalName": table.logical_name,
        "SchemaName": table.logical_name,
        "EntitySetName": table.entity_set,
        "LogicalCollectionName": table.entity_set,
        "PrimaryIdAttribute": table.primary_id,
        "PrimaryNameAttribute": table.primary_name,
        "ChangeTrackingEnabled": table.change_tracking,
        "IsCustomEntity": _is_custom(table.logical_name),
        "IsPrivate": False,
        "IsActivity": False,
    }


def type_name(attribute: Attribute) -> str:
    """The derived metadata type of an attribute (`PicklistAttributeMetadata`, ...)."""
    return TYPES[attribute.crm_type or "String"][1]


def _required_level(table: Table, attribute: Attribute) -> str:
    if attribute.name == table.primary_id:
        return "SystemRequired"
    return "ApplicationRequired" if attribute.name in table.required else "None"


def attribute(table: Table, item: Attribute) -> dict[str, Any]:
    """AttributeMetadata with the properties of its derived type (the Web API returns them on the base set too)."""
    code, derived, display = TYPES[item.crm_type or "String"]
    primary = item.name == table.primary_id
    body: dict[str, Any] = {
        "@odata.type": f"#{CRM}{derived}",
        "MetadataId": metadata_id(table.logical_name, item.name),
        "LogicalName": item.name,
        "SchemaName": item.name,
        "EntityLogicalName": table.logical_name,
        "AttributeType": code,
        "AttributeTypeName": {"Value": display},
        "IsPrimaryId": primary,
        "IsPrimaryName": item.name == table.primary_name,
        "IsValidForCreate": primary or not (item.read_only or item.not_valid_for_create),
        "IsValidForUpdate": not (primary or item.read_only or item.create_only),
        "IsValidForRead": True,
        "RequiredLevel": {
            "Value": _required_level(table, item),
            "CanBeChanged": not primary,
            "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
        },
        "IsCustomAttribute": _is_custom(item.name),
        "AttributeOf": None,
    }
    if derived in ("StringAttributeMetadata", "MemoAttributeMetadata"):
        body["MaxLength"] = item.max_length
    elif derived == "LookupAttributeMetadata":
        body["Targets"] = list(item.targets)
    elif derived == "DateTimeAttributeMetadata":
        body["Format"] = "DateOnly" if item.crm_type == "DateOnly" else "DateAndTime"
    return body


def keys(table: Table) -> list[dict[str, Any]]:
    return [
        {
            "MetadataId": metadata_id(table.logical_name, "key", name),
            "LogicalName": name.lower(),
            "SchemaName": name,
            "EntityLogicalName": table.logical_name,
            "KeyAttributes": list(columns),
            "EntityKeyIndexStatus": "Active",
        }
        for name, columns in table.alternate_keys.items()
    ]


def _options(table: Table, item: Attribute, option_sets: OptionSets) -> list[dict[str, Any]]:
    if item.crm_type == "State":
        defaults = {state: table.default_status(state) for state in table.states}
        return [
            {"Value": value, "Label": label(text), "DefaultStatus": defaults[value]}
            for value, text in sorted(table.states.items())
        ]
    if item.crm_type == "Status":
        return [
            {"Value": value, "Label": label(text), "State": state}
            for value, (text, state) in sorted(table.statuses.items())
        ]
    managed = option_sets.options_of(table.logical_name, item.name)
    found = managed if managed is not None else table.option_labels.get(item.name, {})
    return [{"Value": value, "Label": label(text)} for value, text in sorted(found.items())]


def option_set(table: Table, item: Attribute, option_sets: OptionSets) -> dict[str, Any]:
    return {
        "MetadataId": metadata_id(table.logical_name, item.name, "optionset"),
        "Name": f"{table.logical_name}_{item.name}",
        "IsGlobal": False,
        "OptionSetType": item.crm_type,
        "Options": _options(table, item, option_sets),
    }
