"""The world one simulated seed runs in: both emulators emptied and filled with the seed's few records, a fresh
table prefix on Azurite, fresh stores, queue and context, and the reads that look at the end state.

Why so small and so fresh: hundreds of seeds must fit in minutes, and one seed must never see another's data. An
emulator reset is one request and a fresh prefix costs nothing, so each run (the clean one and the crashed one of a
seed) starts from exactly the same state.

The mappings are the test catalog's small ones (no lookups, so a seed needs no currencies or salespeople coupled
first), each bidirectional and creating both ways; CONTACT and OPPORTUNITY depend on the one before, so a run of
all three also crosses the hand-over from one full-sync line to the next.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient

from local.fakes.queue import InMemoryJobQueue
from shared.bootstrap import Services
from shared.domain.coupling import Coupling
from shared.domain.mapping import Direction, FieldMapping, TableMapping
from shared.engine.context import SyncContext
from shared.engine.sides import deterministic_id
from shared.mappings import CATALOG, get_mapping
from shared.ports import Row
from shared.storage.archive import TableQuoteArchive
from shared.storage.checkpoints import TableCheckpointStore
from shared.storage.couplings import TableCouplingStore
from shared.storage.jobs import TableJobLog
from shared.storage.keys import escape_key, odata_string
from shared.storage.runs import TableRunStore
from shared.storage.settings import TableSettingsStore
from shared.storage.sync_errors import TableSyncErrorStore
from shared.storage.tables import COUPLINGS, TABLE_NAMES, TableFactory
from tests.chaos.simulation import ManualClock
from tests.sync.conftest import SyncStack
from tests.sync.mappings_for_tests import customer_mapping

BOTH, TO, FROM = Direction.BIDIRECTIONAL, Direction.TO_DATAVERSE, Direction.FROM_DATAVERSE
WORDS = (
    "Amber", "Birch", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Indigo", "Juniper", "Kestrel",
    "Linden", "Maple", "Nimbus", "Onyx", "Pine", "Quartz", "Raven", "Sable", "Tundra", "Umber", "Vale", "Willow",
)  # fmt: skip


# -- the mappings and what their records look like ----------------------------------------------------------------
def customers() -> TableMapping:
    """The test catalog's CUSTOMER without its currency lookup, creating both ways (`sync_only_coupled` off)."""
    base = customer_mapping()
    return replace(
        base,
        fields=tuple(f for f in base.fields if f.lookup is None),
        dependencies=(),
        sync_only_coupled=False,
        create_if_no_match=True,  # a Couple Records line creates what has no match (an admin's choice, off by default)
    )


def contacts() -> TableMapping:
    """CONTACT as the catalog carries the name (BC's whole name into `lastname`, read back from `fullname`), with
    filters a created record stays inside (the catalog's parent-account filter needs the disabled parent lookup)."""
    return TableMapping(
        name="CONTACT",
        bc_entity="contact",
        bc_entity_set="contacts",
        dataverse_table="contact",
        dataverse_entity_set="contacts",
        dataverse_id="contactid",
        direction=BOTH,
        bc_filter="type eq 'Person'",
        dataverse_filter="statecode eq 0",
        dependencies=("CUSTOMER",),
        sync_only_coupled=False,
        create_if_no_match=True,
        fields=(
            FieldMapping("email", "emailaddress1", BOTH, match_priority=1),
            FieldMapping("displayName", "fullname", FROM),
            FieldMapping("displayName", "lastname", TO),
            FieldMapping(None, "firstname", TO, constant=""),
            FieldMapping("city", "address1_city", BOTH),
            FieldMapping("phoneNumber", "telephone1", BOTH),
            FieldMapping("type", None, FROM, constant="Person"),
        ),
    )


def opportunities() -> TableMapping:
    """OPPORTUNITY's two-way field (description <-> topic), matched on it (the catalog's has no match field)."""
    return TableMapping(
        name="OPPORTUNITY",
        bc_entity="opportunity",
        bc_entity_set="opportunities",
        dataverse_table="opportunity",
        dataverse_entity_set="opportunities",
        dataverse_id="opportunityid",
        direction=BOTH,
        bc_filter="status eq 'Not_x0020_Started' or status eq 'In_x0020_Progress'",
        dataverse_filter="statecode eq 0",
        dependencies=("CONTACT",),
        sync_only_coupled=False,
        create_if_no_match=True,
        fields=(FieldMapping("description", "name", BOTH, transform="truncate100", match_priority=1),),
    )


