"""Dataverse actions and the timeline as request values (pure, like `requests.py`): the close actions `WinQuote` and
`FulfillSalesOrder`, and an Auto Post on a record's wall.

Why apart from `requests.py`: these are the only requests whose repeat is made safe by the service's own state rules
(a second close fails its state check; a repeated post answers 412), not by the write's shape; `operations.py`
settles both.
"""

from __future__ import annotations

from shared.connectors.dataverse.requests import DataverseRequest, bind, canonical_id, write_headers

POST_SOURCE_AUTO, POST_TYPE_STATUS = 1, 7


def _close_action(
    action: str, activity: str, navigation: str, entity_set: str, row_id: str, status: int, subject: str
) -> DataverseRequest:
    body = {activity: {"subject": subject, f"{navigation}@odata.bind": bind(entity_set, row_id)}, "Status": status}
    # Safe to repeat: a second close fails the service's state check, and the client then confirms the state.
    return DataverseRequest("POST", action, write_headers(), body, idempotent=True)


def win_quote(quote_id: str, status: int, subject: str) -> DataverseRequest:
    return _close_action("WinQuote", "QuoteClose", "quoteid", "quotes", quote_id, status, subject)


def fulfill_sales_order(order_id: str, status: int, subject: str) -> DataverseRequest:
    """Unbound `POST /FulfillSalesOrder` (facts B5: the binding is UNCONFIRMED; the emulator takes unbound)."""
    return _close_action("FulfillSalesOrder", "OrderClose", "salesorderid", "salesorders", order_id, status, subject)


def post_regarding_navigation(logical_name: str) -> str:
    """UNCONFIRMED (facts B11, C8): the navigation that binds a post's polymorphic `regardingobjectid`. We follow
    the `<lookup>_<target>` pattern of customerid_account; verify against $metadata of `post` before go-live."""
    return f"regardingobjectid_{logical_name}"


def create_post(
    regarding_entity_set: str, regarding_logical_name: str, regarding_id: str, text: str, post_id: str
) -> DataverseRequest:
    """A POST carrying its own `postid`: posts have no Update message (so no create-only PATCH), and a repeat of
    this POST answers 412 DuplicateRecord, which `accept` turns into success."""
    body = {
        "postid": canonical_id(post_id),
        "text": text,
        "source": POST_SOURCE_AUTO,
        "type": POST_TYPE_STATUS,
        f"{post_regarding_navigation(regarding_logical_name)}@odata.bind": bind(regarding_entity_set, regarding_id),
    }
    return DataverseRequest("POST", "posts", write_headers(), body, idempotent=True, accept=frozenset({412}))
