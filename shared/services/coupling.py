"""Coupling by hand: BC's "Set Up Coupling", "Create in Dataverse" / "Create in Business Central", "Delete Coupling".

Why dependencies are checked before anything is written: a customer whose currency (salesperson, unit, price list
...) is not coupled cannot be synchronized. Every sync would fail on the same lookup, the record would end up
skipped, and the admin would learn it from an error log. Refusing up front with "Couple CURRENCY 'EUR' first" says
exactly what to do. BC itself finds out only in the next sync job. A lookup marked "clear on failed lookup" does
not block, because the sync clears that value instead of failing.

Why a create can be retried safely: `Creator` gives the new record an id derived from the mapping and the source
id. If the coupling step fails after the create, for example because storage is down or the process crashes, the
retry writes the same row again and then couples it. A second row is never made.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from shared.domain.coupling import Coupling
from shared.domain.errors import ConflictError, InvalidInputError, NotFoundError, SyncError
from shared.domain.mapping import Direction, TableMapping
from shared.domain.records import Counters, Side
from shared.domain.transforms import EMPTY_GUID
from shared.engine.behaviours.hooks import after_uncoupled
from shared.engine.context import SyncContext
from shared.engine.creation import Creator
from shared.engine.identity import is_identity_pair
from shared.engine.lookups import LookupFailed, LookupResolver
from shared.engine.sides import BcSide, DataverseSide
from shared.engine.values import ValueMapper, read_name
from shared.ports import Row
from shared.services.create_mapping import require_chosen_mapping
from shared.services.synchronize import SyncReport, synchronize_record

log = logging.getLogger("bc_sales_sync.coupling")

_EMPTY = ("", None, EMPTY_GUID)


@dataclass(frozen=True)
class CouplingResult:
    """The coupling, plus the Synchronize Now that followed it when one was asked for. A failed sync does not
    undo the coupling, as in BC: the coupling is made and the sync error is reported next to it."""

    coupling: Coupling
    sync: SyncReport | None = None
    sync_error: SyncError | None = None


@dataclass
class MappingTools:
    """The engine parts for one mapping and one request. They share one lookup cache."""

    context: SyncContext
    mapping: TableMapping

    def __post_init__(self) -> None:
        self.mapper = ValueMapper(self.mapping, LookupResolver(self.context), self.context.option_maps)
        self.bc = BcSide(self.context.bc, self.mapping, self.mapper)
        self.dv = DataverseSide(self.context.dataverse, self.mapping, self.mapper)

    def creator(self, purpose: str, *, job_id: str | None = None) -> Creator:
        """`job_id`: the job's own id, when a redelivery of the same job must recognise its claims (a full-sync
        chunk); otherwise a fresh id for `purpose`."""
        return Creator(self.context, self.mapping, self.mapper, self.bc, self.dv, job_id or f"{purpose}-{uuid.uuid4()}")

    def read_bc(self, bc_id: str) -> Row:
        row = self.bc.get_many([bc_id]).get(bc_id)
        if row is None:
            raise NotFoundError(
                "recordNotFound", f"Business Central has no {self.mapping.bc_entity} {bc_id}.", field="bcId"
            )
        return row

    def read_dataverse(self, dataverse_id: str) -> Row:
        row = self.dv.get_many([dataverse_id]).get(dataverse_id)
        if row is None:
            raise NotFoundError(
                "recordNotFound",
                f"Dataverse has no {self.mapping.dataverse_table} {dataverse_id}.",
                field="dataverseId",
            )
        return row

    def missing_bc_dependencies(self, bc_row: Row) -> list[tuple[str, str]]:
        """(what to couple, BC field) for every lookup whose BC value is set but not coupled. Every lookup field
        counts, whatever its direction, because `ValueMapper.from_bc` resolves them all on every sync."""
        missing: list[tuple[str, str]] = []
        for f in self.mapper.fields:
            if f.lookup is None or f.clear_on_failed_lookup or not f.bc_field or bc_row.get(f.bc_field) in _EMPTY:
                continue
            value = bc_row[f.bc_field]
            try:
                self.mapper.resolver.to_dataverse_id(f.lookup, self.mapper.bc_lookup_value(f, bc_row))
            except LookupFailed:
                missing.append((f"{f.lookup.mapping} '{value}'", f.bc_field))
        return missing

    def missing_dataverse_dependencies(self, dv_row: Row) -> list[tuple[str, str]]:
        """The same for a Dataverse row and the lookups a create in BC carries (those allowing fromDataverse)."""
        missing: list[tuple[str, str]] = []
        for f in self.mapping.field_mappings(Direction.FROM_DATAVERSE):
            if f.lookup is None or f.clear_on_failed_lookup or not f.dataverse_field:
                continue
            value = dv_row.get(read_name(f.dataverse_field, True))
            if value in _EMPTY:
                continue
            try:
                self.mapper.resolver.to_bc_value(f.lookup, value)
            except LookupFailed:
                missing.append(
                    (f"{f.lookup.mapping} (Dataverse {f.lookup.target_entity_set}({value}))", f.dataverse_field)
                )
        return missing


def dependency_message(missing: Sequence[tuple[str, str]]) -> str:
    return f"Couple {' and '.join(dict.fromkeys(name for name, _ in missing))} first."


def require_dependencies(missing: Sequence[tuple[str, str]]) -> None:
    if missing:
        raise ConflictError("dependencyNotCoupled", dependency_message(missing), field=missing[0][1])


def parse_id(value: str, field: str) -> str:
    """Ids are GUIDs on both sides. Anything else is refused here (400 naming the field), not by an API's 400."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise InvalidInputError("invalidId", f"{field} must be a GUID, not {value!r}.", field=field) from None


