"""A BC notification wakes the sales document processes that read its entity set (issue 23): posted invoices and
their payment status read salesInvoices, the order status reads salesOrders, salesShipments and salesInvoices; a
process the company's setup disables is never woken and gets no webhook; a burst is one `processRun` per window
(`services/wake.py`, `triggers/document_timers.watched_processes`, `services/job_handlers.py`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from local.fakes.queue import InMemoryJobQueue
from shared.bootstrap import CompanyJobQueue
from shared.connectors.business_central.subscriptions import SUPPORTED_RESOURCES
from shared.domain.errors import FatalError
from shared.domain.jobs import JobMessage, RunProcess, parse_command
from shared.engine.setup import KEYS, Setup
from shared.mappings import CATALOG, get_mapping
from shared.services.job_handlers import JobHandler
from shared.services.notifications_bc import needed_entity_sets
from shared.services.wake import WatchedProcess, processes_reading_bc, wake
from shared.triggers.document_timers import PROCESS_RUNS, watched_processes

WINDOW = timedelta(seconds=5)
START = datetime(2026, 12, 7, 6, 0, 0, tzinfo=UTC)


def context(order_integration: bool = True, invoices_enabled: bool = True) -> Any:
    """What `watched_processes` reads of a run's context: its mappings (overrides applied) and its setup."""
    values = {key.name: key.default for key in KEYS} | {"salesOrderIntegrationEnabled": order_integration}
    mappings = {
        **CATALOG,
        "POSTEDSALESINV-INV": replace(get_mapping("POSTEDSALESINV-INV"), enabled=invoices_enabled),
    }
    return SimpleNamespace(mapping=mappings.__getitem__, setup=Setup(values, {}, None))


def test_each_bc_set_wakes_the_processes_that_read_it_and_only_enabled_ones() -> None:
    both = watched_processes(context())
    assert processes_reading_bc(both, "salesInvoices") == ["postedInvoices", "orderStatus"]
    assert processes_reading_bc(both, "salesOrders") == ["orderStatus"]
    assert processes_reading_bc(both, "customers") == []
    no_orders = watched_processes(context(order_integration=False))
    assert processes_reading_bc(no_orders, "salesInvoices") == ["postedInvoices"]
    assert processes_reading_bc(no_orders, "salesOrders") == []
    nothing = watched_processes(context(order_integration=False, invoices_enabled=False))
    assert processes_reading_bc(nothing, "salesInvoices") == []
    assert {p.name for p in both} == set(PROCESS_RUNS)  # every watched process has its run wired


def test_the_webhooks_kept_include_the_document_sets_bc_supports_while_their_processes_run() -> None:
    mappings = list(CATALOG.values())
    without = needed_entity_sets(mappings, SUPPORTED_RESOURCES)
    assert "salesInvoices" not in without and "salesOrders" not in without  # process mappings wake no table run
    both = needed_entity_sets(mappings, SUPPORTED_RESOURCES, watched_processes(context()))
    assert both - without == {"salesInvoices", "salesOrders"}  # salesShipments: BC sends no webhook for it
    invoices_only = needed_entity_sets(mappings, SUPPORTED_RESOURCES, watched_processes(context(False)))
    assert invoices_only - without == {"salesInvoices"}
    assert needed_entity_sets(mappings, SUPPORTED_RESOURCES, watched_processes(context(False, False))) == without


def test_a_burst_is_one_process_run_per_window_and_company() -> None:
    now = [START]
    queue = InMemoryJobQueue(clock=lambda: now[0])
    processes = processes_reading_bc(watched_processes(context()), "salesInvoices")
    for i in range(500):
        now[0] = START + timedelta(milliseconds=8 * i)  # 0 .. 3.992 s: one window
        wake(queue, "", [], now[0], WINDOW, processes)
        wake(CompanyJobQueue(queue, "fab"), "fab", [], now[0], WINDOW, processes)
    assert queue.receive(max_messages=10) == []  # scheduled for the window's end
    now[0] = START + WINDOW
    commands = [parse_command(JobMessage.from_json(m.envelope.body)) for m in queue.receive(max_messages=10)]
    assert sorted((c.process, c.company) for c in commands if isinstance(c, RunProcess)) == [
        ("orderStatus", ""),
        ("orderStatus", "fab"),
        ("postedInvoices", ""),
        ("postedInvoices", "fab"),
    ]
    assert len(commands) == 4


def test_the_handler_runs_the_wired_process_with_the_company_s_context_and_refuses_an_unwired_one() -> None:
    ran: list[Any] = []
    run_context = context()
    handler = JobHandler(run_context, None, None, processes={"orderStatus": ran.append})  # type: ignore[arg-type]
    handler.handle(RunProcess("wake/-/orderStatus/1", "orderStatus"))
    assert ran == [run_context]
    with pytest.raises(FatalError) as refused:
        handler.handle(RunProcess("wake/-/postedInvoices/1", "postedInvoices"))
    assert refused.value.code == "processNotWired"


def test_a_disabled_process_is_not_woken_even_for_its_own_set() -> None:
    disabled = [WatchedProcess("postedInvoices", frozenset({"salesInvoices"}), enabled=False)]
    queue = InMemoryJobQueue(clock=lambda: START)
    assert wake(queue, "", [], START, WINDOW, processes_reading_bc(disabled, "salesInvoices")) == []
