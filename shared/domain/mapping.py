"""Table and field mappings (BC's "Integration Table Mapping" / "Integration Field Mapping") as frozen data.

A mapping says which BC entity is coupled to which Dataverse table, which way data flows, how each field is carried
(as is, as a constant, through a transform, or through another mapping's couplings), which records are in scope on
each side, what must be coupled first, and what happens on a conflict or a deletion. It also says what BC decides in
code per table: its kind (a table, an option set, a process's, a document's lines), how it takes part in a full
synchronization, and the named behaviours run at the engine's hook points. The catalog (`shared/mappings/`) is plain
data built from these types; the engine interprets it and never asks a mapping's name, so a mapping is changed, or
one that behaves like another is added, by editing data, not code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Direction(StrEnum):
    TO_DATAVERSE = "toDataverse"  # BC ToIntegrationTable
    FROM_DATAVERSE = "fromDataverse"  # BC FromIntegrationTable
    BIDIRECTIONAL = "bidirectional"

    def allows(self, wanted: Direction) -> bool:
        """Whether a field or table mapping in this direction may carry data in the `wanted` direction."""
        return self is Direction.BIDIRECTIONAL or self is wanted


class ConflictPolicy(StrEnum):
    """BC's "Update-Conflict Resolution", plus a field-level merge BC does not have."""

    NONE = "none"  # both sides changed -> record error "changed in both apps", nothing overwritten
    BC_WINS = "bcWins"  # BC's "Send Update to Integration"
    DATAVERSE_WINS = "dataverseWins"  # BC's "Get Update from Integration"
    MERGE = "merge"  # apply each side's changed fields when no field changed on both sides, else NONE


class DeletionPolicy(StrEnum):
    """BC's "Deletion-Conflict Resolution": what to do when a coupled record is gone on the other side."""

    NONE = "none"  # record error "the coupled record is deleted"
    REMOVE_COUPLING = "removeCoupling"
    RESTORE = "restore"  # re-create the missing record and couple it again


class Availability(StrEnum):
    """How a BC default field mapping is covered (docs/mappings.md is generated from this)."""

    MAPPED = "mapped"
    MAPPED_DIFFERENTLY = "mappedDifferently"
    NOT_AVAILABLE = "notAvailable"


class MappingKind(StrEnum):
    """What a mapping couples, which decides how the engine treats it (BC tells them apart in code, not in its table
    mapping)."""

    TABLE = "table"  # records <-> rows: the engine runs it (incremental runs, full sync, record operations)
    # BC code records <-> the options of a picklist (`dataverse_id` names it): the engine runs it as a whole
    # (`engine/option_runs.py`), never record by record; its couplings build the option map `option_map`
    OPTION_SET = "optionSet"
    # one of BC's document processes runs it (`shared/processes/`): the engine refuses to, saying which (`process`)
    PROCESS = "process"
    DOCUMENT_LINES = "documentLines"  # a document's lines: they travel with their document, never on their own


class FullSyncRule(StrEnum):
    """How a mapping takes part in a full synchronization (BC's Full Synch. Review) and what its line recommends
    (`domain/full_sync.py`). An enabled mapping takes part unless the rule says otherwise."""

    # BC's rule: records on one side only -> fullSynchronization, on both -> coupleRecords, on none -> noRecords
    BY_DATA = "byData"
    NEVER = "never"  # no line (document lines travel with their documents)
    BOTH_WAYS_ONLY = "bothWaysOnly"  # a line (BY_DATA) only when the mapping runs both ways; one way, a process runs it
    # fullSynchronization whatever the data (users are never created, only coupled and read: SALESPEOPLE)
    ALWAYS_FULL = "alwaysFull"
    COUPLE = "couple"  # coupleRecords when BC has records, else noRecords (an option set: Sales' side has no rows)
    # fullSynchronization when Sales holds nothing but its base currency (one currency, exchange rate 1), else COUPLE
    BASE_CURRENCY = "baseCurrency"


PAGE_KEY_SEPARATOR = "|"  # between the fields of a page entity's key id (`S00001|10000`)


@dataclass(frozen=True)
class Lookup:
    """Resolve a value through another mapping's couplings (currency, owner via salesperson, parent account ...).

    BC side: the BC field holds the looked-up record's `bc_key` (its `id`, `number` or `code`); Dataverse side: the
    attribute is a lookup written with `<navigation>@odata.bind` to `/<target_entity_set>(<id>)` and read back as
    `_<attribute>_value`.
    """

    mapping: str
    target_entity_set: str
    navigation: str
    bc_key: str = "id"
    bc_entity_set: str | None = None  # the BC entity set of the looked-up record, when `bc_key` is not `id`
    bc_scope: str | None = None  # a `$filter` (canonical names) narrowing that set, when `bc_key` repeats across it
    # Fields of the *record* (or `=literal`s) whose values, then the looked-up value, form the looked-up record's
    # page key id (`Item_No|Code`, `Item|<SystemId>`): the lookup is scoped to this record (an item's base unit
    # among its own units, not any unit with that code) and costs no BC read. With it, `bc_key` is "id".
    bc_id_from: tuple[str, ...] = ()
    # The property of the `bc_entity_set` row that holds the id the couplings know, when that row is not the coupled
    # record itself but a link to it: `relatedId` of `contactsInformation` (company contact number -> customer id),
    # the second hop from a BC person's `companyNumber` to the account of its company's customer.
    bc_id_field: str = "id"
    # The looked-up mapping is BC's currencies: a blank code (and the LCY's own code, which API v2.0 documents return
    # for it) is BC's local currency, which has no BC row and so no coupling; it is the Sales currency with the LCY's
    # ISO code, and back to blank (`engine/lookups.py`).
    local_currency: bool = False
    # The next lookup to try when this one's link set has no row for the value (`bc_id_field` lookups only): the
    # value is related to no record of this lookup's kind, so it may be related to one of another kind. A row that
    # exists wins even when its record is not coupled (then the lookup fails; the next one is not tried). CONTACT's
    # parent: the company contact's customer, otherwise its vendor, as BC's FindParentCRMAccountForContact.
    otherwise: Lookup | None = None


