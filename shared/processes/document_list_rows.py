"""What the Sales document lists (`document_lists.py`) share: one page of Dataverse rows, and for the rows of a page
their customers, sync error entries, BC document numbers and option labels, each read in as few requests as the page
allows (never one per row).

Why its own module: these reads are the same for orders, quotes and posted invoices; kept apart, each list's module
says only what its rows show and when its action can be taken.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from shared.domain.records import RecordErrorEntry, Side
from shared.engine.context import SyncContext
from shared.engine.list_pages import PageRequest, both, dataverse_after, dataverse_token
from shared.ports import Row

IDS_PER_READ = 50  # ids per Dataverse `or` filter (URLs well under the limit)


def label(labels: dict[int, str], value: Any) -> str:
    """An option's label (the number itself for one this app does not know)."""
    return labels[value] if isinstance(value, int) and value in labels else str(value)


def dataverse_page(
    context: SyncContext,
    entity_set: str,
    primary: str,
    select: list[str],
    scope: str | None,
    page: PageRequest,
    list_name: str,
) -> tuple[list[Row], str | None]:
    """One server page of `top` rows (one request: the connector's iterator is lazy) and the token after it."""
    listed = context.dataverse.list_changed_since(
        entity_set, None, select, extra_filter=both(scope, dataverse_after(primary, page.after)), page_size=page.top
    )
    first = next(iter(listed), None)
    rows = first.rows[: page.top] if first is not None else []
    more = first is not None and (first.next_link is not None or len(first.rows) > page.top)
    return rows, dataverse_token(list_name, primary, rows[-1]) if more and rows else None


def row_by_id(rows: Sequence[Row], primary: str, row_id: str) -> Row:
    return next((row for row in rows if str(row[primary]) == row_id), {})


def record_errors(context: SyncContext, mapping: str, side: Side, ids: Sequence[str]) -> dict[str, RecordErrorEntry]:
    if not ids:
        return {}
    return {e.record_id: e for e in context.errors.find_errors(mapping, [(side, i) for i in ids])}


def error_body(entry: RecordErrorEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {"code": entry.code, "message": entry.message, "count": entry.count, "lastSeen": entry.last_seen or None,
            "skipped": entry.skipped}  # fmt: skip


def bc_numbers(context: SyncContext, entity_set: str, bc_ids: Sequence[str]) -> dict[str, str]:
    """BC document numbers by lower-cased id (a document deleted since, e.g. an order posted, is absent)."""
    if not bc_ids:
        return {}
    found = context.bc.get_entities(entity_set, list(dict.fromkeys(bc_ids)), ["id", "number"])
    return {key.lower(): str(row.get("number") or "") for key, row in found.items()}


def customers_of(context: SyncContext, customer_ids: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Name and company of the documents' customers (accounts, else contacts), by lower-cased id; a customer the
    company's view does not show is looked up once more, and marked `anotherCompany` when it is stamped for another
    company (what `document_parts.bc_customer_id` refuses the document for)."""
    ids = sorted({str(c) for c in customer_ids if c})
    if not ids:
        return {}
    found = {k: {"name": r.get("name")} for k, r in rows_by_id(context, "accounts", "accountid", ids, ["name"]).items()}
    contacts = [i for i in ids if i.lower() not in found]
    for key, row in rows_by_id(context, "contacts", "contactid", contacts, ["fullname"]).items():
        found[key] = {"name": row.get("fullname")}
    for customer_id in ids:  # one the company's view hides is another company's, or gone
        if customer_id.lower() in found:
            continue
        elsewhere = context.dataverse.stamped_elsewhere("accounts", customer_id) or context.dataverse.stamped_elsewhere(
            "contacts", customer_id
        )
        found[customer_id.lower()] = {"name": None, "anotherCompany": elsewhere}
    return found


def customer_body(customer_id: str, customers: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    if not customer_id:
        return None
    known = customers.get(customer_id.lower(), {})
    return {"id": customer_id, "name": known.get("name"), "anotherCompany": bool(known.get("anotherCompany"))}


def rows_by_id(
    context: SyncContext, entity_set: str, primary: str, ids: Sequence[str], select: Sequence[str]
) -> dict[str, Row]:
    """Rows by lower-cased id, `IDS_PER_READ` ids per read (rows the company's view hides are absent)."""
    found: dict[str, Row] = {}
    wanted = sorted({i.lower() for i in ids})
    for start in range(0, len(wanted), IDS_PER_READ):
        ids_filter = " or ".join(f"{primary} eq {value}" for value in wanted[start : start + IDS_PER_READ])
        for listed in context.dataverse.list_changed_since(
            entity_set, None, [primary, *select], extra_filter=ids_filter
        ):
            found.update({str(row[primary]).lower(): row for row in listed.rows})
    return found
