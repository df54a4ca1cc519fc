"""SALESORDER-ORDER: BC keeps Sales informed about the orders that came from Sales (BC's unidirectional order sync
plus its CRM Order Status Update Job).

What a run does for every coupled order that is not closed yet, a chunk of orders at a time (one read per side and
one read each of shipments and posted invoices per chunk):
- **Header fields** of the catalog mapping (requested delivery date, discount, addresses, owner, payment terms) and
  `datefulfilled` = the latest shipment's posting date (BC's Last Shipment Date, a FlowField API v2.0 lacks) are
  compared with the Sales order and written only when they differ. A Submitted order is read-only in Sales, so it is
  switched to Active for the write and submitted again with its status, as BC does.
- **Timeline posts** on the Sales order, each exactly once: released (the BC order's status is Open = Released),
  shipped (a shipment with its `orderNumber` exists), invoiced (a posted invoice with its `orderNumber` exists). The
  events already posted are kept on the coupling (`values_hash` = `events:<comma list>`: this mapping has no field
  hash of its own), and every post has a deterministic id, so a crash between the post and the coupling update makes
  the next run repeat an idempotent create, never a second post.
- **Fully invoiced**: BC deletes an order when it is completely shipped and invoiced; an order gone from BC with a
  posted invoice is set to Invoiced in Sales and its coupling is closed (never read again).
- **Deleted in BC** (gone, never invoiced): BC removes the coupling and resets the Sales order to Active / Pending
  with `lastbackofficesubmit` cleared, so it can be submitted again; so do we.

Change from BC: the unidirectional mapping writes BC's order number into `ordernumber`; we keep Sales' own number
(it is the order's name in Sales and what the invoice links back to) and write BC's into
`bcbi_businesscentralordernumber` when the order is created.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.domain.coupling import Coupling
from shared.domain.mapping import TableMapping
from shared.engine.context import SyncContext
from shared.engine.lookups import LookupResolver
from shared.engine.setup import Setup
from shared.engine.values import ValueMapper
from shared.processes.sales_orders import ORDERS, SUBMITTED, update_submitted

log = logging.getLogger("bc_sales_sync.order_status")
MAPPING = "SALESORDER-ORDER"
CHUNK = 50
EVENTS_PREFIX = "events:"
CLOSED = "closed"
INVOICED_STATE, INVOICED_STATUS = 4, 100003
ACTIVE_STATE, PENDING_STATUS = 0, 2
POST_NAMESPACE = uuid.UUID("7d1e4a2c-5b6f-4c3d-8e9f-0a1b2c3d4e5f")
MESSAGES = {  # BC's own texts (CRM Order Status Update Job)
    "released": "The order status has changed to Released.",
    "shipped": "A shipment has been created for the order.",
    "invoiced": "An invoice has been created for the order.",
}
NOT_PUSHED = frozenset({"ordernumber", "bcbi_businesscentralordernumber"})


@dataclass
class StatusResult:
    orders: int = 0
    updated: int = 0
    posts: int = 0
    invoiced: int = 0
    uncoupled: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def events_of(coupling: Coupling) -> set[str]:
    text = coupling.values_hash or ""
    return set(filter(None, text[len(EVENTS_PREFIX) :].split(","))) if text.startswith(EVENTS_PREFIX) else set()


def post_id(order_id: str, event: str) -> str:
    return str(uuid.uuid5(POST_NAMESPACE, f"{order_id}:{event}"))


def update_order_status(context: SyncContext, setup: Setup) -> StatusResult:
    """One run over every open coupled order; nothing when sales-order integration is off in setup."""
    result = StatusResult()
    if not setup["salesOrderIntegrationEnabled"]:
        return result
    mapping = context.mapping(MAPPING)
    mapper = ValueMapper(mapping, LookupResolver(context), context.option_maps)
    open_couplings = [c for c in context.couplings.list_couplings(MAPPING) if CLOSED not in events_of(c)]
    for start in range(0, len(open_couplings), CHUNK):
        _run_chunk(context, mapping, mapper, open_couplings[start : start + CHUNK], result)
    return result


def _or_filter(name: str, values: Sequence[str]) -> str:
    return " or ".join(f"{name} eq '{v.replace(chr(39), chr(39) * 2)}'" for v in values)


def _by_order_number(context: SyncContext, entity_set: str, numbers: Sequence[str], select: list[str]) -> Any:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for start in range(0, len(numbers), 15):
        part = numbers[start : start + 15]
        for page in context.bc.list_changed_since(
            entity_set, None, select, extra_filter=_or_filter("orderNumber", part)
        ):
            for row in page.rows:
                grouped[str(row["orderNumber"])].append(row)
    return grouped


def _run_chunk(
    context: SyncContext, mapping: TableMapping, mapper: ValueMapper, couplings: list[Coupling], result: StatusResult
) -> None:
    dv_select = [
        *mapper.dataverse_select(),
        "statecode",
        "statuscode",
        "datefulfilled",
        "bcbi_businesscentralordernumber",
    ]
    orders_filter = " or ".join(f"salesorderid eq {c.dataverse_id}" for c in couplings)
    sales = {
        str(row["salesorderid"]): row
        for page in context.dataverse.list_changed_since(ORDERS, None, dv_select, extra_filter=orders_filter)
        for row in page.rows
    }
    bc_select = [*mapper.bc_select(), "number", "status"]
    bc_orders = context.bc.get_entities(mapping.bc_entity_set, [c.bc_id for c in couplings], bc_select)
    numbers = sorted(
        {str(o["number"]) for o in bc_orders.values()}
        | {
            str(s.get("bcbi_businesscentralordernumber"))
            for s in sales.values()
            if s.get("bcbi_businesscentralordernumber")
        }
    )
    shipments = _by_order_number(context, "salesShipments", numbers, ["id", "orderNumber", "postingDate"])
    invoices = _by_order_number(context, "salesInvoices", numbers, ["id", "orderNumber", "number", "status"])
    mapper.prefetch(bc_orders.values(), [])
    for coupling in couplings:
        order = sales.get(coupling.dataverse_id)
        if order is None:  # deleted in Sales: nothing to inform any more
            continue
        result.orders += 1
        try:
            _one_order(context, mapper, coupling, order, bc_orders.get(coupling.bc_id), shipments, invoices, result)
        except Exception as error:  # one order's trouble must not stop the others: kept and counted
            result.failed += 1
            result.errors.append(f"{order.get('ordernumber')}: {error}")
            log.warning(
                "order status of %s failed: %s", coupling.dataverse_id, getattr(error, "code", type(error).__name__)
            )


def _one_order(
    context: SyncContext,
    mapper: ValueMapper,
    coupling: Coupling,
    order: dict[str, Any],
    bc_order: Mapping[str, Any] | None,
    shipments: Mapping[str, list[dict[str, Any]]],
    invoices: Mapping[str, list[dict[str, Any]]],
    result: StatusResult,
) -> None:
    number = str((bc_order or {}).get("number") or order.get("bcbi_businesscentralordernumber") or "")
    shipped, posted = shipments.get(number, []), [i for i in invoices.get(number, []) if i.get("status") != "Draft"]
    happened = {"released"} if bc_order is not None and bc_order.get("status") == "Open" else set()
    happened |= {"shipped"} if shipped else set()
    happened |= {"invoiced"} if posted else set()
    done = events_of(coupling)
    for event in ("released", "shipped", "invoiced"):
        if event in happened and event not in done:
            text = f"{MESSAGES[event]} (Business Central order {number})"
            context.dataverse.create_post(
                ORDERS, "salesorder", coupling.dataverse_id, text, post_id=post_id(coupling.dataverse_id, event)
            )
            result.posts += 1
    done |= happened
    if bc_order is not None:
        if _push_fields(context, mapper, order, bc_order, shipped):
            result.updated += 1
    elif posted:
        if order.get("statecode") != INVOICED_STATE:
            context.dataverse.set_state(ORDERS, coupling.dataverse_id, INVOICED_STATE, INVOICED_STATUS)
        result.invoiced += 1
        done.add(CLOSED)
    else:
        _reset_deleted(context, coupling, order)
        result.uncoupled += 1
        return
    if done != events_of(coupling):
        events = EVENTS_PREFIX + ",".join(sorted(done))
        context.couplings.update_coupling(coupling.with_changes(values_hash=events))


def _push_fields(
    context: SyncContext,
    mapper: ValueMapper,
    order: dict[str, Any],
    bc_order: Mapping[str, Any],
    shipped: list[dict[str, Any]],
) -> bool:
    bc_values, dv_values = mapper.from_bc(bc_order).values, mapper.from_dataverse(order).values
    mapper.align(bc_values, dv_values)
    keys = [
        f.key
        for f in mapper.fields
        if not f.create_only and f.dataverse_field not in NOT_PUSHED and bc_values.get(f.key) != dv_values.get(f.key)
    ]
    body = mapper.dataverse_payload(bc_order, keys, creating=False) if keys else {}
    last_shipment = max((str(s.get("postingDate") or "") for s in shipped), default="")
    if last_shipment and str(order.get("datefulfilled") or "")[:10] != last_shipment[:10]:
        body["datefulfilled"] = last_shipment[:10]
    if not body:
        return False
    update_submitted(context, order, body)
    return True


def _reset_deleted(context: SyncContext, coupling: Coupling, order: dict[str, Any]) -> None:
    """BC's rule for a coupled order deleted in BC: uncouple, and the Sales order may be submitted again."""
    order_id = coupling.dataverse_id
    if order.get("statecode") == SUBMITTED:
        context.dataverse.set_state(ORDERS, order_id, ACTIVE_STATE, PENDING_STATUS)
    context.dataverse.update_row(
        ORDERS, order_id, {"lastbackofficesubmit": None, "bcbi_businesscentralordernumber": None}
    )
    context.couplings.delete_coupling(MAPPING, coupling.bc_id)
