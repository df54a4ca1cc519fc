"""What the catalog declares instead of the engine deciding by name: every declaration is checked here against the
schemas and against each other, so a mapping added in shared/mappings/ alone is run right or fails this test.

Checked: an option mapping (its Dataverse side a picklist) is kind OPTION_SET and declares the option map it builds and
document picklists that exist; a PROCESS says which process runs it; document lines never take part in a full
synchronization; every behaviour is registered; every lookup into Sales' currencies declares BC's local currency and
no other does; each write-in product type has exactly one mapping that leaves it out.
"""

from __future__ import annotations

import pytest

from local.emulators.dataverse.schema import load_schema as load_dataverse
from shared.domain.documents import WRITE_IN_BEHAVIOUR, WRITE_IN_SETS, WRITE_IN_TYPES
from shared.domain.full_sync import takes_part
from shared.domain.mapping import FullSyncRule, MappingKind, TableMapping
from shared.engine.behaviours.hooks import REGISTRY
from shared.engine.setup import write_in_mapping
from shared.mappings import CATALOG, OPTION_MAPS, run_list

MAPPINGS = list(CATALOG.values())
IDS = [m.name for m in MAPPINGS]


def test_option_mappings_are_the_picklist_ones_and_declare_their_option_map() -> None:
    schema = load_dataverse()
    picklist_side = {m.name for m in MAPPINGS if m.dataverse_id != schema.tables[m.dataverse_table].primary_id}
    assert {m.name for m in MAPPINGS if m.kind is MappingKind.OPTION_SET} == picklist_side
    assert set(OPTION_MAPS.values()) == picklist_side
    for mapping in MAPPINGS:
        assert (mapping.option_map is not None) == (mapping.kind is MappingKind.OPTION_SET), mapping.name
        assert (mapping.full_sync is FullSyncRule.COUPLE) == (mapping.kind is MappingKind.OPTION_SET), mapping.name
        for table, attribute in mapping.document_picklists:
            assert mapping.kind is MappingKind.OPTION_SET, mapping.name
            assert schema.tables[table].attributes[attribute].kind == "picklist", (mapping.name, table, attribute)
        if mapping.option_map:
            assert OPTION_MAPS[mapping.option_map] == mapping.name


@pytest.mark.parametrize("mapping", MAPPINGS, ids=IDS)
def test_processes_say_who_runs_them_and_lines_stay_with_their_documents(mapping: TableMapping) -> None:
    assert bool(mapping.process) == (mapping.kind is MappingKind.PROCESS), mapping.name
    if mapping.kind is MappingKind.DOCUMENT_LINES:
        assert mapping.full_sync is FullSyncRule.NEVER
        assert any(f.lookup is not None and f.lookup.mapping in CATALOG for f in mapping.fields), "no document"


@pytest.mark.parametrize("mapping", MAPPINGS, ids=IDS)
def test_every_declared_behaviour_is_registered(mapping: TableMapping) -> None:
    assert set(mapping.behaviours) <= set(REGISTRY), mapping.name


def test_every_lookup_into_sales_currencies_declares_the_local_currency() -> None:
    for mapping in MAPPINGS:
        for field in mapping.fields:
            if field.lookup is not None:
                into_currencies = field.lookup.target_entity_set == "transactioncurrencies"
                assert field.lookup.local_currency == into_currencies, f"{mapping.name}.{field.dataverse_field}"


@pytest.mark.parametrize("kind", WRITE_IN_TYPES)
def test_each_write_in_type_has_one_mapping_that_leaves_it_out(kind: str) -> None:
    leaving_out = [m for m in MAPPINGS if WRITE_IN_BEHAVIOUR in m.behaviours and WRITE_IN_SETS[m.bc_entity_set] == kind]
    assert leaving_out == [write_in_mapping(MAPPINGS, kind)]


def test_a_run_list_is_its_mappings_with_what_they_depend_on_in_catalog_order() -> None:
    assert run_list("CUSTOMER") == ("SALESPEOPLE", "CURRENCY", "PAYMENT TERMS", "SHIPMENT METHOD", "CUSTOMER")
    assert run_list("ITEM UOM") == ("UNIT GROUP", "ITEM UOM")
    assert all(takes_part(CATALOG[name]) for name in run_list(*CATALOG))
