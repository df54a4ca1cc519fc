"""`POST /BulkDelete`: delete the rows a set of QueryExpressions selects, recorded as a system job.

Sources: "BulkDelete Action" (Web API reference: QuerySet, JobName, SendEmailNotification, ToRecipients,
CCRecipients, RecurrencePattern and StartDateTime are not nullable; it returns BulkDeleteResponse with `JobId`),
the AsyncOperation table reference (operationtype 13 Bulk Delete; statecode 3 Completed with statuscode 30 Succeeded
or 31 Failed), and the Python SDK's request body (QuerySet of `Microsoft.Dynamics.CRM.QueryExpression` with
`Criteria.Conditions` of AttributeName/Operator/Values).

What the emulator does differently, on purpose and said here: the real job runs later in the background; the
emulator runs it before answering, all or nothing (one row it may not delete, e.g. a line of a submitted order,
fails the job and deletes nothing), and records the outcome on the `asyncoperations` row the JobId names, so a
client polling that row sees a finished job at once. A recurring job (a non-empty RecurrencePattern) is not run
(501). Condition operators beyond Equal, NotEqual, GreaterThan, GreaterEqual, LessThan, LessEqual, In, NotIn, Null,
NotNull, Like and NotLike are refused (501) rather than guessed; string comparisons ignore case (SQL collation).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from local.emulators.dataverse.errors import NOT_SUPPORTED, DataverseError, bad_payload
from local.emulators.dataverse.schema import Table
from local.emulators.dataverse.values import now_text
from local.emulators.dataverse.writer import LOOKUP_TYPE, Writer
from local.emulators.store import Row
from local.emulators.web import Response

REQUIRED = (
    "QuerySet", "JobName", "SendEmailNotification", "ToRecipients", "CCRecipients", "RecurrencePattern",
    "StartDateTime",
)  # fmt: skip
BULK_DELETE, COMPLETED, SUCCEEDED, FAILED = 13, 3, 30, 31
Predicate = Callable[[Row], bool]


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _like(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


_COMPARE: dict[str, Callable[[Any, list[Any]], bool]] = {
    "Equal": lambda v, xs: v is not None and v == xs[0],
    "NotEqual": lambda v, xs: v is not None and v != xs[0],
    "GreaterThan": lambda v, xs: v is not None and v > xs[0],
    "GreaterEqual": lambda v, xs: v is not None and v >= xs[0],
    "LessThan": lambda v, xs: v is not None and v < xs[0],
    "LessEqual": lambda v, xs: v is not None and v <= xs[0],
    "In": lambda v, xs: v in xs,
    "NotIn": lambda v, xs: v is not None and v not in xs,
    "Null": lambda v, xs: v is None,
    "NotNull": lambda v, xs: v is not None,
    "Like": lambda v, xs: isinstance(v, str) and bool(_like(str(xs[0])).fullmatch(v)),
    "NotLike": lambda v, xs: isinstance(v, str) and not _like(str(xs[0])).fullmatch(v),
}


def _condition(table: Table, condition: Any) -> Predicate:
    if not isinstance(condition, dict):
        raise bad_payload("Each Criteria.Conditions item must be a ConditionExpression object.")
    name, operator = condition.get("AttributeName"), condition.get("Operator")
    attribute = table.attributes.get(name) if isinstance(name, str) else None
    if attribute is None:
        raise bad_payload(f"'{name}' is not an attribute of {table.logical_name}.")
    compare = _COMPARE.get(operator) if isinstance(operator, str) else None
    if compare is None:
        raise DataverseError(501, NOT_SUPPORTED, f"The condition operator '{operator}' is not run by this emulator.")
    raw = condition.get("Values") or []
    values = [_fold(v.get("Value") if isinstance(v, dict) else v) for v in raw]
    if operator not in ("Null", "NotNull") and not values:
        raise bad_payload(f"The condition on '{name}' with operator '{operator}' needs Values.")
    read_name = attribute.read_name
    return lambda row: compare(_fold(row.get(read_name)), values)


def _criteria(table: Table, criteria: Any) -> Predicate:
    """A FilterExpression (`FilterOperator` And/Or, `Conditions`, nested `Filters`); none selects every row."""
    if criteria is None:
        return lambda row: True
    if not isinstance(criteria, dict):
        raise bad_payload("Criteria must be a FilterExpression object.")
    parts = [_condition(table, c) for c in criteria.get("Conditions") or []]
    parts += [_criteria(table, f) for f in criteria.get("Filters") or []]
    operator = criteria.get("FilterOperator", "And")
    if operator not in ("And", "Or"):
        raise bad_payload(f"FilterOperator must be And or Or, not '{operator}'.")
    combine = all if operator == "And" else any
    return lambda row: combine(part(row) for part in parts) if parts else True


def _selected(writer: Writer, query: Any) -> tuple[Table, list[Row]]:
    if not isinstance(query, dict):
        raise bad_payload("Each QuerySet item must be a QueryExpression object.")
    table = writer.schema.tables.get(query.get("EntityName", ""))
    if table is None:
        raise bad_payload(f"The QueryExpression names an unknown table '{query.get('EntityName')}'.")
    predicate = _criteria(table, query.get("Criteria"))
    return table, [row for row in writer.store.rows(table.logical_name) if predicate(row)]


def bulk_delete(writer: Writer, body: Any, user_id: str, base: str) -> Response:
    if not isinstance(body, dict):
        raise bad_payload("BulkDelete takes a JSON object.")
    missing = [name for name in REQUIRED if body.get(name) is None]
    if missing:
        raise bad_payload(f"The parameter '{missing[0]}' of BulkDelete is required (not nullable).")
    if not isinstance(body["QuerySet"], list) or not body["QuerySet"]:
        raise bad_payload("QuerySet must be a non-empty array of QueryExpression objects.")
    if body["RecurrencePattern"]:
        raise DataverseError(501, NOT_SUPPORTED, "Recurring bulk delete jobs are not run by this emulator.")
    selections = [_selected(writer, query) for query in body["QuerySet"]]
    started = now_text()
    status, message = SUCCEEDED, None
    try:
        with writer.store.transaction():
            for table, rows in selections:
                for row in rows:
                    if writer.store.get(table.logical_name, row[table.primary_id]) is not None:  # cascades
                        writer.delete(table, str(row[table.primary_id]), user_id=user_id)
    except DataverseError as error:
        status, message = FAILED, error.message
    job_id = str(uuid.uuid4())
    job: Row = {
        "asyncoperationid": job_id, "name": str(body["JobName"]), "operationtype": BULK_DELETE,
        "messagename": "BulkDelete", "friendlymessage": message, "recurrencepattern": "",
        "statecode": COMPLETED, "statuscode": status, "startedon": started, "completedon": now_text(),
        "_ownerid_value": user_id, LOOKUP_TYPE + "ownerid": "systemuser",
    }  # fmt: skip
    version = writer._stamp(job, user_id, created=True)
    writer.store.put("asyncoperation", job_id, job, version=version)
    context = f"{base}/$metadata#Microsoft.Dynamics.CRM.BulkDeleteResponse"
    return Response.json(200, {"@odata.context": context, "JobId": job_id})
