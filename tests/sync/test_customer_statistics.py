"""Customer statistics on the real parts: invoices posted, paid and backdated in the BC emulator (its
customerFinancialDetails are FlowFields over them), accounts and nav_accountstatistics rows in the Dataverse emulator,
couplings on Azurite. Every figure written is compared with what BC itself answers; request counts come from the
emulators' `/_admin/stats`."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.emulators.business_central.seed import CUSTOMERS
from local.emulators.business_central.seed import seeded_id as bc_seeded
from local.emulators.dataverse.seed import seeded_id as dv_seeded
from shared.domain.statistics import NOT_IN_API, statistics_id
from shared.processes.statistics import refresh_statistics
from tests.sync.conftest import SyncStack
from tests.sync.sales_documents import CANNON, couple_sales_basics
from tests.sync.test_incremental import dv_get
from tests.sync.test_item_availability import clear_stats, counts

pytestmark = pytest.mark.integration
TREY = bc_seeded("customer", "Trey Research")
USD = dv_seeded("currency", "USD")
ROW_SELECT = (
    "nav_accountstatisticsid,nav_name,nav_customerno,nav_balancelcy,nav_totalsaleslcy,nav_overdueamountslcy,"
    "nav_overdueamountsasof,nav_creditlimitlcy,nav_totallcy,nav_outstandingorderslcy,_transactioncurrencyid_value,"
    "versionnumber"
)


def today(offset: int = 0) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


def posted_invoice(stack: SyncStack, customer_id: str, quantity: float) -> dict[str, Any]:
    """A draft invoice with an item line, posted through BC's bound action (the id stays the same)."""
    lines = [{"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": quantity}]
    draft = stack.bc.create_entity("salesInvoices", {"customerId": customer_id, "salesInvoiceLines": lines})
    stack.bc.invoke_action("salesInvoices", str(draft["id"]), "post")
    posted = stack.bc.get_entity("salesInvoices", str(draft["id"]))
    assert posted is not None and posted["status"] == "Open", posted
    return posted


