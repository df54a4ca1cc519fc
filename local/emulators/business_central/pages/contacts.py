"""Page 5055 "Name Details" (service `NameDetails`) as a view over API v2.0 `contacts` rows.

Why a view: on BC the page and the API show one Contact record, so a contact created through API v2.0 has its name
parts on the page, and a part written on the page changes the API's displayName (with a new ETag and
lastModifiedDateTime). BC keeps First Name, Middle Name and Surname beside Name: validating Name runs NameBreakdown,
validating a part rebuilds Name from the parts (microsoft/BCApps src/Layers/W1/BaseApp/CRM/Contact/Contact.Table.al;
the page: .../CRM/Contact/NameDetails.Page.al). The emulator stores the parts on the API row under internal keys the
API never returns: `@nameParts` and `@nameFor`, the Name they belong to. When the API changed the Name since
(`@nameFor` differs), or nothing was stored (seeded contacts), the parts are BC's NameBreakdown of the Name, which is
what BC's Name validation would have left. Company contacts have no parts (NameBreakdown skips them) and the page is
not editable for them (OnAfterGetCurrRecord: CurrPage.Editable(Type = Person)).

Writes: PATCH of First_Name, Middle_Name and Surname (If-Match as every page; Text[30]); the other controls are
refused with 400 "not emulated", never dropped in silence. POST and DELETE: the page does not allow them (405).
"""

from __future__ import annotations

from typing import Any

from local.emulators.business_central.errors import NOT_FOUND, BcError, bad_request, dialog
from local.emulators.business_central.pages.context import Context
from local.emulators.business_central.pages.schema import PageService
from local.emulators.business_central.values import coerce, default_value
from local.emulators.store import Row

CONTACTS_VIEW = "@contacts"
CONTACTS = "contacts"
PART_COLUMNS = ("First_Name", "Middle_Name", "Surname")
PARTS, NAME_FOR = "@nameParts", "@nameFor"


def name_breakdown(name: str) -> tuple[str, str, str]:
    """Contact.NameBreakdown: words split on spaces; the last is the Surname (2+ words), the one before it the Middle
    Name (3+ words), the rest the First Name; each cut to 30."""
    words = [word for word in name.split(" ") if word]
    surname = words.pop() if len(words) >= 2 else ""
    middle = words.pop() if len(words) >= 2 else ""
    return " ".join(words)[:30], middle[:30], surname[:30]


def name_parts(contact: Row) -> tuple[str, str, str]:
    if contact.get("type") != "Person":
        return "", "", ""
    name = str(contact.get("displayName") or "")
    stored = contact.get(PARTS)
    if stored and contact.get(NAME_FOR) == name:
        return str(stored[0]), str(stored[1]), str(stored[2])
    return name_breakdown(name)


def shape_contact(ctx: Context, service: PageService, contact: Row) -> dict[str, Any]:
    out: dict[str, Any] = {name: default_value(f.prop) for name, f in service.fields.items()}
    out["No"] = contact.get("number", "")
    out.update(dict(zip(PART_COLUMNS, name_parts(contact), strict=True)))
    if "Job_Title" in out:
        out["Job_Title"] = str(contact.get("jobTitle") or "")[:30]
    out.update({"@systemId": contact["id"], "@version": contact["@version"]})
    out["@modifiedAt"] = contact.get("lastModifiedDateTime", "")
    return out


def contact_rows(ctx: Context, service: PageService) -> list[dict[str, Any]]:
    return [shape_contact(ctx, service, contact) for contact in ctx.rows(CONTACTS)]


def _parts_of_body(service: PageService, contact: Row, body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    values: dict[str, str] = {}
    for name, value in body.items():
        if name.startswith("@odata."):
            continue
        page_field = service.fields.get(name)
        if page_field is None:
            raise bad_request(
                f"The property '{name}' does not exist on type 'NAV.{service.name}'. Make sure to only use "
                f"property names that are defined by the type."
            )
        if name == "No":
            if coerce(service.entity, page_field.prop, value) != contact.get("number"):
                raise dialog("You cannot rename a Contact through the page 'Name Details'.")
            continue
        if name not in PART_COLUMNS:
            raise bad_request(
                f"Writing '{name}' through the page '{service.name}' is not emulated; the emulator writes "
                f"{', '.join(PART_COLUMNS)}."
            )
        values[name] = str(coerce(service.entity, page_field.prop, value))
    return values


def update_contact(ctx: Context, service: PageService, shown: Row, body: Any, if_match: str | None) -> Row:
    """PATCH the API contact behind `shown`: the parts as given, Name rebuilt from them (Contact.CalculatedName)."""
    contacts = ctx.writer.entity_set(CONTACTS)
    with ctx.writer.store.transaction():
        contact = ctx.writer.store.get(ctx.table(CONTACTS), shown["@systemId"])
        if contact is None:
            raise BcError(404, NOT_FOUND, f"The {service.name} record no longer exists.")
        ctx.writer.check_if_match(contact, if_match)
        if contact.get("type") != "Person":
            raise bad_request(f"The page '{service.name}' is not editable for a company contact ({contact['number']}).")
        given = _parts_of_body(service, contact, body)
        parts = [given.get(column, current) for column, current in zip(PART_COLUMNS, name_parts(contact), strict=True)]
        name = " ".join(part for part in parts if part)[:100]
        row = {**contact, "displayName": name, PARTS: parts, NAME_FOR: name}
        ctx.writer.put(ctx.company_id, contacts, row)
        ctx.forget()
    return row
