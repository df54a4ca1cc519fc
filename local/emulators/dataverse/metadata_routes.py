"""`GET EntityDefinitions...`: the table-definition URLs SDKs call, answered from metadata.py.

Forms served (all from "Query table definitions using the Web API" and the SDKs that follow it):
`EntityDefinitions?$select=LogicalName,EntitySetName&$filter=LogicalName eq 'account'`,
`EntityDefinitions(LogicalName='account')` or `EntityDefinitions(<MetadataId>)` with `$select`/`$expand=Attributes(
$select=...;$filter=...),Keys`, `.../Attributes[/Microsoft.Dynamics.CRM.<Type>AttributeMetadata]` with `$select`,
`$filter` and (on the enum types) `$expand=OptionSet`, `.../Attributes(LogicalName='x')[/<cast>][/OptionSet]`, and
`.../Keys[(LogicalName='k')]`. As documented, `MetadataId` is always returned and nothing is paged.

Refused rather than approximated: any other query option (400), `$select` of a navigation property or of a
derived-type property without the cast (400, as the docs say for `OptionSet`), and writes (501: creating or
changing definitions is not emulated). Enum literals may be written qualified
(`AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'`) or as plain strings. Filters compare names
case-sensitively (UNCONFIRMED; the Python SDK lower-cases logical names before filtering, which suggests it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from local.emulators.dataverse import metadata
from local.emulators.dataverse.errors import NOT_FOUND, NOT_SUPPORTED, QUERY_ERROR, DataverseError
from local.emulators.dataverse.option_sets import OptionSets
from local.emulators.dataverse.schema import Attribute, Schema, Table
from local.emulators.odata.expand import ExpandItem, parse_expand
from local.emulators.odata.filter import compile_filter
from local.emulators.odata.keys import Segment, parse_key
from local.emulators.odata.options import parse_select
from local.emulators.odata.types import EdmType, ODataQueryError
from local.emulators.web import Request, Response

_QUALIFIED_ENUM = re.compile(r"Microsoft\.Dynamics\.CRM\.[A-Za-z]+'([A-Za-z]+)'")
_BOOLS = ("ChangeTrackingEnabled", "IsCustomEntity", "IsPrivate", "IsActivity", "IsPrimaryId", "IsPrimaryName",
          "IsValidForCreate", "IsValidForUpdate", "IsValidForRead", "IsCustomAttribute")  # fmt: skip
_FILTER_TYPES: dict[str, EdmType] = {
    **{name: "bool" for name in _BOOLS},
    **{name: "string" for name in ("LogicalName", "SchemaName", "EntitySetName", "LogicalCollectionName",
                                   "PrimaryIdAttribute", "PrimaryNameAttribute", "EntityLogicalName")},
    "MetadataId": "guid", "AttributeType": "enum", "MaxLength": "int",
}  # fmt: skip
Item = dict[str, Any]
T = TypeVar("T")


def _error(error: ODataQueryError) -> DataverseError:
    return DataverseError(400, QUERY_ERROR, error.message)


def _not_found(what: str) -> DataverseError:
    return DataverseError(404, NOT_FOUND, f"Could not find {what}.")


def _resolver(properties: Sequence[str], type_name: str) -> Callable[[str], EdmType]:
    def resolve(name: str) -> EdmType:
        if name not in properties:
            raise ODataQueryError(f"Could not find a property named '{name}' on type '{metadata.CRM}{type_name}'.")
        return _FILTER_TYPES.get(name, "string")

    return resolve


def _check_options(options: Mapping[str, str], allowed: Sequence[str]) -> None:
    for name in options:
        if name.startswith("$") and name not in allowed:
            raise DataverseError(400, QUERY_ERROR, f"The query parameter {name} is not supported on table definitions.")


class MetadataRoutes:
    """One request against `EntityDefinitions`; `segments` start at the `EntityDefinitions` segment."""

    def __init__(self, schema: Schema, option_sets: OptionSets, base: str) -> None:
        self.schema, self.option_sets, self.base = schema, option_sets, base

    def handle(self, request: Request, segments: list[Segment]) -> Response:
        if request.method != "GET":
            raise DataverseError(501, NOT_SUPPORTED, "Creating or changing table definitions is not implemented by "
                                 "this emulator; only reading them is.")  # fmt: skip
        try:
            return self._route(request.query, segments)
        except ODataQueryError as error:
            raise _error(error) from None

    def _route(self, query: Mapping[str, str], segments: list[Segment]) -> Response:
        head = segments[0]
        root = f"{self.base}/$metadata#EntityDefinitions"
        if head.key is None and len(segments) == 1:
            _check_options(query, ("$select", "$filter", "$expand"))
            tables = self._matching(list(self.schema.tables.values()), metadata.entity, query.get("$filter"),
                                    metadata.ENTITY_PROPERTIES, "EntityMetadata")  # fmt: skip
            body = {"@odata.context": root + _projection(query), "value": [self._entity(t, query) for t in tables]}
            return Response.json(200, body)
        table = self._table(head.key or "")
        if len(segments) == 1:
            _check_options(query, ("$select", "$expand"))
            body = {"@odata.context": root + _projection(query) + "/$entity", **self._entity(table, query)}
            return Response.json(200, body)
        where = f"{root}({metadata.metadata_id(table.logical_name)})"
        if segments[1].name == "Keys" and len(segments) == 2:
            return self._keys(table, segments[1].key, query, f"{where}/Keys")
        if segments[1].name == "Attributes":
            return self._attributes(table, segments[1:], query, f"{where}/Attributes")
        raise _not_found(f"the segment '{segments[1].name}' on EntityMetadata")

    # -- entities ---------------------------------------------------------------------------------------------
    def _table(self, key: str) -> Table:
        predicate = parse_key(key)
        if predicate.positional is not None and predicate.positional.kind == "guid":
            found = [t for t in self.schema.tables.values() if metadata.metadata_id(t.logical_name) == key.lower()]
        elif set(predicate.named) == {"LogicalName"}:
            found = [t for t in self.schema.tables.values() if t.logical_name == predicate.named["LogicalName"].value]
        else:
            raise ODataQueryError(f"The key '{key}' is not valid for EntityDefinitions: use LogicalName or MetadataId.")
        if not found:
            raise _not_found(f"an entity with the key '{key}'")
        return found[0]

    def _entity(self, table: Table, query: Mapping[str, str]) -> Item:
        item = _select(metadata.entity(table), query.get("$select"), metadata.ENTITY_PROPERTIES, "EntityMetadata")
        for expand in parse_expand(query["$expand"]) if "$expand" in query else []:
            _check_options(expand.options, ("$select", "$filter"))
            if expand.navigation == "Attributes":
                attributes = self._matching(list(table.attributes.values()), partial(metadata.attribute, table),
                                            expand.options.get("$filter"), metadata.ATTRIBUTE_PROPERTIES,
                                            "AttributeMetadata")  # fmt: skip
                item["Attributes"] = [self._attribute(table, a, None, expand.options) for a in attributes]
            elif expand.navigation == "Keys":
                keys = self._filter(metadata.keys(table), expand.options.get("$filter"), metadata.KEY_PROPERTIES,
                                    "EntityKeyMetadata")  # fmt: skip
                select = expand.options.get("$select")
                item["Keys"] = [_select(k, select, metadata.KEY_PROPERTIES, "EntityKeyMetadata") for k in keys]
            else:
                raise ODataQueryError(
                    f"Could not find a property named '{expand.navigation}' on type '{metadata.CRM}EntityMetadata'."
                )
        return item

    @staticmethod
    def _filter(items: list[Item], text: str | None, properties: Sequence[str], type_name: str) -> list[Item]:
        """Filter whole definitions (before `$select` drops the properties a filter may name)."""
        if text is None:
            return items
        cleaned = _QUALIFIED_ENUM.sub(lambda match: f"'{match.group(1)}'", text)
        predicate = compile_filter(cleaned, _resolver(properties, type_name), case_insensitive=False)
        return [item for item in items if predicate(item)]

    def _matching(
        self, things: list[T], build: Callable[[T], Item], text: str | None, properties: Sequence[str], name: str
    ) -> list[T]:
        """The tables or attributes whose whole definition passes `$filter`."""
        if text is None:
            return things
        pairs = [(thing, build(thing)) for thing in things]
        kept = {id(item) for item in self._filter([item for _, item in pairs], text, properties, name)}
        return [thing for thing, item in pairs if id(item) in kept]

    # -- keys and attributes ----------------------------------------------------------------------------------
    def _keys(self, table: Table, key: str | None, query: Mapping[str, str], context: str) -> Response:
        _check_options(query, ("$select", "$filter") if key is None else ("$select",))
        if key is None:
            properties = metadata.KEY_PROPERTIES
            keys = self._filter(metadata.keys(table), query.get("$filter"), properties, "EntityKeyMetadata")
            items = [_select(k, query.get("$select"), metadata.KEY_PROPERTIES, "EntityKeyMetadata") for k in keys]
            return Response.json(200, {"@odata.context": context + _projection(query), "value": items})
        name = parse_key(key).named.get("LogicalName")
        found = [k for k in metadata.keys(table) if name is not None and k["LogicalName"] == name.value]
        if not found:
            raise _not_found(f"a key with the key '{key}' on {table.logical_name}")
        body = _select(found[0], query.get("$select"), metadata.KEY_PROPERTIES, "EntityKeyMetadata")
        return Response.json(200, {"@odata.context": context + _projection(query) + "/$entity", **body})

    def _attributes(self, table: Table, segments: list[Segment], query: Mapping[str, str], context: str) -> Response:
        cast = segments[1].name.removeprefix(metadata.CRM) if len(segments) > 1 else None
        if cast is not None and (not segments[1].name.startswith(metadata.CRM) or cast not in _CAST_TYPES):
            raise _not_found(f"the segment '{segments[1].name}' on AttributeMetadata")
        attributes = list(table.attributes.values())
        if cast is not None:
            attributes = [a for a in attributes if metadata.type_name(a) == cast]
            context += f"/{metadata.CRM}{cast}"
        single = segments[0].key
        if single is None:
            if len(segments) > 2:
                raise _not_found(f"the segment '{segments[2].name}' on a collection of attributes")
            _check_options(query, ("$select", "$filter", "$expand"))
            props = metadata.ATTRIBUTE_PROPERTIES + metadata.DERIVED_PROPERTIES.get(cast or "", ())
            attributes = self._matching(attributes, partial(metadata.attribute, table), query.get("$filter"), props,
                                        cast or "AttributeMetadata")  # fmt: skip
            items = [self._attribute(table, a, cast, query) for a in attributes]
            return Response.json(200, {"@odata.context": context + _projection(query), "value": items})
        found = [a for a in attributes if _attribute_matches(table, a, single)]
        if not found:
            raise DataverseError(404, NOT_FOUND, f"Could not find an attribute with specified name: {single} on "
                                 f"{table.logical_name}.")  # fmt: skip
        if len(segments) == 3 and segments[2].name == "OptionSet" and cast in metadata.ENUM_TYPES:
            _check_options(query, ("$select",))
            option_set = metadata.option_set(table, found[0], self.option_sets)
            body = _select(option_set, query.get("$select"), metadata.OPTION_SET_PROPERTIES, "OptionSetMetadata")
            return Response.json(200, {"@odata.context": context + "/OptionSet" + _projection(query) + "/$entity",
                                       **body})  # fmt: skip
        if len(segments) > 2:
            raise _not_found(f"the segment '{segments[-1].name}' on AttributeMetadata")
        _check_options(query, ("$select", "$expand"))
        body = self._attribute(table, found[0], cast, query)
        return Response.json(200, {"@odata.context": context + _projection(query) + "/$entity", **body})

    def _attribute(self, table: Table, item: Attribute, cast: str | None, query: Mapping[str, str]) -> Item:
        props = metadata.ATTRIBUTE_PROPERTIES + metadata.DERIVED_PROPERTIES.get(cast or "", ())
        body = _select(metadata.attribute(table, item), query.get("$select"), props, cast or "AttributeMetadata")
        for expand in parse_expand(query["$expand"]) if "$expand" in query else []:
            _expand_option_set(table, item, cast, expand, body, self.option_sets)
        return body


_CAST_TYPES = frozenset(derived for _, derived, _ in metadata.TYPES.values())


def _attribute_matches(table: Table, item: Attribute, key: str) -> bool:
    predicate = parse_key(key)
    if predicate.positional is not None:
        return metadata.metadata_id(table.logical_name, item.name) == str(predicate.positional.value)
    name = predicate.named.get("LogicalName")
    if set(predicate.named) != {"LogicalName"} or name is None:
        raise ODataQueryError(f"The key '{key}' is not valid for Attributes: use LogicalName or MetadataId.")
    return bool(item.name == name.value)


def _expand_option_set(
    table: Table, item: Attribute, cast: str | None, expand: ExpandItem, body: Item, option_sets: OptionSets
) -> None:
    """`$expand=OptionSet` (and `GlobalOptionSet`, always null: no emulated option set is global) after a cast."""
    if cast not in metadata.ENUM_TYPES or expand.navigation not in ("OptionSet", "GlobalOptionSet"):
        where = cast or "AttributeMetadata"
        raise ODataQueryError(f"Could not find a property named '{expand.navigation}' on type '{metadata.CRM}{where}'.")
    _check_options(expand.options, ("$select",))
    if expand.navigation == "GlobalOptionSet":
        body["GlobalOptionSet"] = None
        return
    option_set = metadata.option_set(table, item, option_sets)
    select = expand.options.get("$select")
    body["OptionSet"] = _select(option_set, select, metadata.OPTION_SET_PROPERTIES, "OptionSetMetadata")


def _select(item: Item, text: str | None, properties: Sequence[str], type_name: str) -> Item:
    """Keep the selected properties; `MetadataId` and `@odata.type` always stay, as the service returns them."""
    if text is None:
        return dict(item)
    names = parse_select(text, _resolver(properties, type_name))
    return {k: v for k, v in item.items() if k in names or k == "MetadataId" or k.startswith("@")}


def _projection(query: Mapping[str, str]) -> str:
    select = query.get("$select")
    expand = [e.navigation for e in parse_expand(query["$expand"])] if "$expand" in query else []
    parts = [p.strip() for p in select.split(",")] if select else []
    return f"({','.join(parts + expand)})" if parts or expand else ""
