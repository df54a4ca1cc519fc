"""Full synchronization through the `sync-jobs` trigger: planned, fanned out in chunks on a queue with Service Bus
semantics (the in-memory queue: peek-lock, redelivery, duplicate detection), run against the real stack."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from local.fakes.queue import InMemoryJobQueue, to_function_message
from shared.connectors.errors import ApiError
from shared.domain.records import LineStatus, Side
from shared.engine.mapping_run import MappingRun, run_mapping
from shared.mappings import OPTION_MAPS, run_list
from shared.services.full_sync import coordinator as full_sync_module
from shared.services.full_sync.coordinator import FullSync
from tests.functions.conftest import FUNCTIONS, Api

pytestmark = pytest.mark.integration
SYNC_JOB = FUNCTIONS["sync_job"].get_user_function()
DEAD_LETTERED = FUNCTIONS["dead_lettered_job"].get_user_function()
RUN = list(run_list("ITEM UOM", "RESOURCE UOM", "CUSTOMER", "CONTACT"))  # and what they depend on, catalog order


def drain(
    queue: InMemoryJobQueue,
    *,
    twice: bool = False,
    crash: Callable[[str], bool] | None = None,
    every_time: bool = False,
) -> int:
    """Deliver until the queue is empty, as the host does: complete on success, abandon on an exception.
    `twice` delivers every message a second time after it succeeded (a duplicate the lock could not stop);
    `crash` makes the first delivery of chosen messages fail (a worker that dies mid-chunk), or every delivery
    with `every_time` (the worker dies each time, so not even the last delivery reaches the handler)."""
    handled = 0
    crashed: set[str] = set()
    while locked := queue.receive(max_messages=1):
        message = locked[0]
        try:
            first = message.envelope.message_id not in crashed or every_time
            if crash and first and crash(message.envelope.message_id):
                crashed.add(message.envelope.message_id)
                raise RuntimeError("worker crashed")
            SYNC_JOB(to_function_message(message))
            if twice:
                SYNC_JOB(to_function_message(message))
        except Exception:
            queue.abandon(message.lock_token)
            continue
        queue.complete(message.lock_token)
        handled += 1
    return handled


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(full_sync_module, "CHUNK_RECORDS", 2)  # several chunks per line on the demo data


def run_full_sync(api: Api, **drain_options: object) -> tuple[FullSync, str]:
    services = api.services
    assert isinstance(services.queue, InMemoryJobQueue)
    full = FullSync(services.context, services.runs, services.queue)
    run, _ = full.plan(RUN)
    full.start(run.run_id)
    drain(services.queue, **drain_options)  # type: ignore[arg-type]
    return full, run.run_id


def state(api: Api) -> dict[str, set[tuple[str, str]]]:
    couplings = api.services.context.couplings
    return {name: {(c.bc_id, c.dataverse_id) for c in couplings.list_couplings(name)} for name in RUN}


@pytest.mark.usefixtures("small_chunks")
def test_a_full_sync_couples_or_creates_every_record_once_and_a_second_run_inserts_nothing(api: Api) -> None:
    _, run_id = run_full_sync(api)
    run, lines = api.services.runs.get_run(run_id)
    by_name = {line.mapping: line for line in lines}
    assert run.status == "finished", [(ln.mapping, ln.status, ln.error) for ln in lines]
    assert all(line.status is LineStatus.FINISHED for line in lines)
    customers = by_name["CUSTOMER"]
    assert customers.planned and customers.chunks_done == customers.chunks_total > 1
    assert customers.started_on and customers.finished_on
    first = state(api)
    bc_customers = {bc for bc, _ in first["CUSTOMER"]}
    assert len(bc_customers) == len(first["CUSTOMER"])  # each BC record coupled once
    assert len({dv for _, dv in first["CUSTOMER"]}) == len(first["CUSTOMER"])  # each Dataverse row once
    assert len(first["UNIT GROUP"]) == 9 and len(first["ITEM UOM"]) == 6
    for line in lines:
        assert line.counters.coupled == len(first[line.mapping]), line
    checkpoints = api.services.context.checkpoints
    for side in (Side.BC, Side.DATAVERSE):  # handed over to the incremental runs at the line's start
        found = checkpoints.find_checkpoint("CUSTOMER", side)
        assert found is not None and found.watermark == customers.started_on
    job = run_mapping(api.services.context, "CUSTOMER")  # reads what changed since, not the whole table
    assert job.counters.inserted == job.counters.failed == 0, job.counters
    # only the pairs the coupling line matched (never synchronized: CUSTOMER does not synchronize after coupling)
    # may be written, being inside the checkpoint's overlap on freshly seeded data
    assert job.counters.modified <= customers.counters.coupled, job.counters

    _, again = run_full_sync(api)
    _, lines = api.services.runs.get_run(again)
    assert sum(line.counters.inserted for line in lines) == 0, [(ln.mapping, ln.counters) for ln in lines]
    assert state(api) == first


@pytest.mark.usefixtures("small_chunks")
def test_duplicates_and_crashes_leave_the_same_end_state_and_count_each_chunk_once(api: Api) -> None:
    _, run_id = run_full_sync(api, twice=True, crash=lambda message_id: message_id.endswith("/1"))
    run, lines = api.services.runs.get_run(run_id)
    assert run.status == "finished", [(ln.mapping, ln.status, ln.error) for ln in lines]
    for line in lines:
        assert line.chunks_done == line.chunks_total, line
    couplings = state(api)
    for line in lines:  # nothing was coupled before: a chunk counted twice would count its couplings twice
        assert line.counters.coupled == len(couplings[line.mapping]), line
    assert len({bc for bc, _ in couplings["CUSTOMER"]}) == len(couplings["CUSTOMER"])
    assert len({dv for _, dv in couplings["CUSTOMER"]}) == len(couplings["CUSTOMER"])


def test_the_api_plans_starts_and_reviews_a_run_while_it_goes(api: Api) -> None:
    status, review = api.call(
        "start_full_sync",
        "POST",
        {"mappings": ["SALESPEOPLE", "CURRENCY"], "recommendations": {"CURRENCY": "noRecords"}},
    )
    assert status == 202, review
    run_id = review["runId"]
    lines = {line["mapping"]: line for line in review["lines"]}
    assert lines["SALESPEOPLE"]["status"] == "running" and lines["SALESPEOPLE"]["chunks"]["total"] is None
    assert lines["CURRENCY"]["status"] == "finished"  # overridden to noRecords: nothing to do
    assert (
        "POSTEDSALESINV-INV" not in lines
        and "POSTEDSALESINV-INV" in api.call("start_full_sync", "POST", {"start": False})[1]["notRunnable"]
    )
    assert isinstance(api.services.queue, InMemoryJobQueue)
    drain(api.services.queue)
    status, review = api.call("get_full_sync", route={"runId": run_id})
    assert status == 200 and review["status"] == "finished", review
    salespeople = review["lines"][0]
    assert salespeople["chunks"]["done"] == salespeople["chunks"]["total"]
    assert salespeople["finishedOn"] and review["progress"] == {"linesDone": 2, "lines": 2}
    status, answer = api.call("restart_full_sync", "POST", route={"runId": run_id})
    assert (status, answer["error"]["code"]) == (400, "nothingToRestart")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mappings": ["NOPE"]}, "mappings"),
        ({"mappings": []}, "mappings"),
        ({"recommendations": {"CUSTOMER": "sometimes"}}, "recommendations.CUSTOMER"),
        ({"recommendations": {"NOPE": "noRecords"}}, "recommendations.NOPE"),
        ({"start": "yes"}, "start"),
        ({"recommendations": None}, "recommendations"),
        ({"mappings": None}, "mappings"),
        ({"mappings": ["SHIPPING AGENT"]}, "mappings"),  # disabled: nothing takes part
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_full_sync_requests_are_400s_naming_the_field(api: Api, body: dict[str, object], field: str) -> None:
    status, answer = api.call("start_full_sync", "POST", body)
    assert (status, answer["error"]["field"]) == (400, field), answer


def test_a_run_planned_without_starting_is_started_once(api: Api) -> None:
    status, review = api.call("start_full_sync", "POST", {"mappings": ["UNIT GROUP"], "start": False})
    assert (status, review["status"], review["lines"][0]["status"]) == (202, "planned", "waiting")
    assert review["lines"][0]["recommendation"] == "fullSynchronization"
    status, review = api.call("run_planned_full_sync", "POST", route={"runId": review["runId"]})
    assert (status, review["status"], review["lines"][0]["status"]) == (202, "running", "running")
    status, answer = api.call("run_planned_full_sync", "POST", route={"runId": review["runId"]})
    assert (status, answer["error"]["code"]) == (400, "alreadyStarted")


def test_an_unknown_run_is_a_404(api: Api) -> None:
    status, answer = api.call("get_full_sync", route={"runId": "fs-nope"})
    assert (status, answer["error"]["code"]) == (404, "runNotFound")


def test_a_chunk_failing_on_every_delivery_fails_its_line_and_a_restart_finishes_it(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_run_chunk = FullSync.run_chunk

    def broken(self: FullSync, run_id: str, name: str, chunk: int, payload: object) -> None:
        raise RuntimeError("Dataverse is misconfigured")

    monkeypatch.setattr(FullSync, "run_chunk", broken)
    status, review = api.call("start_full_sync", "POST", {"mappings": ["UNIT GROUP", "ITEM UOM"]})
    run_id = review["runId"]
    queue = api.services.queue
    assert isinstance(queue, InMemoryJobQueue)
    drain(queue)
    _, review = api.call("get_full_sync", route={"runId": run_id})
    lines = {line["mapping"]: line for line in review["lines"]}
    assert review["status"] == "failed"
    assert lines["UNIT GROUP"]["status"] == "failed" and "misconfigured" in lines["UNIT GROUP"]["error"]
    assert lines["ITEM UOM"]["status"] == "failed" and "UNIT GROUP failed" in lines["ITEM UOM"]["error"]
    assert queue.dead_letters()  # the chunk is kept in the dead-letter queue

    monkeypatch.setattr(FullSync, "run_chunk", real_run_chunk)
    status, review = api.call("restart_full_sync", "POST", route={"runId": run_id})
    assert status == 202
    drain(queue)
    _, review = api.call("get_full_sync", route={"runId": run_id})
    assert review["status"] == "finished", review
    assert [line["counters"]["coupled"] for line in review["lines"]] == [9, 6]


def test_a_throttled_chunk_waits_for_retry_after_on_the_queue_then_finishes(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Throttled past the HTTP client's retries: the chunk comes back after Retry-After as a scheduled message,
    not redelivered at once (which would spend its ten deliveries in a second and dead-letter it)."""
    queue = api.services.queue
    assert isinstance(queue, InMemoryJobQueue)
    now = [datetime.now(UTC)]
    monkeypatch.setattr(queue, "_clock", lambda: now[0])
    real = MappingRun.run_records
    throttled = {"left": 12}  # more than the ten deliveries a message has

    def busy(self: MappingRun, bc_ids: Sequence[str], dv_ids: Sequence[str]) -> object:
        if throttled["left"]:
            throttled["left"] -= 1
            raise ApiError(
                status=429, code="TooManyRequests", message="slow down", method="GET", url="x", retry_after=30
            )
        return real(self, bc_ids, dv_ids)

    monkeypatch.setattr(MappingRun, "run_records", busy)
    _, review = api.call("start_full_sync", "POST", {"mappings": ["UNIT GROUP"]})
    for _ in range(15):
        drain(queue)
        if not queue.scheduled_messages():
            break
        waiting = queue.scheduled_messages()
        assert all(at - now[0] >= timedelta(seconds=30) for _, at in waiting)  # not visible before Retry-After
        assert all("/t" in envelope.message_id for envelope, _ in waiting)
        now[0] += timedelta(seconds=37)  # Retry-After plus the most jitter
    _, review = api.call("get_full_sync", route={"runId": review["runId"]})
    assert review["status"] == "finished", review
    assert review["lines"][0]["counters"]["coupled"] == 9 and throttled["left"] == 0
    assert not queue.dead_letters()


