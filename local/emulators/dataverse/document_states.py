"""State changes Sales refuses on documents beyond the statecode/statuscode pairs (checked by the writer on PATCH
and on the close/win/fulfil messages).

An invoice can be paid only while it is Active: paying a Paid invoice again (another Paid status reason included) is
refused as an update of a read-only
record, paying a Canceled one as paying an inactive invoice. Source: microsoft/BCApps, src/Layers/W1/Tests/
TestLibraries/CRMBusLogicSimulator.Codeunit.al (ValidateSalesInvoiceOnBeforeModify), and BC's own code, which sets an
invoice back to Active before it changes its payment status (CRMSynchHelper, ActivateInvoiceForFurtherUpdate). The
deprecated Closed state (1) is refused too: the strict reading (UNCONFIRMED). The real error codes are UNCONFIRMED:
the emulator answers 400 with its business-rule code (errors.INVALID_ARGUMENT).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from local.emulators.dataverse.errors import invalid
from local.emulators.dataverse.schema import Table
from local.emulators.store import Row

INVOICE = "invoice"
INVOICE_ACTIVE, INVOICE_PAID, INVOICE_CANCELED = 0, 2, 3


def check_change(table: Table, existing: Row, values: Mapping[str, Any]) -> None:
    """Refuse a state change the document's current state does not allow (`values`: what the write sets)."""
    if table.logical_name != INVOICE or not {"statecode", "statuscode"} & set(values):
        return
    current = existing.get("statecode")
    if values.get("statecode", current) != INVOICE_PAID:
        return
    if current == INVOICE_PAID:
        raise invalid("The entity cannot be updated because it is read-only: the invoice is already paid.")
    if current != INVOICE_ACTIVE:
        label = table.states.get(current, current) if isinstance(current, int) else current
        raise invalid(f"The invoice cannot be paid because it is not in active state (it is {label}).")
