"""The `parentCompany` behaviour: a contact created in BC from Sales gets its company, as BC's own integration does.

Why: a BC person belongs to a company contact (`companyNumber`), and CONTACT's BC filter keeps only persons with one;
a Sales contact created in BC without it would fall out of its own mapping at once. BC sets it before inserting a
contact from Sales (CDS/CRM Int. Table. Subscriber, OnBeforeInsertRecord 'CRM Contact-Contact' ->
UpdateContactParentCompany -> CRM Synch. Helper SetContactParentCompany -> FindContactByAccountId: the parent
account -> its coupled customer -> the company contact related to that customer by a business relation; when the
account has no coupled customer with one, its coupled vendor -> the vendor's company contact), and refuses the
contact when there is none ("the company does not exist"; the "business relation optional" setting that relaxes this
is not supported: the strict reading). Only on insert: BC
does not move an existing person to another company when its parent account changes in Sales, and neither do we
(companyNumber -> parentcustomerid stays BC -> Sales on updates).

The second hop reads API v2.0 `contactsInformation` (read-only; one row per company contact related to a customer or
vendor: relatedId = its id, relatedType = Customer or Vendor), once per customer or vendor per run; in a
full-synchronization chunk the whole set of a relation type is read once per run (`run_cache`: a chunk of 200
contacts names about 200 accounts), and a customer or vendor it lacks (its company contact made since) is read alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.domain.errors import RecordError
from shared.domain.mapping import Lookup, TableMapping
from shared.engine import coupled_ids, run_cache
from shared.engine.context import SyncContext
from shared.ports import Row

PARENT_FIELD = "companyNumber"
INFORMATION = "contactsInformation"
NO_VALUE = ("", None, "00000000-0000-0000-0000-000000000000")


class ParentCompany:
    """The rule for one mapping during one run (company numbers cached per parent account)."""

    bc_only_fields: frozenset[str] = frozenset()
    bc_needs: tuple[str, ...] = ()

    def __init__(self, context: SyncContext, mapping: TableMapping) -> None:
        self.context = context
        field = next((f for f in mapping.fields if f.bc_field == PARENT_FIELD and f.lookup is not None), None)
        self.lookup = field.lookup if field is not None else None
        self.read_name = f"_{field.dataverse_field}_value" if field is not None else ""
        self._numbers: dict[str, str | None] = {}

    def prefetch(self, bc_rows: Iterable[Mapping[str, Any]]) -> None:
        """Nothing to read ahead: contacts are created from Sales one by one or a few per run."""

    def bc_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return dict(row)

    def align(self, bc_values: dict[str, Any], dv_values: dict[str, Any]) -> None:
        """Nothing to align: the company is written on insert only."""

    def to_bc(self, payload: dict[str, Any], dataverse_row: Mapping[str, Any], *, creating: bool) -> None:
        if not creating or self.lookup is None or payload.get(PARENT_FIELD):
            return
        account = dataverse_row.get(self.read_name)
        number = self._company_number(str(account)) if account not in NO_VALUE else None
        if not number:
            raise RecordError(
                "contactMissingCompany",
                "The contact cannot be created in Business Central: its parent account must be coupled to a customer "
                "or vendor whose company contact exists (couple the account first, or give the contact a parent "
                "account).",
                field="parentcustomerid",
            )
        payload[PARENT_FIELD] = number

    def after_bc_written(self, written: Sequence[tuple[Mapping[str, Any], Row]]) -> None:
        """Nothing after the write: BC copies the company's name itself."""

    def _company_number(self, account_id: str) -> str | None:
        """The company contact of the account's coupled customer, else of its coupled vendor (the lookup's chain,
        `Lookup.otherwise`), as BC's FindContactByAccountId: the customer's company first, the vendor's only when
        the account has no coupled customer with a company contact."""
        if account_id not in self._numbers:
            number: str | None = None
            lookup: Lookup | None = self.lookup
            while number is None and lookup is not None:
                number = self._company_of(lookup, account_id)
                lookup = lookup.otherwise
            self._numbers[account_id] = number
        return self._numbers[account_id]

    def _company_of(self, lookup: Lookup, account_id: str) -> str | None:
        partner = coupled_ids.bc_ids(self.context.couplings, lookup.mapping, [account_id]).get(account_id)
        if partner is None or not self.context.bc.serves(INFORMATION):
            return None
        return self._run_companies(lookup).get(partner) or self._read_company(lookup, partner)

    def _companies(self, scope: str) -> dict[str, str]:
        """Customer (or vendor) id -> the number of its company contact, for the relations `scope` selects."""
        found: dict[str, str] = {}
        select = ["contactNumber", "contactType", "relatedId"]
        for page in self.context.bc.list_changed_since(INFORMATION, None, select, extra_filter=scope):
            for row in page.rows:
                if row.get("contactType") == "Company":
                    found.setdefault(str(row["relatedId"]), str(row["contactNumber"]))
        return found

    def _run_companies(self, lookup: Lookup) -> dict[str, str]:
        """The whole set of one relation type, once per full-synchronization run; nothing outside one (read record
        by record)."""
        if run_cache.current_run() is None:
            return {}
        scope = lookup.bc_scope or ""
        return run_cache.run_fact(("companyContacts", scope), lambda: self._companies(scope))

    def _read_company(self, lookup: Lookup, related_id: str) -> str | None:
        scope = (
            f"relatedId eq {related_id} and ({lookup.bc_scope})" if lookup.bc_scope else f"relatedId eq {related_id}"
        )
        return self._companies(scope).get(related_id)