def require_direction(mapping: TableMapping, direction: Direction, field: str) -> None:
    if direction is Direction.BIDIRECTIONAL or not mapping.direction.allows(direction):
        raise InvalidInputError(
            "directionNotAllowed",
            f"Mapping {mapping.name} is {mapping.direction.value}: it cannot carry data {direction.value}.",
            field=field,
        )


def _settled(coupling: Coupling | None) -> Coupling | None:
    """The coupling unless it is an unfinished creation (a claim left by an interrupted create): creating again
    finishes that one under the same id instead of refusing."""
    return None if coupling is None or coupling.creating is not None else coupling


def _refuse_coupled(context: SyncContext, mapping: str, by_bc: Coupling | None, dataverse_id: str | None) -> None:
    """`by_bc`: the coupling the caller found for its BC id (None: not coupled, or not a BC-side request)."""
    if by_bc is not None:
        raise ConflictError(
            "alreadyCoupled",
            f"Business Central record {by_bc.bc_id} is already coupled to Dataverse record {by_bc.dataverse_id} "
            f"in {mapping}: uncouple it first.",
            field="bcId",
        )
    if dataverse_id and (found := context.couplings.find_by_dataverse_id(mapping, dataverse_id)) is not None:
        raise ConflictError(
            "alreadyCoupled",
            f"Dataverse record {dataverse_id} is already coupled to Business Central record {found.bc_id} "
            f"in {mapping}: uncouple it first.",
            field="dataverseId",
        )


def couple_records(
    context: SyncContext, mapping_name: str, bc_id: str, dataverse_id: str, synchronize: Direction | None = None
) -> CouplingResult:
    """Couple two existing records. Raises InvalidInputError (not a GUID, or `synchronize` not allowed),
    NotFoundError (either record missing: field bcId/dataverseId), ConflictError `alreadyCoupled` (naming the other
    record) or `dependencyNotCoupled`. Coupling the same pair again returns the coupling, so a repeated request
    succeeds."""
    mapping = context.runnable(mapping_name)
    bc_id, dataverse_id = parse_id(bc_id, "bcId"), parse_id(dataverse_id, "dataverseId")
    if synchronize is not None:
        require_direction(mapping, synchronize, "synchronize")
    tools = MappingTools(context, mapping)
    bc_row = tools.read_bc(bc_id)
    dv_row = tools.read_dataverse(dataverse_id)
    coupling = context.couplings.find_by_bc_id(mapping.name, bc_id)
    if coupling is None or coupling.dataverse_id != dataverse_id:
        _refuse_coupled(context, mapping.name, coupling, dataverse_id)
        require_dependencies(tools.missing_bc_dependencies(bc_row))
        _claim(context, mapping, dataverse_id, dv_row)
        coupling = context.couplings.create_coupling(Coupling(mapping.name, bc_id, dataverse_id))
    if synchronize is None:
        return CouplingResult(coupling)
    try:
        report = synchronize_record(context, mapping.name, synchronize, bc_id=bc_id)
    except SyncError as error:
        return CouplingResult(coupling, sync_error=error)
    return CouplingResult(context.couplings.find_by_bc_id(mapping.name, bc_id) or coupling, report)


def _claim(context: SyncContext, mapping: TableMapping, dataverse_id: str, dv_row: Row) -> None:
    """With several BC companies on the org, the row is stamped for this company before it is coupled, conditional
    on the version read (`DataverseClientPort.claim_rows`, as match-based coupling does): a row another company
    stamped since is refused as coupled elsewhere, never coupled by two companies. The whole org's client claims
    nothing."""
    claimed = context.dataverse.claim_rows(mapping.dataverse_entity_set, {dataverse_id: dv_row.get("@odata.etag")})
    if dataverse_id not in claimed:
        raise ConflictError(
            "alreadyCoupled",
            f"Dataverse record {dataverse_id} was just taken by another Business Central company: it is coupled there.",
            field="dataverseId",
        )


def _first_created(created: list[Coupling], errors: list[SyncError]) -> Coupling:
    if errors or not created:
        raise errors[0] if errors else SyncError("notCreated", "The record was not created.")
    return created[0]


