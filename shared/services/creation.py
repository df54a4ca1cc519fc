"""Create a record on the other side and couple it, for uncoupled candidates of a run and for "create in ...".

The new record's id is derived from the mapping and the source id (`sides.deterministic_id`), so a retried create
(after a timeout, a crash, a redelivered message) finds or overwrites the record it made before, never a second one;
and a coupling that already exists for the source is left alone (someone else got there first).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shared.domain.coupling import Coupling
from shared.domain.errors import BulkWriteError, ConflictError, RecordError, SyncError
from shared.domain.mapping import Direction, TableMapping
from shared.domain.records import Counters, Side
from shared.ports import Row
from shared.services.context import SyncContext
from shared.services.create_rules import CreateRules
from shared.services.outcomes import save_synchronized
from shared.services.sides import BcSide, DataverseSide, deterministic_id
from shared.services.values import ValueMapper

Fail = Callable[[Side, str, SyncError, Row | None], None]
NOT_CREATED = (
    "Dataverse answered as if the record {dv_id} existed, but it does not: another record holds the same key "
    "(e.g. the same name where names must be unique)."
)


@dataclass
class Creator:
    context: SyncContext
    mapping: TableMapping
    mapper: ValueMapper
    bc: BcSide
    dv: DataverseSide
    job_id: str
    rules: CreateRules | None = None

    def _couple(self, bc_id: str, dataverse_id: str) -> Coupling:
        try:
            return self.context.couplings.create_coupling(Coupling(self.mapping.name, bc_id, dataverse_id))
        except ConflictError:
            existing = self.context.couplings.find_by_bc_id(self.mapping.name, bc_id)
            if existing is None or existing.dataverse_id != dataverse_id:
                raise
            return existing  # our own earlier attempt

    def _complete(self, coupling: Coupling, bc_row: Row, dv_row: Row, *, source: Side) -> Coupling:
        """Right after a create, the new record holds its own defaults for fields the create did not carry (BC has
        no nulls: a new customer's credit limit is 0). One-way fields that now differ are written at once, so the
        next run finds the pair in step instead of writing again."""
        bc_values = self.mapper.from_bc(bc_row).values
        dv_values = self.mapper.from_dataverse(dv_row).values
        self.mapper.align(bc_values, dv_values)
        to_dv = tuple(
            f.key
            for f in self.mapper.fields
            if f.direction is Direction.TO_DATAVERSE
            and self.mapping.direction.allows(Direction.TO_DATAVERSE)
            and bc_values.get(f.key) != dv_values.get(f.key)
        )
        to_bc = tuple(
            f.key
            for f in self.mapper.fields
            if f.direction is Direction.FROM_DATAVERSE
            and self.mapping.direction.allows(Direction.FROM_DATAVERSE)
            and bc_values.get(f.key) != dv_values.get(f.key)
        )
        if to_dv:
            payload = self.mapper.dataverse_payload(bc_row, to_dv, creating=False)
            self.dv.upsert_many([{self.mapping.dataverse_id: coupling.dataverse_id, **payload}])
            dv_values.update({k: bc_values[k] for k in to_dv})
        if to_bc:
            body = self.mapper.bc_payload(dv_row, to_bc, creating=False)
            self.bc.update_many([(coupling.bc_id, body, str(bc_row.get("@odata.etag") or "*"))])
            bc_values.update({k: dv_values[k] for k in to_bc})
        # the source's values: should the new record hold a two-way field differently (a lossy transform), the next
        # run sees the destination as changed from them and resends the source's value rather than the reverse
        held = bc_values if source is Side.BC else dv_values
        return save_synchronized(self.context, coupling, held, bc_modified=None, dv_modified=None, job_id=self.job_id)

    def create_in_dataverse(self, rows: Sequence[Row], counters: Counters, fail: Fail) -> list[Coupling]:
        payloads: list[dict[str, object]] = []
        sources: list[tuple[Row, dict[str, object]]] = []
        for row in rows:
            bc_id = str(row["id"])
            values = self.mapper.from_bc(row)
            try:
                if values.failures:
                    raise next(iter(values.failures.values()))
                payload = self.mapper.dataverse_payload(row, None, creating=True)
                self.rules = self.rules or CreateRules(self.context, self.mapping)
                payload = self.rules.apply(payload)
            except SyncError as error:
                fail(Side.BC, bc_id, error, row)
                continue
            new_id = deterministic_id(self.mapping.name, "bc", bc_id)
            payloads.append({self.mapping.dataverse_id: new_id, **payload})
            sources.append((row, dict(values.values)))
        failed: set[int] = set()
        try:
            self.dv.upsert_many(payloads)
        except BulkWriteError as error:
            for failure in error.failures:
                failed.add(failure.index)
                fail(Side.BC, str(sources[failure.index][0]["id"]), failure.error, sources[failure.index][0])
        except SyncError as error:
            for row, _ in sources:
                fail(Side.BC, str(row["id"]), error, row)
            return []
        created: list[Coupling] = []
        written = [
            (row, str(payloads[i][self.mapping.dataverse_id])) for i, (row, _) in enumerate(sources) if i not in failed
        ]
        read_back = self.dv.get_many([dv_id for _, dv_id in written])
        for row, dv_id in written:
            if dv_id not in read_back:  # a 412 taken for "created before" that was another record's duplicate key
                fail(Side.BC, str(row["id"]), RecordError("notCreated", NOT_CREATED.format(dv_id=dv_id)), row)
                continue
            coupling = self._couple(str(row["id"]), dv_id)
            created.append(self._complete(coupling, row, read_back.get(dv_id, {}), source=Side.BC))
            counters.inserted += 1
            counters.coupled += 1
        return created

    def create_in_business_central(self, rows: Sequence[Row], counters: Counters, fail: Fail) -> list[Coupling]:
        created: list[Coupling] = []
        for row in rows:
            dataverse_id = str(row[self.mapping.dataverse_id])
            try:
                payload = self.mapper.bc_payload(row, None, creating=True)
                new_row = self.bc.create(deterministic_id(self.mapping.name, "dv", dataverse_id), payload)
            except SyncError as error:
                fail(Side.DATAVERSE, dataverse_id, error, row)
                continue
            coupling = self._couple(str(new_row["id"]), dataverse_id)
            created.append(self._complete(coupling, new_row, row, source=Side.DATAVERSE))
            counters.inserted += 1
            counters.coupled += 1
        return created
