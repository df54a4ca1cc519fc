"""The `incremental_sync` timer over the real stack: it leaves a mapping to its running full-synchronization line."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from shared.domain.records import LineStatus, ReviewLine, SyncRun
from shared.domain.watermarks import format_instant
from shared.services.scheduled_runs import FULL_SYNC_LINE_HOURS
from shared.triggers.timers import SYNC_SCHEDULE, run_scheduled_mappings
from tests.functions.conftest import Api

pytestmark = pytest.mark.integration


def _line_started(api: Api, run_id: str, started_on: str) -> None:
    api.services.runs.create_run(SyncRun(run_id, started_on, mappings=("CUSTOMER",)), [ReviewLine("CUSTOMER", "x")])
    _, (line,) = api.services.runs.get_run(run_id)
    api.services.runs.update_line(run_id, dataclasses.replace(line, status=LineStatus.RUNNING, started_on=started_on))


def test_a_mapping_with_a_running_full_sync_line_is_left_to_it_until_the_line_ends(api: Api) -> None:
    now = api.stack.context.clock()
    _line_started(api, "run-1", format_instant(now - timedelta(minutes=5)))
    outcomes = run_scheduled_mappings(SYNC_SCHEDULE)
    assert outcomes["CUSTOMER"].startswith("skipped"), outcomes
    assert outcomes["CURRENCY"].startswith("finished"), outcomes  # the others run as usual
    assert outcomes["VENDOR"].startswith("finished"), outcomes  # VENDOR too: its schedule is SYNC_SCHEDULE
    assert api.stack.context.jobs.list_jobs("CUSTOMER") == []
    _, (line,) = api.services.runs.get_run("run-1")
    api.services.runs.update_line("run-1", dataclasses.replace(line, status=LineStatus.FINISHED))
    assert run_scheduled_mappings(SYNC_SCHEDULE)["CUSTOMER"].startswith("finished")
    assert len(api.stack.context.jobs.list_jobs("CUSTOMER")) == 1


def test_a_line_running_for_longer_than_the_limit_no_longer_holds_the_mapping(api: Api) -> None:
    abandoned = api.stack.context.clock() - timedelta(hours=FULL_SYNC_LINE_HOURS, minutes=1)
    _line_started(api, "run-old", format_instant(abandoned))
    assert run_scheduled_mappings(SYNC_SCHEDULE)["CUSTOMER"].startswith("finished")