def create_in_dataverse(context: SyncContext, mapping_name: str, bc_id: str) -> Coupling:
    """Create the BC record in Dataverse and couple it. Raises InvalidInputError (mapping not toDataverse),
    NotFoundError (field bcId), ConflictError `alreadyCoupled` / `dependencyNotCoupled`, or the write's error."""
    mapping = context.runnable(mapping_name)
    require_direction(mapping, Direction.TO_DATAVERSE, "mapping")
    bc_id = parse_id(bc_id, "bcId")
    tools = MappingTools(context, mapping)
    row = tools.read_bc(bc_id)
    _refuse_coupled(context, mapping.name, _settled(context.couplings.find_by_bc_id(mapping.name, bc_id)), None)
    require_dependencies(tools.missing_bc_dependencies(row))
    errors: list[SyncError] = []
    created = tools.creator("create").create_in_dataverse(
        [row], Counters(), lambda _side, _id, error, _row: errors.append(error)
    )
    if not created and not errors:  # a concurrent call coupled it first: its answer is the 201
        _refuse_coupled(context, mapping.name, context.couplings.find_by_bc_id(mapping.name, bc_id), None)
    return _first_created(created, errors)


def create_in_business_central(context: SyncContext, mapping_name: str, dataverse_id: str) -> Coupling:
    """Create the Dataverse row in BC and couple it. Raises InvalidInputError (mapping not fromDataverse),
    NotFoundError (field dataverseId), RecordError `outOfFilter` (BC would create the row through another mapping of its
    table, e.g. a Vendor account through VENDOR, or it is outside the mapping's Dataverse filter: `create_mapping.py`),
    ConflictError `alreadyCoupled` / `dependencyNotCoupled`, or the write's error."""
    mapping = context.runnable(mapping_name)
    require_direction(mapping, Direction.FROM_DATAVERSE, "mapping")
    dataverse_id = parse_id(dataverse_id, "dataverseId")
    tools = MappingTools(context, mapping)
    row = tools.read_dataverse(dataverse_id)
    require_chosen_mapping(context, mapping, tools.mapper, dataverse_id)
    if _settled(context.couplings.find_by_dataverse_id(mapping.name, dataverse_id)) is not None:
        _refuse_coupled(context, mapping.name, None, dataverse_id)
    require_dependencies(tools.missing_dataverse_dependencies(row))
    errors: list[SyncError] = []
    created = tools.creator("create").create_in_business_central(
        [row], Counters(), lambda _side, _id, error, _row: errors.append(error)
    )
    if not created and not errors:  # a concurrent call coupled it first: its answer is the 201
        _refuse_coupled(context, mapping.name, None, dataverse_id)
    return _first_created(created, errors)


def uncouple(context: SyncContext, mapping_name: str, bc_id: str) -> None:
    """Remove the coupling (it is fine if there is none) and the record errors that belonged to it, then run the
    mapping's after-uncouple behaviours (CUSTOMER's drops the account statistics). Neither record is changed (BC's
    "Delete Coupling"), except the company stamp of the Dataverse row with several companies (`_release`)."""
    mapping = context.mapping(mapping_name)
    coupling = context.couplings.find_by_bc_id(mapping.name, parse_id(bc_id, "bcId"))
    if coupling is not None:
        uncouple_couplings(context, mapping, [coupling])


def uncouple_couplings(context: SyncContext, mapping: TableMapping, couplings: Sequence[Coupling]) -> list[bool]:
    """`uncouple` of many couplings as read, in bulk where the stores allow (the couplings removed in transactions,
    their errors cleared in one call; the company stamps one row at a time: the port has no bulk release); per
    coupling whether this call removed it (False: another call removed it first, and did the rest)."""
    if not couplings:
        return []
    for coupling in couplings:
        _release(context, mapping, coupling)
    remember = {c.bc_id for c in couplings if _identity(mapping.name, c)}
    removed = context.couplings.delete_couplings(mapping.name, couplings, remember=remember)
    keys = [(Side.BC, c.bc_id) for c in couplings] + [(Side.DATAVERSE, c.dataverse_id) for c in couplings]
    context.errors.clear_errors(mapping.name, keys)
    for coupling, gone in zip(couplings, removed, strict=True):
        if gone:
            after_uncoupled(context, mapping, coupling)
    return removed


def _release(context: SyncContext, mapping: TableMapping, coupling: Coupling) -> None:
    """With several BC companies on the org, the Dataverse row leaves the company as its coupling goes: BC's
    uncoupling clears the row's `bcbi_companyid` when the mapping writes to Dataverse (To or Bidirectional; facts
    section 1: the uncouple codeunit; CDSIntTableSubscriber.HandleOnBeforeUncoupleRecord -> ResetCompanyId), so
    another company may couple it. BC tries and uncouples anyway (TryResetCompanyId): so does this, with a warning.
    A deployment of one company without `BC_COMPANIES` writes no stamp, and its client changes nothing here."""
    if not mapping.direction.allows(Direction.TO_DATAVERSE):
        return
    try:
        context.dataverse.release(mapping.dataverse_entity_set, coupling.dataverse_id)
    except SyncError as error:
        log.warning("%s %s: its company stamp stays (%s)", mapping.name, coupling.dataverse_id, error.message)


def _identity(mapping: str, coupling: Coupling) -> bool:
    """Both records stay after Delete Coupling: when one was created from the other, the pair is remembered, so a
    mapping that creates couples them again instead of copying either (`engine/identity.py`)."""
    return is_identity_pair(mapping, coupling.bc_id, coupling.dataverse_id)
