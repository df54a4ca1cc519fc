"""The emulator's option sets: the account picklists BC's option mappings manage and the sales documents' own
picklists of the same codes, the actions that add and relabel options, and the check that a written value is one of
the options (their metadata is served by metadata.py).

Seeded with Dataverse's out-of-the-box options (facts, bc-integration-facts "OOB picklists on salesorder (same on
quote/invoice)": paymenttermscode 1 Net 30, 2 "2% 10; Net 30", 3 Net 45, 4 Net 60; freight terms 1 FOB,
2 No Charge; shipping method 1 Airborne .. 7 Will Call; the account's are taken to be the same, UNCONFIRMED). The
invoice has no freight terms (dataverse.json lists no invoice.freighttermscode, and BC's SyncDocumentOptionSets in
CRMIntTableSubscriber.Codeunit.al reads none). A new option gets the next value from 100000000 (the default
publisher's customization prefix range), as Dataverse numbers options an organization adds, unless the caller gives
its `Value` (InsertOptionValue's optional parameter; BC gives the account option's value when it copies an option
into the document picklists: InsertOptionSetMetadataWithOptionValue). A value already taken is refused (the exact
answer is UNCONFIRMED).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from local.emulators.dataverse.errors import DataverseError, bad_payload
from local.emulators.web import Response

PAYMENT_TERMS = {1: "Net 30", 2: "2% 10; Net 30", 3: "Net 45", 4: "Net 60"}
FREIGHT_TERMS = {1: "FOB", 2: "No Charge"}
SHIPPING_METHODS = {1: "Airborne", 2: "DHL", 3: "FedEx", 4: "UPS", 5: "Postal Mail", 6: "Full Load", 7: "Will Call"}
DOCUMENT_PICKLISTS: dict[str, tuple[str, ...]] = {
    "salesorder": ("paymenttermscode", "freighttermscode", "shippingmethodcode"),
    "quote": ("paymenttermscode", "freighttermscode", "shippingmethodcode"),
    "invoice": ("paymenttermscode", "shippingmethodcode"),
}
_OOB_OF = {"paymenttermscode": PAYMENT_TERMS, "freighttermscode": FREIGHT_TERMS, "shippingmethodcode": SHIPPING_METHODS}
OOB: dict[tuple[str, str], dict[int, str]] = {
    ("account", "paymenttermscode"): PAYMENT_TERMS,
    ("account", "address1_freighttermscode"): FREIGHT_TERMS,
    ("account", "address1_shippingmethodcode"): SHIPPING_METHODS,
    **{(table, name): _OOB_OF[name] for table, names in DOCUMENT_PICKLISTS.items() for name in names},
}
FIRST_CUSTOM = 100_000_000
OUT_OF_RANGE = "0x8004431a"
DUPLICATE_VALUE = "0x80048403"  # UNCONFIRMED code


class OptionSets:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sets = _fresh()

    def reset(self) -> None:
        with self._lock:
            self._sets = _fresh()

    def check(self, table: str, values: Mapping[str, Any]) -> None:
        """A managed picklist takes only its options (as Dataverse refuses a value outside the range)."""
        with self._lock:
            for attribute, value in values.items():
                options = self._sets.get((table, attribute))
                if options is not None and value is not None and value not in options:
                    raise DataverseError(
                        400,
                        OUT_OF_RANGE,
                        f"A validation error occurred. The value {value} of '{attribute}' on record of type "
                        f"'{table}' is outside the valid range. Accepted Values: {','.join(map(str, options))}",
                    )

    def _options(self, table: str, attribute: str) -> dict[int, str]:
        options = self._sets.get((table, attribute))
        if options is None:
            raise DataverseError(
                404, "0x80040217", f"Could not find an attribute with specified name: {attribute} on {table}."
            )
        return options

    def options_of(self, table: str, attribute: str) -> dict[int, str] | None:
        """A copy of a managed picklist's options, or None when the emulator does not manage that picklist."""
        with self._lock:
            options = self._sets.get((table, attribute))
            return dict(options) if options is not None else None

    def insert(self, body: Any) -> Response:
        table, attribute, label = _target(body)
        given = body.get("Value")
        if given is not None and (not isinstance(given, int) or isinstance(given, bool)):
            raise bad_payload("InsertOptionValue's 'Value' must be an Edm.Int32.")
        with self._lock:
            options = self._options(table, attribute)
            if given is not None and given in options:
                raise DataverseError(
                    400, DUPLICATE_VALUE, f"The option value {given} already exists in the option set of {attribute}."
                )
            value = given if given is not None else max([FIRST_CUSTOM - 1, *options]) + 1
            options[value] = label
        return Response.json(200, {"NewOptionValue": value})

    def update(self, body: Any) -> Response:
        table, attribute, label = _target(body)
        value = body.get("Value")
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad_payload("UpdateOptionValue needs the option's 'Value' (Edm.Int32).")
        with self._lock:
            options = self._options(table, attribute)
            if value not in options:
                raise DataverseError(404, "0x80040217", f"The option {value} of {attribute} does not exist.")
            options[value] = label
        return Response(204, b"", {"OData-Version": "4.0"})


def _fresh() -> dict[tuple[str, str], dict[int, str]]:
    """A copy of the seeded picklists, one dict each (several picklists start from the same options)."""
    return {key: dict(options) for key, options in OOB.items()}


def _target(body: Any) -> tuple[str, str, str]:
    if not isinstance(body, dict):
        raise bad_payload("The action needs a JSON object.")
    table, attribute = body.get("EntityLogicalName"), body.get("AttributeLogicalName")
    labels = ((body.get("Label") or {}).get("LocalizedLabels") or []) if isinstance(body.get("Label"), dict) else []
    label = next((item.get("Label") for item in labels if isinstance(item, dict)), None)
    if not isinstance(table, str) or not isinstance(attribute, str) or not isinstance(label, str) or not label:
        raise bad_payload("Give EntityLogicalName, AttributeLogicalName and a Label with one LocalizedLabels entry.")
    return table, attribute, label
