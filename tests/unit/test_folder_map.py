"""The folder map of docs/architecture.md is generated from the package docstrings: the committed section must equal
a fresh rendering of the tree (the drift test), every package must say what it holds, and no docstring may name a
file that is not there (issue 21: the hand-written map named files that did not exist)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import folder_map


def test_the_committed_folder_map_equals_a_fresh_rendering() -> None:
    committed = folder_map.DOCS.read_text(encoding="utf-8")
    assert folder_map.splice(committed, folder_map.render()) == committed, (
        "the folder map in docs/architecture.md is out of date: run python -m tools.folder_map"
    )


def test_every_package_has_a_docstring_and_names_only_files_that_exist() -> None:
    assert folder_map.problems() == []


def test_rendering_is_deterministic() -> None:
    assert folder_map.render() == folder_map.render()


def test_the_map_has_every_folder_of_the_mapped_parts() -> None:
    text = folder_map.render()
    for spec in folder_map.PARTS:
        top = folder_map.ROOT / spec.path
        for folder in folder_map.folders(top, spec.nested):
            assert f"- `{folder.relative_to(folder_map.ROOT).as_posix()}/`:" in text
    named = ("shared/engine/", "shared/services/", "shared/processes/", "shared/storage/", "local/host/",
             "local/emulators/identity/", "tests/unit/")  # fmt: skip
    for name in named:
        assert f"`{name}`" in text
    assert "- `infra/`:" in text


def test_the_map_lists_the_files_that_are_there_and_no_others() -> None:
    text = folder_map.render()
    assert "`bootstrap.py`" in text and "`mapping_run.py`" in text
    assert "`http_api.py`" not in text  # named by the hand-written map, never in the tree


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small repository: one part (`app/`) with a documented package, and a document with the markers."""
    (tmp_path / "app" / "rooms").mkdir(parents=True)
    (tmp_path / "app" / "__init__.py").write_text('"""The app.\n\nMore words."""\n', encoding="utf-8")
    (tmp_path / "app" / "rooms" / "__init__.py").write_text('"""Rooms: `hall.py`."""\n', encoding="utf-8")
    (tmp_path / "app" / "rooms" / "hall.py").write_text('"""A hall."""\n', encoding="utf-8")
    (tmp_path / "docs").mkdir()
    docs = tmp_path / "docs" / "plan.md"
    docs.write_text(f"# Plan\n\nBefore.\n\n{folder_map.START}\nstale\n{folder_map.END}\n\nAfter.\n", encoding="utf-8")
    monkeypatch.setattr(folder_map, "ROOT", tmp_path)
    monkeypatch.setattr(folder_map, "DOCS", docs)
    monkeypatch.setattr(folder_map, "PARTS", (folder_map.Part("app"),))
    monkeypatch.setattr(folder_map, "FOLDERS", {})
    monkeypatch.setattr(folder_map, "TOP", {})
    monkeypatch.setattr(folder_map, "AFTER", {})
    return tmp_path


def test_check_mode_reports_drift_and_writing_touches_only_the_section(tree: Path) -> None:
    assert folder_map.main(["--check"]) == 1
    assert folder_map.main([]) == 0
    assert folder_map.main(["--check"]) == 0
    text = folder_map.DOCS.read_text(encoding="utf-8")
    assert text.startswith("# Plan\n\nBefore.\n\n") and text.endswith(f"{folder_map.END}\n\nAfter.\n")
    assert "- `app/`: The app.\n" in text and "More words" not in text
    assert "  - `app/rooms/`: Rooms: `hall.py`.\n    Files: `hall.py`\n" in text


def test_a_package_without_a_docstring_fails(tree: Path) -> None:
    (tree / "app" / "bare").mkdir()
    (tree / "app" / "bare" / "__init__.py").write_text("", encoding="utf-8")
    assert [p.split(":")[0] for p in folder_map.problems()] == ["app/bare/__init__.py has no docstring"]
    assert folder_map.main(["--check"]) == 1


def test_a_docstring_naming_a_missing_file_fails(tree: Path) -> None:
    (tree / "app" / "rooms" / "hall.py").unlink()
    assert folder_map.problems() == ["app/rooms/__init__.py names `hall.py`, which is not in the tree"]


def test_a_folder_that_is_no_package_must_be_described(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tree / "app" / "static").mkdir()
    (tree / "app" / "static" / "page.html").write_text("<p>", encoding="utf-8")
    assert [p.split(":")[0] for p in folder_map.problems()] == ["app/static/ is no package"]
    monkeypatch.setattr(folder_map, "FOLDERS", {"app/static": "A page.", "app/gone": "Was here."})
    assert folder_map.problems() == ["FOLDERS describes app/gone/, which is not in the tree"]


def test_the_markers_must_be_there_once(tree: Path) -> None:
    folder_map.DOCS.write_text("# Plan without a map\n", encoding="utf-8")
    assert folder_map.main(["--check"]) == 1
    with pytest.raises(folder_map.MapError):
        folder_map.splice(f"{folder_map.START}\n{folder_map.END}\n{folder_map.END}\n", "x")
