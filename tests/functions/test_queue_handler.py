"""The `sync-jobs` trigger called with real `azure.functions.ServiceBusMessage` objects, as the worker passes them."""

from __future__ import annotations

import pytest
from azure.functions.servicebus import ServiceBusMessage

from shared.connectors.service_bus.messages import message_fields
from shared.domain.jobs import InvalidJobMessage, JobKind, JobMessage
from tests.functions.conftest import FUNCTIONS, Api

pytestmark = pytest.mark.integration
SYNC_JOB = FUNCTIONS["sync_job"].get_user_function()
DEAD_LETTERED = FUNCTIONS["dead_lettered_job"].get_user_function()


def service_bus_message(job: JobMessage, delivery_count: int = 1) -> ServiceBusMessage:
    fields = message_fields(job)
    properties = fields["application_properties"]
    return ServiceBusMessage(
        body=job.to_json().encode(),
        message_id=job.message_id,
        content_type=fields["content_type"],
        delivery_count=delivery_count,
        application_properties=properties,
        user_properties=properties,
    )


def test_a_match_coupling_job_couples_and_a_mapping_run_job_runs_and_is_logged(api: Api) -> None:
    context = api.services.context
    SYNC_JOB(service_bus_message(JobMessage(JobKind.MATCH_COUPLING, "match-sp-1", {"mapping": "SALESPEOPLE"})))
    assert len(list(context.couplings.list_couplings("SALESPEOPLE"))) == 3
    SYNC_JOB(service_bus_message(JobMessage(JobKind.MAPPING_RUN, "run-sp-1", {"mapping": "SALESPEOPLE"})))
    jobs = context.jobs.list_jobs("SALESPEOPLE")
    assert jobs and jobs[0].counters.failed == 0


def test_a_junk_message_raises_so_it_ends_in_the_dead_letter_queue_not_completed() -> None:
    junk = ServiceBusMessage(
        body=b"{not json",
        message_id="junk-1",
        content_type="application/json",
        application_properties={},
        user_properties={},
    )
    with pytest.raises(InvalidJobMessage):
        SYNC_JOB(junk)


def test_a_job_for_a_mapping_that_cannot_run_raises_for_redelivery_and_dead_letter(api: Api) -> None:
    from shared.domain.errors import ConflictError

    with pytest.raises(ConflictError, match="POSTEDSALESINV-INV"):
        SYNC_JOB(service_bus_message(JobMessage(JobKind.MAPPING_RUN, "run-inv-1", {"mapping": "POSTEDSALESINV-INV"})))


def test_a_payload_its_kind_cannot_run_is_refused_with_its_reason_before_any_work(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import shared.bootstrap

    def built() -> None:
        pytest.fail("the services were built for a message that cannot run")

    monkeypatch.setattr(shared.bootstrap, "get_services", built)
    no_mapping = service_bus_message(JobMessage(JobKind.MAPPING_RUN, "run-x-1", {"mapping": ""}))
    with pytest.raises(InvalidJobMessage, match="mappingRun job 'run-x-1': 'mapping' must be a non-empty text"):
        SYNC_JOB(no_mapping)
    assert "refused job message run-x-1 (delivery 1)" in caplog.text
    DEAD_LETTERED(no_mapping)  # in the dead-letter queue: the same reason is logged, and it is completed
    assert "dead-lettered message run-x-1 is no job" in caplog.text
