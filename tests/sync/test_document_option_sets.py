"""The sales documents' picklists follow the option mappings (BC's UpdateOrInsertDocumentOptionSet): a code coupled
on the account picklist is an option of the order, quote and invoice picklists too, with the same value and label."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.engine.mapping_run import run_mapping
from tests.sync.conftest import SyncStack

pytestmark = pytest.mark.integration


def coupled(stack: SyncStack, mapping: str) -> dict[str, int]:
    return {c.bc_id: int(c.dataverse_id) for c in stack.context.couplings.list_couplings(mapping)}


def test_coupled_codes_become_options_of_the_document_picklists(sync_stack: SyncStack) -> None:
    stack = sync_stack
    run_mapping(stack.context, "PAYMENT TERMS")
    run_mapping(stack.context, "SHIPMENT METHOD")
    terms, methods = coupled(stack, "PAYMENT TERMS"), coupled(stack, "SHIPMENT METHOD")
    cm, exw = terms[bc_seeded("terms", "CM")], methods[bc_seeded("shipment", "EXW")]
    for table in ("salesorder", "quote", "invoice"):
        options = stack.dataverse.option_set(table, "paymenttermscode")
        assert {options[value] for value in terms.values()} == {"CM", "1M(8D)", "14 DAYS"}, table
        assert options[cm] == "CM" and options[1] == "Net 30"  # Sales' own options stay
    for table in ("salesorder", "quote"):
        assert stack.dataverse.option_set(table, "freighttermscode")[exw] == "EXW"
    row: dict[str, Any] = stack.bc.get_entity("paymentTerms", bc_seeded("terms", "CM")) or {}
    stack.bc.update_entity("paymentTerms", row["id"], {"code": "CURMONTH"}, str(row["@odata.etag"]))
    run_mapping(stack.context, "PAYMENT TERMS")
    assert stack.dataverse.option_set("salesorder", "paymenttermscode")[cm] == "CURMONTH"  # relabelled there too
    assert stack.dataverse.option_set("invoice", "paymenttermscode")[cm] == "CURMONTH"
