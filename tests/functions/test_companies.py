"""Several companies in one deployment (issue 22, items 3, 4 and 6), through the registered functions over the real
stack: the BC emulator seeded with the `companies` profile (production: the demo company `CRONUS USA, Inc.` and
`Fabrikam, Inc.`; sandbox: another `CRONUS USA, Inc.`), each company's tables on Azurite under its own prefix (the
deployment's + its key, as `bootstrap.build_services` names them), one Dataverse and one queue for all.

What is checked: with `BC_COMPANIES` set, each company's rows reach Sales stamped with its own `bcbi_company` row and
a customer of the same name in two companies gives two accounts, never one (match-based coupling claims the accounts
it couples); a queue message carries its company and runs against that company's BC environment and company,
into that company's tables only; the HTTP API answers 400 naming `company` when several companies are configured and
none is named (every company route), and the named company's data otherwise; the timer runs every company."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from local.emulators.business_central.seed import (
    COMPANY_ID,
    COMPANY_NAME,
    FABRIKAM_ID,
    FABRIKAM_NAME,
    PRODUCTION,
    SANDBOX,
    scoped_ids,
)
from local.emulators.business_central.seed import seeded_id as demo_id
from local.fakes.queue import InMemoryJobQueue
from shared.bootstrap import CompanyJobQueue, Services, set_companies, set_services
from shared.connectors.business_central.client import BusinessCentralClient
from shared.connectors.http import HttpClient, RetryPolicy
from shared.domain.companies import Company
from shared.domain.coupling import Coupling
from shared.domain.jobs import JobKind, JobMessage, with_company
from shared.storage.archive import TableQuoteArchive
from shared.storage.checkpoints import TableCheckpointStore
from shared.storage.couplings import TableCouplingStore
from shared.storage.jobs import TableJobLog
from shared.storage.runs import TableRunStore
from shared.storage.settings import TableSettingsStore
from shared.storage.sync_errors import TableSyncErrorStore
from shared.storage.tables import TableFactory
from shared.triggers.http_support import ROUTES
from shared.triggers.openapi import document
from shared.triggers.timers import SYNC_SCHEDULE, run_scheduled_companies
from tests.conftest import BC_RESOURCE, TENANT, Authority
from tests.functions.conftest import FUNCTIONS, Api
from tests.functions.test_queue_handler import SYNC_JOB, service_bus_message

pytestmark = pytest.mark.integration

PRIMARY = Company(PRODUCTION, COMPANY_NAME, "")
SANDBOX_CO = Company(SANDBOX, COMPANY_NAME, "sbx")
FABRIKAM = Company(PRODUCTION, FABRIKAM_NAME, "fab")
SANDBOX_TREY = scoped_ids(f"{SANDBOX}/{COMPANY_NAME}")("customer", "Trey Research")
SANDBOX_TEST_CUSTOMER = scoped_ids(f"{SANDBOX}/{COMPANY_NAME}")("customer", "Sandbox Test Customer")
FABRIKAM_TREY = scoped_ids(f"{PRODUCTION}/{FABRIKAM_NAME}")("customer", "Trey Research")


@dataclass
class Companies:
    api: Api
    services: dict[str, Services]  # key -> the company's services ("" the primary: the `api` fixture's)

    def call(self, name: str, company: str | None, **kwargs: Any) -> tuple[int, Any]:
        params = dict(kwargs.pop("params", None) or {})
        if company is not None:
            params["company"] = company
        return self.api.call(name, params=params, **kwargs)


def company_services(api: Api, azurite: str, authority: Authority, company: Company) -> Services:
    """A company's services as `bootstrap.build_services` wires them: its BC environment and company, its own
    tables, the primary's Dataverse client and queue (stamping its key)."""
    base = f"{api.stack.bc_handle.base_url}/{TENANT}/{company.environment}"
    http = HttpClient(base, authority.token_provider(BC_RESOURCE), policy=RetryPolicy(max_attempts=4, max_total_wait=5))
    bc = BusinessCentralClient(base, None, company.company, http=http)
    tables = TableFactory.from_connection_string(azurite, prefix=f"a{uuid.uuid4().hex[:12]}{company.key}")
    context = replace(
        api.stack.context,
        bc=bc,
        couplings=TableCouplingStore(tables),
        checkpoints=TableCheckpointStore(tables),
        errors=TableSyncErrorStore(tables),
        jobs=TableJobLog(tables),
    )
    services = Services(
        None,
        context,
        TableSettingsStore(tables),
        CompanyJobQueue(api.services.queue, company.key),
        TableRunStore(tables),
        TableQuoteArchive(tables),
        {"BC_COMPANY": company.company},
    )
    set_services(services, company.key)
    return services


