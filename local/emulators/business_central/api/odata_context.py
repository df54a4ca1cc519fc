"""`@odata.context` of API v2.0 responses: `<api root>/$metadata#companies(<id>)/customers[(select)][/$entity]`.

Why: entity sets of API v2.0 are contained in `companies`, so the context URL names the path through the company
(OData v4.0 Part 1, 10 "Context URL": containment navigation and `/$entity` for a single entity; a `$select` adds the
projection in parentheses, 10.9 "Projected Entities"). Clients that check the context (to type rows, or to tell a
collection from an entity) read it. The metadata document sits at the API root (`.../api/v2.0/$metadata`), not under
the company as the emulator used to write it.

Source of the form: the collection form `.../api/v2.0/$metadata#companies(<id>)/customers` as BC answers it (public
client output; Microsoft's API pages omit the context). UNCONFIRMED, from the OData rules Microsoft.OData.Core
implements: the single-entity form (the last key dropped, `/$entity` added, as Microsoft Graph's contained entities
show) and the projection. A `?company=` request names the company the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from local.emulators.odata.keys import split_path
from local.emulators.web import Request


def context_url(
    request: Request, base: str, company_id: str, select: Sequence[str] | None = None, *, entity: bool = False
) -> str:
    """`base` is `<api root>/companies(<id>)` (the emulator's link base); the path comes from the request."""
    root = base.rsplit("/companies(", 1)[0]
    segments = split_path(request.path.split("/api/v2.0", 1)[-1])
    if segments and segments[0].name == "companies":
        segments = segments[1:]
    parts = [f"companies({company_id})"]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        keep_key = segment.key is not None and not (last and entity)
        parts.append(segment.name + (f"({segment.key})" if keep_key else ""))
    if select:
        parts[-1] += f"({','.join(select)})"
    return f"{root}/$metadata#{'/'.join(parts)}" + ("/$entity" if entity else "")