@dataclass(frozen=True)
class Kind:
    """How to make, read and compare one mapping's records on both sides."""

    mapping: TableMapping
    bc_name: str  # the BC property whose value must equal Dataverse's `dv_name` in a synchronized pair
    dv_name: str
    bc_select: tuple[str, ...]
    dv_select: tuple[str, ...]
    bc_body: Callable[[str], dict[str, Any]]  # a record named so (a shared name makes a match)
    dv_body: Callable[[str], dict[str, Any]]


def _email(name: str) -> str:
    return f"{name.replace(' ', '.').lower()}@sim.example"


def _split(name: str) -> tuple[str, str]:
    first, _, last = name.partition(" ")
    return first, last


KINDS: dict[str, Kind] = {
    "CUSTOMER": Kind(
        customers(), "displayName", "name", ("id", "displayName", "city", "phoneNumber"),
        ("accountid", "name", "address1_city", "telephone1"),
        lambda name: {"displayName": name, "city": "Seattle"},
        lambda name: {"name": name, "address1_city": "Portland", "customertypecode": 3},
    ),
    "CONTACT": Kind(
        contacts(), "displayName", "fullname", ("id", "displayName", "email", "city"),
        ("contactid", "fullname", "emailaddress1", "address1_city"),
        lambda name: {"type": "Person", "displayName": name, "email": _email(name)},
        lambda name: {"firstname": _split(name)[0], "lastname": _split(name)[1], "emailaddress1": _email(name)},
    ),
    "OPPORTUNITY": Kind(
        opportunities(), "description", "name", ("id", "description"), ("opportunityid", "name"),
        lambda name: {"description": name},
        lambda name: {"name": name},
    ),
}  # fmt: skip


# -- a seed's records ----------------------------------------------------------------------------------------------
@dataclass
class Records:
    """One mapping's records as the seed made them: ids chosen by the seed, names unique per side; `shared` names
    exist on both sides (what match-based coupling pairs up)."""

    kind: str
    bc: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> body
    dv: dict[str, dict[str, Any]] = field(default_factory=dict)
    shared: int = 0


def seeded_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def make_records(rng: random.Random, kind: str, bc_count: int, dv_count: int, shared: int, serial: int = 0) -> Records:
    spec = KINDS[kind]
    names = [f"{w1} {w2} {serial + n}" for n, (w1, w2) in enumerate(_word_pairs(rng, bc_count + dv_count))]
    bc_names = names[:bc_count]
    dv_names = bc_names[:shared] + names[bc_count : bc_count + dv_count - shared]
    records = Records(kind, shared=shared)
    for name in bc_names:
        records.bc[seeded_uuid(rng)] = spec.bc_body(name)
    for name in dv_names:
        records.dv[seeded_uuid(rng)] = spec.dv_body(name)
    return records


def _word_pairs(rng: random.Random, count: int) -> Iterator[tuple[str, str]]:
    for _ in range(count):
        yield rng.choice(WORDS), rng.choice(WORDS)


# -- one run of a seed -------------------------------------------------------------------------------------------
@dataclass
class Run:
    """Everything one run uses: fresh tables (prefix), stores, a queue on a manual clock, the context."""

    prefix: str
    tables: TableFactory
    context: SyncContext
    services: Services
    queue: InMemoryJobQueue
    clock: ManualClock


