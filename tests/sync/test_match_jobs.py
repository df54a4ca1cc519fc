"""Issue 24: match-based coupling with criteria chosen per job (priority, case), as a queued job whose entry tells its
progress, with a coupling log kept per record; on the real parts (emulators over HTTP, Azurite)."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from local.emulators.dataverse.seed import seeded_id as dv_seeded
from shared.domain.errors import InvalidInputError, TransientError
from shared.domain.jobs import MatchChoice, MatchCoupling
from shared.domain.match_log import MatchLogEntry
from shared.services.job_handlers import JobHandler
from shared.services.match_report import Matched, MatchFailure, MatchReport, log_entries
from shared.services.matching import check_match_job, match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.mappings_for_tests import currency_mapping, customer_mapping
from tests.sync.test_coupling import dv_create_account, patch_bc_customer
from tests.sync.test_matching import by_name

pytestmark = pytest.mark.integration
QUEUED_ON = "2026-12-07T08:00:00.000Z"


@pytest.fixture
def customers(sync_stack: SyncStack) -> SyncStack:
    sync_stack.use(currency_mapping(), customer_mapping())
    return sync_stack


def rename_account(stack: SyncStack, name: str, new_name: str) -> None:
    url = f"{stack.dv_handle.base_url}/api/data/v9.2/accounts({dv_seeded('account', name)})"
    assert stack.dv_handle.session.patch(url, json={"name": new_name}).status_code == 204


def whole_log(stack: SyncStack, job_id: str) -> list[MatchLogEntry]:
    assert stack.context.match_log is not None
    return list(stack.context.match_log.page(job_id, 1000).entries)


def test_a_job_s_criteria_choose_the_priorities_lowest_first_and_the_case(customers: SyncStack) -> None:
    stack = customers
    cannon_by_name = dv_seeded("account", "The Cannon Group PLC")
    patch_bc_customer(stack, "C00010", {"email": "buyer@cannon.example"})  # Cannon: its name and its e-mail
    cannon_by_email = dv_create_account(stack, {"name": "Cannon purchasing", "emailaddress1": "buyer@cannon.example"})
    rename_account(stack, "Selangorian Ltd.", "SELANGORIAN LTD.")
    email_first = [MatchChoice("displayName", 5), MatchChoice("email", 3)]  # given in any order: 3 is tried first
    preview = match_and_couple(stack.context, "CUSTOMER", criteria=email_first, dry_run=True)
    assert [
        (p.dataverse_id, p.priority)
        for p in preview.coupled
        if p.bc_id == bc_seeded("customer", "The Cannon Group PLC")
    ] == [(cannon_by_email, 3)]
    assert by_name(preview)["Selangorian Ltd."] == ("coupled", 5)  # case-blind by default
    name_first = [MatchChoice("displayName", 1, case_sensitive=True), MatchChoice("email", 2)]
    report = match_and_couple(stack.context, "CUSTOMER", criteria=name_first)
    outcome = by_name(report)
    assert outcome["The Cannon Group PLC"] == ("coupled", 1)
    assert outcome["Selangorian Ltd."] == ("noMatch", 0)  # with case, "SELANGORIAN LTD." is another name
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "The Cannon Group PLC"))
    assert coupling is not None and coupling.dataverse_id == cannon_by_name


@pytest.mark.parametrize(
    ("choices", "field", "code"),
    [
        ([MatchChoice("displayName", 1), MatchChoice("shoeSize", 1)], "criteria[1].field", "unknownMatchField"),
        ([MatchChoice("displayName", 1), MatchChoice("city", 101)], "criteria[1].priority", "invalidValue"),
        ([MatchChoice("city", 0)], "criteria[0].priority", "invalidValue"),
        ([MatchChoice("city", 1), MatchChoice("address1_city>city", 2)], "criteria[1].field", "unknownMatchField"),
        ([MatchChoice("city", 1), MatchChoice("city>address1_city", 2)], "criteria[1].field", "duplicateMatchField"),
        ([], "criteria", "noMatchFields"),
    ],
)
def test_a_bad_criterion_is_refused_naming_it_before_anything_is_read(
    customers: SyncStack, choices: list[MatchChoice], field: str, code: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        check_match_job(customers.context, "CUSTOMER", criteria=choices)
    assert (refused.value.field, refused.value.code) == (field, code)


def test_fields_and_criteria_together_are_refused_and_fields_become_one_priority(customers: SyncStack) -> None:
    with pytest.raises(InvalidInputError) as both:
        check_match_job(customers.context, "CUSTOMER", fields=["city"], criteria=[MatchChoice("city", 1)])
    assert (both.value.field, both.value.code) == ("criteria", "fieldsOrCriteria")
    chosen = check_match_job(customers.context, "CUSTOMER", fields=["displayName", "city"])
    assert chosen == (MatchChoice("displayName>name", 1), MatchChoice("city>address1_city", 1))


def run_job(stack: SyncStack, command: MatchCoupling, delivery: int = 1) -> None:
    JobHandler(stack.context, None, None).handle(command, delivery)  # type: ignore[arg-type]


def outcomes(entries: list[MatchLogEntry]) -> dict[str, tuple[Any, ...]]:
    """BC name -> what the log says of it (the rows read hold no No.: the mapping reads its own fields)."""
    return {e.name: (e.outcome, e.reason or e.code, e.dataverse_id) for e in entries}


def test_a_queued_job_keeps_a_coupling_log_and_a_redelivery_after_a_crash_rewrites_it_once(
    customers: SyncStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = customers
    dv_create_account(stack, {"name": "Trey Research", "address1_city": "Atlanta"})  # a duplicate typed in Sales
    command = MatchCoupling("match-log-1", "CUSTOMER", queued_on=QUEUED_ON, criteria=(MatchChoice("displayName", 1),))
    store = stack.context.match_log
    assert store is not None
    real_write = store.write_entries

    def dies(job_id: str, entries: Any) -> None:
        raise TransientError("workerDied", "the worker died before its log was written")

    monkeypatch.setattr(store, "write_entries", dies)
    with pytest.raises(TransientError):
        run_job(stack, command)  # couplings and errors written, the log not
    failed = stack.context.jobs.find_job("match-log-1")
    assert failed is not None and (failed.status, failed.started_on) == ("failed", QUEUED_ON)
    assert "workerDied" in failed.message and failed.counters.coupled == 2
    assert whole_log(stack, "match-log-1") == []

    written: list[int] = []

    def counted(job_id: str, entries: Any) -> None:
        written.append(len(entries))
        real_write(job_id, entries)

    monkeypatch.setattr(store, "write_entries", counted)
    run_job(stack, command, delivery=2)
    log = whole_log(stack, "match-log-1")
    cannon, selangorian = dv_seeded("account", "The Cannon Group PLC"), dv_seeded("account", "Selangorian Ltd.")
    assert outcomes(log) == {
        "The Cannon Group PLC": ("coupled", "", cannon),  # finished by the first delivery: logged by the second
        "Selangorian Ltd.": ("coupled", "", selangorian),
        "Trey Research": ("unmatched", "severalMatches", ""),
        "Alpine Ski House": ("failed", "dependencyNotCoupled", ""),  # its currency is not coupled
        "Adatum Corporation": ("unmatched", "noMatch", ""),
        "School of Fine Art": ("unmatched", "noMatch", ""),
    }
    assert next(e for e in log if e.name == "Trey Research").matches == 2
    assert written == [6]  # one call: the store writes them in transactions
    job = stack.context.jobs.find_job("match-log-1")
    assert job is not None and (job.status, job.started_on) == ("finished", QUEUED_ON)
    assert (job.counters.coupled, job.counters.failed) == (2, 4)
    assert [j.job_id for j in stack.context.jobs.list_jobs("CUSTOMER")].count("match-log-1") == 1  # one entry

    run_job(stack, command, delivery=3)  # delivered once more: the same rows, none added
    again = whole_log(stack, "match-log-1")
    assert outcomes(again) == outcomes(log) and len(again) == 6


def test_a_created_record_is_logged_with_its_new_id_and_a_dry_run_logs_nothing(customers: SyncStack) -> None:
    stack = customers
    command = MatchCoupling("match-log-2", "CUSTOMER", create_if_no_match=True, queued_on=QUEUED_ON)
    run_job(stack, command)
    log = outcomes(whole_log(stack, "match-log-2"))
    assert (
        log["Adatum Corporation"][0] == log["School of Fine Art"][0] == "created"
    )  # Adatum, School of Fine Art: nothing matched
    assert log["Adatum Corporation"][2]  # the Dataverse id it was created with
    assert log["The Cannon Group PLC"][0] == "coupled"
    dry = match_and_couple(stack.context, "CUSTOMER", job_id="match-dry-1", dry_run=True, keep_log=True)
    assert dry.examined and whole_log(stack, "match-dry-1") == []  # a dry run writes no log


def test_the_log_is_read_one_page_at_a_time_with_an_outcome_filter(customers: SyncStack) -> None:
    store = customers.context.match_log
    assert store is not None
    entries = [
        MatchLogEntry("job-p", f"bc/{n:02}", "coupled" if n % 3 else "unmatched", "CUSTOMER", f"C{n:05}")
        for n in range(1, 251)
    ]
    store.write_entries("job-p", entries)
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page = store.page("job-p", 100, token)
        pages += 1
        assert len(page.entries) <= 100
        seen += [e.bc_id for e in page.entries]
        token = page.continuation_token
        if token is None:
            break
    assert pages == 3 and seen == sorted(e.bc_id for e in entries)  # in BC id order, each once
    unmatched = store.page("job-p", 1000, outcome="unmatched")
    assert len(unmatched.entries) == 83 and {e.outcome for e in unmatched.entries} == {"unmatched"}
    assert store.page("job-p", 10, mapping="CONTACT").entries == ()
    with pytest.raises(InvalidInputError):
        store.page("job-p", 10, "not-a-token")


def test_a_pair_whose_synchronization_failed_stays_coupled_in_the_log_with_the_failure() -> None:
    report = MatchReport("CUSTOMER", "job-s")
    report.coupled.append(Matched("a", "dv-a", 1))
    report.failed += [MatchFailure("a", "recordInvalid", "BC refused it"), MatchFailure("b", "alreadyCoupled", "race")]
    entries = {e.bc_id: e for e in log_entries(report, {"a": ("C1", "A")}, {}, QUEUED_ON)}
    assert (entries["a"].outcome, entries["a"].dataverse_id, entries["a"].code) == ("coupled", "dv-a", "recordInvalid")
    assert (entries["a"].number, entries["a"].name, entries["a"].priority) == ("C1", "A", 1)
    assert (entries["b"].outcome, entries["b"].code) == ("failed", "alreadyCoupled")


def test_a_queued_job_its_criteria_no_longer_fit_ends_failed_with_the_reason(customers: SyncStack) -> None:
    """A field renamed by an override between the route's check and the worker: the entry says why, never stays
    "queued"."""
    command = MatchCoupling("match-gone-1", "CUSTOMER", criteria=(MatchChoice("shoeSize", 1),), queued_on=QUEUED_ON)
    with pytest.raises(InvalidInputError):
        run_job(customers, command)
    job = customers.context.jobs.find_job("match-gone-1")
    assert job is not None and (job.status, job.started_on) == ("failed", QUEUED_ON)
    assert job.message.startswith("unknownMatchField:") and job.finished_on
