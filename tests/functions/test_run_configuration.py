"""Configuration read once per run (issue 21, item 5): each timer tick, queue message and HTTP request reads the
setup and the mapping overrides once, in one query (`bootstrap.for_run`); the chunks of one full synchronization
share one reading per process; and a setup change made through `PATCH /api/setup` on one instance reaches the
timer, the queue and Synchronize Now on another without a restart.

Before: the overrides were read at every `context.mapping()` (a tick on the demo data with nothing to synchronize:
36 reads of `Settings/mapping` and 2 of `Settings/setup`), and the setup's BC company and page services were written
onto the shared BC client only by the setup and document paths, so another instance's timer, queue and Synchronize
Now kept the values it had."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from local.emulators.business_central.seed import COMPANY_ID, COMPANY_NAME
from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.bootstrap import Services, set_services
from shared.domain.jobs import JobKind, JobMessage
from shared.domain.mapping import TableMapping
from shared.engine.context import SyncContext
from shared.engine.run_cache import RUN_CACHE
from shared.triggers.timers import SYNC_SCHEDULE, run_scheduled_mappings
from tests.functions.conftest import FUNCTIONS, Api
from tests.functions.test_queue_handler import service_bus_message

pytestmark = pytest.mark.integration
SYNC_JOB = FUNCTIONS["sync_job"].get_user_function()
PAGE_5055 = "contactNameDetails"  # an opt-in page: served only once the setup names its service


class CountingStore:
    """The settings store, counting reads per partition."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.reads = inner, Counter[str]()

    def get_settings(self, partition: str) -> tuple[dict[str, Any], str | None]:
        self.reads[partition] += 1
        result: tuple[dict[str, Any], str | None] = self.inner.get_settings(partition)
        return result

    def get_all_settings(self) -> dict[str, tuple[dict[str, Any], str | None]]:
        self.reads["both, one query"] += 1
        result: dict[str, tuple[dict[str, Any], str | None]] = self.inner.get_all_settings()
        return result

    def update_settings(self, partition: str, values: Mapping[str, Any], etag: str | None) -> str:
        result: str = self.inner.update_settings(partition, values, etag)
        return result


@dataclasses.dataclass
class Seen:
    """What the context handed to a service said when it looked its mapping up."""

    company: str
    serves_page_5055: bool
    write_in: str


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[Seen]:
    """Every path (timer, queue, Synchronize Now) asks its context whether the mapping can run: record what it saw."""
    found: list[Seen] = []
    runnable = SyncContext.runnable

    def spy(self: SyncContext, name: str, *, whole_runs: bool = False) -> TableMapping:
        write_in = self.setup.write_in.number if self.setup.write_in else ""
        found.append(Seen(str(getattr(self.bc, "company", "")), self.bc.serves(PAGE_5055), write_in))
        return runnable(self, name, whole_runs=whole_runs)

    monkeypatch.setattr(SyncContext, "runnable", spy)
    return found


@pytest.fixture
def counting(api: Api) -> Iterator[CountingStore]:
    store = CountingStore(api.services.settings_store)
    api.services.settings_store = store
    yield store


def other_instance(api: Api) -> Services:
    """Another worker of the same app: the same stores, its own BC client built from the app settings."""
    context = dataclasses.replace(api.services.context, bc=copy.copy(api.stack.bc))
    return dataclasses.replace(api.services, context=context)


def test_a_timer_tick_reads_the_setup_and_the_overrides_once_and_uses_the_overrides(
    api: Api, counting: CountingStore
) -> None:
    status, answer = api.call("patch_mapping", "PATCH", {"enabled": False}, route={"name": "CURRENCY"})
    assert status == 200, answer
    counting.reads.clear()
    outcomes = run_scheduled_mappings(SYNC_SCHEDULE)
    assert "CURRENCY" not in outcomes and outcomes["CUSTOMER"].startswith("finished"), outcomes  # its override
    assert dict(counting.reads) == {"both, one query": 1}  # was {"mapping": 36, "setup": 2}


def test_a_setup_change_on_one_instance_reaches_the_timer_queue_and_synchronize_now_of_another(
    api: Api, counting: CountingStore, seen: list[Seen]
) -> None:
    change = {"bcCompany": COMPANY_ID, "pageServices": {PAGE_5055: "NameDetails"}, "writeInProductNumber": "1900-S"}
    status, answer = api.call("patch_setup", "PATCH", change)  # made on this instance, through the API
    assert status == 200, answer
    set_services(other_instance(api))  # the paths run on another instance, never restarted
    assert api.stack.bc.company == COMPANY_NAME and not api.stack.bc.serves(PAGE_5055)  # no client rewritten

    counting.reads.clear()
    run_scheduled_mappings(SYNC_SCHEDULE)
    timer = set((s.company, s.serves_page_5055, s.write_in) for s in seen)
    assert timer == {(COMPANY_ID, True, "1900-S")}
    assert dict(counting.reads) == {"both, one query": 1}

    seen.clear()
    counting.reads.clear()
    SYNC_JOB(service_bus_message(JobMessage(JobKind.MAPPING_RUN, "run-cust-1", {"mapping": "CUSTOMER"})))
    assert [(s.company, s.serves_page_5055, s.write_in) for s in seen] == [(COMPANY_ID, True, "1900-S")]
    assert dict(counting.reads) == {"both, one query": 1}

    seen.clear()
    counting.reads.clear()
    body = {"mapping": "CUSTOMER", "bcId": bc_seeded("customer", "Trey Research"), "direction": "toDataverse"}
    status, answer = api.call("synchronize_now", "POST", body)
    assert status in (200, 404, 409), answer
    assert [(s.company, s.serves_page_5055, s.write_in) for s in seen] == [(COMPANY_ID, True, "1900-S")]
    assert dict(counting.reads) == {"both, one query": 1}

    status, answer = api.call("patch_setup", "PATCH", {"bcCompany": None, "pageServices": None})  # dropped again
    assert status == 200, answer
    seen.clear()
    run_scheduled_mappings(SYNC_SCHEDULE)
    assert set((s.company, s.serves_page_5055) for s in seen) == {(COMPANY_NAME, False)}


def test_the_chunks_of_one_full_synchronization_share_one_reading_of_the_settings(
    api: Api, counting: CountingStore, seen: list[Seen]
) -> None:
    """A full synchronization's chunks read the setup and the overrides once per run and process (the run cache),
    as they read the run's other shared facts: a run's chunks see one configuration, at most `LIFETIME` old."""
    RUN_CACHE.clear()
    status, answer = api.call("patch_setup", "PATCH", {"writeInProductNumber": "1900-S"})
    assert status == 200, answer
    counting.reads.clear()

    def chunk(run_id: str, number: int) -> None:
        payload = {"runId": run_id, "mapping": "CURRENCY", "chunk": number, "dryRun": True, "side": "bc", "ids": []}
        with contextlib.suppress(Exception):  # the run is not stored: the count fails, after the chunk's work
            SYNC_JOB(service_bus_message(JobMessage(JobKind.FULL_SYNC_CHUNK, f"{run_id}/CURRENCY/{number}", payload)))

    for number in (1, 2, 3):
        chunk("fs-one", number)
    assert dict(counting.reads) == {"both, one query": 1}
    assert [s.write_in for s in seen] == ["1900-S"] * 3  # each chunk ran with the run's configuration
    chunk("fs-two", 1)
    assert dict(counting.reads) == {"both, one query": 2}  # another run reads its own
