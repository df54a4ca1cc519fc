"""Option mappings (kind OPTION_SET: PAYMENT TERMS, SHIPMENT METHOD): BC's code records <-> the options of an
account picklist.

BC's "CDS Int. Option Couple" in our terms. Each BC code record is coupled to one option value (the coupling's
Dataverse id is the value as text). A run, incremental or one chunk of a full synchronization, takes the BC records:
- coupled: the option's label follows the BC code (`UpdateOptionValue` when it differs; BC's "synch. after
  coupling"); an option that no longer exists is a record error (`optionDeleted`), never silently re-created;
- not coupled: coupled to the uncoupled option whose label is the code (case-insensitive; BC's default match
  criterion; its label then becomes the code, BC's "Synch. After Bulk Coupling"), or, as BC's "Create New in Case
  of No Match" is set on these mappings, to a new option labelled with the code (`InsertOptionValue`).
Option values have no modified-on, so every run reads the option set (one request) and the BC table (one request):
the tables are a few dozen rows. The mapping is one-way (BC -> Sales), as BC's.

The couplings build the option maps CUSTOMER's payment terms and shipment method fields go through
(`engine/option_maps.py`). The documents' own picklists (order, quote, invoice) are separate option sets: every run
ends by making them carry the coupled options with the same values and labels, as BC does after it inserts or relabels
an option (`engine/document_options.py`), so a document can hold any code the account can.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.domain.coupling import Coupling
from shared.domain.errors import ConflictError, RecordError, SyncError
from shared.domain.mapping import MappingKind, TableMapping
from shared.domain.records import Counters, JobStatus, Side, SyncJob
from shared.domain.watermarks import format_instant
from shared.engine.context import SyncContext
from shared.engine.document_options import copy_to_documents


def is_option_mapping(mapping: TableMapping) -> bool:
    """An option mapping runs as a whole, here, not through `MappingRun`: its kind says so."""
    return mapping.kind is MappingKind.OPTION_SET


def run_option_mapping(
    context: SyncContext, name: str, *, bc_ids: Sequence[str] | None = None, job_id: str | None = None
) -> SyncJob:
    """One run over every BC code record (or only `bc_ids`, a full-sync chunk); logged as one job."""
    mapping = context.runnable(name, whole_runs=True)
    code_field = next(f.bc_field for f in mapping.fields if f.bc_field)
    started = context.clock()
    wanted = None if bc_ids is None else set(bc_ids)
    pages = context.bc.list_changed_since(mapping.bc_entity_set, None, [code_field], extra_filter=mapping.bc_filter)
    rows = [row for page in pages for row in page.rows if wanted is None or str(row["id"]) in wanted]
    run = _OptionRun(context, mapping, context.dataverse.option_set(mapping.dataverse_table, mapping.dataverse_id))
    couplings = {c.bc_id: c for c in context.couplings.list_couplings(name)}
    run.taken = {c.dataverse_id for c in couplings.values()}
    errors = {e.record_id: e for e in context.errors.list_errors(name) if e.side is Side.BC}
    for row in rows:
        bc_id, code = str(row["id"]), str(row.get(code_field) or "")
        if bc_id in errors and errors[bc_id].skipped:  # the same error twice: left alone until retried or restored
            run.counters.skipped += 1
            continue
        try:
            coupling = couplings.get(bc_id)
            if coupling is None:
                run.couple(bc_id, code)
            else:
                run.follow(coupling, code)
            if bc_id in errors:
                context.errors.clear_error(name, Side.BC, bc_id)
        except SyncError as error:
            if error.is_transient:
                raise
            run.counters.failed += 1
            context.errors.record_error(name, Side.BC, bc_id, error.code, error.message)
    copy_to_documents(context, mapping, run.coupled_labels(context))
    job = SyncJob(
        name,
        job_id or f"run-{uuid.uuid4()}",
        format_instant(started),
        format_instant(context.clock()),
        JobStatus.FINISHED,
        run.counters,
    )
    context.jobs.record_job(job)
    return job


@dataclass
class _OptionRun:
    """One run's view of the option set: value -> label as it now stands, and the values already coupled."""

    context: SyncContext
    mapping: TableMapping
    options: dict[int, str]
    taken: set[str] = field(default_factory=set)
    counters: Counters = field(default_factory=Counters)

    def couple(self, bc_id: str, code: str) -> None:
        table, attribute = self.mapping.dataverse_table, self.mapping.dataverse_id
        wanted = code.casefold()
        free = [
            v for v, label in sorted(self.options.items()) if label.casefold() == wanted and str(v) not in self.taken
        ]
        match = free[0] if free else None
        if match is None:
            match = self.context.dataverse.insert_option(table, attribute, code)
            self.options[match] = code
            self.counters.inserted += 1
        self.taken.add(str(match))
        try:
            coupling = self.context.couplings.create_coupling(Coupling(self.mapping.name, bc_id, str(match)))
        except ConflictError:  # a run at the same moment coupled it first: its coupling stands
            return
        self.counters.coupled += 1
        if self.mapping.sync_after_coupling and self.options[match] != code:  # matched "cm" to CM: relabel it
            self.follow(coupling, code)

    def coupled_labels(self, context: SyncContext) -> dict[int, str]:
        """Every coupled option that exists, value -> its label (the BC code once the run has relabelled it)."""
        values = [c.dataverse_id for c in context.couplings.list_couplings(self.mapping.name)]
        return {int(v): self.options[int(v)] for v in values if v.lstrip("-").isdigit() and int(v) in self.options}

    def follow(self, coupling: Coupling, code: str) -> None:
        table, attribute = self.mapping.dataverse_table, self.mapping.dataverse_id
        value = int(coupling.dataverse_id)
        if value not in self.options:
            raise RecordError(
                "optionDeleted",
                f"The option {value} of {attribute} coupled to {code} no longer exists in Sales; uncouple the record "
                "to have it coupled again (to an option labelled with its code, or to a new one).",
            )
        if self.options[value] == code:
            self.counters.unchanged += 1
            return
        self.context.dataverse.update_option_label(table, attribute, value, code)
        self.options[value] = code
        self.counters.modified += 1
