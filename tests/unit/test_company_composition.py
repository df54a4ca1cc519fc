"""One deployment, several companies (issue 22, items 3 and 4): each company's services from the settings
(shared/bootstrap.py: its tables, its BC environment and company, the shared Dataverse client and queue), and the
company carried by every queue message (shared/domain/jobs.py). Built from app settings without any I/O (clients
connect on first use)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest

from shared import bootstrap
from shared.domain.companies import Company
from shared.domain.jobs import (
    FullSyncChunk,
    InvalidJobMessage,
    JobKind,
    JobMessage,
    MatchCoupling,
    RunMapping,
    parse_command,
    with_company,
)
from shared.ports import QueueCounts
from tests.unit.test_companies_settings import ENV

COMPANIES = [
    {"environment": "production", "company": "CRONUS USA, Inc."},
    {"environment": "production", "company": "Fabrikam, Inc.", "key": "fab"},
    {"environment": "sandbox", "company": "CRONUS USA, Inc.", "key": "sbx"},
]


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        **ENV,
        "TABLE_PREFIX": "dep",
        "BC_COMPANIES": json.dumps(COMPANIES),
        "ServiceBusConnection__fullyQualifiedNamespace": "sync.servicebus.windows.net",
    }.items():
        monkeypatch.setenv(name, value)
    bootstrap.set_services(None)
    yield
    bootstrap.set_services(None)


def bc_http(services: bootstrap.Services) -> Any:
    bc: Any = services.context.bc
    return bc.http


def bc_of(services: bootstrap.Services) -> tuple[str, str]:
    bc: Any = services.context.bc
    return bc.http.base_url, bc.company


def test_each_company_has_its_tables_and_bc_company_and_shares_dataverse_and_the_queue(configured: None) -> None:
    primary, fabrikam, sandbox = bootstrap.get_services(), bootstrap.get_services("fab"), bootstrap.get_services("sbx")
    assert bootstrap.get_services("") is primary and bootstrap.get_services("fab") is fabrikam  # built once
    assert [c.key for c in bootstrap.companies()] == ["", "fab", "sbx"]

    tables = [getattr(s.storage, "prefix", None) for s in (primary, fabrikam, sandbox)]
    assert tables == ["dep", "depfab", "depsbx"]  # the primary's are today's names
    base = "https://api.businesscentral.dynamics.com/v2.0/tenant-1"
    assert bc_of(primary) == (f"{base}/production", "CRONUS USA, Inc.")
    assert bc_of(fabrikam) == (f"{base}/production", "Fabrikam, Inc.")
    assert bc_of(sandbox) == (f"{base}/sandbox", "CRONUS USA, Inc.")
    assert fabrikam.context.dataverse is primary.context.dataverse is sandbox.context.dataverse
    assert isinstance(fabrikam.queue, bootstrap.CompanyJobQueue) and fabrikam.queue.queue is primary.queue
    assert not isinstance(primary.queue, bootstrap.CompanyJobQueue)
    assert fabrikam.environment["BC_COMPANY"] == "Fabrikam, Inc."  # the setup's default company
    assert primary.environment["BC_COMPANY"] == "CRONUS USA, Inc."
    bc_tokens = [bc_http(s).tokens for s in (primary, fabrikam, sandbox)]
    assert bc_tokens[0] is bc_tokens[1] is bc_tokens[2]  # one token cache for BC


def test_an_unknown_company_key_is_refused_naming_company(configured: None) -> None:
    with pytest.raises(bootstrap.UnknownCompany) as raised:
        bootstrap.get_services("nope")
    assert raised.value.field == "company"


def test_concurrent_first_calls_build_one_services_per_company(configured: None) -> None:
    found: list[bootstrap.Services] = []
    threads = [threading.Thread(target=lambda: found.append(bootstrap.get_services("sbx"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and all(s is found[0] for s in found)


def test_without_companies_the_one_company_is_todays(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**ENV, "ServiceBusConnection__fullyQualifiedNamespace": "sync.servicebus.windows.net"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BC_COMPANIES", raising=False)
    monkeypatch.delenv("TABLE_PREFIX", raising=False)
    bootstrap.set_services(None)
    try:
        assert bootstrap.companies() == (Company("production", "CRONUS USA, Inc.", ""),)
        assert getattr(bootstrap.get_services().storage, "prefix", None) == ""
    finally:
        bootstrap.set_services(None)


# -- messages --------------------------------------------------------------------------------------------------
class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[JobMessage, timedelta | None]] = []

    def send(self, messages: Sequence[JobMessage], *, delay: timedelta | None = None) -> None:
        self.sent.extend((m, delay) for m in messages)

    def ping(self) -> None: ...

    def message_counts(self) -> QueueCounts | None:
        return None


def test_a_companys_queue_stamps_its_key_on_every_message_and_the_primarys_on_none() -> None:
    recorder = Recorder()
    job = JobMessage(JobKind.FULL_SYNC_CHUNK, "run-1/CUSTOMER/0", {"runId": "run-1", "mapping": "CUSTOMER", "chunk": 0})
    bootstrap.CompanyJobQueue(recorder, "fab").send([job], delay=timedelta(seconds=3))
    sent, delay = recorder.sent[0]
    assert sent.payload == {**job.payload, "company": "fab"} and sent.message_id == job.message_id
    assert delay == timedelta(seconds=3)
    assert parse_command(sent).company == "fab"
    assert with_company(job, "") is job and "company" not in job.payload


def test_every_kind_reads_its_company_and_absent_is_the_primary() -> None:
    run = JobMessage(JobKind.MAPPING_RUN, "m-1", {"mapping": "CUSTOMER"})
    assert parse_command(run) == RunMapping("m-1", "CUSTOMER")
    assert parse_command(with_company(run, "fab")) == RunMapping("m-1", "CUSTOMER", "fab")
    match = JobMessage(JobKind.MATCH_COUPLING, "x-1", {"mapping": "CUSTOMER", "company": "sbx"})
    assert parse_command(match) == MatchCoupling("x-1", "CUSTOMER", company="sbx")
    chunk = JobMessage(JobKind.FULL_SYNC_CHUNK, "r/CUSTOMER/1", {"runId": "r", "mapping": "CUSTOMER", "chunk": 1})
    parsed = parse_command(with_company(chunk, "c0a1b2c3d"))
    assert isinstance(parsed, FullSyncChunk) and parsed.company == "c0a1b2c3d"
    assert parse_command(JobMessage(JobKind.MAPPING_RUN, "m-2", {"mapping": "CUSTOMER", "company": None})).company == ""


@pytest.mark.parametrize("bad", [3, "a-b", "1abc", ["fab"]])
def test_a_company_that_is_no_key_is_refused_naming_it(bad: object) -> None:
    with pytest.raises(InvalidJobMessage, match="mappingRun job 'm-1': 'company' must be a company key"):
        parse_command(JobMessage(JobKind.MAPPING_RUN, "m-1", {"mapping": "CUSTOMER", "company": bad}))
