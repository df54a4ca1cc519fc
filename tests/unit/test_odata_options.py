"""$select, $orderby + sorting, $expand splitting, $top/$skip and boolean options."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulators.odata.options import (
    ExpandItem,
    OrderKey,
    parse_bool_option,
    parse_expand,
    parse_orderby,
    parse_select,
    parse_skip,
    parse_top,
    sort_rows,
)
from local.emulators.odata.types import MAX_DEPTH, MAX_OPTION_LENGTH, EdmType, ODataQueryError, dict_resolver

ENTITY = "Microsoft.NAV.customer"
TYPES: dict[str, EdmType] = {
    "id": "guid",
    "number": "string",
    "displayName": "string",
    "balance": "decimal",
    "lastModifiedDateTime": "datetime",
    "blocked": "bool",
}
RESOLVE = dict_resolver(TYPES, ENTITY)


def unknown_property(name: str) -> str:
    return f"Could not find a property named '{name}' on type '{ENTITY}'."


# --- $select ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("number", ["number"]),
        ("number,displayName", ["number", "displayName"]),
        (" number , displayName ", ["number", "displayName"]),
        ("displayName,number,displayName,number", ["displayName", "number"]),
        ("id,balance,lastModifiedDateTime,blocked", ["id", "balance", "lastModifiedDateTime", "blocked"]),
    ],
)
def test_select_lists_properties_in_order_without_duplicates(text: str, expected: list[str]) -> None:
    assert parse_select(text, RESOLVE) == expected


@pytest.mark.parametrize("text", ["", " ", "number,", ",number", "number,,displayName", "number, ,id"])
def test_select_rejects_empty_items(text: str) -> None:
    with pytest.raises(ODataQueryError) as caught:
        parse_select(text, RESOLVE)
    assert caught.value.message == f"Term '{text}' is not valid in a $select or $expand expression."


@pytest.mark.parametrize(("text", "unknown"), [("nope", "nope"), ("number,DisplayName", "DisplayName")])
def test_select_rejects_unknown_properties(text: str, unknown: str) -> None:
    with pytest.raises(ODataQueryError) as caught:
        parse_select(text, RESOLVE)
    assert caught.value.message == unknown_property(unknown)


def test_select_star_is_flagged_unsupported() -> None:
    with pytest.raises(ODataQueryError) as caught:
        parse_select("*", RESOLVE)
    assert caught.value.unsupported
    assert "$select=*" in caught.value.message


# --- $orderby ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("number", [OrderKey("number", False)]),
        ("number asc", [OrderKey("number", False)]),
        ("number desc", [OrderKey("number", True)]),
        ("  number   desc  ", [OrderKey("number", True)]),
        (
            "balance desc,number,lastModifiedDateTime asc",
            [OrderKey("balance", True), OrderKey("number", False), OrderKey("lastModifiedDateTime", False)],
        ),
    ],
)
def test_orderby_terms(text: str, expected: list[OrderKey]) -> None:
    assert parse_orderby(text, RESOLVE) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Expression expected at position 0 in ''."),
        ("number,", "Expression expected at position 7 in 'number,'."),
        ("number, ,balance", "Expression expected at position 8 in 'number, ,balance'."),
        ("number up", "Syntax error at position 7 in 'number up'."),
        ("number DESC", "Syntax error at position 7 in 'number DESC'."),
        ("number asc desc", "Syntax error at position 11 in 'number asc desc'."),
        ("balance,number descending", "Syntax error at position 15 in 'balance,number descending'."),
        ("-number", "Syntax error at position 0 in '-number'."),
        ("nope desc", unknown_property("nope")),
    ],
)
def test_orderby_rejections(text: str, message: str) -> None:
    with pytest.raises(ODataQueryError) as caught:
        parse_orderby(text, RESOLVE)
    assert caught.value.message == message


@pytest.mark.parametrize("text", ["tolower(number)", "customer/number desc"])
def test_orderby_expressions_are_flagged_unsupported(text: str) -> None:
    with pytest.raises(ODataQueryError) as caught:
        parse_orderby(text, RESOLVE)
    assert caught.value.unsupported


# --- sorting ----------------------------------------------------------------------------------------------------

ROWS: list[dict[str, Any]] = [
    {"id": "c", "number": "B", "balance": 5, "lastModifiedDateTime": "2026-01-02T03:04:05Z"},
    {"id": "a", "number": "a", "balance": None, "lastModifiedDateTime": "2026-01-02T03:04:05.500Z"},
    {"id": "d", "number": "C", "balance": 5.5},
    {"id": "b", "number": "b", "balance": 5, "lastModifiedDateTime": "2026-01-02T03:04:04.999Z"},
    {"id": "e", "balance": -1, "lastModifiedDateTime": "2026-01-02T03:04:05Z"},
]


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [row["id"] for row in rows]


def sort(keys: list[OrderKey], *, case_insensitive: bool = False) -> list[str]:
    return ids(sort_rows(ROWS, keys, RESOLVE, "id", case_insensitive=case_insensitive))


def test_sort_without_keys_orders_by_the_tiebreak() -> None:
    assert sort([]) == ["a", "b", "c", "d", "e"]


def test_sort_nulls_first_ascending_and_last_descending() -> None:
    assert sort([OrderKey("balance", False)]) == ["a", "e", "b", "c", "d"]
    assert sort([OrderKey("balance", True)]) == ["d", "b", "c", "e", "a"]


def test_sort_ties_are_broken_by_the_primary_key_ascending_even_when_descending() -> None:
    # b and c share balance 5: the tiebreak stays ascending so pages are deterministic.
    assert sort([OrderKey("balance", True)])[1:3] == ["b", "c"]


def test_sort_datetimes_as_instants_not_text() -> None:
    # As text, "...05.500Z" < "...05Z"; as instants it is later.
    assert sort([OrderKey("lastModifiedDateTime", False)]) == ["d", "b", "c", "e", "a"]
    assert sort([OrderKey("lastModifiedDateTime", True)]) == ["a", "c", "e", "b", "d"]


def test_sort_strings_exact_or_case_insensitive() -> None:
    assert sort([OrderKey("number", False)]) == ["e", "c", "d", "a", "b"]
    assert sort([OrderKey("number", False)], case_insensitive=True) == ["e", "a", "b", "c", "d"]
    # 'B' and 'b' are equal ignoring case, so the primary key decides between them in both directions.
    assert sort([OrderKey("number", True)], case_insensitive=True) == ["d", "b", "c", "a", "e"]


def test_sort_by_several_keys_with_mixed_directions() -> None:
    keys = [OrderKey("balance", True), OrderKey("lastModifiedDateTime", True)]
    assert sort(keys) == ["d", "c", "b", "e", "a"]


def test_sort_result_does_not_depend_on_input_order_and_leaves_input_alone() -> None:
    keys = [OrderKey("balance", False)]
    reversed_rows = list(reversed(ROWS))
    assert ids(sort_rows(reversed_rows, keys, RESOLVE, "id")) == sort(keys)
    assert ids(reversed_rows) == ["e", "b", "d", "a", "c"]


# --- $expand ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("contacts", [ExpandItem("contacts")]),
        ("a,b", [ExpandItem("a"), ExpandItem("b")]),
        (" a , b ", [ExpandItem("a"), ExpandItem("b")]),
        ("a($select=x,y)", [ExpandItem("a", {"$select": "x,y"})]),
        ("a($select=x,y),b", [ExpandItem("a", {"$select": "x,y"}), ExpandItem("b")]),
        (
            "a($select=x;$filter=name eq 'a,b';$orderby=x desc;$top=5)",
            [ExpandItem("a", {"$select": "x", "$filter": "name eq 'a,b'", "$orderby": "x desc", "$top": "5"})],
        ),
        ("a($filter=name eq 'x;y)(')", [ExpandItem("a", {"$filter": "name eq 'x;y)('"})]),
        ("a($filter=name eq 'it''s;(')", [ExpandItem("a", {"$filter": "name eq 'it''s;('"})]),
        ("a($filter=(x eq 1) and (y eq 2))", [ExpandItem("a", {"$filter": "(x eq 1) and (y eq 2)"})]),
        ("a( $select = x ; $top = 1 )", [ExpandItem("a", {"$select": "x", "$top": "1"})]),
        (
            "a($expand=b($select=x;$filter=y eq 'z,w');$select=id),c",
            [ExpandItem("a", {"$expand": "b($select=x;$filter=y eq 'z,w')", "$select": "id"}), ExpandItem("c")],
        ),
        ("a ($select=x)", [ExpandItem("a", {"$select": "x"})]),
    ],
)
def test_expand_splits_only_at_top_level_outside_quotes(text: str, expected: list[ExpandItem]) -> None:
    assert parse_expand(text) == expected


def test_nested_expand_text_parses_with_the_same_function() -> None:
    (outer,) = parse_expand("a($expand=b($select=x;$top=2),c)")
    assert parse_expand(outer.options["$expand"]) == [ExpandItem("b", {"$select": "x", "$top": "2"}), ExpandItem("c")]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "Term '' is not valid in a $select or $expand expression."),
        ("a,", "Term 'a,' is not valid"),
        ("a,,b", "Term 'a,,b' is not valid"),
        ("a b", "Term 'a b' is not valid"),
        ("($select=x)", "Term '($select=x)' is not valid"),
        ("a(select=x)", "Term 'a(select=x)' is not valid"),
        ("a($select)", "Term 'a($select)' is not valid"),
        ("a(=x)", "Term 'a(=x)' is not valid"),
        ("a($select=x;)", "Term 'a($select=x;)' is not valid"),
        ("a()", "Missing expand option on navigation property 'a'."),
        ("a( )", "Missing expand option on navigation property 'a'."),
        ("a($skip=1)", "The query option '$skip' is not allowed inside $expand ('a')"),
        ("a($count=true)", "The query option '$count' is not allowed"),
        ("a($Select=x)", "The query option '$Select' is not allowed"),
        ("a($select=x;$select=y)", "Query option '$select' was specified more than once"),
        ("a($select=)", "The $select option inside $expand ('a') has no value."),
        ("a($select=x", "Found an unbalanced bracket expression at position 11 in 'a($select=x'."),
        ("a$select=x)", "Found an unbalanced bracket expression at position 10 in 'a$select=x)'."),
        ("a($filter=name eq 'x)", "There is an unterminated string literal at position 21"),
        ("a($select=x)b", "Syntax error at position 12 in 'a($select=x)b'."),
        ("b, a($select=x)($top=1)", "Syntax error at position 15 in 'b, a($select=x)($top=1)'."),
    ],
)
def test_expand_rejections(text: str, fragment: str) -> None:
    with pytest.raises(ODataQueryError) as caught:
        parse_expand(text)
    assert fragment in caught.value.message


def test_expand_nesting_is_capped() -> None:
    deep = "a($expand=" * (MAX_DEPTH + 1) + "b" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(ODataQueryError) as caught:
        parse_expand(deep)
    assert f"deeper than {MAX_DEPTH} levels" in caught.value.message
    shallow = "a($expand=" * 3 + "b" + ")" * 3
    assert parse_expand(shallow)[0].navigation == "a"


@pytest.mark.parametrize("parse", [parse_expand, lambda text: parse_select(text, RESOLVE)])
def test_overlong_options_are_refused(parse: Any) -> None:
    with pytest.raises(ODataQueryError) as caught:
        parse("x" * (MAX_OPTION_LENGTH + 1))
    assert f"the limit is {MAX_OPTION_LENGTH}" in caught.value.message


# --- $top, $skip, $count ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"), [("0", 0), ("5", 5), ("5000", 5000), ("007", 7), (str(2**63 - 1), 2**63 - 1)]
)
def test_top_and_skip_accept_non_negative_integers(text: str, expected: int) -> None:
    assert parse_top(text) == expected
    assert parse_skip(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "+1", "1.5", "1e3", " 5", "5 ", "abc", "٣", str(2**63), "9" * 40])
def test_top_and_skip_reject_anything_else(text: str) -> None:
    for parse, option in ((parse_top, "$top"), (parse_skip, "$skip")):
        with pytest.raises(ODataQueryError) as caught:
            parse(text)
        assert caught.value.message == (
            f"Invalid value '{text}' for {option} query option found. "
            f"The {option} query option requires a non-negative integer value."
        )


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("false", False)])
def test_bool_option_values(text: str, expected: bool) -> None:
    assert parse_bool_option(text, "$count") is expected


@pytest.mark.parametrize("text", ["", "True", "FALSE", "1", "0", "yes", " true"])
def test_bool_option_rejects_anything_else(text: str) -> None:
    with pytest.raises(ODataQueryError) as caught:
        parse_bool_option(text, "$count")
    expected = f"Invalid value '{text}' for $count query option found. Valid values are 'true, false'."
    assert caught.value.message == expected


def test_dict_resolver_returns_types_and_names_the_entity_in_errors() -> None:
    assert RESOLVE("balance") == "decimal"
    with pytest.raises(ODataQueryError) as caught:
        RESOLVE("Balance")
    assert caught.value.message == unknown_property("Balance")
    assert isinstance(caught.value, ValueError)