@dataclass(frozen=True)
class FieldMapping:
    bc_field: str | None  # BC API v2.0 property, or the canonical name of a page/custom source property
    dataverse_field: str | None  # Dataverse attribute (a lookup's attribute name, not `_x_value`)
    direction: Direction
    constant: Any = None  # written to the destination when the source field is None
    transform: str | None = None  # a name in `domain/transforms.py` (e.g. "upper", "nonNegative", "option:terms")
    lookup: Lookup | None = None
    clear_on_failed_lookup: bool = False  # BC's "Clear Value on Failed Sync"; else a failed lookup is a record error
    match_priority: int | None = None  # used for match-based coupling when set (lower first)
    case_sensitive_match: bool = False
    enabled: bool = True
    bc_default_field: str | None = None  # the BC table field of BC's default mapping this field covers
    note: str = ""
    create_only: bool = False  # Dataverse takes the attribute on create only (IsValidForUpdate = false)
    keep_when_blank: bool = False  # BC's "Not Null": a blank BC value leaves the destination as it is (owner)

    @property
    def key(self) -> str:
        """A stable name for the field pair (used for per-field hashes and in the API)."""
        return f"{self.bc_field or '='}>{self.dataverse_field or '='}"


@dataclass(frozen=True)
class Gap:
    """A BC default field mapping this project does not carry (or carries differently), and why."""

    bc_default_field: str
    dataverse_field: str | None
    availability: Availability
    reason: str


@dataclass(frozen=True)
class TableMapping:
    name: str
    bc_entity: str  # canonical entity name of `connectors/business_central/entity_sources.py` (customer, item ...)
    bc_entity_set: str  # the API v2.0 entity set, or the canonical set name of a page/custom source
    dataverse_table: str  # logical name
    dataverse_entity_set: str
    dataverse_id: str  # primary id attribute
    direction: Direction
    fields: tuple[FieldMapping, ...]
    bc_filter: str | None = None  # OData $filter on the BC side (BC's table filter)
    dataverse_filter: str | None = None  # OData $filter on the Dataverse side (BC's integration table filter)
    dependencies: tuple[str, ...] = ()
    sync_only_coupled: bool = True
    conflict_policy: ConflictPolicy = ConflictPolicy.NONE
    deletion_policy: DeletionPolicy = DeletionPolicy.NONE
    create_if_no_match: bool = False
    # False: the engine never creates this mapping's records in BC (BC cannot take them from a Dataverse row: their
    # key is a code a person chooses, and nothing fills it). A full synchronization's line then couples BC's records
    # by match, synchronizes the coupled ones and leaves Dataverse's other rows (services/full_sync/coordinator.py).
    creates_in_bc: bool = True
    sync_after_coupling: bool = False
    dataverse_on_create: dict[str, Any] = field(default_factory=dict)  # constants only set when creating in Dataverse
    bc_on_create: dict[str, Any] = field(default_factory=dict)
    bc_default_table: str | None = None  # BC's table name for the coverage docs
    gaps: tuple[Gap, ...] = ()
    enabled: bool = True
    schedule: str | None = None  # app setting name of the timer schedule, when the mapping runs periodically
    note: str = ""
    # Per-table rules BC runs in code (publish and price a product, leave the write-in item out, drop the account
    # statistics of an uncoupled customer): names registered in `engine/behaviours/hooks.py`, which the engine runs at
    # its hook points (after insert, after update, after uncouple, ...) for any mapping that declares them.
    behaviours: tuple[str, ...] = ()
    kind: MappingKind = MappingKind.TABLE
    process: str = ""  # PROCESS: which process runs it, and how (the engine's answer when asked to run it instead)
    full_sync: FullSyncRule = FullSyncRule.BY_DATA
    option_map: str | None = None  # OPTION_SET: the option map its couplings build (transforms `option:<name>`)
    # OPTION_SET: the documents' own picklists (document table, attribute) that carry the same options with the same
    # values and labels (`engine/document_options.py`)
    document_picklists: tuple[tuple[str, str], ...] = ()

    def field_mappings(self, direction: Direction) -> tuple[FieldMapping, ...]:
        """The enabled field mappings that carry data in `direction`."""
        return tuple(f for f in self.fields if f.enabled and f.direction.allows(direction))

    def match_fields(self) -> tuple[FieldMapping, ...]:
        return tuple(
            sorted(
                (f for f in self.fields if f.enabled and f.match_priority is not None),
                key=lambda f: f.match_priority or 0,
            )
        )
