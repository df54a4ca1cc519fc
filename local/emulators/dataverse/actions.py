"""Dataverse messages the Sales processes use: WinQuote, CloseQuote, ReviseQuote, FulfillSalesOrder,
CancelSalesOrder (unbound actions, `POST /<Name>`), and the bulk messages CreateMultiple, UpdateMultiple and
UpsertMultiple (`POST /<set>/Microsoft.Dynamics.CRM.<Name>`, all or nothing, one request toward the limits; a target
names its row by primary key or by `@odata.id`, alternate keys included).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from local.emulators.dataverse import keys
from local.emulators.dataverse.errors import bad_payload, invalid, not_found
from local.emulators.dataverse.payload import parse_bind_target
from local.emulators.dataverse.schema import Schema, Table
from local.emulators.dataverse.values import canonical_guid
from local.emulators.dataverse.writer import LOOKUP_TYPE, Writer
from local.emulators.store import Row
from local.emulators.web import Response

QUOTE_ACTIVE, QUOTE_WON, QUOTE_CLOSED = 1, 2, 3
ORDER_ACTIVE, ORDER_SUBMITTED, ORDER_CANCELED, ORDER_FULFILLED = 0, 1, 2, 3


def _object(body: Any, name: str) -> dict[str, Any]:
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, dict):
        raise bad_payload(f"The parameter '{name}' is required and must be an object.")
    return value


def _status(body: dict[str, Any]) -> int:
    status = body.get("Status")
    if not isinstance(status, int) or isinstance(status, bool):
        raise bad_payload("The parameter 'Status' is required and must be an integer.")
    return status


def _bound_row(writer: Writer, close: dict[str, Any], navigation: str, table_name: str) -> Row:
    target = close.get(f"{navigation}@odata.bind")
    if target is None:
        raise bad_payload(f"The activity must carry '{navigation}@odata.bind'.")
    bound_table, row_id = parse_bind_target(writer.schema, target, None)
    if bound_table != table_name:
        raise bad_payload(f"'{navigation}@odata.bind' must point at a {table_name}.")
    row = writer.store.get(table_name, row_id)
    if row is None:
        raise not_found(table_name, row_id)
    return row


def win_quote(writer: Writer, body: Any, user_id: str) -> Response:
    """Only an active quote can be won: a draft must be activated first."""
    return _close(writer, body, user_id, kind="quote", from_states=(QUOTE_ACTIVE,), to_state=QUOTE_WON, verb="won")


def close_quote(writer: Writer, body: Any, user_id: str) -> Response:
    return _close(
        writer, body, user_id, kind="quote", from_states=(0, QUOTE_ACTIVE), to_state=QUOTE_CLOSED, verb="closed"
    )


def revise_quote(writer: Writer, body: Any, user_id: str, base: str) -> Response:
    """Close the quote as Revised and copy it (and its lines) into a new draft: same number, next revision."""
    raw_id = body.get("QuoteId") if isinstance(body, dict) else None
    if raw_id is None:
        raise bad_payload("The parameter 'QuoteId' is required.")
    quote_id = canonical_guid(raw_id, "QuoteId")
    quotes = writer.schema.tables["quote"]
    with writer.store.transaction():
        quote = writer.store.get("quote", quote_id)
        if quote is None:
            raise not_found("quote", quote_id)
        if quote["statecode"] not in (QUOTE_ACTIVE, QUOTE_CLOSED) or quote["statuscode"] == 7:
            raise invalid("Only an active or closed (lost, canceled) quote can be revised.")
        writer.set_state(quotes, quote_id, QUOTE_CLOSED, 7, user_id)
        new_id = str(uuid.uuid4())
        copy = {k: v for k, v in quote.items() if k not in ("versionnumber", "createdon", "modifiedon")}
        copy.update(
            {
                "quoteid": new_id,
                "revisionnumber": (quote.get("revisionnumber") or 0) + 1,
                "statecode": 0,
                "statuscode": 1,
            }
        )
        version = writer._stamp(copy, user_id, created=True)
        writer.store.put("quote", new_id, copy, version=version)
        details = writer.schema.tables["quotedetail"]
        for line in writer.store.rows("quotedetail"):
            if line.get("_quoteid_value") == quote_id:
                line_copy = {**line, "quotedetailid": str(uuid.uuid4()), "_quoteid_value": new_id}
                line_version = writer._stamp(line_copy, user_id, created=True)
                writer.store.put(details.logical_name, line_copy["quotedetailid"], line_copy, version=line_version)
    payload = {k: v for k, v in copy.items() if not k.startswith(LOOKUP_TYPE)}
    payload["@odata.context"] = f"{base}/$metadata#quotes/$entity"
    return Response.json(200, payload)


def _close(
    writer: Writer, body: Any, user_id: str, *, kind: str, from_states: tuple[int, ...], to_state: int, verb: str
) -> Response:
    """What every close message does: find the bound record, check its state, set the new state and status."""
    activity, navigation = ("QuoteClose", "quoteid") if kind == "quote" else ("OrderClose", "salesorderid")
    row = _bound_row(writer, _object(body, activity), navigation, kind)
    status = _status(body)
    if row["statecode"] not in from_states:
        raise invalid(f"This {kind} cannot be {verb} in its current state.")
    writer.set_state(writer.schema.tables[kind], row[navigation], to_state, status, user_id)
    return Response.empty(204)


def fulfill_sales_order(writer: Writer, body: Any, user_id: str) -> Response:
    return _close(
        writer,
        body,
        user_id,
        kind="salesorder",
        from_states=(ORDER_ACTIVE, ORDER_SUBMITTED),
        to_state=ORDER_FULFILLED,
        verb="fulfilled",
    )


def cancel_sales_order(writer: Writer, body: Any, user_id: str) -> Response:
    return _close(
        writer,
        body,
        user_id,
        kind="salesorder",
        from_states=(ORDER_ACTIVE, ORDER_SUBMITTED),
        to_state=ORDER_CANCELED,
        verb="canceled",
    )


UnboundAction = Callable[[Writer, Any, str], Response]
UNBOUND_ACTIONS: dict[str, UnboundAction] = {
    "WinQuote": win_quote,
    "CloseQuote": close_quote,
    "FulfillSalesOrder": fulfill_sales_order,
    "CancelSalesOrder": cancel_sales_order,
}


def _targets(table: Table, body: Any) -> list[dict[str, Any]]:
    targets = body.get("Targets") if isinstance(body, dict) else None
    if not isinstance(targets, list) or not targets:
        raise bad_payload("The parameter 'Targets' is required and must be a non-empty array.")
    for index, target in enumerate(targets):
        if not isinstance(target, dict):
            raise bad_payload(f"Targets[{index}] must be an object.")
        if str(target.get("@odata.type", "")).lstrip("#") != table.type_name:
            raise bad_payload(f'Targets[{index}] must carry "@odata.type": "{table.type_name}".')
    return targets


def _target_row(writer: Writer, table: Table, index: int, target: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A target names its row by primary key or by `@odata.id` (an entity URL, alternate keys allowed: the form the
    Python SDK sends for UpsertMultiple; keys.target_of)."""
    body = {name: value for name, value in target.items() if name != "@odata.id"}
    if "@odata.id" in target:
        return keys.target_of(writer.schema, writer.store, table, target["@odata.id"], body)
    row_id = target.get(table.primary_id)
    if row_id is None:
        raise bad_payload(f"Targets[{index}] must carry its primary key '{table.primary_id}' or an @odata.id.")
    return str(row_id), body


def bulk(writer: Writer, schema: Schema, table: Table, message: str, body: Any, user_id: str, base: str) -> Response:
    targets = _targets(table, body)
    context = f"{base}/$metadata#Microsoft.Dynamics.CRM.{message}Response"
    with writer.store.transaction():  # standard tables: one failing target rolls back the whole message
        if message == "CreateMultiple":
            ids = [writer.create(table, target, user_id)[table.primary_id] for target in targets]
            return Response.json(200, {"@odata.context": context, "Ids": ids})
        results = []
        for index, target in enumerate(targets):
            row_id, body = _target_row(writer, table, index, target)
            if_match = "*" if message == "UpdateMultiple" else None
            row, created = writer.update(table, row_id, body, user_id, if_match=if_match)
            results.append(
                {
                    "RecordCreated": created,
                    "Target": {"@odata.type": f"#{table.type_name}", table.primary_id: row[table.primary_id]},
                }
            )
        if message == "UpdateMultiple":
            return Response.empty(204)
        return Response.json(200, {"@odata.context": context, "Results": results})


BULK_MESSAGES = frozenset({"CreateMultiple", "UpdateMultiple", "UpsertMultiple"})
