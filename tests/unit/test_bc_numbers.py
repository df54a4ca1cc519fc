"""The number fields of BC record lookups (`processes/bc_numbers.py`) are BC's own: each is a Code field of the
length BC gives it, in the API v2.0 schema or on the page that serves the set, and every catalog mapping either has
one or is refused with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.emulators.business_central.pages.schema import load_pages
from shared.connectors.business_central.entity_sources import DEFAULT_SOURCES
from shared.connectors.business_central.pages import page_sources
from shared.mappings import get_mapping, mapping_names
from shared.processes.bc_numbers import NUMBER_FIELDS

SCHEMAS = Path(__file__).parents[2] / "local/emulators/schemas"
API = {  # the shared facts and the sets they do not list yet (vendors), as the BC emulator merges them
    **json.loads((SCHEMAS / "bc_api_v2_additions.json").read_text())["entitySets"],
    **json.loads((SCHEMAS / "bc_api_v2.json").read_text())["entitySets"],
}
WITHOUT_ONE = {  # keyed by more than one value (or no BC source): looked up by id only
    "unitGroups", "itemUnitsOfMeasure", "resourceUnitsOfMeasure", "priceListLines", "salesPrices", "salesOrderLines",
    "salesInvoiceLines", "shippingAgents",
}  # fmt: skip


@pytest.mark.parametrize("entity_set", sorted(NUMBER_FIELDS))
def test_each_number_field_is_a_code_field_of_that_length(entity_set: str) -> None:
    field, length = NUMBER_FIELDS[entity_set]
    if entity_set in API:
        types = {f["name"]: f["al_type"] for f in API[entity_set]["fields"]}
        assert types.get(field) == f"Code[{length}]"
        return
    (source,) = page_sources(DEFAULT_SOURCES, entity_set)
    page_field = dict(source.fields)[field]
    prop = load_pages().services[source.name].fields[page_field].prop
    assert (prop.kind, prop.max_length) == ("code", length)
    assert source.key == (page_field,)  # a one-field key: the number is the record's whole key


def test_every_catalog_mapping_has_a_number_field_or_is_known_not_to() -> None:
    sets = {get_mapping(name).bc_entity_set for name in mapping_names()}
    assert sets - set(NUMBER_FIELDS) == WITHOUT_ONE
