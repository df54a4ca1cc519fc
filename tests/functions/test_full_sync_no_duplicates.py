"""A full synchronization's `coupleRecords` lines make no duplicates (issue 19, part 8): they create only what the
mapping's create-if-no-match says (BC's CUSTOMER and CONTACT do not), never copy Dataverse's uncoupled rows to BC
(BC's "Couple Records" does not), and the review says what was left uncoupled and why. A dry run, on the match route
and on both full-sync start routes, reports what would happen with zero writes to either app or the couplings."""

from __future__ import annotations

from typing import Any

import pytest

from local.fakes.queue import InMemoryJobQueue
from shared.domain.records import Side
from shared.engine.identity import is_identity_pair
from tests.conftest import EmulatorHandle
from tests.functions.conftest import Api
from tests.functions.test_full_sync_queue import RUN, drain
from tests.sync.test_matching_no_duplicates import writes

pytestmark = pytest.mark.integration
COUPLING_LINES = ("CUSTOMER", "CONTACT")


def all_couplings(api: Api) -> set[tuple[str, str, str]]:
    store = api.services.context.couplings
    return {(name, c.bc_id, c.dataverse_id) for name in RUN for c in store.list_couplings(name)}


def run_review(api: Api, body: dict[str, Any], params: dict[str, str] | None = None) -> dict[str, Any]:
    status, review = api.call("start_full_sync", "POST", body, params=params)
    assert status == 202, review
    assert isinstance(api.services.queue, InMemoryJobQueue)
    drain(api.services.queue)
    status, review = api.call("get_full_sync", route={"runId": review["runId"]})
    assert status == 200 and review["status"] == "finished", review
    return dict(review)


def lines_of(review: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["mapping"]: line for line in review["lines"]}


def test_coupling_lines_create_nothing_when_the_mapping_does_not_and_say_what_they_left(api: Api) -> None:
    lines = lines_of(run_review(api, {"mappings": RUN}))
    for name in COUPLING_LINES:
        line = lines[name]
        assert line["recommendation"] == "coupleRecords", line
        assert line["counters"]["inserted"] == 0, line  # before: every unmatched record created on both sides
        created = [
            c
            for c in api.services.context.couplings.list_couplings(name)
            if is_identity_pair(name, c.bc_id, c.dataverse_id)
        ]
        assert created == []
        left = line["left"]
        assert set(left) == {"noMatch", "severalMatches", "matchCoupled", "dataverseOnly"}
        unmatched = left["noMatch"] + left["severalMatches"] + left["matchCoupled"]
        # Sales' rows: coupled by a match or left (the demo's accounts all match once the salespeople are coupled by
        # the SALESPEOPLE line), never copied to BC
        assert left["dataverseOnly"] + line["counters"]["coupled"] > 0, (left, line["counters"])
        assert line["counters"]["failed"] >= unmatched  # BC counts them as failed too


def test_a_dry_full_sync_writes_nothing_and_reports_what_the_real_one_then_does(
    api: Api, business_central: EmulatorHandle, dataverse: EmulatorHandle
) -> None:
    before, bc_writes, dv_writes = all_couplings(api), writes(business_central), writes(dataverse)
    status, planned = api.call("start_full_sync", "POST", {"mappings": ["CURRENCY"], "start": False})
    assert status == 202
    dry = run_review(api, {"mappings": ["CURRENCY"]}, params={"dryRun": "true"})
    assert dry["dryRun"] is True
    status, copy = api.call(
        "run_planned_full_sync", "POST", route={"runId": planned["runId"]}, params={"dryRun": "true"}
    )
    assert status == 202 and copy["dryRun"] is True and copy["runId"] != planned["runId"], copy
    drain(api.services.queue)  # type: ignore[arg-type]
    assert (writes(business_central), writes(dataverse)) == (bc_writes, dv_writes)
    assert all_couplings(api) == before
    for side in (Side.BC, Side.DATAVERSE):  # not handed over: the incremental runs still read it all
        assert api.services.context.checkpoints.find_checkpoint("CURRENCY", side) is None
    status, again = api.call("get_full_sync", route={"runId": copy["runId"]})
    assert lines_of(again)["CURRENCY"]["counters"] == lines_of(dry)["CURRENCY"]["counters"]
    status, still = api.call("get_full_sync", route={"runId": planned["runId"]})
    assert still["status"] == "planned"  # the dry copy leaves it to be started for real

    real_review = run_review(api, {"mappings": ["CURRENCY"]})
    assert real_review["dryRun"] is False
    real, would = lines_of(real_review)["CURRENCY"], lines_of(dry)["CURRENCY"]
    for counter in ("coupled", "inserted", "failed"):
        assert would["counters"][counter] == real["counters"][counter], (would, real)
    assert would["left"] == real["left"]


def test_a_dry_match_writes_nothing(api: Api, business_central: EmulatorHandle, dataverse: EmulatorHandle) -> None:
    before, bc_writes, dv_writes = all_couplings(api), writes(business_central), writes(dataverse)
    status, dry = api.call(
        "match_couplings", "POST", {"createIfNoMatch": True}, route={"mapping": "CURRENCY"}, params={"dryRun": "true"}
    )
    assert status == 200 and dry["dryRun"] is True, dry
    assert dry["coupled"] and dry["created"], dry
    assert (writes(business_central), writes(dataverse)) == (bc_writes, dv_writes)
    assert all_couplings(api) == before
    status, real = api.call("match_couplings", "POST", {"createIfNoMatch": True}, route={"mapping": "CURRENCY"})
    assert status == 200 and real["dryRun"] is False
    assert (dry["coupled"], dry["created"], dry["unmatched"]) == (real["coupled"], real["created"], real["unmatched"])
    status, bad = api.call("match_couplings", "POST", {}, route={"mapping": "CURRENCY"}, params={"dryRun": "yes"})
    assert (status, bad["error"]["field"]) == (400, "dryRun")
