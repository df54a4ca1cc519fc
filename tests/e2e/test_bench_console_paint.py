"""`make bench`'s console first-paint section (bench/console_paint.py) at a tiny scale, as a smoke test: on a stack
of its own it seeds a small and a slightly larger store, loads both pages in Chromium, and the figures it prints are
of what it says: the seeded rows are really in Table Storage (counted there, and one read back through the app's
store as the coupling the bench wrote), every page showed its list on every load without a browser console error, and
each page has paint, ready and list-call figures in both columns of the printed table. No time is asserted.

The pages' ready selectors: the issue's paged lists (`table.coupling-list`, `table.error-list`) once the console has
them, else what today's pages show (the Couplings page's heading, the errors page's `table.errors`), so the smoke
test runs on the tree before and after issue 24's pages are merged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient

from bench.console_paint import (
    MAPPING,
    PREFIX,
    PageProbe,
    bc_id,
    default_probes,
    measure_on,
    side_by_side_table,
    synchronized_coupling,
)
from local.stack.azurite import connection_string
from local.stack.launcher import LocalStack, quiet_timers
from shared.storage.couplings import TableCouplingStore
from shared.storage.tables import TableFactory

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
CONSOLE = Path(__file__).resolve().parents[2] / "shared" / "console"
COUPLINGS, ERRORS, BASELINE = 300, 150, 100


def probes() -> list[PageProbe]:
    defaults = {p.name: p for p in default_probes()}
    couplings, errors = defaults["couplings"], defaults["errors"]
    if "coupling-list" not in (CONSOLE / "coupling_list.js").read_text(encoding="utf-8"):
        couplings = replace(couplings, ready="main h1", api="/api/mappings")
    if "error-list" not in (CONSOLE / "errors.js").read_text(encoding="utf-8"):
        errors = replace(errors, ready="table.errors tbody tr")
    return [couplings, errors]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack.on_free_ports(cert_dir=Path(tmp_path_factory.mktemp("identity")))
    local.host_env.update(quiet_timers())
    local.start()
    try:
        yield local
    finally:
        local.stop()


def test_console_paint_seeds_the_store_and_prints_both_pages_figures(stack: LocalStack) -> None:
    figures = measure_on(stack, COUPLINGS, ERRORS, baseline=BASELINE, loads=2, probes=probes())

    storage = connection_string("127.0.0.1", stack.ports["azurite"])
    service = TableServiceClient.from_connection_string(storage)
    rows = service.get_table_client("Couplings").query_entities(f"PartitionKey eq '{MAPPING}'", select=["RowKey"])
    kinds = [row["RowKey"].split(":", 1)[0] for row in rows]
    assert (kinds.count("bc"), kinds.count("dv"), len(kinds)) == (COUPLINGS, COUPLINGS, 2 * COUPLINGS)
    errors = list(service.get_table_client("SyncErrors").list_entities(select=["PartitionKey"]))
    assert len(errors) == ERRORS and {e["PartitionKey"] for e in errors} == {MAPPING}
    stored = TableCouplingStore(TableFactory.from_connection_string(storage)).find_by_bc_id(MAPPING, bc_id(250))
    assert stored is not None and replace(stored, etag=None) == synchronized_coupling(250)

    assert (figures[f"{PREFIX}.baseline.couplings"], figures[f"{PREFIX}.large.couplings"]) == (BASELINE, COUPLINGS)
    assert (figures[f"{PREFIX}.baseline.errors"], figures[f"{PREFIX}.large.errors"]) == (BASELINE, ERRORS)
    table = side_by_side_table(figures)
    assert f"{BASELINE} couplings / {BASELINE} errors" in table and f"{COUPLINGS} couplings / {ERRORS} errors" in table
    for page in ("couplings", "errors"):
        for phase in ("baseline", "large"):
            at = f"{PREFIX}.{phase}.{page}"
            assert figures[f"{at}.loads_measured"] == 1
            assert figures[f"{at}.ready_timeouts"] == 0, f"{page}: the list never showed ({phase})"
            assert figures[f"{at}.console_errors"] == 0, page
            for figure in ("fcp_ms_median", "ready_ms_median"):
                assert isinstance(figures[f"{at}.{figure}"], float), (at, figure, figures)
        assert figures[f"{PREFIX}.large.{page}.api_ms_median"] is not None, f"{page}: its list call not found"
        assert figures[f"{PREFIX}.verdict.{page}"].startswith(("under 1 s", "over 1 s (")), figures
        line = next(line for line in table.splitlines() if line.startswith(f"{page}: list shown (ready), median ms"))
        assert len(line.split()) == 8 and all(cell != "-" for cell in line.split()[-2:]), line
        assert f"verdict, {page}: " in table
    assert figures[f"{PREFIX}.large.seed_couplings_per_s"] > 0


def test_a_page_whose_list_never_shows_is_counted_and_fails_the_verdict(stack: LocalStack) -> None:
    """A wrong ready selector (or a page that never lists) is a figure and a failed verdict, not a crashed bench."""
    missing = PageProbe("missing", "errors", "table.no-such-list tbody tr", "/api/no-such-call")

    figures = measure_on(stack, 0, 0, baseline=0, loads=2, probes=[missing], timeout_s=1)

    assert figures[f"{PREFIX}.large.missing.ready_timeouts"] == 1
    assert figures[f"{PREFIX}.large.missing.ready_ms_median"] is None
    assert figures[f"{PREFIX}.large.missing.api_ms_median"] is None
    assert figures[f"{PREFIX}.verdict.missing"] == "over 1 s (the list never showed)"
    assert isinstance(figures[f"{PREFIX}.large.missing.fcp_ms_median"], float)  # the page itself painted