@dataclass
class World:
    stack: SyncStack
    azurite: str

    def __post_init__(self) -> None:
        self.service = TableServiceClient.from_connection_string(self.azurite)

    def empty_apps(self) -> None:
        """Both emulators emptied (the BC company kept, Dataverse's application user back): 4 requests."""
        for handle in (self.stack.bc_handle, self.stack.dv_handle):
            handle.reset()
            handle.admin("POST", "seed", json={"profile": "bench", "counts": {}}).raise_for_status()

    def add(self, records: Records) -> None:
        """The seed's records, one BC `$batch` and one `UpsertMultiple` (before any crash point is armed)."""
        spec = KINDS[records.kind]
        mapping = spec.mapping
        if records.bc:
            requests = [
                {"method": "POST", "url": mapping.bc_entity_set, "body": {"id": bc_id, **body}}
                for bc_id, body in records.bc.items()
            ]
            refused = [o for o in self.stack.bc.execute_batch(requests) if not o.ok]
            assert not refused, refused[:2]
        if records.dv:
            rows = [{mapping.dataverse_id: dv_id, **body} for dv_id, body in records.dv.items()]
            self.stack.dataverse.upsert_multiple(mapping.dataverse_table, mapping.dataverse_entity_set, rows)

    def fresh_run(self, mappings: Mapping[str, TableMapping]) -> Run:
        prefix = f"s{uuid.uuid4().hex[:12]}"
        tables = TableFactory.from_connection_string(self.azurite, prefix=prefix)

        def mapping(name: str) -> TableMapping:
            return mappings[name] if name in mappings else get_mapping(name)

        couplings = TableCouplingStore(tables)
        context = SyncContext(
            bc=self.stack.bc,
            dataverse=self.stack.dataverse,
            couplings=couplings,
            checkpoints=TableCheckpointStore(tables),
            errors=TableSyncErrorStore(tables),
            jobs=TableJobLog(tables),
            mapping=mapping,
            catalog=CATALOG,  # as bootstrap gives it
        )
        clock = ManualClock()
        queue = InMemoryJobQueue(clock=clock)
        services = Services(
            None, context, TableSettingsStore(tables), queue, TableRunStore(tables), TableQuoteArchive(tables)
        )
        return Run(prefix, tables, context, services, queue, clock)

    def drop(self, run: Run) -> None:
        """Azurite keeps every table in memory: a seed's tables go once it is checked."""
        for name in TABLE_NAMES:
            try:
                self.service.delete_table(f"{run.prefix}{name}")
            except ResourceNotFoundError:
                continue

    # -- looking at the end state --------------------------------------------------------------------------------
    def bc_rows(self, kind: str) -> dict[str, Row]:
        spec = KINDS[kind]
        pages = self.stack.bc.list_changed_since(
            spec.mapping.bc_entity_set, None, list(spec.bc_select), extra_filter=spec.mapping.bc_filter
        )
        return {str(row["id"]): row for page in pages for row in page.rows}

    def dv_rows(self, kind: str) -> dict[str, Row]:
        spec = KINDS[kind]
        mapping = spec.mapping
        pages = self.stack.dataverse.list_changed_since(
            mapping.dataverse_entity_set, None, list(spec.dv_select), extra_filter=mapping.dataverse_filter
        )
        return {str(row[mapping.dataverse_id]): row for page in pages for row in page.rows}

    def couplings(self, run: Run, kind: str) -> list[Coupling]:
        return list(run.context.couplings.list_couplings(kind))

    def half_couplings(self, run: Run, kind: str) -> list[str]:
        """Coupling rows whose partner row is missing or points elsewhere: the two rows are written in one
        transaction, so a crash must never leave one without the other."""
        table = run.tables.table(COUPLINGS)
        rows = {row["RowKey"]: row for row in table.query_entities(f"PartitionKey eq {odata_string(escape_key(kind))}")}
        broken: list[str] = []
        for key, row in rows.items():
            side, _, _ = key.partition(":")
            if side not in ("bc", "dv"):
                continue  # not a coupling row (e.g. a record's former partner kept by Delete Coupling)
            partner_key = f"dv:{row['DataverseId']}" if side == "bc" else f"bc:{row['BcId']}"
            partner = rows.get(partner_key)
            if partner is None or (partner["BcId"], partner["DataverseId"]) != (row["BcId"], row["DataverseId"]):
                broken.append(key)
        return broken


def origin(kind: str, record_id: str, bc_ids: Mapping[str, Any], dv_ids: Mapping[str, Any]) -> str | None:
    """Which record a created one was made from, by its deterministic id: `bc:<id>` / `dv:<id>`, None if neither."""
    name = KINDS[kind].mapping.name
    for other in dv_ids:
        if deterministic_id(name, "dv", other) == record_id:
            return f"dv:{other}"
    for other in bc_ids:
        if deterministic_id(name, "bc", other) == record_id:
            return f"bc:{other}"
    return None
