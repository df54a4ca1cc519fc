"""`GET .../ODataV4/$metadata`: one CSDL document for every served page (not per company, as on BC).

Why: the facts say to always diff the tenant's `$metadata` against the expected property names (pageextensions
add properties, a duplicate name breaks every service). A sync that checks its page names at start-up needs a
document to check against locally too. Types follow BC's own OData helper: options and enums as Edm.String
(UNCONFIRMED for page services), Code/Text with their MaxLength.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from local.emulators.business_central.pages.schema import PageService, load_pages
from local.emulators.web import Response

_EDM = {
    "code": "Edm.String",
    "text": "Edm.String",
    "enum": "Edm.String",
    "computed": "Edm.String",
    "decimal": "Edm.Decimal",
    "int": "Edm.Int32",
    "bool": "Edm.Boolean",
    "date": "Edm.Date",
    "datetime": "Edm.DateTimeOffset",
    "guid": "Edm.Guid",
}


def _entity_type(service: PageService) -> list[str]:
    lines = [f"<EntityType Name={quoteattr(service.name)}>", "<Key>"]
    lines += [f"<PropertyRef Name={quoteattr(key)}/>" for key in service.keys]
    lines.append("</Key>")
    for name, page_field in service.fields.items():
        prop = page_field.prop
        length = f' MaxLength="{prop.max_length}"' if prop.max_length else ""
        nullable = ' Nullable="false"' if name in service.keys else ""
        lines.append(f'<Property Name={quoteattr(name)} Type="{_EDM[prop.kind]}"{nullable}{length}/>')
    lines.append("</EntityType>")
    return lines


def metadata() -> Response:
    services = load_pages().services.values()
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
        "<edmx:DataServices>",
        '<Schema Namespace="NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">',
    ]
    for service in services:
        lines += _entity_type(service)
    lines.append('<EntityContainer Name="NAV">')
    lines += [f'<EntitySet Name="{s.name}" EntityType="NAV.{s.name}"/>' for s in services]
    lines += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
    body = "\n".join(lines).encode()
    return Response(200, body, {"Content-Type": "application/xml; charset=utf-8", "OData-Version": "4.0"})
