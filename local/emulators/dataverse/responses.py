"""`@odata.context` and `Preference-Applied` as the Web API writes them.

Why: SDKs and generic OData clients read both. A context URL names the projection (`$metadata#accounts(name,
accountid)`), which some clients use to type the payload; `Preference-Applied` tells a client that its page size,
representation or annotations were honoured, so it need not guess from the body.

Sources (Power Apps developer docs): "Count rows using OData" (`$metadata#accounts(name)` and
`Preference-Applied: odata.maxpagesize=3` next to `odata.include-annotations="Microsoft.Dynamics.CRM.*"`),
"Retrieve a table row using the Web API" (`accounts(name,revenue)/$entity`), "Join tables" / "Create a table row"
(`accounts(name,primarycontactid(fullname),Account_Tasks(subject))`, `Preference-Applied: return=representation`),
"Use FetchXml with Web API" (an expansion without `$select` written `transactioncurrencyid()`), "Use change tracking
to synchronize data with external systems" (`accounts(name,telephone1,fax)/$delta`).

UNCONFIRMED, our reading: with `$expand` but no `$select` the context names no projection (the examples always
select); one `Preference-Applied` header lists several preferences comma-separated (the docs show separate header
lines, which HTTP treats as the same field); a page size above 5,000 is reported as the 5,000 applied.
"""

from __future__ import annotations

from collections.abc import Sequence

from local.emulators.odata.expand import ExpandItem
from local.emulators.web import Request


def projection(select: Sequence[str] | None, expand: Sequence[ExpandItem] = ()) -> str:
    """`(name,primarycontactid(fullname))` for a `$select` (and its expansions); empty without `$select`."""
    if not select:
        return ""
    parts = list(select)
    for item in expand:
        nested = item.options.get("$select", "")
        parts.append(f"{item.navigation}({','.join(n.strip() for n in nested.split(',') if n.strip())})")
    return f"({','.join(parts)})"


def context(base: str, entity_set: str, select: Sequence[str] | None, expand: Sequence[ExpandItem] = ()) -> str:
    return f"{base}/$metadata#{entity_set}{projection(select, expand)}"


def preferences(request: Request) -> dict[str, str]:
    """`Prefer` as {name: value}, keeping commas inside a quoted value (`odata.include-annotations="a,b"`), which
    a plain split at commas would cut (RFC 7240 allows quoted values)."""
    result: dict[str, str] = {}
    item, quoted = "", False
    for char in (request.header("prefer") or "") + ",":
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            name, _, value = item.strip().partition("=")
            if name.strip():
                result[name.strip().lower()] = value.strip().strip('"')
            item = ""
        else:
            item += char
    return result


def applied(request: Request, *, page_size: int | None = None, representation: bool = False) -> dict[str, str]:
    """The `Preference-Applied` header for the preferences this response honoured (none: no header)."""
    prefers = preferences(request)
    honoured: list[str] = []
    if page_size is not None and "odata.maxpagesize" in prefers:
        honoured.append(f"odata.maxpagesize={page_size}")
    if representation and prefers.get("return") == "representation":
        honoured.append("return=representation")
    if "odata.include-annotations" in prefers:
        honoured.append(f'odata.include-annotations="{prefers["odata.include-annotations"]}"')
    return {"Preference-Applied": ", ".join(honoured)} if honoured else {}
