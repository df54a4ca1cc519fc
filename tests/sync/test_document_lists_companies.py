"""The Sales orders list with several BC companies on one Sales org (issue 22), as company A sees it: an order stamped
for company B is not listed, one whose customer is B's is listed as another company's and cannot be created here, and
A's own order is ready; the same order seen by the whole org's client is one more refusal-to-be (uncoupled customer)."""

from __future__ import annotations

import uuid

import pytest

from shared.engine.list_pages import PageRequest
from shared.processes.document_lists import sales_orders
from tests.sync.test_company_documents import Group, group  # noqa: F401 - the fixture, shared

pytestmark = pytest.mark.integration


def test_another_company_s_orders_are_hidden_or_not_creatable_here(group: Group) -> None:  # noqa: F811
    ours = group.order_for(group.ids["account"])
    theirs_by_customer = group.order_for(group.b_account)
    stamped_for_b = str(uuid.uuid4())
    group.b.create_row(
        "salesorders",
        stamped_for_b,
        {"name": "B's own", "customerid_account@odata.bind": f"/accounts({group.b_account})"},
    )
    group.stack.dataverse.set_state("salesorders", stamped_for_b, 1, 3)

    rows = {row["dataverseId"]: row for row in sales_orders(group.a, PageRequest(), pending=False)["value"]}
    assert stamped_for_b not in rows
    assert (rows[ours]["outcome"], rows[ours]["canCreate"]) == ("ready", True)
    other = rows[theirs_by_customer]
    assert (other["outcome"], other["canCreate"], other["customer"]["anotherCompany"]) == (
        "anotherCompany",
        False,
        True,
    )

    whole_org = {
        row["dataverseId"]: row for row in sales_orders(group.stack.context, PageRequest(), pending=False)["value"]
    }
    assert stamped_for_b in whole_org and whole_org[theirs_by_customer]["outcome"] == "ready"
