"""Option mappings (PAYMENT TERMS, SHIPMENT METHOD): BC's code records <-> the options of an account picklist.

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
(`option_maps.py`); the documents' own picklists (order, quote, invoice) are separate option sets, not mapped yet.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from shared.domain.coupling import Coupling
from shared.domain.errors import ConflictError, RecordError, SyncError
from shared.domain.records import Counters, Side, SyncJob
from shared.domain.watermarks import format_instant
from shared.mappings.options import OPTION_MAPS
from shared.services.context import SyncContext

OPTION_MAPPINGS = frozenset(OPTION_MAPS.values())


def is_option_mapping(name: str) -> bool:
    return name in OPTION_MAPPINGS


def run_option_mapping(
    context: SyncContext, name: str, *, bc_ids: Sequence[str] | None = None, job_id: str | None = None
) -> SyncJob:
    """One run over every BC code record (or only `bc_ids`, a full-sync chunk); logged as one job."""
    mapping = context.runnable(name, whole_runs=True)
    table, attribute = mapping.dataverse_table, mapping.dataverse_id
    code_field = next(f.bc_field for f in mapping.fields if f.bc_field)
    started = context.clock()
    counters = Counters()
    wanted = None if bc_ids is None else set(bc_ids)
    pages = context.bc.list_changed_since(mapping.bc_entity_set, None, [code_field], extra_filter=mapping.bc_filter)
    rows = [row for page in pages for row in page.rows if wanted is None or str(row["id"]) in wanted]
    options = context.dataverse.option_set(table, attribute)
    couplings = {c.bc_id: c for c in context.couplings.list_couplings(name)}
    taken = {c.dataverse_id for c in couplings.values()}
    skipped = {e.record_id for e in context.errors.list_errors(name) if e.skipped}
    for row in rows:
        bc_id, code = str(row["id"]), str(row.get(code_field) or "")
        if bc_id in skipped:  # the same error twice: left alone until retried or restored, as by any run
            counters.skipped += 1
            continue
        try:
            coupling = couplings.get(bc_id)
            if coupling is None:
                value = _couple(context, name, bc_id, code, options, taken, counters)
                taken.add(str(value))
            else:
                _follow(context, mapping.name, coupling, code, options, counters)
            context.errors.clear_error(name, Side.BC, bc_id)
        except SyncError as error:
            if error.is_transient:
                raise
            counters.failed += 1
            context.errors.record_error(name, Side.BC, bc_id, error.code, error.message)
    job = SyncJob(
        name,
        job_id or f"run-{uuid.uuid4()}",
        format_instant(started),
        format_instant(context.clock()),
        "finished",
        counters,
    )
    context.jobs.record_job(job)
    return job


def _couple(
    context: SyncContext,
    name: str,
    bc_id: str,
    code: str,
    options: dict[int, str],
    taken: set[str],
    counters: Counters,
) -> int:
    mapping = context.mapping(name)
    wanted = code.casefold()
    free = [v for v, label in sorted(options.items()) if label.casefold() == wanted and str(v) not in taken]
    match = free[0] if free else None
    if match is None:
        match = context.dataverse.insert_option(mapping.dataverse_table, mapping.dataverse_id, code)
        options[match] = code
        counters.inserted += 1
    try:
        coupling = context.couplings.create_coupling(Coupling(name, bc_id, str(match)))
    except ConflictError:  # a run at the same moment coupled it first: its coupling stands
        return match
    counters.coupled += 1
    if mapping.sync_after_coupling and options[match] != code:  # matched "cm" to CM: the label becomes BC's code
        _follow(context, name, coupling, code, options, counters)
    return match


def _follow(
    context: SyncContext, name: str, coupling: Coupling, code: str, options: dict[int, str], counters: Counters
) -> None:
    mapping = context.mapping(name)
    value = int(coupling.dataverse_id)
    if value not in options:
        raise RecordError(
            "optionDeleted",
            f"The option {value} of {mapping.dataverse_id} coupled to {code} no longer exists in Sales; uncouple "
            "the record to have the option created again.",
        )
    if options[value] == code:
        counters.unchanged += 1
        return
    context.dataverse.update_option_label(mapping.dataverse_table, mapping.dataverse_id, value, code)
    options[value] = code
    counters.modified += 1
