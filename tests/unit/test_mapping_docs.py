"""docs/mappings.md is generated from the catalog: the committed file must equal a fresh rendering (the drift test).

Also the data it is rendered from, `describe()`, which `GET /api/mappings` returns.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.domain.mapping import TableMapping
from shared.mappings import CATALOG, describe, describe_all, mapping_names
from tools import mapping_docs


def test_the_committed_docs_equal_a_fresh_rendering() -> None:
    committed = mapping_docs.DOCS.read_text(encoding="utf-8")
    assert committed == mapping_docs.render(), "docs/mappings.md is out of date: run python -m tools.mapping_docs"


def test_rendering_is_deterministic() -> None:
    assert mapping_docs.render() == mapping_docs.render()


def test_the_rendering_has_every_mapping_and_every_gap_reason() -> None:
    text = mapping_docs.render()
    for mapping in CATALOG.values():
        assert f"\n## {mapping.name}\n" in text
        for gap in mapping.gaps:
            assert mapping_docs.cell(gap.reason) in text, (mapping.name, gap.bc_default_field)


def test_the_summary_counts_all_208_default_field_mappings_of_bc() -> None:
    all_row = next(line for line in mapping_docs.render().splitlines() if line.startswith("| **all** |"))
    mapped, differently, not_available, total = (int(cell) for cell in all_row.split("|")[7:11])
    assert mapped + differently + not_available == total == 208


def test_check_mode_reports_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "mappings.md"
    stale.write_text("stale\n", encoding="utf-8")
    monkeypatch.setattr(mapping_docs, "DOCS", stale)
    monkeypatch.setattr(mapping_docs, "ROOT", tmp_path)
    assert mapping_docs.main(["--check"]) == 1
    assert mapping_docs.main([]) == 0
    assert mapping_docs.main(["--check"]) == 0
    assert stale.read_text(encoding="utf-8") == mapping_docs.render()


@pytest.mark.parametrize("mapping", list(CATALOG.values()), ids=list(CATALOG))
def test_describe_is_json_and_counts_the_coverage(mapping: TableMapping) -> None:
    described = describe(mapping)
    assert json.loads(json.dumps(described)) == described
    counts = described["coverage"]
    assert counts["total"] == sum(1 for f in mapping.fields if f.bc_default_field) + len(mapping.gaps)
    assert counts["mapped"] + counts["mappedDifferently"] + counts["notAvailable"] == counts["total"]
    assert counts["additional"] == sum(1 for f in mapping.fields if not f.bc_default_field)
    assert len(described["fields"]) == len(mapping.fields) and len(described["gaps"]) == len(mapping.gaps)


def test_describe_all_applies_and_shows_overrides() -> None:
    described = {d["name"]: d for d in describe_all({"CUSTOMER": {"direction": "toDataverse"}})}
    assert list(described) == list(mapping_names())
    assert described["CUSTOMER"]["direction"] == "toDataverse"
    assert described["CUSTOMER"]["overrides"] == {"direction": "toDataverse"}
    assert described["CONTACT"]["overrides"] == {}
    with pytest.raises(KeyError, match="NOPE"):
        describe_all({"NOPE": {}})
