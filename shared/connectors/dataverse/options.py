"""Dataverse option sets as the option mappings need them: read a picklist's options, add one, relabel one.

The calls are the Web API's metadata read of a picklist attribute (`EntityDefinitions(LogicalName=...)/Attributes(
LogicalName=...)/Microsoft.Dynamics.CRM.PicklistAttributeMetadata` with `$expand=OptionSet`) and the unbound actions
`InsertOptionValue` (answers `NewOptionValue`) and `UpdateOptionValue`. Labels are written in one language, 1033
(the BC code is not translated). UNCONFIRMED in our references (the facts cover data, not metadata): the metadata
path and the `MergeLabels` parameter of `UpdateOptionValue`; the action names and `NewOptionValue` are documented.
Metadata writes need the System Customizer role on the application user (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.connectors.dataverse.requests import DataverseRequest, with_query

LANGUAGE = 1033
_JSON = {"Accept": "application/json", "Content-Type": "application/json"}


def _label(text: str) -> dict[str, Any]:
    return {"LocalizedLabels": [{"Label": text, "LanguageCode": LANGUAGE}]}


def read_options(table: str, attribute: str) -> DataverseRequest:
    path = (
        f"EntityDefinitions(LogicalName='{table}')/Attributes(LogicalName='{attribute}')"
        "/Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
    )
    return DataverseRequest("GET", with_query(path, {"$select": "LogicalName", "$expand": "OptionSet"}), _JSON)


def insert_option(table: str, attribute: str, label: str, value: int | None = None) -> DataverseRequest:
    """InsertOptionValue; with `value`, the option gets that value (the action's optional `Value`), else Dataverse
    chooses the next one."""
    body: dict[str, Any] = {"EntityLogicalName": table, "AttributeLogicalName": attribute, "Label": _label(label)}
    if value is not None:
        body["Value"] = value
    return DataverseRequest("POST", "InsertOptionValue", _JSON, body, idempotent=False)


def update_option(table: str, attribute: str, value: int, label: str) -> DataverseRequest:
    body = {
        "EntityLogicalName": table,
        "AttributeLogicalName": attribute,
        "Value": value,
        "Label": _label(label),
        "MergeLabels": True,
    }
    return DataverseRequest("POST", "UpdateOptionValue", _JSON, body)


def options_of(body: Mapping[str, Any]) -> dict[int, str]:
    """Option value -> its label in the user's language (the first localized label when that is missing)."""
    found: dict[int, str] = {}
    for option in (body.get("OptionSet") or {}).get("Options") or []:
        label = option.get("Label") or {}
        text = (label.get("UserLocalizedLabel") or {}).get("Label")
        if text is None:
            text = next((item.get("Label") for item in label.get("LocalizedLabels") or []), "")
        found[int(option["Value"])] = str(text or "")
    return found