@pytest.fixture
def companies(api: Api, azurite: str, authority: Authority) -> Iterator[Companies]:
    bc = api.stack.bc_handle
    bc.reset()
    seeded = bc.admin("POST", "seed", json={"profile": "companies"})
    assert seeded.status_code == 200, seeded.text
    by_key = {"": api.services}
    for company in (SANDBOX_CO, FABRIKAM):
        by_key[company.key] = company_services(api, azurite, authority, company)
    set_companies([PRIMARY, SANDBOX_CO, FABRIKAM])
    yield Companies(api, by_key)  # the `api` fixture forgets them all (`set_services(None)`)


def bc_ids(services: Services, mapping: str) -> set[str]:
    return {c.bc_id for c in services.context.couplings.list_couplings(mapping)}


# -- the queue -------------------------------------------------------------------------------------------------
def couple_all(key: str, message_id: str) -> None:
    """A match-based coupling of the salespeople then of every CUSTOMER (created in Sales when no account matches)
    through the queue, for the company of `key` ("": messages without company, as queued before several
    companies)."""
    people = JobMessage(JobKind.MATCH_COUPLING, f"{message_id}-sp", {"mapping": "SALESPEOPLE"})  # their owners
    SYNC_JOB(service_bus_message(with_company(people, key)))
    job = JobMessage(JobKind.MATCH_COUPLING, message_id, {"mapping": "CUSTOMER", "createIfNoMatch": True})
    SYNC_JOB(service_bus_message(with_company(job, key)))


def test_a_job_for_a_company_runs_against_its_bc_company_into_its_tables_only(companies: Companies) -> None:
    primary, sandbox, fabrikam = (companies.services[k] for k in ("", "sbx", "fab"))
    couple_all("sbx", "match-sbx-1")

    assert bc_ids(sandbox, "CUSTOMER") == {SANDBOX_TREY, SANDBOX_TEST_CUSTOMER}  # the sandbox's customers, all
    assert bc_ids(primary, "CUSTOMER") == set() and bc_ids(fabrikam, "CUSTOMER") == set()

    run = with_company(JobMessage(JobKind.MAPPING_RUN, "run-sbx-1", {"mapping": "CUSTOMER"}), "sbx")
    assert run.payload["company"] == "sbx"
    SYNC_JOB(service_bus_message(run))
    assert sandbox.context.jobs.list_jobs("CUSTOMER") and not primary.context.jobs.list_jobs("CUSTOMER")
    assert not fabrikam.context.jobs.list_jobs("CUSTOMER")

    couple_all("", "match-primary-1")
    primary_ids = bc_ids(primary, "CUSTOMER")
    assert demo_id("customer", "Trey Research") in primary_ids and not primary_ids & {SANDBOX_TREY, FABRIKAM_TREY}
    assert bc_ids(sandbox, "CUSTOMER") == {SANDBOX_TREY, SANDBOX_TEST_CUSTOMER}  # untouched


def test_a_message_for_a_company_no_longer_configured_is_refused_before_any_work(companies: Companies) -> None:
    from shared.bootstrap import UnknownCompany

    job = with_company(JobMessage(JobKind.MAPPING_RUN, "run-gone-1", {"mapping": "CUSTOMER"}), "gone")
    with pytest.raises(UnknownCompany):
        SYNC_JOB(service_bus_message(job))


def test_what_a_company_sends_carries_its_company(companies: Companies) -> None:
    queue = companies.api.services.queue  # the one in-memory queue every company sends on
    assert isinstance(queue, InMemoryJobQueue)
    companies.services["fab"].queue.send([JobMessage(JobKind.MAPPING_RUN, "m-fab-1", {"mapping": "CUSTOMER"})])
    companies.services[""].queue.send([JobMessage(JobKind.MAPPING_RUN, "m-pri-1", {"mapping": "CUSTOMER"})])
    bodies = {m.message_id: m.body for m in queue.active_messages()}
    assert b'"company":"fab"' in bodies["m-fab-1"] and b"company" not in bodies["m-pri-1"]


