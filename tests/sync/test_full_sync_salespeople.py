"""A full synchronization's SALESPEOPLE line on the emulators and Azurite: BC's own salespeople end coupled to their
Sales users, no salesperson is created in BC (its Code is a key a person chooses: BC refuses a blank one), the
coupled ones take the users' values, and the users left without a salesperson are reported, not copied."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from local.emulators.business_central.seed import SALESPEOPLE
from local.emulators.dataverse.seed import seeded_id as dv_seeded_id
from local.fakes.queue import InMemoryJobQueue
from shared.domain.jobs import JobMessage, parse_command
from shared.domain.records import LineStatus, ReviewLine
from shared.mappings import run_list
from shared.services.full_sync.coordinator import FullSync
from shared.services.job_handlers import JobHandler
from shared.storage.runs import TableRunStore
from shared.storage.tables import TableFactory
from tests.sync.conftest import SyncStack

pytestmark = pytest.mark.integration
USERS = {email: dv_seeded_id("user", email) for _, _, email in SALESPEOPLE}


def run_lines(stack: SyncStack, azurite: str, names: list[str]) -> dict[str, ReviewLine]:
    """Plan and start a run of `names` with BC's recommendations, deliver its queue to the end (engine level: the
    chunk handler the `sync-jobs` trigger calls), and return its lines."""
    queue = InMemoryJobQueue()
    tables = TableFactory.from_connection_string(azurite, prefix=f"r{uuid.uuid4().hex[:12]}")
    services = SimpleNamespace(context=stack.context, runs=TableRunStore(tables), queue=queue)
    full = FullSync(stack.context, services.runs, queue)
    run, _ = full.plan(names)
    full.start(run.run_id)
    while batch := queue.receive(1):
        [message] = batch
        command = parse_command(JobMessage.from_json(message.envelope.body))
        JobHandler(services.context, services.runs, queue).handle(command, message.delivery_count)
        queue.complete(message.lock_token)
    run, lines = services.runs.get_run(run.run_id)
    assert run.status == "finished", [(ln.mapping, ln.status, ln.error) for ln in lines]
    return {line.mapping: line for line in lines}


def bc_salespeople(stack: SyncStack) -> dict[str, dict[str, object]]:
    select = ["id", "code", "email", "phoneNo"]
    rows = [row for page in stack.bc.list_changed_since("salespeoplePurchasers", None, select) for row in page.rows]
    return {str(row["id"]): row for row in rows}


def test_a_full_sync_alone_couples_bc_salespeople_to_their_users_and_creates_none(
    sync_stack: SyncStack, azurite: str
) -> None:
    stack = sync_stack
    jim = USERS["jim.olive@cronus.example"]
    stack.dataverse.update_row("systemusers", jim, {"mobilephone": "+1 555 0100"})
    outsider = str(uuid.uuid4())  # a licensed Sales user BC has no salesperson for
    stack.dataverse.create_row(
        "systemusers",
        outsider,
        {
            "firstname": "Olga",
            "lastname": "Outsider",
            "internalemailaddress": "olga.outsider@cronus.example",
            "domainname": "olga.outsider@cronus.example",
            "islicensed": True,
            "isdisabled": False,
            "isintegrationuser": False,
        },
    )
    before = bc_salespeople(stack)

    line = run_lines(stack, azurite, ["SALESPEOPLE"])["SALESPEOPLE"]

    assert line.recommendation == "fullSynchronization"  # BC's recommendation, kept
    assert line.status is LineStatus.FINISHED
    after = bc_salespeople(stack)
    assert set(after) == set(before)  # before: one salesperson with an empty Code per user (refused by BC)
    couplings = {c.bc_id: c.dataverse_id for c in stack.context.couplings.list_couplings("SALESPEOPLE")}
    by_email = {str(row["email"]): bc_id for bc_id, row in before.items()}
    assert couplings == {by_email[email]: user for email, user in USERS.items()}
    assert line.counters.inserted == 0 and line.counters.coupled == len(USERS), line.counters
    assert line.counters.failed == 0, stack.context.errors.list_errors("SALESPEOPLE")
    assert after[by_email["jim.olive@cronus.example"]]["phoneNo"] == "+1 555 0100"  # the full sync's copy
    assert line.left.dataverse_only >= 1, line.left  # the outsider (and any other user without a salesperson)
    assert outsider not in couplings.values()


def test_after_a_full_sync_alone_customers_find_their_salespeople(sync_stack: SyncStack, azurite: str) -> None:
    names = list(run_list("CUSTOMER"))  # SALESPEOPLE, CURRENCY, the option mappings, CUSTOMER
    lines = run_lines(sync_stack, azurite, names)
    errors = sync_stack.context.errors.list_errors("CUSTOMER")
    assert [e for e in errors if e.code == "dependencyNotCoupled"] == []
    assert lines["CUSTOMER"].counters.coupled > 0, lines["CUSTOMER"]
