"""Orders and quotes of another BC company are never converted (issue 22, item 4), on both emulators over HTTP: the
processes run with company A's view of the Sales org (`CompanyScopedDataverse`), company B owns some customers.

A document stamped for B is hidden from A (404 as any unknown document); one a Sales user submitted (no company yet)
whose customer is B's (the account, a contact of B, or a contact whose parent account is B's) is B's too: A's timer
jobs skip it (neither created nor failed) and keep no sync error for it (clearing one kept before the customer was
B's), and A's manual call answers 404 naming dataverseId. The whole org's client (one company, no `BC_COMPANIES`)
knows no other company: there such an order is refused for its uncoupled customer, as before issue 22."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from shared.connectors.dataverse.company_scope import CompanyScopedDataverse
from shared.domain.errors import NotFoundError, RecordError
from shared.domain.records import Side
from shared.engine.context import SyncContext
from shared.ports import DataverseClientPort
from shared.processes.quote_orders import QUOTE_MAPPING
from shared.processes.quotes import auto_process, process_quote
from shared.processes.sales_orders import MAPPING, auto_create, create_in_business_central
from shared.storage.archive import TableQuoteArchive
from shared.storage.tables import TableFactory
from tests.sync.conftest import SyncStack
from tests.sync.sales_documents import couple_sales_basics, make_setup, sales_order

pytestmark = pytest.mark.integration
SETUP = make_setup(autoCreateSalesOrders=True, autoProcessQuotes=True)


def company_row(stack: SyncStack, name: str) -> str:
    row_id = str(uuid.uuid4())
    stack.dataverse.create_row("bcbi_companies", row_id, {"bcbi_name": name, "bcbi_externalid": str(uuid.uuid4())})
    return row_id


class Group:
    """Company A's context (the processes run as A) and company B's view (what B owns in Sales)."""

    def __init__(self, stack: SyncStack, azurite: str) -> None:
        self.stack = stack
        self.a_view = CompanyScopedDataverse(stack.dataverse, company_row(stack, "A"))
        self.a = replace(stack.context, dataverse=self.a_view)
        self.b = CompanyScopedDataverse(stack.dataverse, company_row(stack, "B"))
        self.ids = couple_sales_basics(self.a)  # A's customers and products, claimed for A
        self.archive = TableQuoteArchive(
            TableFactory.from_connection_string(azurite, prefix=f"c{uuid.uuid4().hex[:12]}")
        )
        self.b_account = str(uuid.uuid4())
        self.b.create_row("accounts", self.b_account, {"name": "B's customer"})

    def order_for(self, customer: str, customer_set: str = "accounts") -> str:
        """Submitted in Sales through the org (no company), with a line of A's desk."""
        line = {"productid": self.ids["desk"], "quantity": 1, "priceperunit": 100}
        return sales_order(self.stack.context, customer, [line], customer_set=customer_set, name=f"For {customer}")

    def bc_orders(self) -> list[str]:
        rows = self.stack.bc.list_changed_since("salesOrders", None, ["id", "externalDocumentNumber"])
        return [str(r["externalDocumentNumber"]) for page in rows for r in page.rows]


@pytest.fixture
def group(sync_stack: SyncStack, azurite: str) -> Group:
    return Group(sync_stack, azurite)


def contact(dataverse: DataverseClientPort, parent: str | None) -> str:
    row_id = str(uuid.uuid4())
    body = {"lastname": "Buyer"} | ({"parentcustomerid_account@odata.bind": f"/accounts({parent})"} if parent else {})
    dataverse.create_row("contacts", row_id, body)
    return row_id


def test_an_order_whose_account_is_another_company_s_is_skipped_and_refused_404(group: Group) -> None:
    a = group.a
    order = group.order_for(group.b_account)
    a.errors.record_error(MAPPING, Side.DATAVERSE, order, "customerNotCoupled", "kept before B coupled its customer")
    before = group.bc_orders()
    assert auto_create(a, SETUP) == {"created": 0, "alreadyCreated": 0, "failed": 0}
    assert a.errors.find_error(MAPPING, Side.DATAVERSE, order) is None  # the stale error is gone, none is new
    with pytest.raises(NotFoundError) as refused:
        create_in_business_central(a, SETUP, order)
    assert (refused.value.code, refused.value.field) == ("orderNotFound", "dataverseId")
    assert order in refused.value.message
    assert group.bc_orders() == before
    assert a.errors.find_error(MAPPING, Side.DATAVERSE, order) is None
    row = group.stack.dataverse.get_row("salesorders", order, ["_bcbi_companyid_value"]) or {}
    assert row["_bcbi_companyid_value"] is None  # not claimed either