def admin(stack: SyncStack, path: str, **body: Any) -> dict[str, Any]:
    response = stack.bc_handle.admin("POST", path, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def bc_figures(stack: SyncStack) -> dict[str, dict[str, Any]]:
    """BC's own answer, read from the customerFinancialDetails set (not through the job's `$expand`)."""
    select = ["number", "balance", "totalSalesExcludingTax", "overdueAmount"]
    pages = stack.bc.list_changed_since("customerFinancialDetails", None, select)
    return {str(row["id"]): row for page in pages for row in page.rows}


def rows_by_number(stack: SyncStack) -> dict[str, dict[str, Any]]:
    rows = dv_get(stack, "nav_accountstatisticses", **{"$select": ROW_SELECT})["value"]
    return {row["nav_customerno"]: row for row in rows}


def links(stack: SyncStack) -> dict[str, str | None]:
    rows = dv_get(stack, "accounts", **{"$select": "accountid,_nav_accountstatisticsid_value"})["value"]
    return {row["accountid"]: row["_nav_accountstatisticsid_value"] for row in rows}


def assert_rows_equal_bc(stack: SyncStack, coupled: dict[str, str], as_of: str) -> None:
    figures, rows, linked = bc_figures(stack), rows_by_number(stack), links(stack)
    assert len(rows) == len(coupled)
    for bc_id, account_id in coupled.items():
        bc = figures[bc_id]
        customer = stack.bc.get_entity("customers", bc_id, select=["number", "displayName", "creditLimit"])
        assert customer is not None
        row = rows[bc["number"]]
        written = {
            "name": row["nav_name"],
            "balance": row["nav_balancelcy"],
            "totalSales": row["nav_totalsaleslcy"],
            "overdue": row["nav_overdueamountslcy"],
            "creditLimit": row["nav_creditlimitlcy"],
        }
        assert written == {
            "name": customer["displayName"],
            "balance": bc["balance"],
            "totalSales": bc["totalSalesExcludingTax"],
            "overdue": bc["overdueAmount"],
            "creditLimit": customer["creditLimit"],
        }, bc["number"]
        assert row["nav_overdueamountsasof"][:10] == as_of
        assert row["_transactioncurrencyid_value"] == USD
        assert row["nav_totallcy"] is None  # not derivable from API v2.0: left empty (test_statistics_figures)
        assert row["nav_accountstatisticsid"] == statistics_id(bc_id) == linked[account_id]


def test_statistics_equal_bc_then_nothing_then_only_the_changed_customer(sync_stack: SyncStack) -> None:
    couple_sales_basics(sync_stack.context)
    found = sync_stack.context.couplings.list_couplings("CUSTOMER")
    coupled = {c.bc_id: c.dataverse_id for c in found}
    assert len(coupled) == len(CUSTOMERS)
    first = posted_invoice(sync_stack, CANNON, 2)
    posted_invoice(sync_stack, CANNON, 1)
    posted_invoice(sync_stack, TREY, 3)
    admin(sync_stack, "backdate", invoiceId=first["id"], postingDate=today(-40), dueDate=today(-10))
    admin(sync_stack, "payments", invoiceId=first["id"], amount=500)
    cannon = sync_stack.bc.get_entity("customers", CANNON)
    assert cannon is not None
    sync_stack.bc.update_entity("customers", CANNON, {"creditLimit": 25000}, str(cannon["@odata.etag"]))
    figures = bc_figures(sync_stack)[CANNON]
    assert figures["overdueAmount"] > 0 and figures["totalSalesExcludingTax"] > 0  # the test sees real figures
    assert figures["balance"] > figures["overdueAmount"]

    clear_stats(sync_stack)
    result = refresh_statistics(sync_stack.context)
    assert result.as_dict() == {
        "read": len(CUSTOMERS),
        "coupled": len(CUSTOMERS),
        "created": len(CUSTOMERS),
        "updated": 0,
        "unchanged": 0,
        "linked": len(CUSTOMERS),
        "missing": 0,
        "skipped": 0,
        "failed": 0,
        "writeRequests": 2,
    }
    # BC: one page of customers with their figures expanded; Dataverse: the LCY currency, the accounts' links, the
    # statistics rows, ONE UpsertMultiple of every row and ONE UpdateMultiple linking every account
    assert counts(sync_stack.bc_handle, "customers") == {"GET": 1}
    assert counts(sync_stack.dv_handle, "nav_accountstatisticses") == {"GET": 1, "POST": 1}
    assert counts(sync_stack.dv_handle, "accounts") == {"GET": 1, "POST": 1}
    assert sync_stack.dv_handle.stats()["requests"] == 5
    assert_rows_equal_bc(sync_stack, coupled, today())
    assert rows_by_number(sync_stack)["C00010"]["nav_creditlimitlcy"] == 25000

    before = rows_by_number(sync_stack)
    clear_stats(sync_stack)
    again = refresh_statistics(sync_stack.context)
    assert (again.unchanged, again.created, again.updated, again.linked, again.write_requests) == (6, 0, 0, 0, 0)
    assert counts(sync_stack.dv_handle, "nav_accountstatisticses") == {"GET": 1}
    assert counts(sync_stack.dv_handle, "accounts") == {"GET": 1}
    assert sync_stack.dv_handle.stats()["requests"] == 3  # reads only
    assert rows_by_number(sync_stack) == before

    admin(sync_stack, "payments", invoiceId=first["id"], amount=100)  # posting a payment moves no customer record
    clear_stats(sync_stack)
    changed = refresh_statistics(sync_stack.context)
    assert (changed.updated, changed.unchanged, changed.linked, changed.write_requests) == (1, 5, 0, 1)
    assert counts(sync_stack.dv_handle, "nav_accountstatisticses") == {"GET": 1, "POST": 1}
    assert counts(sync_stack.dv_handle, "accounts") == {"GET": 1}  # already linked: no account write
    after = rows_by_number(sync_stack)
    assert after["C00010"]["nav_balancelcy"] == round(before["C00010"]["nav_balancelcy"] - 100, 2)
    assert after["C00010"]["versionnumber"] != before["C00010"]["versionnumber"]
    assert {n: r for n, r in after.items() if n != "C00010"} == {n: r for n, r in before.items() if n != "C00010"}
    assert_rows_equal_bc(sync_stack, coupled, today())

    tomorrow = datetime.now(UTC) + timedelta(days=1)  # a new WORKDATE: BC's job rewrites every as-of date
    next_day = refresh_statistics(replace(sync_stack.context, clock=lambda: tomorrow))
    assert (next_day.updated, next_day.write_requests) == (len(CUSTOMERS), 1)
    assert {r["nav_overdueamountsasof"][:10] for r in rows_by_number(sync_stack).values()} == {today(1)}


def test_named_customers_only_and_a_row_the_account_already_links_is_adopted(sync_stack: SyncStack) -> None:
    couple_sales_basics(sync_stack.context)
    account = sync_stack.context.couplings.find_by_bc_id("CUSTOMER", CANNON)
    assert account is not None
    earlier = str(uuid.uuid4())  # e.g. written by BC's own job before this app took over: stale figures
    sync_stack.dataverse.create_row(
        "nav_accountstatisticses", earlier, {"nav_name": "old", "nav_balancelcy": 99, "nav_totallcy": 123}
    )
    sync_stack.dataverse.update_row(
        "accounts", account.dataverse_id, {"nav_accountstatisticsid@odata.bind": f"/nav_accountstatisticses({earlier})"}
    )
    posted_invoice(sync_stack, CANNON, 1)
    stranger = sync_stack.bc.create_entity("customers", {"displayName": "Not coupled"})

    clear_stats(sync_stack)
    result = refresh_statistics(sync_stack.context, [CANNON.upper(), str(stranger["id"])])
    assert (result.read, result.coupled, result.updated, result.created, result.linked) == (2, 1, 1, 0, 0)
    assert counts(sync_stack.bc_handle, "customers") == {"GET": 1}  # both by one id filter
    assert counts(sync_stack.dv_handle, "accounts") == {"GET": 1}  # already linked
    outcome = result.customers[CANNON]
    assert (outcome.statistics_id, outcome.outcome) == (earlier, "updated")
    rows = dv_get(sync_stack, "nav_accountstatisticses", **{"$select": ROW_SELECT})["value"]
    assert len(rows) == 1  # adopted, not doubled
    figures = bc_figures(sync_stack)[CANNON]
    assert (rows[0]["nav_name"], rows[0]["nav_balancelcy"]) == ("The Cannon Group PLC", figures["balance"])
    assert rows[0]["nav_totallcy"] is None  # the stale figure BC's job left is cleared, not kept
    assert set(outcome.values) >= set(NOT_IN_API)


def test_a_coupled_account_gone_from_dataverse_gets_no_row(sync_stack: SyncStack) -> None:
    couple_sales_basics(sync_stack.context)
    account = sync_stack.context.couplings.find_by_bc_id("CUSTOMER", TREY)
    assert account is not None
    sync_stack.dataverse.delete_row("accounts", account.dataverse_id)
    result = refresh_statistics(sync_stack.context)
    assert (result.missing, result.created, result.failed) == (1, len(CUSTOMERS) - 1, 0)
    trey = sync_stack.bc.get_entity("customers", TREY, select=["number"])
    assert trey is not None and trey["number"] not in rows_by_number(sync_stack)


def test_skipped_couplings_are_left_alone(sync_stack: SyncStack) -> None:
    couple_sales_basics(sync_stack.context)
    coupling = sync_stack.context.couplings.find_by_bc_id("CUSTOMER", TREY)
    assert coupling is not None
    sync_stack.context.couplings.update_coupling(coupling.with_changes(skipped=True))
    result = refresh_statistics(sync_stack.context)
    assert (result.skipped, result.coupled, result.created) == (1, len(CUSTOMERS) - 1, len(CUSTOMERS) - 1)


def test_uncoupling_a_customer_deletes_its_statistics_row(sync_stack: SyncStack) -> None:
    from shared.services.coupling import uncouple

    couple_sales_basics(sync_stack.context)
    refresh_statistics(sync_stack.context)
    trey = sync_stack.bc.get_entity("customers", TREY, select=["number"])
    assert trey is not None and trey["number"] in rows_by_number(sync_stack)
    others = len(rows_by_number(sync_stack))
    uncouple(sync_stack.context, "CUSTOMER", TREY)
    assert trey["number"] not in rows_by_number(sync_stack)
    assert len(rows_by_number(sync_stack)) == others - 1  # only its own row


def test_uncoupling_all_customers_deletes_their_statistics_rows(sync_stack: SyncStack) -> None:
    """Uncouple all is Delete Coupling on every record of the mapping (BC's background uncouple runs the same
    per-record code): each customer's statistics row goes with its coupling."""
    from shared.services.uncouple_all import run_uncouple_all

    couple_sales_basics(sync_stack.context)
    refresh_statistics(sync_stack.context)
    assert len(rows_by_number(sync_stack)) == len(CUSTOMERS)
    assert run_uncouple_all(sync_stack.context, "CUSTOMER", "uncouple-all").counters.uncoupled == len(CUSTOMERS)
    assert rows_by_number(sync_stack) == {}