# -- HTTP ------------------------------------------------------------------------------------------------------
COMPANY_ROUTES = sorted({spec.function_name for spec in ROUTES if spec.company})


@pytest.mark.parametrize("name", COMPANY_ROUTES)
def test_every_company_route_names_company_when_several_are_configured_and_none_is_given(
    companies: Companies, name: str
) -> None:
    spec = next(s for s in ROUTES if s.function_name == name)
    route = {param: "CUSTOMER" for param in ("mapping", "name")} | {
        param: str(uuid.uuid4()) for param in ("bcId", "dataverseId", "runId", "jobId", "id")
    }
    status, body = companies.api.call(name, spec.method, route=route)
    assert status == 400, (name, body)
    assert body["error"]["field"] == "company" and body["error"]["code"] == "companyRequired", body


def test_the_named_company_s_data_is_answered(companies: Companies) -> None:
    couple_all("sbx", "match-sbx-2")
    find = {"route": {"mapping": "CUSTOMER"}, "params": {"bcId": SANDBOX_TREY}}
    for name in ("sbx", "sandbox/CRONUS USA, Inc.", "SANDBOX/cronus usa, inc."):
        status, body = companies.call("find_coupling", name, **find)
        assert status == 200 and body["bcId"] == SANDBOX_TREY, (name, body)
    for other in ("production/CRONUS USA, Inc.", "fab", "Fabrikam, Inc."):
        status, body = companies.call("find_coupling", other, **find)
        assert status == 404, (other, body)

    status, body = companies.call("get_setup", "fab")
    assert status == 200 and body["values"]["bcCompany"] == FABRIKAM_NAME, body
    status, body = companies.call("get_setup", "production/CRONUS USA, Inc.")
    assert status == 200 and body["values"]["bcCompany"] == COMPANY_NAME, body


def test_an_unknown_or_ambiguous_company_is_refused_naming_company(companies: Companies) -> None:
    route = {"mapping": "CUSTOMER"}
    status, body = companies.call("find_coupling", "Contoso", route=route, params={"bcId": SANDBOX_TREY})
    assert (status, body["error"]["code"], body["error"]["field"]) == (400, "companyNotConfigured", "company")
    status, body = companies.call("find_coupling", COMPANY_NAME, route=route, params={"bcId": SANDBOX_TREY})
    assert (status, body["error"]["code"], body["error"]["field"]) == (400, "companyAmbiguous", "company")


def test_a_setup_change_is_the_named_company_s_only(companies: Companies) -> None:
    status, body = companies.call("patch_setup", "fab", method="PATCH", body={"writeInProductNumber": "FB-1000"})
    assert status == 200, body
    assert companies.call("get_setup", "fab")[1]["values"]["writeInProductNumber"] == "FB-1000"
    assert companies.call("get_setup", "sbx")[1]["values"]["writeInProductNumber"] != "FB-1000"


def test_with_one_company_the_parameter_is_optional_and_checked_when_given(api: Api) -> None:
    account = str(uuid.uuid4())
    trey = demo_id("customer", "Trey Research")
    api.stack.context.couplings.create_coupling(Coupling("CUSTOMER", trey, account))
    route, params = {"mapping": "CUSTOMER"}, {"bcId": trey}
    assert api.call("find_coupling", route=route, params=params)[0] == 200  # today's call, unchanged
    status, body = api.call("find_coupling", route=route, params={**params, "company": "Contoso"})
    assert (status, body["error"]["field"]) == (400, "company")


def test_the_document_lists_company_on_every_company_operation() -> None:
    operations = [op for path in document()["paths"].values() for op in path.values()]
    with_company = {
        op["operationId"] for op in operations if any(p["name"] == "company" for p in op.get("parameters", []))
    } - {"health", "console_page"}  # they take it too, optional either way (test_companies_route.py)
    assert with_company == set(COMPANY_ROUTES)
    assert {"health", "openapi_document", "console_page", "console_asset", "list_companies"} <= {
        op["operationId"] for op in operations
    } - with_company
    assert all("companyRequired" in op["x-rule-codes"] for op in operations if op["operationId"] in with_company)
    assert set(COMPANY_ROUTES) <= set(FUNCTIONS)