@pytest.mark.parametrize("whose", ["contact of B", "contact under B's account"])
def test_an_order_whose_contact_is_another_company_s_is_skipped(group: Group, whose: str) -> None:
    of_b = whose == "contact of B"
    customer = contact(group.b, None) if of_b else contact(group.stack.dataverse, group.b_account)
    order = group.order_for(customer, "contacts")
    assert auto_create(group.a, SETUP) == {"created": 0, "alreadyCreated": 0, "failed": 0}
    with pytest.raises(NotFoundError) as refused:
        create_in_business_central(group.a, SETUP, order)
    assert refused.value.code == "orderNotFound"
    assert group.a.errors.find_error(MAPPING, Side.DATAVERSE, order) is None


def test_this_company_s_order_next_to_them_is_created_and_claimed(group: Group) -> None:
    theirs, mine = group.order_for(group.b_account), group.order_for(group.ids["account"])
    assert auto_create(group.a, SETUP) == {"created": 1, "alreadyCreated": 0, "failed": 0}
    stamp = {
        o: (group.stack.dataverse.get_row("salesorders", o, ["_bcbi_companyid_value", "statecode"]) or {})
        for o in (theirs, mine)
    }
    assert (stamp[mine]["_bcbi_companyid_value"], stamp[mine]["statecode"]) == (group.a_view.company_id, 1)
    assert stamp[theirs]["_bcbi_companyid_value"] is None


def test_an_uncoupled_customer_nobody_owns_is_still_this_company_s_error(group: Group) -> None:
    nobodys = str(uuid.uuid4())
    group.stack.dataverse.create_row("accounts", nobodys, {"name": "Nobody's customer"})
    order = group.order_for(nobodys)
    assert auto_create(group.a, SETUP)["failed"] == 1
    error = group.a.errors.find_error(MAPPING, Side.DATAVERSE, order)
    assert error is not None and error.code == "customerNotCoupled"


def test_with_the_whole_org_s_client_another_company_s_customer_is_just_not_coupled(group: Group) -> None:
    single: SyncContext = group.stack.context  # one company, no `BC_COMPANIES`: no company's view
    order = group.order_for(group.b_account)
    with pytest.raises(RecordError) as refused:
        create_in_business_central(single, SETUP, order)
    assert refused.value.code == "customerNotCoupled"
    assert single.errors.find_error(MAPPING, Side.DATAVERSE, order) is not None


def sales_quote(group: Group, account: str) -> str:
    dataverse, quote = group.stack.dataverse, str(uuid.uuid4())
    dataverse.create_row("quotes", quote, {"name": "Offer", "customerid_account@odata.bind": f"/accounts({account})"})
    dataverse.create_row(
        "quotedetails",
        str(uuid.uuid4()),
        {
            "quoteid@odata.bind": f"/quotes({quote})",
            "productid@odata.bind": f"/products({group.ids['desk']})",
            "isproductoverridden": False,
            "quantity": 1,
            "priceperunit": 100,
        },
    )
    dataverse.set_state("quotes", quote, 1, 2)  # activated
    return quote


def test_a_quote_of_another_company_s_customer_is_skipped_and_refused_404(group: Group) -> None:
    theirs, mine = sales_quote(group, group.b_account), sales_quote(group, group.ids["account"])
    group.a.errors.record_error(QUOTE_MAPPING, Side.DATAVERSE, theirs, "customerNotCoupled", "kept before")
    assert auto_process(group.a, SETUP, group.archive) == {"processed": 1, "failed": 0}  # A's own quote only
    assert group.a.couplings.find_by_dataverse_id(QUOTE_MAPPING, mine) is not None
    assert group.a.couplings.find_by_dataverse_id(QUOTE_MAPPING, theirs) is None
    assert group.a.errors.find_error(QUOTE_MAPPING, Side.DATAVERSE, theirs) is None
    with pytest.raises(NotFoundError) as refused:
        process_quote(group.a, SETUP, group.archive, theirs)
    assert (refused.value.code, refused.value.field) == ("quoteNotFound", "dataverseId")


def test_a_quote_stamped_for_another_company_is_not_seen(group: Group) -> None:
    quote = str(uuid.uuid4())
    group.b.create_row(
        "quotes", quote, {"name": "B's", "customerid_account@odata.bind": f"/accounts({group.b_account})"}
    )
    group.stack.dataverse.set_state("quotes", quote, 1, 2)
    assert auto_process(group.a, SETUP, group.archive) == {"processed": 0, "failed": 0}
    with pytest.raises(NotFoundError) as refused:
        process_quote(group.a, SETUP, group.archive, quote)
    assert refused.value.code == "quoteNotFound"
