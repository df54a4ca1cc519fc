"""What every sync service is given: the ports, the mapping catalog with overrides, the setup, option maps and a
clock. One context is one run's view (a timer tick, a queue message, an HTTP request: `bootstrap.for_run`): its
catalog is a snapshot (`catalog.py`) and its setup is read once, so nothing in it changes under a run.

Why the catalog comes in the context: the engine never imports `shared.mappings` (tests/unit/test_import_rules.py),
so it knows the mappings only as it is given them: one by name (`mapping`, with the overrides, for a run) or all of
them as declared (`catalog`, for what it looks up by kind or declaration: the option mappings behind the option
maps, the write-in product's mapping)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.domain.errors import ConflictError
from shared.domain.mapping import MappingKind, TableMapping
from shared.domain.transforms import OptionMap
from shared.engine.option_maps import CouplingOptionMaps
from shared.engine.setup import Setup, default_setup
from shared.ports import (
    BusinessCentralClientPort,
    CheckpointStore,
    CouplingStore,
    DataverseClientPort,
    JobLog,
    MatchLogStore,
    QuoteArchive,
    SyncErrorStore,
)


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
    match_log: MatchLogStore | None = None  # match-based coupling jobs' coupling logs (None: not kept)
    # Every mapping as the catalog declares it, without overrides (bootstrap: `shared.mappings.CATALOG`), in
    # dependency order: what the engine finds by kind or declaration, never by name. A run reads its mapping through
    # `mapping`, which applies the overrides (they change no declaration: kind, behaviours, option map ...).
    catalog: Mapping[str, TableMapping] = field(default_factory=dict, repr=False)  # no repr: two dozen mappings

    def __post_init__(self) -> None:
        """Option maps come from the couplings of the option mappings the catalog declares, read when a run needs
        them (`engine/option_maps.py`); maps given here are kept and take precedence."""
        if not isinstance(self.option_maps, CouplingOptionMaps):
            sources = {
                m.option_map: m.name for m in self.catalog.values() if m.kind is MappingKind.OPTION_SET and m.option_map
            }
            self.option_maps = CouplingOptionMaps(self.couplings, sources, self.option_maps)

    def runnable(self, name: str, *, whole_runs: bool = False) -> TableMapping:
        """The mapping, when the engine can run it: refused up front (409 `mappingNotRunnable`, saying why) when its
        BC entity (e.g. SHIPPING AGENT's), or the BC entity of a lookup every record needs, has no source configured,
        or when one of BC's own processes runs it (kind PROCESS), rather than failing on its first request to BC or
        on every record."""
        mapping = self.mapping(name)
        why = self.not_runnable_because(mapping, whole_runs=whole_runs)
        if why:
            raise ConflictError("mappingNotRunnable", f"{mapping.name} cannot run: {why}", field="mapping")
        return mapping

    def not_runnable_because(self, mapping: TableMapping, *, whole_runs: bool = False) -> str | None:
        """`whole_runs`: the caller runs the whole mapping (the incremental run, a full synchronization), which is
        how an option mapping (kind OPTION_SET) runs (`engine/option_runs.py`); record-level operations do not apply
        to it. A mapping of kind PROCESS is refused with its `process` note (which process runs it)."""
        if mapping.kind is MappingKind.PROCESS:
            return mapping.process or "one of BC's processes runs it, not the sync engine."
        if mapping.kind is MappingKind.OPTION_SET and not whole_runs:
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
