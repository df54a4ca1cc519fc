"""A Sales order claimed for one BC company before its BC order is made, and a row stamped for another company
(issue 22, item 4), over real HTTP: the app's `DataverseClient` in `CompanyScopedDataverse` against the Dataverse
emulator, two companies on one org.

Why a claim of its own for orders: a Submitted order is read-only in Sales (the emulator refuses any other write to
it, as Sales does), so the stamp goes in the way BC's SetCompanyId writes it: Active, stamp, Submitted again with the
status it had, the switch to Active conditional on the version read."""

from __future__ import annotations

import uuid

import pytest

from shared.connectors.dataverse.client import DataverseClient
from shared.connectors.dataverse.company_scope import CompanyScopedDataverse
from tests.integration.test_company_scope import Org, client, company  # noqa: F401 - `client` is the fixture, shared

pytestmark = pytest.mark.integration
SUBMITTED, IN_PROGRESS, PENDING = 1, 3, 2


@pytest.fixture
def pair(client: DataverseClient) -> Org:  # noqa: F811 - the imported fixture
    a_company, b_company = company(client, "CRONUS"), company(client, "Fabrikam")
    return Org(
        client,
        a_company,
        b_company,
        CompanyScopedDataverse(client, a_company),
        CompanyScopedDataverse(client, b_company),
    )


def order(dataverse: DataverseClient, *, submitted: bool = True) -> str:
    row_id = str(uuid.uuid4())
    dataverse.create_row("salesorders", row_id, {"name": "Submitted in Sales"})
    if submitted:
        dataverse.set_state("salesorders", row_id, SUBMITTED, IN_PROGRESS)
    else:
        dataverse.set_state("salesorders", row_id, 0, PENDING)
    return row_id


def read(pair: Org, row_id: str) -> dict[str, object]:
    return pair.client.get_row("salesorders", row_id, ["statecode", "statuscode", "_bcbi_companyid_value"]) or {}


def test_a_submitted_order_both_companies_read_is_claimed_by_one_and_stays_submitted(pair: Org) -> None:
    row_id = order(pair.client)
    etag = str(read(pair, row_id)["@odata.etag"])  # both companies read this version
    assert pair.a.claim_rows("salesorders", {row_id: etag}) == {row_id}
    assert pair.b.claim_rows("salesorders", {row_id: etag}) == set()  # taken: B's switch to Active answers 412
    after = read(pair, row_id)
    assert (after["statecode"], after["statuscode"], after["_bcbi_companyid_value"]) == (
        SUBMITTED,
        IN_PROGRESS,
        pair.a_company,
    )  # Submitted again with the status it had
    assert pair.b.get_row("salesorders", row_id) is None
    assert pair.a.claim_rows("salesorders", {row_id: etag}) == {row_id}  # already A's: A's, whatever the version
    assert pair.b.claim_rows("salesorders", {row_id: None}) == set()


def test_an_order_changed_since_it_was_read_is_not_claimed(pair: Org) -> None:
    row_id = order(pair.client)
    etag = str(read(pair, row_id)["@odata.etag"])
    pair.client.set_state("salesorders", row_id, 0, 1)
    pair.client.update_row("salesorders", row_id, {"name": "Edited in Sales"})
    pair.client.set_state("salesorders", row_id, SUBMITTED, IN_PROGRESS)
    assert pair.a.claim_rows("salesorders", {row_id: etag}) == set()
    assert read(pair, row_id)["_bcbi_companyid_value"] is None  # nothing written: the caller reads again
    assert pair.a.claim_rows("salesorders", {row_id: None}) == {row_id}  # no version given: the current one


def test_an_active_order_is_stamped_in_one_conditional_write(pair: Org) -> None:
    row_id = order(pair.client, submitted=False)
    etag = str(read(pair, row_id)["@odata.etag"])
    assert pair.b.claim_rows("salesorders", {row_id: etag, str(uuid.uuid4()): None}) == {row_id}  # a gone order: no
    after = read(pair, row_id)
    assert (after["statecode"], after["statuscode"], after["_bcbi_companyid_value"]) == (0, PENDING, pair.b_company)


def test_the_org_s_own_client_claims_without_writing(pair: Org) -> None:
    row_id = order(pair.client)
    before = read(pair, row_id)
    assert pair.client.claim_rows("salesorders", {row_id: 'W/"1"'}) == {row_id}
    assert read(pair, row_id) == before


def test_stamped_elsewhere_tells_a_row_of_another_company_from_one_that_is_gone_or_nobody_s(pair: Org) -> None:
    mine, theirs, nobodys = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    pair.a.create_row("accounts", mine, {"name": "A's"})
    pair.b.create_row("accounts", theirs, {"name": "B's"})
    pair.client.create_row("accounts", nobodys, {"name": "Nobody's"})
    assert [pair.a.stamped_elsewhere("accounts", row) for row in (mine, theirs, nobodys)] == [False, True, False]
    assert pair.b.stamped_elsewhere("accounts", mine) is True
    assert pair.a.stamped_elsewhere("accounts", str(uuid.uuid4())) is False  # gone
    assert pair.a.stamped_elsewhere("transactioncurrencies", str(uuid.uuid4())) is False  # no company column
    assert pair.client.stamped_elsewhere("accounts", theirs) is False  # the whole org has no other company


def test_a_closed_order_is_not_claimed(pair: Org) -> None:
    row_id = order(pair.client)
    pair.client.fulfill_sales_order(row_id)
    assert pair.a.claim_rows("salesorders", {row_id: None}) == set()
    assert read(pair, row_id)["_bcbi_companyid_value"] is None