# -- the timer -------------------------------------------------------------------------------------------------
def test_one_tick_runs_every_companys_due_mappings_each_reported_apart(companies: Companies) -> None:
    outcomes = run_scheduled_companies(SYNC_SCHEDULE)
    assert list(outcomes) == [PRIMARY.label, SANDBOX_CO.label, FABRIKAM.label]
    for label, found in outcomes.items():
        assert found.get("CUSTOMER", "").startswith("finished"), (label, found)
    for services in companies.services.values():  # each company's run in its own job log
        assert [job.status for job in services.context.jobs.list_jobs("CUSTOMER")] == ["finished"]


# -- the company's view of Sales (item 4: `bootstrap._company_dataverse`) ------------------------------------
def several(services: Services, company: Any) -> None:
    services.environment = {**services.environment, "BC_COMPANIES": '["configured"]'}
    services.company = company


def rows(companies: Companies, entity_set: str, select: str, where: str | None = None) -> list[dict[str, Any]]:
    dataverse = companies.api.stack.context.dataverse  # the org itself, no company's view
    pages = dataverse.list_changed_since(entity_set, None, select.split(","), extra_filter=where)
    return [row for page in pages for row in page.rows]


def test_each_company_s_customers_reach_sales_stamped_and_a_shared_name_gives_two_accounts(
    companies: Companies,
) -> None:
    primary, fabrikam = companies.services[""], companies.services["fab"]
    several(primary, PRIMARY)
    several(fabrikam, FABRIKAM)
    couple_all("", "stamp-primary-1")
    couple_all("fab", "stamp-fab-1")

    company_rows = {
        r["bcbi_externalid"]: r["bcbi_companyid"]
        for r in rows(companies, "bcbi_companies", "bcbi_companyid,bcbi_externalid")
    }
    assert set(company_rows) == {COMPANY_ID.lower(), FABRIKAM_ID.lower()}, company_rows
    trey = rows(companies, "accounts", "accountid,name,_bcbi_companyid_value", "name eq 'Trey Research'")
    stamps = sorted(str(r["_bcbi_companyid_value"]) for r in trey)
    assert stamps == sorted(company_rows.values()), trey  # two accounts, one per company
    for services, company_id in ((primary, COMPANY_ID), (fabrikam, FABRIKAM_ID)):
        own = company_rows[company_id.lower()]
        coupled = [c.dataverse_id for c in services.context.couplings.list_couplings("CUSTOMER")]
        assert coupled, company_id
        accounts = rows(companies, "accounts", "accountid,_bcbi_companyid_value")
        stamped = {str(r["accountid"]): r["_bcbi_companyid_value"] for r in accounts}
        assert all(stamped[a] in (own, None) for a in coupled), (company_id, coupled)
        assert any(stamped[a] == own for a in coupled)


def test_delete_coupling_releases_the_account_from_its_company_only(companies: Companies) -> None:
    """BC's uncoupling clears the company's stamp (`services/coupling._release`): the account may then be coupled by
    another company; the other company's account keeps its stamp."""
    primary, fabrikam = companies.services[""], companies.services["fab"]
    several(primary, PRIMARY)
    several(fabrikam, FABRIKAM)
    couple_all("", "release-primary-1")
    couple_all("fab", "release-fab-1")
    fab_account = fabrikam.context.couplings.find_by_bc_id("CUSTOMER", FABRIKAM_TREY)
    assert fab_account is not None
    trey = rows(companies, "accounts", "accountid,_bcbi_companyid_value", "name eq 'Trey Research'")
    stamped_before = {str(r["accountid"]): r["_bcbi_companyid_value"] for r in trey}
    assert all(stamped_before.values()) and len(stamped_before) == 2, stamped_before

    status, body = companies.call(
        "delete_coupling", "fab", method="DELETE", route={"mapping": "CUSTOMER", "bcId": FABRIKAM_TREY}
    )
    assert status == 204, body
    trey = rows(companies, "accounts", "accountid,_bcbi_companyid_value", "name eq 'Trey Research'")
    stamped_after = {str(r["accountid"]): r["_bcbi_companyid_value"] for r in trey}
    assert stamped_after[fab_account.dataverse_id] is None
    others = {a: s for a, s in stamped_before.items() if a != fab_account.dataverse_id}
    assert {a: stamped_after[a] for a in others} == others  # the primary's account is still the primary's


