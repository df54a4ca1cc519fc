"""When a mapping's filter decides a state rule's condition (so a run reads nothing to apply it), and when a row
read tells (`behaviours_states.equalities`, `filter_decides`, `holds`)."""

from __future__ import annotations

import pytest

from shared.engine.behaviours.states import equalities, filter_decides, holds


def test_equalities_are_the_top_level_eq_conjuncts() -> None:
    assert equalities("producttypecode eq 1 and (statecode eq 0)") == {"producttypecode": "1", "statecode": "0"}
    assert equalities("blocked eq '_x0020_'") == {"blocked": "'_x0020_'"}
    assert equalities("(a eq 1 and b eq 2)") == {"a": "1", "b": "2"}
    assert equalities("a eq 1 and (b eq 2 or c eq 3)") == {"a": "1"}


def test_a_top_level_or_makes_no_conjunct_certain() -> None:
    assert equalities("a eq 1 and b eq 2 or c eq 3") == {}
    assert equalities("(a eq 1) or (a eq 2)") == {}


def test_text_that_does_not_parse_tells_nothing() -> None:
    assert equalities("a eq 'unclosed") == {}


@pytest.mark.parametrize(
    ("condition", "scope", "decided"),
    [
        ("statecode eq 1 and statuscode eq 2", "statecode eq 0 and customertypecode eq 3", False),
        ("statecode eq 1 and statuscode eq 2", "customertypecode eq 3", None),
        ("statecode eq 1", "producttypecode eq 1 and statecode eq 0", False),
        ("blocked eq true", "blocked eq false", False),
        ("blocked eq false", "blocked eq false", True),
        ("blocked eq false", "(Blocked eq FALSE) and number ne '1'", True),
        ("blocked eq false", None, None),
        ("blocked eq false", "blocked eq false or number eq '1'", None),
    ],
)
def test_filter_decides(condition: str, scope: str | None, decided: bool | None) -> None:
    assert filter_decides(condition, scope) is decided


def test_holds_on_the_row_read() -> None:
    assert holds("blocked eq true", {"id": "1", "blocked": True}) is True
    assert holds("blocked eq true", {"id": "1", "blocked": False}) is False
    assert holds("blocked eq true", {"id": "1"}) is None
    assert holds("statecode eq 1 and statuscode eq 2", {"statecode": 1, "statuscode": 2}) is True
    assert holds("statecode eq 1 and statuscode eq 2", {"statecode": 1, "statuscode": 1}) is False
    assert holds("blocked eq '_x0020_'", {"blocked": "_x0020_"}) is True
