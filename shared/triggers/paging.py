"""The paging convention every paged list route shares (issue 24): `top` rows per page (1 to 1000, 100 when not
given) and the opaque `continuationToken` the previous page answered; the answer is `{"value": [...],
"continuationToken": "<next>" | null}`.

Why one module: the couplings, sync errors, match log and Sales documents lists were paged four times over, with
four `top` rules that had drifted apart (two took "007", one Arabic-Indic digits). Here is the one rule, its OpenAPI
query schema and the response schema. What a token means stays with whoever made it: Table Storage's continuation
(`storage/table_pages.py`) or the keyset token of the BC and Dataverse lists (`engine/list_pages.py`), both a 400
`invalidContinuationToken` naming `continuationToken` when it is not theirs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import azure.functions as func

from shared.domain.errors import InvalidInputError
from shared.engine.list_pages import CURSOR_RULE, DEFAULT_TOP, MAX_TOP

TOP_PATTERN = r"^(1000|[1-9][0-9]{0,2})$"  # 1 to MAX_TOP, no sign, no leading zero
MAX_TOKEN_LENGTH = 2000
TOKEN_RULE = CURSOR_RULE  # the `rules` of a paged route's RouteSpec: a well-formed token that is not the list's
PAGING_QUERY: dict[str, dict[str, Any]] = {
    "top": {
        "type": "string",
        "pattern": TOP_PATTERN,
        "description": f"Rows per page, 1 to {MAX_TOP} (default {DEFAULT_TOP}).",
    },
    "continuationToken": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_TOKEN_LENGTH,
        "description": "The continuationToken the previous page answered (opaque).",
    },
}


def top(req: func.HttpRequest) -> int:
    """`top` from the query: 1 to 1000, `DEFAULT_TOP` when not given; else a 400 naming `top`."""
    raw = req.params.get("top")
    if raw is None:
        return DEFAULT_TOP
    if not re.fullmatch(TOP_PATTERN, raw):
        raise InvalidInputError("invalidValue", f"'top' must be a number from 1 to {MAX_TOP}.", field="top")
    return int(raw)


def continuation_token(req: func.HttpRequest) -> str | None:
    """`continuationToken` from the query (None: the first page), 1 to 2000 characters; else a 400 naming it. Only
    its length is checked here: whether it is a token of this list, the store or list that made it decides."""
    token: str | None = req.params.get("continuationToken")
    if token is not None and not 1 <= len(token) <= MAX_TOKEN_LENGTH:
        raise InvalidInputError(
            TOKEN_RULE, "'continuationToken' is not a token this list handed out.", field="continuationToken"
        )
    return token


def page_schema(item_schema: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The response schema of one page of `item_schema` rows, with `extra` properties (all required) before them."""
    extra = extra or {}
    return {
        "type": "object",
        "required": [*extra, "value", "continuationToken"],
        "properties": {
            **extra,
            "value": {"type": "array", "items": item_schema},
            "continuationToken": {
                "type": ["string", "null"],
                "description": "Pass it to read the next page; null: this is the last page.",
            },
        },
    }


def page_json(value: Sequence[Any], following: str | None, **extra: Any) -> dict[str, Any]:
    """The answer of one page (`page_schema`): `extra` first, then the rows and the next page's token."""
    return {**extra, "value": list(value), "continuationToken": following}
