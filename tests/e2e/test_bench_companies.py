"""`make bench`'s two-company section (bench/companies.py) at a tiny scale, as a smoke test: it runs end to end on
its own stack, and the figures it prints are of what it says: each company's full synchronization finished without
a failed record, each company's accounts (its generated customers and its seeded ones) are stamped with that company
and none is left unstamped, and each company has its requests-per-record figures. No time is asserted."""

from __future__ import annotations

import pytest

from bench.companies import PREFIX, measure_two_companies
from local.emulators.business_central.seed import CUSTOMERS, FABRIKAM_CUSTOMERS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
GENERATED = 3


def test_two_companies_full_sync_figures_per_company() -> None:
    figures = measure_two_companies(GENERATED)

    seeded = {"primary": len(CUSTOMERS), "fab": len(FABRIKAM_CUSTOMERS)}
    for name, own in seeded.items():
        assert figures[f"{PREFIX}.{name}.status"] == "finished", figures
        assert figures[f"{PREFIX}.{name}.records_failed"] == 0, figures[f"{PREFIX}.{name}.failed_by_code"]
        assert figures[f"{PREFIX}.{name}.accounts_stamped"] == GENERATED + own, figures
        for kind in ("table", "bc", "dataverse"):
            assert figures[f"{PREFIX}.{name}.{kind}_requests_per_record"] > 0, (name, kind, figures)
    assert figures[f"{PREFIX}.accounts_unstamped"] == 0
