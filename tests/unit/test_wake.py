"""A notification wakes a mapping, not a record storm (`services/wake.py`, issue 23): a burst of notifications within
one wake window is one scheduled `mappingRun` (Service Bus duplicate detection drops the repeats, as the local
queue does), a burst straddling a window boundary two; the run is scheduled for its window's end, so it reads every
change notified within the window; only the mappings that read the notified table on that side are woken."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from local.fakes.queue import InMemoryJobQueue
from shared.bootstrap import CompanyJobQueue
from shared.domain.jobs import JobKind, JobMessage, RunMapping, parse_command
from shared.mappings import CATALOG, get_mapping
from shared.services.wake import mappings_reading_bc, mappings_reading_dataverse, wake, wake_message

WINDOW = timedelta(seconds=5)
START = datetime(2026, 12, 7, 6, 0, 0, tzinfo=UTC)


def jobs(queue: InMemoryJobQueue) -> list[JobMessage]:
    return [JobMessage.from_json(locked.envelope.body) for locked in queue.receive(max_messages=10)]


def test_a_burst_of_1000_notifications_in_one_window_is_one_run_at_the_window_s_end() -> None:
    now = [START]
    queue = InMemoryJobQueue(clock=lambda: now[0])
    for i in range(1000):
        now[0] = START + timedelta(milliseconds=4 * i)  # 0 .. 3.996 s: one window
        wake(queue, "", ["CUSTOMER"], now[0], WINDOW)
    assert queue.receive(max_messages=10) == []  # scheduled: not visible before the window ends
    now[0] = START + WINDOW
    runs = jobs(queue)
    assert [r.kind for r in runs] == [JobKind.MAPPING_RUN]
    assert runs[0].payload == {"mapping": "CUSTOMER"}


def test_a_burst_straddling_a_window_boundary_is_two_runs_and_companies_never_share_one() -> None:
    now = [START + timedelta(seconds=3)]
    queue = InMemoryJobQueue(clock=lambda: now[0])
    for i in range(1000):
        now[0] = START + timedelta(seconds=3, milliseconds=4 * i)  # 3 .. 6.996 s: two windows
        wake(queue, "", ["CUSTOMER"], now[0], WINDOW)
        wake(CompanyJobQueue(queue, "fab"), "fab", ["CUSTOMER"], now[0], WINDOW)
    now[0] = START + 2 * WINDOW
    commands = [parse_command(job) for job in jobs(queue)]
    assert all(isinstance(c, RunMapping) for c in commands)
    assert sorted((c.mapping, c.company) for c in commands if isinstance(c, RunMapping)) == [
        ("CUSTOMER", ""),
        ("CUSTOMER", ""),
        ("CUSTOMER", "fab"),
        ("CUSTOMER", "fab"),
    ]


def test_the_message_id_names_company_mapping_and_window() -> None:
    first = wake_message("", "CUSTOMER", START + timedelta(seconds=1), WINDOW)
    same = wake_message("", "CUSTOMER", START + timedelta(seconds=4.9), WINDOW)
    later = wake_message("", "CUSTOMER", START + timedelta(seconds=5), WINDOW)
    other = wake_message("fab", "CUSTOMER", START + timedelta(seconds=1), WINDOW)
    assert first.message.message_id == same.message.message_id != later.message.message_id
    assert other.message.message_id != first.message.message_id
    assert first.runs_at == START + WINDOW and later.runs_at == START + 2 * WINDOW


def test_only_the_mappings_reading_the_table_on_that_side_are_woken() -> None:
    mappings = list(CATALOG.values())
    from_bc = mappings_reading_bc(mappings, "customers")
    assert "CUSTOMER" in from_bc and "VENDOR" not in from_bc
    from_sales = mappings_reading_dataverse(mappings, "account")
    assert {"CUSTOMER", "VENDOR"} <= set(from_sales)
    assert mappings_reading_dataverse(mappings, "accounts") == from_sales  # entity set or logical name
    assert mappings_reading_bc(mappings, "noSuchSet") == []
    # a mapping that only carries to Sales is not woken by a change in Sales
    to_sales_only = [m.name for m in mappings if m.direction.value == "toDataverse" and m.kind.value == "table"]
    woken_by_sales = {name for m in mappings for name in mappings_reading_dataverse(mappings, m.dataverse_table)}
    assert to_sales_only and not set(to_sales_only) & woken_by_sales
    disabled = [replace(get_mapping("CUSTOMER"), enabled=False)]
    assert mappings_reading_bc(disabled, "customers") == []
