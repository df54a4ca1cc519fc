"""Create a record on the other side and couple it, for uncoupled candidates of a run and for "create in ...".

The new record's id is derived from the mapping and the source id (`sides.deterministic_id`), so a retried create
(after a timeout, a crash, a redelivered message) finds or overwrites the record it made before, never a second one;
and a coupling that already exists for the source is left alone (someone else got there first).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.domain.coupling import Coupling
from shared.domain.errors import BulkWriteError, RecordError, SyncError
from shared.domain.mapping import Direction, TableMapping
from shared.domain.records import Counters, Side
from shared.engine.behaviours import hooks as behaviours
from shared.engine.candidates import etag_of
from shared.engine.context import SyncContext
from shared.engine.create_rules import CreateRules
from shared.engine.outcomes import save_synchronized
from shared.engine.sides import BcSide, DataverseSide, deterministic_id
from shared.engine.unit_of_work import UnitOfWork
from shared.engine.values import Canonical, ValueMapper
from shared.ports import Row

Fail = Callable[[Side, str, SyncError, Row | None], None]
NOT_CREATED = (
    "Dataverse answered as if the record {dv_id} existed, but it does not: another record holds the same key "
    "(e.g. the same name where names must be unique)."
)


@dataclass
class _Created:
    """One new record and its counterpart, on its way to being completed and recorded."""

    coupling: Coupling
    bc_row: Row
    dv_row: Row
    source: Side
    source_id: str
    bc_values: dict[str, Any] = field(default_factory=dict)
    dv_values: dict[str, Any] = field(default_factory=dict)
    failed: SyncError | None = None
    written: set[Side] = field(default_factory=set)  # the sides the follow-up write changed (new ETag unknown)


@dataclass
class Creator:
    context: SyncContext
    mapping: TableMapping
    mapper: ValueMapper
    bc: BcSide
    dv: DataverseSide
    job_id: str
    rules: CreateRules | None = None
    work: UnitOfWork | None = None  # a run's page: completions and errors are written by its flush

    def _claim(self, pairs: Sequence[tuple[str, str]], creating: Side) -> list[Coupling | None]:
        """Write the couplings *before* the records exist (the identity rule): the coupling table, read as of now,
        decides who may create. The claims of a page go out together (`create_couplings`: 50 to a transaction),
        before any of its creates. Returns per (BC id, Dataverse id) the claim to create under, or None when there is
        nothing to create: the source or the new id is coupled already (earlier in this run, by a concurrent worker
        or by a user), or an earlier attempt finished the pair. A claim left by a crashed attempt (same ids, still
        creating) is taken over: the create is idempotent by the deterministic id."""
        claims = [Coupling(self.mapping.name, b, x, creating=creating, created_by=self.job_id) for b, x in pairs]
        made = self.context.couplings.create_couplings(claims) if claims else []
        refused = [claim.bc_id for claim, result in zip(claims, made, strict=True) if result is None]
        existing = self.context.couplings.find_many_by_bc_ids(self.mapping.name, refused) if refused else {}
        results: list[Coupling | None] = []
        for claim, result in zip(claims, made, strict=True):
            found = existing.get(claim.bc_id) if result is None else None
            same = found is not None and found.dataverse_id == claim.dataverse_id and found.creating is creating
            results.append(result if result is not None else found if same else None)
        return results

    def _release(self, coupling: Coupling, error: SyncError) -> None:
        """A create refused for the record's own reason wrote nothing: its claim goes, so the record stays uncoupled
        and is tried again when it changes (a transient failure keeps the claim: the next run finishes it)."""
        if not error.is_transient:
            self.context.couplings.delete_coupling(self.mapping.name, coupling.bc_id)

    def _differing(self, bc_values: dict[str, Any], dv_values: dict[str, Any], direction: Direction) -> tuple[str, ...]:
        if not self.mapping.direction.allows(direction):
            return ()
        return tuple(
            f.key
            for f in self.mapper.fields
            if f.direction is direction and bc_values.get(f.key) != dv_values.get(f.key)
        )

    def _complete_many(self, items: Sequence[_Created], fail: Fail) -> list[Coupling]:
        """Right after creates, each new record holds its own defaults for fields the create did not carry (BC has
        no nulls: a new customer's credit limit is 0; BC numbers a new customer). One-way fields that now differ
        are written at once, all records together (one UpsertMultiple, one BC batch), so the next run finds the
        pairs in step instead of writing again. A record whose follow-up write fails stays coupled and is reported;
        its values are not recorded, so the next run sends them again."""
        dv_rows: list[dict[str, Any]] = []
        bc_updates: list[tuple[str, Mapping[str, Any], str]] = []
        owners_dv: list[_Created] = []
        owners_bc: list[_Created] = []
        for item in items:
            item.bc_values = self.mapper.from_bc(item.bc_row).values
            item.dv_values = self.mapper.from_dataverse(item.dv_row).values
            self.mapper.align(item.bc_values, item.dv_values)
            to_dv = self._differing(item.bc_values, item.dv_values, Direction.TO_DATAVERSE)
            to_bc = self._differing(item.bc_values, item.dv_values, Direction.FROM_DATAVERSE)
            try:
                if to_dv:
                    payload = self.mapper.dataverse_payload(item.bc_row, to_dv, creating=False)
                    dv_rows.append({self.mapping.dataverse_id: item.coupling.dataverse_id, **payload})
                    owners_dv.append(item)
                    item.written.add(Side.DATAVERSE)
                    item.dv_values.update({k: item.bc_values[k] for k in to_dv})
                if to_bc:
                    body = self.mapper.bc_payload(item.dv_row, to_bc, creating=False)
                    bc_updates.append((item.coupling.bc_id, body, str(item.bc_row.get("@odata.etag") or "*")))
                    owners_bc.append(item)
                    item.written.add(Side.BC)
                    item.bc_values.update({k: item.dv_values[k] for k in to_bc})
            except SyncError as error:
                item.failed = error
        self._flush_dv(dv_rows, owners_dv)
        for item, outcome in zip(owners_bc, self.bc.update_many(bc_updates), strict=True):
            if not outcome.ok:
                item.failed = item.failed or SyncError(
                    str((outcome.body or {}).get("error", {}).get("code", outcome.status)), "BC refused the update."
                )
        done: list[Coupling] = []
        for item in items:
            if item.failed is not None:
                fail(item.source, item.source_id, item.failed, item.bc_row if item.source is Side.BC else item.dv_row)
                done.append(item.coupling)
                continue
            # the source's values: should the new record hold a two-way field differently (a lossy transform), the
            # next run sees the destination as changed from them and resends the source's value, not the reverse
            held = item.bc_values if item.source is Side.BC else item.dv_values
            done.append(
                save_synchronized(
                    self.context,
                    item.coupling,
                    held,
                    bc_modified=None,
                    dv_modified=None,
                    job_id=self.job_id,
                    bc_version=None if Side.BC in item.written else etag_of(item.bc_row),
                    dv_version=None if Side.DATAVERSE in item.written else etag_of(item.dv_row),
                    work=self.work,
                )
            )
        return done

    def _flush_dv(self, rows: list[dict[str, Any]], owners: list[_Created]) -> None:
        for index, error in self.dv.upsert_in_chunks(rows, self.context.bulk_size).items():
            owners[index].failed = error

    def create_in_dataverse(self, rows: Sequence[Row], counters: Counters, fail: Fail) -> list[Coupling]:
        prepared: list[tuple[Row, Canonical, dict[str, Any]]] = []
        kept = behaviours.without_excluded(self.context, self.mapping, {str(row["id"]): row for row in rows})
        for row in kept.values():
            values = self.mapper.from_bc(row)
            try:
                if values.failures:
                    raise next(iter(values.failures.values()))
                prepared.append((row, values, self.mapper.dataverse_payload(row, None, creating=True)))
            except SyncError as error:
                fail(Side.BC, str(row["id"]), error, row)
        self.rules = self.rules or CreateRules(self.context, self.mapping)
        self.rules.prefetch(payload for _, _, payload in prepared)
        ready: list[tuple[Row, dict[str, object]]] = []
        for row, _values, mapped in prepared:
            try:
                ready.append((row, self.rules.apply(mapped)))
            except SyncError as error:
                fail(Side.BC, str(row["id"]), error, row)
        name = self.mapping.name
        claims = self._claim(
            [(str(r["id"]), deterministic_id(name, "bc", str(r["id"]))) for r, _ in ready], Side.DATAVERSE
        )
        payloads: list[dict[str, object]] = []
        sources: list[tuple[Row, Coupling]] = []
        for (row, payload), claim in zip(ready, claims, strict=True):
            if claim is None:
                continue
            payloads.append({self.mapping.dataverse_id: claim.dataverse_id, **payload})
            sources.append((row, claim))
        failed: set[int] = set()
        try:
            self.dv.upsert_many(payloads)
        except BulkWriteError as error:
            for failure in error.failures:
                failed.add(failure.index)
                row, claim = sources[failure.index]
                self._release(claim, failure.error)
                fail(Side.BC, str(row["id"]), failure.error, row)
        except SyncError as error:
            for row, claim in sources:
                self._release(claim, error)
                fail(Side.BC, str(row["id"]), error, row)
            return []
        written = [(row, claim) for i, (row, claim) in enumerate(sources) if i not in failed]
        read_back = self.dv.get_many([claim.dataverse_id for _, claim in written])
        items: list[_Created] = []
        for row, claim in written:
            if claim.dataverse_id not in read_back:  # a 412 taken for "created before": another record's duplicate key
                refused = RecordError("notCreated", NOT_CREATED.format(dv_id=claim.dataverse_id))
                self._release(claim, refused)
                fail(Side.BC, str(row["id"]), refused, row)
                continue
            items.append(_Created(claim, row, read_back[claim.dataverse_id], Side.BC, str(row["id"])))
            counters.inserted += 1
            counters.coupled += 1
        self._after_created(items)
        return self._complete_many(items, fail)

    def _after_created(self, items: list[_Created]) -> None:
        """The mapping's behaviours on the new Dataverse records (e.g. publish and price a product); a record they
        wrote has a new ETag, and a failure is each record's error (coupled, values not recorded: sent again)."""
        try:
            written = behaviours.after_created_in_dataverse(self.context, self.mapping, [i.dv_row for i in items])
        except SyncError as error:
            for item in items:
                item.failed = error
            return
        for item in items:
            if item.coupling.dataverse_id in written:
                item.written.add(Side.DATAVERSE)

    def create_in_business_central(self, rows: Sequence[Row], counters: Counters, fail: Fail) -> list[Coupling]:
        """Creates go out as JSON batches of 100 with chosen SystemIds, each under its claim; an id BC already has
        (our own earlier attempt) is read back instead of failing."""
        ready: list[tuple[Row, Mapping[str, Any]]] = []
        for row in rows:
            try:
                ready.append((row, self.mapper.bc_payload(row, None, creating=True)))
            except SyncError as error:
                fail(Side.DATAVERSE, str(row[self.mapping.dataverse_id]), error, row)
        ids = [str(row[self.mapping.dataverse_id]) for row, _ in ready]
        claims = self._claim([(deterministic_id(self.mapping.name, "dv", x), x) for x in ids], Side.BC)
        pairs = zip(ready, claims, strict=True)
        planned = [(row, claim, payload) for (row, payload), claim in pairs if claim is not None]
        items: list[_Created] = []
        outcomes = self.bc.create_many([(claim.bc_id, payload) for _, claim, payload in planned])
        for (row, claim, _payload), (new_row, refused) in zip(planned, outcomes, strict=True):
            dataverse_id = str(row[self.mapping.dataverse_id])
            if new_row is None:
                why = refused or SyncError("notCreated", "BC did not create it.")
                self._release(claim, why)
                fail(Side.DATAVERSE, dataverse_id, why, row)
                continue
            items.append(_Created(claim, new_row, row, Side.DATAVERSE, dataverse_id))
            counters.inserted += 1
            counters.coupled += 1
        return self._complete_many(items, fail)