def test_a_worker_killed_on_its_last_delivery_is_recorded_from_the_dead_letter_queue(api: Api) -> None:
    """The last delivery could not fail the line itself (the worker died): the dead-letter trigger does it, with
    Service Bus's reason, and a restart finishes the run."""
    queue = api.services.queue
    assert isinstance(queue, InMemoryJobQueue)
    dead_letter_queue = queue.dead_letter_subqueue()
    _, review = api.call("start_full_sync", "POST", {"mappings": ["UNIT GROUP", "ITEM UOM"]})
    run_id = review["runId"]
    drain(queue, crash=lambda message_id: True, every_time=True)
    assert len(queue.dead_letters()) == 1
    _, review = api.call("get_full_sync", route={"runId": run_id})
    assert review["lines"][0]["status"] == "running"  # nobody has said anything yet

    while locked := dead_letter_queue.receive(max_messages=1):
        DEAD_LETTERED(to_function_message(locked[0], "sync-jobs/$deadletterqueue"))
        dead_letter_queue.complete(locked[0].lock_token)
    assert queue.dead_letters() == []  # settled on the subqueue
    _, review = api.call("get_full_sync", route={"runId": run_id})
    lines = {line["mapping"]: line for line in review["lines"]}
    assert review["status"] == "failed"
    assert lines["UNIT GROUP"]["status"] == "failed" and "MaxDeliveryCountExceeded" in lines["UNIT GROUP"]["error"]
    assert lines["ITEM UOM"]["status"] == "failed"

    api.call("restart_full_sync", "POST", route={"runId": run_id})
    drain(queue)
    _, review = api.call("get_full_sync", route={"runId": run_id})
    assert review["status"] == "finished", review


def test_option_mappings_take_part_in_a_full_sync_and_couple_every_code_once(api: Api) -> None:
    services = api.services
    assert isinstance(services.queue, InMemoryJobQueue)
    full = FullSync(services.context, services.runs, services.queue)
    run, lines = full.plan(list(OPTION_MAPS.values()))  # every option mapping of the catalog
    assert {line.mapping for line in lines} == {"PAYMENT TERMS", "SHIPMENT METHOD"}  # no BC source for agents
    full.start(run.run_id)
    drain(services.queue, twice=True)
    run, lines = services.runs.get_run(run.run_id)
    assert run.status == "finished" and all(line.status is LineStatus.FINISHED for line in lines), lines
    for line in lines:
        couplings = list(services.context.couplings.list_couplings(line.mapping))
        assert len(couplings) == 3 == line.counters.coupled  # each BC code once, whatever the duplicates
        assert len({c.dataverse_id for c in couplings}) == 3
