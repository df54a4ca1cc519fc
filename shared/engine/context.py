"""What every sync service is given: the ports, the mapping catalog with overrides, the setup, option maps and a
clock. One context is one run's view (a timer tick, a queue message, an HTTP request: `bootstrap.for_run`): its
catalog is a snapshot (`catalog.py`) and its setup is read once, so nothing in it changes under a run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.domain.errors import ConflictError
from shared.domain.mapping import TableMapping
from shared.domain.transforms import OptionMap
from shared.engine.option_maps import CouplingOptionMaps
from shared.engine.setup import Setup, default_setup
from shared.mappings.options import OPTION_MAPS
from shared.ports import (
    BusinessCentralClientPort,
    CheckpointStore,
    CouplingStore,
    DataverseClientPort,
    JobLog,
    QuoteArchive,
    SyncErrorStore,
)

PROCESS_MAPPINGS = {  # mappings BC runs in code, with rules the generic engine does not know: their own processes
    "POSTEDSALESINV-INV": "posted invoices are created by the invoice process (INVOICE_SYNC_SCHEDULE or "
    "POST /api/posted-sales-invoices/{bcId}/create-in-dataverse), with their lines, order link and payment status.",
    "SALESORDER-ORDER": "orders are created by the sales-order process and kept up to date by the order status job "
    "(ORDER_SYNC_SCHEDULE).",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SyncContext:
    bc: BusinessCentralClientPort
    dataverse: DataverseClientPort
    couplings: CouplingStore
    checkpoints: CheckpointStore
    errors: SyncErrorStore
    jobs: JobLog
    mapping: Callable[[str], TableMapping]  # the catalog with the stored overrides applied (a run's snapshot)
    option_maps: Mapping[str, OptionMap] = field(default_factory=dict)
    local_currency: str = "USD"  # BC's LCY: a blank currency code in BC means this currency
    clock: Callable[[], datetime] = utc_now
    bulk_size: int = 500
    # The effective setup (`engine/setup.py`: company, page services, write-in product ...) as the run began
    setup: Setup = field(default_factory=default_setup)
    archive: QuoteArchive | None = None  # the quote archive (sales documents' processes)

    def __post_init__(self) -> None:
        """Option maps come from the option mappings' couplings, read when a run needs them (`engine/option_maps.py`);
        maps given here are kept and take precedence."""
        if not isinstance(self.option_maps, CouplingOptionMaps):
            self.option_maps = CouplingOptionMaps(self.couplings, self.option_maps)

    def runnable(self, name: str, *, whole_runs: bool = False) -> TableMapping:
        """The mapping, when the engine can run it: refused up front (409 `mappingNotRunnable`, saying why) when its
        BC entity (e.g. SHIPPING AGENT's), or the BC entity of a lookup every record needs, has no source configured,
        or when one of BC's own processes runs it, rather than failing on its first request to BC or on every
        record."""
        mapping = self.mapping(name)
        why = self.not_runnable_because(mapping, whole_runs=whole_runs)
        if why:
            raise ConflictError("mappingNotRunnable", f"{mapping.name} cannot run: {why}", field="mapping")
        return mapping

    def not_runnable_because(self, mapping: TableMapping, *, whole_runs: bool = False) -> str | None:
        """`whole_runs`: the caller runs the whole mapping (the incremental run, a full synchronization), which is
        how an option mapping runs (`engine/option_runs.py`); record-level operations do not apply to it."""
        if mapping.name in PROCESS_MAPPINGS:
            return PROCESS_MAPPINGS[mapping.name]
        if mapping.name in OPTION_MAPS.values() and not whole_runs:
            return (
                f"it is an option mapping (BC codes <-> the options of {mapping.dataverse_id}): it runs as a whole, "
                "by its schedule, Synchronize for the mapping or a full synchronization, not record by record."
            )
        if not self.bc.serves(mapping.bc_entity_set):
            return f"no Business Central source is configured for '{mapping.bc_entity_set}'."
        for f in mapping.fields:
            needs_read = f.lookup and f.lookup.bc_key != "id" and not f.clear_on_failed_lookup
            if f.lookup and needs_read and not self.bc.serves(f.lookup.bc_entity_set or ""):
                return (
                    f"its field {f.dataverse_field} looks up {f.lookup.mapping}, and no Business Central source is "
                    f"configured for '{f.lookup.bc_entity_set}'."
                )
        return None
