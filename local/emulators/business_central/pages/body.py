"""The shape of a page web service's POST/PATCH body, as BC checks it before any field rule: a JSON object of
primitive values (no deep insert) whose property names the page defines; `@odata.*` annotations are skipped. One
place for both writers (`write.py` for page-backed tables, `order_write.py` for page 42 over API orders), so the
messages stay BC's wherever a page is written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from local.emulators.business_central.errors import bad_request
from local.emulators.business_central.pages.schema import PageField, PageService


def page_values(service: PageService, body: Any) -> Iterator[tuple[str, Any, PageField]]:
    """(property, value, its page field) of each property of the body, refused with BC's 400 messages."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    for name, value in body.items():
        if name.startswith("@odata."):
            continue
        if isinstance(value, dict | list):
            raise bad_request(f"Deep insert is not supported on page web services ('{name}' is not a primitive value).")
        page_field = service.fields.get(name)
        if page_field is None:
            raise bad_request(
                f"The property '{name}' does not exist on type 'NAV.{service.name}'. Make sure to only use "
                f"property names that are defined by the type."
            )
        yield name, value, page_field
