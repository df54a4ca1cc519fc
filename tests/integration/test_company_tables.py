"""Each company's tables on Azurite (issue 22, item 3): the services `bootstrap.build_services` builds for a company
keep their couplings, job log, errors and setup in the deployment's tables with the company's key added to the table
prefix, so two companies' records never meet; and the primary company (key "") works on today's table names, so
the rows of a deployment from before several companies are found where they are, with no migration step
(docs/architecture.md, "Companies: keys and migration")."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.bootstrap import Services, build_services
from shared.domain.coupling import Coupling
from shared.settings import Settings
from shared.storage.couplings import TableCouplingStore
from shared.storage.settings import TableSettingsStore
from shared.storage.tables import COUPLINGS, SETTINGS, TABLE_NAMES, TableFactory

pytestmark = pytest.mark.integration
BC_URL = "https://api.businesscentral.dynamics.com/v2.0/tenant-1/production"
COMPANIES = [
    {"environment": "production", "company": "CRONUS USA, Inc."},  # BC_COMPANY: the primary, key ""
    {"environment": "production", "company": "Fabrikam, Inc.", "key": "fab"},
    {"environment": "sandbox", "company": "CRONUS USA, Inc."},  # a derived key
]


def deployment(azurite: str, prefix: str) -> Settings:
    return Settings.from_env(
        {
            "BC_BASE_URL": BC_URL,
            "BC_COMPANY": "CRONUS USA, Inc.",
            "BC_COMPANIES": json.dumps(COMPANIES),
            "DATAVERSE_URL": "https://org.crm.dynamics.com",
            "TENANT_ID": "t",
            "CLIENT_ID": "c",
            "CLIENT_SECRET": "s",
            "AzureWebJobsStorage": azurite,
            "ServiceBusConnection__fullyQualifiedNamespace": "sync.servicebus.windows.net",
            "TABLE_PREFIX": prefix,
        }
    )


def every_company(settings: Settings) -> dict[str, Services]:
    primary = build_services(settings)
    return {"": primary} | {c.key: build_services(settings, c, primary) for c in settings.companies if c.key}


def test_a_company_s_couplings_setup_and_jobs_are_its_own(azurite: str) -> None:
    settings = deployment(azurite, f"q{uuid.uuid4().hex[:8]}")
    services = every_company(settings)
    sandbox_key = settings.companies[2].key
    assert set(services) == {"", "fab", sandbox_key}
    primary, fabrikam, sandbox = services[""], services["fab"], services[sandbox_key]

    bc_id, account = str(uuid.uuid4()), str(uuid.uuid4())
    fabrikam.context.couplings.create_coupling(Coupling("CUSTOMER", bc_id, account))
    assert fabrikam.context.couplings.find_by_bc_id("CUSTOMER", bc_id) is not None
    for other in (primary, sandbox):
        assert other.context.couplings.find_by_bc_id("CUSTOMER", bc_id) is None
        assert other.context.couplings.find_by_dataverse_id("CUSTOMER", account) is None
        assert list(other.context.couplings.list_couplings("CUSTOMER")) == []

    _, etag = sandbox.settings_store.get_settings("setup")
    sandbox.settings_store.update_settings("setup", {"writeInProductNumber": "TEST-1"}, etag)
    assert sandbox.settings_store.get_settings("setup")[0] == {"writeInProductNumber": "TEST-1"}
    assert primary.settings_store.get_settings("setup")[0] == {}
    assert fabrikam.settings_store.get_settings("setup")[0] == {}


def test_each_company_s_table_names_and_the_primary_s_are_today_s(azurite: str) -> None:
    prefix = f"q{uuid.uuid4().hex[:8]}"
    settings = deployment(azurite, prefix)
    services = every_company(settings)
    for key, company_services in services.items():
        tables = company_services.storage
        assert isinstance(tables, TableFactory)
        assert [tables.table_name(name) for name in TABLE_NAMES] == [f"{prefix}{key}{name}" for name in TABLE_NAMES]


def test_rows_written_before_several_companies_are_the_primary_s_and_no_one_else_s(azurite: str) -> None:
    prefix = f"q{uuid.uuid4().hex[:8]}"
    today = TableFactory.from_connection_string(azurite, prefix=prefix)  # the single-company deployment of before
    bc_id, account = str(uuid.uuid4()), str(uuid.uuid4())
    TableCouplingStore(today).create_coupling(Coupling("CUSTOMER", bc_id, account))
    old_setup = TableSettingsStore(today)
    old_setup.update_settings("setup", {"autoCreateSalesOrders": True}, old_setup.get_settings("setup")[1])
    before = {table.name for table in today._service.list_tables()}
    assert {f"{prefix}{COUPLINGS}", f"{prefix}{SETTINGS}"} <= before

    services = every_company(deployment(azurite, prefix))  # the same deployment, now with three companies
    primary = services[""]
    found = primary.context.couplings.find_by_bc_id("CUSTOMER", bc_id)
    assert found is not None and found.dataverse_id == account
    assert primary.settings_store.get_settings("setup")[0] == {"autoCreateSalesOrders": True}
    for key in ("fab", deployment(azurite, prefix).companies[2].key):
        assert services[key].context.couplings.find_by_bc_id("CUSTOMER", bc_id) is None
        assert services[key].settings_store.get_settings("setup")[0] == {}
