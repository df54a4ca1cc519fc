"""`CompanyScopedDataverse`: one BC company's view of a Dataverse org that several BC companies share (issue 22).

A `DataverseClientPort` around any other one (the real `DataverseClient`), for the `bcbi_company` row of one BC
company and, in the Team ownership model, that company's default owning team. It does to every call what BC does to
its Dataverse records, so the engine, the services and the processes need not know that other companies exist.

Rules and their sources (facts = /work/shared/design/reference/bc-integration-facts.md; BCApps = microsoft/BCApps
src/Layers/W1/BaseApp/Integration/):
- The company tables are the eight whose Dataverse entity carries `bcbi_companyid`: account, contact, product,
  opportunity, pricelevel, quote, salesorder, invoice (facts section "custom attributes on standard entities";
  BC's proxy tables CRM Pricelevel etc. map a CompanyId field to `bcbi_companyid`). BCApps'
  CDSIntTableSubscriber.HandleOnHasCompanyIdField names CRM Productpricelevel where the proxy with the field is CRM
  Pricelevel; the entity attributes are followed here.
- Reads see "this company or empty": every integration table filter of a company table adds `bcbi_companyid = this
  company OR empty` (facts section 2, "Filters"). `has_records`, `list_ids` and `list_changed_since` add it;
  `id_range_filter` builds a range that the caller reads through `list_changed_since`, which scopes it.
- A row of another company is not this company's: `get_row` answers None for it, as quotes of another BC company are
  skipped (facts "quotes"; BCApps D365Sales/CRMQuotetoSalesQuote.Codeunit.al OnRun: a set company id that differs).
- Writes stamp the company: BC sets the company id before it inserts or modifies a record of these tables (BCApps
  Dataverse/CDSIntTableSubscriber.Codeunit.al HandleOnBeforeInsertRecord / HandleOnBeforeModifyRecord -> SetCompanyId;
  D365Sales/CRMIntTableSubscriber.Codeunit.al for products, price levels, opportunities, orders and invoices; facts
  "sales order creation from dataverse": after creation ... bcbi_companyid is set). A stamp the caller wrote is
  overwritten: SetCompanyId sets the company whatever the field held (CDSIntegrationImpl.TrySetAndCheckCompany).
- Owners (`ownership="team"`): a record BC creates gets the company's default owning team (CDSIntTableSubscriber
  SetOwnerId: Team model -> SetOwningTeam, the default owning team of the company: CDSIntegrationImpl
  TrySetAndCheckOwner / InitializeCompanyCache). For accounts, contacts (SetOwnerId on insert) and opportunities and
  sales orders (CRMIntTableSubscriber UpdateOwnerIdAndCompanyId / 'Sales Header-CRM Salesorder' -> SetOwnerId) the
  team replaces any owner the body names: the Team model has no Salesperson -> ownerid field mapping (facts `[P]`),
  and SetOwningTeam overwrites what the record held. For invoices the body's owner is kept (an invoice made from a
  Sales order takes that order's owner, user or team: CRMIntTableSubscriber UpdateCRMInvoiceBeforeInsertRecord), else
  the team. Quotes: BC never creates one in Dataverse; the invoice rule is used (UNCONFIRMED). Products and price
  levels are organization-owned (no `ownerid`: /work/shared/schemas/dataverse.json), so they get no owner.
- Updates in the Team model do not change the owner of accounts, contacts, opportunities and sales orders: "if
  ownership model is Team, we don't change the value if Salesperson changes" (CDSIntTableSubscriber, the OwnerId
  transfer-field handler), so an `ownerid` bind in an update of those tables is dropped.
- Person model (`ownership="person"`): the body's owner (the salesperson's user) is written as it is; when a create of
  an account, contact or sales order names none and the company's team is known, the team owns it (SetOwnerId's Person
  branch: no coupled user -> SetOwningTeam).
- Upserts (`upsert_row`, `upsert_multiple`, a `$batch` PATCH with neither If-Match nor If-None-Match) are treated as
  creates: the engine upserts only rows it is creating (`engine/sides.py` `DataverseSide.upsert_many`).
- Claims (`claim_rows`): the rows about to be coupled, or a Sales order about to become a BC order, are stamped for
  this company before, each conditional on the ETag read, so two companies never take one row. A Submitted order is
  read-only in Sales: it is made Active (the conditional write), stamped and Submitted again, as BC does around its
  SetCompanyId (BCApps D365Sales/CRMSalesOrdertoSalesOrder.Codeunit.al SetCompanyId).
- `stamped_elsewhere` tells whether a row exists stamped for another company (what `get_row` hides): a document whose
  customer is another company's is not this company's to convert.
- Releasing a row when its coupling is removed: BC clears the company id of the Dataverse record when it uncouples it,
  only if it is this company's, and a Submitted sales order is made Active for the change and Submitted again;
  orders in other states are left (BCApps CDSIntTableSubscriber.HandleOnBeforeUncoupleRecord ->
  CDSIntegrationImpl.ResetCompanyId / TryResetCompanyId; facts section 1: an uncouple codeunit is set when the entity
  has bcbi_companyid). `release` does that; the coupling service is to call it (not wired here).

Everything else (deletes, option sets, state changes, close messages, posts, any other table) passes through.
The wrapper is immutable and does no I/O when built.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from shared.connectors.dataverse.requests import bind, entity_path
from shared.domain.errors import ConcurrencyError, FatalError
from shared.ports import BatchOutcome, DataverseClientPort, Page, Row

Ownership = Literal["person", "team"]
OWNERSHIP_MODELS: tuple[Ownership, ...] = ("person", "team")

COMPANY_TABLES: Mapping[str, str] = {
    "accounts": "account",
    "contacts": "contact",
    "products": "product",
    "opportunities": "opportunity",
    "pricelevels": "pricelevel",
    "quotes": "quote",
    "salesorders": "salesorder",
    "invoices": "invoice",
}
COMPANY_VALUE = "_bcbi_companyid_value"
COMPANY_BIND = "bcbi_companyid@odata.bind"
OWNER_BIND = "ownerid@odata.bind"
COMPANIES = "bcbi_companies"
CLAIMS_PER_BATCH = 1000  # operations per Dataverse `$batch` (its limit)
# where BC sets the company's team whatever owner the record held (Team model) / keeps an owner it was given
TEAM_OVERRIDES = frozenset({"accounts", "contacts", "opportunities", "salesorders"})
OWNER_KEPT = frozenset({"invoices", "quotes"})
PERSON_FALLBACK = frozenset({"accounts", "contacts", "salesorders"})  # SetOwnerId: no coupled user -> the team
ORDERS = "salesorders"
ORDER_ACTIVE, ORDER_SUBMITTED = 0, 1
ORDER_ACTIVE_STATUS, ORDER_SUBMITTED_STATUS = 1, 3  # New; In Progress (as processes/sales_orders.py)
_TARGET = re.compile(r"^/?(?P<set>[A-Za-z_][A-Za-z0-9_]*)(?:\((?P<key>[^()/]*)\))?$")

WriteKind = Literal["create", "update"]


def _guid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise FatalError("InvalidId", f"The {what} '{value}' is not a GUID.") from None


@dataclass(frozen=True)
class CompanyScopedDataverse:
    """`inner` seen as the BC company whose `bcbi_company` row is `company_id`; `owning_team` is that company's
    default owning team (required by the Team model, optional in the Person model)."""

    inner: DataverseClientPort
    company_id: str
    ownership: Ownership = "person"
    owning_team: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "company_id", _guid(self.company_id, "bcbi_company id"))
        if self.ownership not in OWNERSHIP_MODELS:
            raise FatalError("InvalidOwnershipModel", f"The ownership model must be person or team: {self.ownership}")
        if self.owning_team is not None:
            object.__setattr__(self, "owning_team", _guid(self.owning_team, "owning team id"))
        elif self.ownership == "team":
            raise FatalError("OwningTeamRequired", "The Team ownership model needs the company's default owning team.")

    # -- the rules ---------------------------------------------------------------------------------------------
    @property
    def company_filter(self) -> str:
        """BC's company filter: this company or empty."""
        return f"({COMPANY_VALUE} eq {self.company_id} or {COMPANY_VALUE} eq null)"

    def scoped_filter(self, entity_set: str, extra_filter: str | None) -> str | None:
        if entity_set not in COMPANY_TABLES:
            return extra_filter
        return f"{self.company_filter} and ({extra_filter})" if extra_filter else self.company_filter

    def belongs(self, row: Mapping[str, Any]) -> bool:
        """This company's or nobody's (a row without the column read counts as nobody's)."""
        stamp = row.get(COMPANY_VALUE)
        return stamp is None or str(stamp).lower() == self.company_id

    def stamped(self, entity_set: str, body: Mapping[str, Any], kind: WriteKind) -> dict[str, Any]:
        """The body BC would write: the company's stamp, and the owner its ownership model gives."""
        if entity_set not in COMPANY_TABLES:
            return dict(body)
        written = {**body, COMPANY_BIND: bind(COMPANIES, self.company_id)}
        team = bind("teams", self.owning_team) if self.owning_team else None
        if self.ownership == "team":
            if kind == "update":
                if entity_set in TEAM_OVERRIDES:
                    written.pop(OWNER_BIND, None)
            elif entity_set in TEAM_OVERRIDES or (entity_set in OWNER_KEPT and not written.get(OWNER_BIND)):
                written[OWNER_BIND] = team
        elif kind == "create" and team and entity_set in PERSON_FALLBACK and not written.get(OWNER_BIND):
            written[OWNER_BIND] = team
        return written

    def _stamped_rows(self, entity_set: str, rows: Sequence[Mapping[str, Any]], kind: WriteKind) -> list[Row]:
        return [self.stamped(entity_set, row, kind) for row in rows]

    def _stamped_operation(self, operation: Mapping[str, Any]) -> Mapping[str, Any]:
        """A POST to a company table or a PATCH of one of its rows, stamped; any other operation as it is."""
        method = str(operation.get("method", "")).upper()
        match = _TARGET.match(str(operation.get("url", "")))
        body = operation.get("body")
        if match is None or match["set"] not in COMPANY_TABLES or not isinstance(body, Mapping):
            return operation
        keyed = match["key"] is not None
        if method == "POST" and not keyed:
            kind: WriteKind = "create"
        elif method == "PATCH" and keyed:
            headers = {str(k).lower(): str(v) for k, v in (operation.get("headers") or {}).items()}
            kind = "update" if "if-match" in headers and "if-none-match" not in headers else "create"
        else:
            return operation
        return {**operation, "body": self.stamped(match["set"], body, kind)}

    # -- reads -------------------------------------------------------------------------------------------------
    def has_records(self, entity_set: str, extra_filter: str | None = None) -> bool:
        return self.inner.has_records(entity_set, self.scoped_filter(entity_set, extra_filter))

    def list_ids(self, entity_set: str, extra_filter: str | None = None) -> Iterator[list[str]]:
        return self.inner.list_ids(entity_set, self.scoped_filter(entity_set, extra_filter))

    def id_range_filter(self, entity_set: str, first: str, last: str) -> str | None:
        """Unscoped on purpose: the range is read through `list_changed_since`, which adds the company filter."""
        return self.inner.id_range_filter(entity_set, first, last)

    def get_row(self, entity_set: str, row_id: str, select: Sequence[str] | None = None) -> Row | None:
        if entity_set not in COMPANY_TABLES:
            return self.inner.get_row(entity_set, row_id, select)
        wanted = list(select) if select else None
        asked = wanted is None or COMPANY_VALUE in wanted
        row = self.inner.get_row(entity_set, row_id, wanted if asked else [*(wanted or []), COMPANY_VALUE])
        if row is None or not self.belongs(row):
            return None
        if not asked:
            row = {k: v for k, v in row.items() if k != COMPANY_VALUE and not k.startswith(COMPANY_VALUE + "@")}
        return row

    def list_changed_since(
        self,
        entity_set: str,
        since: datetime | None,
        select: Sequence[str],
        extra_filter: str | None = None,
        page_size: int = 5000,
    ) -> Iterator[Page]:
        return self.inner.list_changed_since(
            entity_set, since, select, self.scoped_filter(entity_set, extra_filter), page_size
        )

    # -- writes ------------------------------------------------------------------------------------------------
    def create_row(self, entity_set: str, row_id: str, body: Mapping[str, Any]) -> None:
        self.inner.create_row(entity_set, row_id, self.stamped(entity_set, body, "create"))

    def update_row(self, entity_set: str, row_id: str, body: Mapping[str, Any], etag: str | None = None) -> None:
        self.inner.update_row(entity_set, row_id, self.stamped(entity_set, body, "update"), etag)

    def upsert_row(self, entity_set: str, row_id: str, body: Mapping[str, Any]) -> None:
        self.inner.upsert_row(entity_set, row_id, self.stamped(entity_set, body, "create"))

    def delete_row(self, entity_set: str, row_id: str) -> None:
        self.inner.delete_row(entity_set, row_id)

    def create_multiple(self, logical_name: str, entity_set: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        return self.inner.create_multiple(logical_name, entity_set, self._stamped_rows(entity_set, rows, "create"))

    def update_multiple(self, logical_name: str, entity_set: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self.inner.update_multiple(logical_name, entity_set, self._stamped_rows(entity_set, rows, "update"))

    def upsert_multiple(self, logical_name: str, entity_set: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self.inner.upsert_multiple(logical_name, entity_set, self._stamped_rows(entity_set, rows, "create"))

    def execute_batch(
        self, operations: Sequence[Mapping[str, Any]], *, atomic: bool = True, continue_on_error: bool = False
    ) -> list[BatchOutcome]:
        stamped = [self._stamped_operation(operation) for operation in operations]
        return self.inner.execute_batch(stamped, atomic=atomic, continue_on_error=continue_on_error)

    # -- coupling ----------------------------------------------------------------------------------------------
    def claim_rows(self, entity_set: str, etags: Mapping[str, str | None]) -> set[str]:
        """Stamp the rows about to be coupled with this company, each conditional on the ETag read (`$batch`, one
        PATCH each, going on after a failure); the ids stamped. Why before coupling: a row read as "this company or
        empty" is free for every company until one stamps it, and BC's stamp comes only with the synchronization
        after coupling (CDSIntTableSubscriber HandleOnBeforeModifyRecord -> SetCompanyId), so two companies matching
        the same unstamped account would both couple it. The ETag makes the stamp the claim: a row another company
        stamped since the read answers 412 and is left out (UNCONFIRMED whether BC guards this race at all: the
        strict reading)."""
        if entity_set not in COMPANY_TABLES or not etags:
            return self.inner.claim_rows(entity_set, etags)
        if entity_set == ORDERS:
            return {row_id for row_id, etag in etags.items() if self._claim_order(row_id, etag)}
        claimed: set[str] = set()
        ids = list(etags)
        for start in range(0, len(ids), CLAIMS_PER_BATCH):
            chunk = ids[start : start + CLAIMS_PER_BATCH]
            operations = [
                {
                    "method": "PATCH",
                    "url": entity_path(entity_set, row_id),
                    "body": {COMPANY_BIND: bind(COMPANIES, self.company_id)},
                    "headers": {"If-Match": etags[row_id] or "*"},
                }
                for row_id in chunk
            ]
            outcomes = self.inner.execute_batch(operations, atomic=False, continue_on_error=True)
            claimed.update(row_id for row_id, outcome in zip(chunk, outcomes, strict=False) if outcome.ok)
        return claimed

    def _claim_order(self, row_id: str, etag: str | None) -> bool:
        """Stamp one Sales order for this company, conditional on `etag`; whether it is this company's now. A
        Submitted order is read-only in Sales, so (as BC's SetCompanyId after it creates the BC order:
        CRMSalesOrdertoSalesOrder.SetCompanyId) it is made Active for the stamp and Submitted again with the status
        it had; the switch to Active is the conditional write, so of two companies racing on one order only the first
        gets past it (the other's If-Match answers 412). An order already stamped is this company's or another's,
        whatever the ETag; one changed since `etag` was read is not claimed (the caller reads again), nor is a closed
        one (as the `$batch` claim of another table answers for a row it may not write)."""
        row = self.inner.get_row(ORDERS, row_id, [COMPANY_VALUE, "statecode", "statuscode"])
        if row is None:
            return False
        if row.get(COMPANY_VALUE) is not None:
            return self.belongs(row)
        current, state = str(row.get("@odata.etag") or "*"), row.get("statecode")
        if etag not in (None, "*", current) or state not in (ORDER_ACTIVE, ORDER_SUBMITTED):
            return False  # changed since it was read, or closed (Canceled, Fulfilled, Invoiced: read-only in Sales)
        claim = {COMPANY_BIND: bind(COMPANIES, self.company_id)}
        try:
            if state == ORDER_ACTIVE:
                self.inner.update_row(ORDERS, row_id, claim, current)
                return True
            self.inner.update_row(
                ORDERS, row_id, {"statecode": ORDER_ACTIVE, "statuscode": ORDER_ACTIVE_STATUS}, current
            )
        except ConcurrencyError:
            return False
        try:
            self.inner.update_row(ORDERS, row_id, claim)
        finally:
            self.inner.set_state(ORDERS, row_id, ORDER_SUBMITTED, int(row.get("statuscode") or ORDER_SUBMITTED_STATUS))
        return True

    def stamped_elsewhere(self, entity_set: str, row_id: str) -> bool:
        """A row of a company table stamped for another company (one read; False for a row that is gone)."""
        if entity_set not in COMPANY_TABLES:
            return False
        row = self.inner.get_row(entity_set, row_id, [COMPANY_VALUE])
        return row is not None and not self.belongs(row)

    # -- uncoupling --------------------------------------------------------------------------------------------
    def release(self, entity_set: str, row_id: str) -> bool:
        """Clear this company's stamp from a row whose coupling is being removed, as BC's uncoupling does; whether
        the row changed (False: not a company table, gone, another company's or nobody's, or an order that is
        neither Active nor Submitted)."""
        if entity_set not in COMPANY_TABLES:
            return False
        is_order = entity_set == ORDERS
        select = [COMPANY_VALUE, "statecode", "statuscode"] if is_order else [COMPANY_VALUE]
        row = self.inner.get_row(entity_set, row_id, select)
        if row is None or str(row.get(COMPANY_VALUE) or "").lower() != self.company_id:
            return False
        clear = {COMPANY_BIND: None}
        if not is_order:
            self.inner.update_row(entity_set, row_id, clear)
            return True
        state, status = row.get("statecode"), row.get("statuscode")
        if state == ORDER_ACTIVE:
            self.inner.update_row(entity_set, row_id, clear)
            return True
        if state != ORDER_SUBMITTED:
            return False
        self.inner.set_state(entity_set, row_id, ORDER_ACTIVE, ORDER_ACTIVE_STATUS)
        try:
            self.inner.update_row(entity_set, row_id, clear)
        finally:
            self.inner.set_state(entity_set, row_id, ORDER_SUBMITTED, int(status or ORDER_SUBMITTED_STATUS))
        return True

    # -- passed through ----------------------------------------------------------------------------------------
    def option_set(self, table: str, attribute: str) -> dict[int, str]:
        return self.inner.option_set(table, attribute)

    def insert_option(self, table: str, attribute: str, label: str, value: int | None = None) -> int:
        return self.inner.insert_option(table, attribute, label, value)

    def update_option_label(self, table: str, attribute: str, value: int, label: str) -> None:
        self.inner.update_option_label(table, attribute, value, label)

    def set_state(self, entity_set: str, row_id: str, state: int, status: int) -> None:
        self.inner.set_state(entity_set, row_id, state, status)

    def win_quote(self, quote_id: str, status: int = 4, subject: str = "Won") -> None:
        self.inner.win_quote(quote_id, status, subject)

    def fulfill_sales_order(self, order_id: str, status: int = 100001, subject: str = "Fulfilled") -> None:
        self.inner.fulfill_sales_order(order_id, status, subject)

    def create_post(
        self,
        regarding_entity_set: str,
        regarding_logical_name: str,
        regarding_id: str,
        text: str,
        *,
        post_id: str | None = None,
    ) -> str:
        return self.inner.create_post(regarding_entity_set, regarding_logical_name, regarding_id, text, post_id=post_id)
