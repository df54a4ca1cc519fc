"""The Full Synch. Review shows the record errors of its lines: a coupling line's BC records that fail (here
`dependencyNotCoupled`: their salesperson is not coupled) are recorded as record errors, as a run records them, so
the review line lists them with their counts by code and the sync-errors list has them; a record coupled later loses
its error."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulators.business_central.seed import CUSTOMERS
from local.emulators.business_central.seed import seeded_id as bc_seeded
from local.emulators.dataverse.seed import seeded_id as dv_seeded
from shared.domain.coupling import Coupling
from tests.functions.conftest import Api
from tests.functions.test_full_sync_no_duplicates import lines_of, run_review

pytestmark = pytest.mark.integration
RUN = ["CURRENCY", "PAYMENT TERMS", "SHIPMENT METHOD", "CUSTOMER"]
LINDAS = sorted(bc_seeded("customer", name) for name, *_, salesperson, _, _ in CUSTOMERS if salesperson == "LM")


def couple_salespeople(api: Api, codes_and_emails: list[tuple[str, str]]) -> None:
    for code, email in codes_and_emails:
        coupling = Coupling("SALESPEOPLE", bc_seeded("salesperson", code), dv_seeded("user", email))
        api.services.context.couplings.create_coupling(coupling)


def dependency_errors(entries: list[dict[str, Any]]) -> list[str]:
    return sorted(e["id"] for e in entries if e["code"] == "dependencyNotCoupled")


def test_a_coupling_lines_dependency_failures_show_in_its_review_line_and_the_sync_errors(api: Api) -> None:
    couple_salespeople(api, [("JO", "jim.olive@cronus.example"), ("OF", "otis.falls@cronus.example")])
    assert len(LINDAS) == 2  # Linda Martin (LM) is not coupled: her customers cannot be coupled

    line = lines_of(run_review(api, {"mappings": RUN}))["CUSTOMER"]

    assert line["recommendation"] == "coupleRecords"
    assert line["counters"]["failed"] >= len(LINDAS), line
    assert dependency_errors(line["errors"]) == LINDAS, line  # before: [] (the failures were only counted)
    assert line["errorCounts"]["byCode"]["dependencyNotCoupled"] == len(LINDAS), line
    assert line["errorCounts"]["total"] >= len(LINDAS)
    status, listed = api.call("list_sync_errors", params={"mapping": "CUSTOMER"})
    assert status == 200 and dependency_errors(listed["value"]) == LINDAS, listed
    message = next(e["message"] for e in line["errors"] if e["code"] == "dependencyNotCoupled")
    assert "SALESPEOPLE" in message or "salesperson" in message.casefold(), message

    couple_salespeople(api, [("LM", "linda.martin@cronus.example")])
    again = lines_of(run_review(api, {"mappings": RUN}))["CUSTOMER"]
    assert dependency_errors(again["errors"]) == [], again  # coupled now: their errors are cleared
    status, listed = api.call("list_sync_errors", params={"mapping": "CUSTOMER"})
    assert dependency_errors(listed["value"]) == []
