"""The sales documents' own picklists follow the option mappings: every option coupled to a BC code on the account
picklist is carried, with the same value and the code as its label, by the order, quote and invoice picklists.

Why: Sales orders, quotes and invoices have option sets of their own (`salesorder.paymenttermscode`, ...), and BC
reads and writes them with the *account* option's value (CRMSalesOrdertoSalesOrder.CopyCRMOptionFields looks the
document's value up in the account's option mapping). BC keeps them equal: after an option mapping inserts or
modifies an option it inserts the same value into the document picklists or relabels it there
(CRMIntTableSubscriber.Codeunit.al, HandleOnAfterInsertOption / HandleOnAfterModifyOption ->
UpdateOrInsertDocumentOptionSet; SyncDocumentOptionSets does all of them at setup). Which picklists each option
mapping declares (`TableMapping.document_picklists`, in `shared/mappings/options.py`): payment terms on order, quote
and invoice; freight terms (shipment method) on order and quote (the invoice has none); shipping method (shipping
agent) on all three. Options only Sales has (no coupling) are left alone.

Cost: one read per document picklist per run (a few dozen options each); a write only for a missing or relabelled
option, so a second run writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.domain.mapping import TableMapping
from shared.engine.context import SyncContext


def copy_to_documents(context: SyncContext, mapping: TableMapping, coupled: Mapping[int, str]) -> int:
    """Make every document picklist of `mapping` carry the `coupled` options (value -> BC code); the writes made."""
    writes = 0
    for table, attribute in mapping.document_picklists:
        if not coupled:
            break
        current = context.dataverse.option_set(table, attribute)
        for value, code in sorted(coupled.items()):
            if value not in current:
                context.dataverse.insert_option(table, attribute, code, value)
                writes += 1
            elif current[value] != code:
                context.dataverse.update_option_label(table, attribute, value, code)
                writes += 1
    return writes