def test_set_up_coupling_claims_the_account_for_its_company(companies: Companies) -> None:
    """Set Up Coupling stamps the account for the company before coupling it (`services/coupling._claim`), so the
    other company no longer sees it: its own Set Up Coupling of the same account is a 404 naming dataverseId."""
    primary, fabrikam = companies.services[""], companies.services["fab"]
    several(primary, PRIMARY)
    several(fabrikam, FABRIKAM)
    for key in ("fab", ""):
        people = JobMessage(JobKind.MATCH_COUPLING, f"claim-sp-{key or 'primary'}", {"mapping": "SALESPEOPLE"})
        SYNC_JOB(service_bus_message(with_company(people, key)))
    account = str(uuid.uuid4())
    companies.api.stack.context.dataverse.create_row("accounts", account, {"name": "Trey Research (unstamped)"})
    body = {"mapping": "CUSTOMER", "bcId": FABRIKAM_TREY, "dataverseId": account}
    status, answer = companies.call("create_coupling", "fab", method="POST", body=body)
    assert status == 201, answer
    company_rows = {
        r["bcbi_externalid"]: r["bcbi_companyid"]
        for r in rows(companies, "bcbi_companies", "bcbi_companyid,bcbi_externalid")
    }
    stamp = rows(companies, "accounts", "accountid,_bcbi_companyid_value", f"accountid eq {account}")[0]
    assert stamp["_bcbi_companyid_value"] == company_rows[FABRIKAM_ID.lower()]
    trey = demo_id("customer", "Trey Research")
    status, answer = companies.call(
        "create_coupling",
        "production/CRONUS USA, Inc.",
        method="POST",
        body={"mapping": "CUSTOMER", "bcId": trey, "dataverseId": account},
    )
    assert (status, answer["error"]["field"]) == (404, "dataverseId"), answer
    assert primary.context.couplings.find_by_dataverse_id("CUSTOMER", account) is None


def test_the_team_model_of_a_single_company_deployment_gives_created_accounts_to_its_team(api: Api) -> None:
    """Without `BC_COMPANIES` the deployment writes no company (today's), except in the Team ownership model: its
    owners are the company's team, which only the company view writes (`bootstrap._company_dataverse`), so choosing
    it brings the view (the stamp and the team) to a single company as well, instead of writing no owner at all."""
    status, body = api.call("patch_setup", method="PATCH", body={"ownershipModel": "team"})
    assert status == 200, body
    job = JobMessage(JobKind.MATCH_COUPLING, "team-single-1", {"mapping": "CUSTOMER", "createIfNoMatch": True})
    SYNC_JOB(service_bus_message(job))
    dataverse = api.stack.context.dataverse  # the org itself
    (company,) = [
        row
        for page in dataverse.list_changed_since(
            "bcbi_companies", None, ["bcbi_companyid", "bcbi_externalid", "_bcbi_defaultowningteam_value"]
        )
        for row in page.rows
    ]
    assert company["bcbi_externalid"] == COMPANY_ID.lower() and company["_bcbi_defaultowningteam_value"]
    coupled = {c.dataverse_id for c in api.services.context.couplings.list_couplings("CUSTOMER")}
    accounts = {
        str(row["accountid"]): row
        for page in dataverse.list_changed_since(
            "accounts", None, ["accountid", "_ownerid_value", "_bcbi_companyid_value", "createdon"]
        )
        for row in page.rows
        if str(row["accountid"]) in coupled
    }
    created = [row for row in accounts.values() if row["_ownerid_value"] == company["_bcbi_defaultowningteam_value"]]
    assert created, accounts  # the accounts it created are the team's
    assert all(row["_bcbi_companyid_value"] in (company["bcbi_companyid"], None) for row in accounts.values())
