"""Several BC companies on one Sales org (issue 22, items 4 and 5), over real HTTP: the app's `DataverseClient`
inside `CompanyScopedDataverse` against the Dataverse emulator, and the company rows `services/company_rows.py`
makes. Two wrappers, for companies A and B, share one org: each stamps what it writes with its company, sees only its
company's rows and nobody's, and in the Team model gives what it creates to its company's team.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from local.emulators.dataverse.organization import ROOT_BUSINESS_UNIT_ID
from shared.connectors.dataverse.actions import POST_SOURCE_AUTO, POST_TYPE_STATUS
from shared.connectors.dataverse.client import DataverseClient
from shared.connectors.dataverse.company_scope import CompanyScopedDataverse
from shared.domain.errors import FatalError
from shared.ports import DataverseClientPort
from tests.conftest import Authority, EmulatorHandle

pytestmark = pytest.mark.integration
A_ID, B_ID = "8039B037-69E3-569D-8DE1-6708E87638A7", "{6b54a62a-0000-4c00-8000-00000000000b}"


def implements_the_port(scoped: CompanyScopedDataverse) -> DataverseClientPort:
    """Never called: mypy proves here that the wrapper satisfies `DataverseClientPort`."""
    return scoped


@pytest.fixture
def client(dataverse: EmulatorHandle, authority: Authority) -> Iterator[DataverseClient]:
    yield DataverseClient(dataverse.base_url, authority.token_provider(dataverse.base_url), sleep=lambda _: None)


def company(client: DataverseClient, name: str) -> str:
    row_id = str(uuid.uuid4())
    client.create_row("bcbi_companies", row_id, {"bcbi_name": name, "bcbi_externalid": str(uuid.uuid4())})
    return row_id


def owner_team(client: DataverseClient, name: str) -> str:
    unit, team = str(uuid.uuid4()), str(uuid.uuid4())
    client.create_row(
        "businessunits",
        unit,
        {"name": name, "parentbusinessunitid@odata.bind": f"/businessunits({ROOT_BUSINESS_UNIT_ID})"},
    )
    client.create_row("teams", team, {"name": f"BCI - {name}", "businessunitid@odata.bind": f"/businessunits({unit})"})
    return team


@dataclass
class Org:
    client: DataverseClient
    a_company: str
    b_company: str
    a: CompanyScopedDataverse
    b: CompanyScopedDataverse

    def stamp(self, entity_set: str, row_id: str) -> Any:
        return (self.client.get_row(entity_set, row_id, ["_bcbi_companyid_value"]) or {}).get("_bcbi_companyid_value")

    def owner(self, entity_set: str, row_id: str) -> Any:
        return (self.client.get_row(entity_set, row_id, ["_ownerid_value"]) or {}).get("_ownerid_value")


@pytest.fixture
def org(client: DataverseClient) -> Org:
    a_company, b_company = company(client, "CRONUS"), company(client, "Fabrikam")
    return Org(
        client,
        a_company,
        b_company,
        CompanyScopedDataverse(client, a_company),
        CompanyScopedDataverse(client, b_company),
    )


def ids(pages: Iterator[list[str]]) -> set[str]:
    return {row_id for page in pages for row_id in page}


def changed(scoped: DataverseClientPort, entity_set: str, extra: str | None = None) -> set[str]:
    primary = entity_set[:-1] + "id" if entity_set != "opportunities" else "opportunityid"
    return {
        str(row[primary])
        for page in scoped.list_changed_since(entity_set, None, ["name"], extra_filter=extra)
        for row in page.rows
    }


def test_a_row_created_through_a_company_is_stamped_with_it_and_seen_by_it_only(org: Org) -> None:
    mine, theirs, nobodys = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    org.a.create_row("accounts", mine, {"name": "Trey Research"})
    org.b.create_row("accounts", theirs, {"name": "Trey Research"})  # a same-named customer: two accounts
    org.client.create_row("accounts", nobodys, {"name": "Nobody's"})
    assert (org.stamp("accounts", mine), org.stamp("accounts", theirs)) == (org.a_company, org.b_company)
    assert org.stamp("accounts", nobodys) is None
    assert ids(org.a.list_ids("accounts")) == {mine, nobodys}
    assert ids(org.b.list_ids("accounts")) == {theirs, nobodys}
    assert changed(org.a, "accounts") == {mine, nobodys}
    assert changed(org.a, "accounts", "name eq 'Trey Research'") == {mine}  # the caller's filter still applies
    assert changed(org.b, "accounts", "name eq 'Trey Research' or name eq 'Nobody''s'") == {theirs, nobodys}
    assert org.a.has_records("accounts", f"accountid eq {theirs}") is False
    assert org.b.has_records("accounts", f"accountid eq {theirs}") is True
    assert ids(org.client.list_ids("accounts")) == {mine, theirs, nobodys}  # the org itself holds all three


def test_get_row_hides_another_companys_row_and_no_column_it_was_not_asked_for(org: Org) -> None:
    mine, theirs, nobodys = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    org.a.create_row("contacts", mine, {"lastname": "Mine"})
    org.b.create_row("contacts", theirs, {"lastname": "Theirs"})
    org.client.create_row("contacts", nobodys, {"lastname": "Nobody"})
    assert org.a.get_row("contacts", theirs, ["lastname"]) is None
    assert org.a.get_row("contacts", theirs) is None
    row = org.a.get_row("contacts", mine, ["lastname"])
    assert row is not None and row["lastname"] == "Mine"
    assert not any(key.startswith("_bcbi_companyid_value") for key in row)
    assert (org.a.get_row("contacts", nobodys, ["lastname"]) or {}).get("lastname") == "Nobody"
    asked = org.a.get_row("contacts", mine, ["_bcbi_companyid_value"]) or {}
    assert asked["_bcbi_companyid_value"] == org.a_company
    assert org.a.get_row("contacts", str(uuid.uuid4()), ["lastname"]) is None
    # a table without a company passes through
    assert org.a.get_row("transactioncurrencies", str(uuid.uuid4())) is None


def test_updates_upserts_and_bulk_writes_are_stamped(org: Org) -> None:
    nobodys = str(uuid.uuid4())
    org.client.create_row("products", nobodys, {"name": "Desk", "productnumber": "1896-S"})
    org.a.update_row("products", nobodys, {"name": "Desk, oak"})  # a modify stamps an unstamped row (SetCompanyId)
    assert org.stamp("products", nobodys) == org.a_company
    upserted = str(uuid.uuid4())
    org.b.upsert_row("pricelevels", upserted, {"name": "RETAIL"})
    assert org.stamp("pricelevels", upserted) == org.b_company
    made = org.a.create_multiple(
        "contact", "contacts", [{"contactid": str(uuid.uuid4()), "lastname": f"Bulk {n}"} for n in range(3)]
    )
    assert [org.stamp("contacts", row_id) for row_id in made] == [org.a_company] * 3
    org.b.update_multiple("contact", "contacts", [{"contactid": made[0], "lastname": "Moved"}])
    assert org.stamp("contacts", made[0]) == org.b_company  # BC stamps what it modifies with its own company
    rows = [{"opportunityid": str(uuid.uuid4()), "name": "Desks"}]
    org.b.upsert_multiple("opportunity", "opportunities", rows)
    assert org.stamp("opportunities", rows[0]["opportunityid"]) == org.b_company
    assert org.a.get_row("opportunities", rows[0]["opportunityid"]) is None


def test_batch_writes_to_company_tables_are_stamped_and_others_pass(org: Org) -> None:
    created, patched, upserted = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    org.client.create_row("salesorders", patched, {"name": "O"})
    post = {"text": "hello", "source": POST_SOURCE_AUTO, "type": POST_TYPE_STATUS}
    post["regardingobjectid_account@odata.bind"] = f"/accounts({created})"  # not a company table: passes as it is
    operations = [
        {"method": "PATCH", "url": f"accounts({created})", "body": {"name": "C"}, "headers": {"If-None-Match": "*"}},
        {"method": "PATCH", "url": f"salesorders({patched})", "body": {"name": "O2"}, "headers": {"If-Match": "*"}},
        {"method": "PATCH", "url": f"/quotes({upserted})", "body": {"name": "Q"}},
        {"method": "POST", "url": "invoices", "body": {"name": "I"}},
        {"method": "POST", "url": "posts", "body": post},
    ]
    outcomes = org.a.execute_batch(operations, atomic=False, continue_on_error=True)
    assert [o.ok for o in outcomes] == [True] * 5, [o.body for o in outcomes]
    assert [org.stamp(s, i) for s, i in (("accounts", created), ("salesorders", patched), ("quotes", upserted))] == [
        org.a_company
    ] * 3
    invoice = outcomes[3].headers["odata-entityid"].rsplit("(", 1)[-1].rstrip(")")
    assert org.stamp("invoices", invoice) == org.a_company


def test_a_row_of_another_company_is_never_listed_for_conversion(org: Org) -> None:
    """An order (or quote) submitted for company A is never picked up by company B."""
    for_a, for_nobody = str(uuid.uuid4()), str(uuid.uuid4())
    org.a.create_row("salesorders", for_a, {"name": "For A"})
    org.client.create_row("salesorders", for_nobody, {"name": "Unstamped"})
    quote = str(uuid.uuid4())
    org.a.create_row("quotes", quote, {"name": "Q"})
    assert changed(org.b, "salesorders") == {for_nobody}
    assert org.b.get_row("salesorders", for_a, ["name"]) is None
    assert org.b.get_row("quotes", quote, ["name"]) is None  # "skipping quotes of another BC company"
    assert ids(org.a.list_ids("quotes")) == {quote}


def test_team_model_gives_creates_to_the_company_team_as_bc_does(org: Org) -> None:
    team = owner_team(org.client, "CRONUS (a)")
    scoped = CompanyScopedDataverse(org.client, org.a_company, "team", team)
    user = str((org.client.http.request("GET", f"{org.client.api_root}/WhoAmI").json())["UserId"])
    to_user = {"ownerid@odata.bind": f"/systemusers({user})"}
    account, invoice, kept, product = (str(uuid.uuid4()) for _ in range(4))
    scoped.create_row("accounts", account, {"name": "A", **to_user})  # Team model: the team, whatever the body says
    scoped.create_row("invoices", invoice, {"name": "I"})
    scoped.create_row("invoices", kept, {"name": "From an order", **to_user})  # the order's owner is kept
    scoped.create_row("products", product, {"name": "Desk", "productnumber": "D-1"})  # organization-owned
    assert [org.owner("accounts", account), org.owner("invoices", invoice), org.owner("invoices", kept)] == [
        team,
        team,
        user,
    ]
    assert org.stamp("products", product) == org.a_company
    scoped.update_row("accounts", account, {"name": "A2", **to_user})  # Team model: an update keeps the owner
    assert org.owner("accounts", account) == team
    made = scoped.create_multiple("contact", "contacts", [{"contactid": str(uuid.uuid4()), "lastname": "T"}])
    assert org.owner("contacts", made[0]) == team
    [outcome] = scoped.execute_batch([{"method": "POST", "url": "opportunities", "body": {"name": "Deal", **to_user}}])
    opportunity = outcome.headers["odata-entityid"].rsplit("(", 1)[-1].rstrip(")")
    assert org.owner("opportunities", opportunity) == team
    person = CompanyScopedDataverse(org.client, org.a_company)  # Person model: the body's owner, else the caller
    mine, fallback = str(uuid.uuid4()), str(uuid.uuid4())
    person.create_row("accounts", mine, {"name": "P", **to_user})
    assert org.owner("accounts", mine) == user
    person_with_team = CompanyScopedDataverse(org.client, org.a_company, "person", team)
    person_with_team.create_row("accounts", fallback, {"name": "No salesperson user"})  # SetOwnerId's fallback
    assert org.owner("accounts", fallback) == team


def test_the_wrapper_checks_what_it_is_built_with() -> None:
    client: Any = object()
    with pytest.raises(FatalError):
        CompanyScopedDataverse(client, "not-a-guid")
    with pytest.raises(FatalError):
        CompanyScopedDataverse(client, str(uuid.uuid4()), "team")  # no team
    with pytest.raises(FatalError):
        CompanyScopedDataverse(client, str(uuid.uuid4()), "manager")  # type: ignore[arg-type]
    upper = CompanyScopedDataverse(client, A_ID)
    assert upper.company_id == A_ID.lower()  # the id compared with `_bcbi_companyid_value` (lower case)


def test_release_clears_only_this_companys_stamp_as_bc_uncoupling_does(org: Org) -> None:
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    org.a.create_row("accounts", mine, {"name": "Mine"})
    org.b.create_row("accounts", theirs, {"name": "Theirs"})
    assert org.a.release("accounts", mine) is True
    assert org.stamp("accounts", mine) is None
    assert org.a.release("accounts", theirs) is False
    assert org.stamp("accounts", theirs) == org.b_company
    assert org.a.release("accounts", mine) is False  # nobody's now
    assert org.a.release("accounts", str(uuid.uuid4())) is False
    assert org.a.release("transactioncurrencies", str(uuid.uuid4())) is False
    submitted = str(uuid.uuid4())
    org.a.create_row("salesorders", submitted, {"name": "Submitted"})
    org.client.set_state("salesorders", submitted, 1, 3)
    assert org.a.release("salesorders", submitted) is True
    row = org.client.get_row("salesorders", submitted, ["statecode", "statuscode", "_bcbi_companyid_value"]) or {}
    assert (row["statecode"], row["statuscode"], row["_bcbi_companyid_value"]) == (1, 3, None)
    fulfilled = str(uuid.uuid4())
    org.a.create_row("salesorders", fulfilled, {"name": "Done"})
    org.client.fulfill_sales_order(fulfilled)
    assert org.a.release("salesorders", fulfilled) is False  # neither Active nor Submitted: BC leaves it
    assert org.stamp("salesorders", fulfilled) == org.a_company


def test_a_row_both_companies_read_unstamped_is_claimed_by_one_only(org: Org) -> None:
    """Match-based coupling claims the rows it couples (`claim_rows`): the stamp, conditional on the ETag read, so
    two companies matching the same unstamped account cannot both couple it."""
    shared_row, other = str(uuid.uuid4()), str(uuid.uuid4())
    org.client.create_row("accounts", shared_row, {"name": "Trey Research"})
    org.client.create_row("accounts", other, {"name": "Other"})

    def etags(scoped: CompanyScopedDataverse) -> dict[str, Any]:
        pages = scoped.list_changed_since("accounts", None, ["accountid"], extra_filter=None)
        return {str(r["accountid"]): r.get("@odata.etag") for page in pages for r in page.rows}

    seen_by_a, seen_by_b = etags(org.a), etags(org.b)  # both read it unstamped, with the same ETag
    assert seen_by_a[shared_row] == seen_by_b[shared_row] is not None
    assert org.a.claim_rows("accounts", {shared_row: seen_by_a[shared_row]}) == {shared_row}
    assert org.b.claim_rows("accounts", {shared_row: seen_by_b[shared_row], other: seen_by_b[other]}) == {other}
    assert (org.stamp("accounts", shared_row), org.stamp("accounts", other)) == (org.a_company, org.b_company)
    assert org.client.claim_rows("accounts", {shared_row: None}) == {shared_row}  # the org's own client: no claim
    assert org.a.claim_rows("teams", {"t": None}) == {"t"}  # not a company table: nothing to claim
