"""The app's own `$filter` check (`shared/domain/odata_filter.py`): what it accepts and refuses, where it says the
mistake is, and - against the emulators' full OData filter compiler - that it never passes a filter the services
would refuse (it may refuse more: it is strict on purpose)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local.emulators.odata.filter import compile_filter
from local.emulators.odata.types import ODataQueryError, dict_resolver
from shared.domain.odata_filter import MAX_DEPTH, MAX_FILTER_LENGTH, FieldType, FilterError, check_filter

FIELDS: dict[str, FieldType] = {
    "name": "string",
    "accountid": "guid",
    "revenue": "decimal",
    "employees": "int",
    "isactive": "bool",
    "blocked": "enum",
    "createdon": "datetime",
    "birthday": "date",
}
GUID = "0d8a1c5e-0000-0000-0000-00000000000a"


def emulator_accepts(text: str) -> bool:
    try:
        compile_filter(text, dict_resolver(dict(FIELDS), "Test.entity"), case_insensitive=True)
    except ODataQueryError:
        return False
    return True


@pytest.mark.parametrize(
    "text",
    [
        "name eq 'x'",
        "employees ge 10 and (name ne 'a' or contains(name, 'b'))",
        "not (employees eq 1)",
        "isactive",
        "not isactive",
        "isactive eq true and blocked eq '_x0020_'",
        f"accountid gt {GUID}",
        "createdon ge 2024-01-01 and createdon lt 2024-01-01T10:00:00Z",
        "birthday le 1990-05-01",
        "contains(name, 'x') eq false",
        "name eq null or name ne 'it''s'",
        "'x' eq name",
        "revenue gt -1.5e3",
        "startswith(name,'A') or endswith(name,'Z')",
        " ( name eq 'x' ) ",
    ],
)
def test_filters_the_mappings_write_are_accepted_and_the_services_take_them(text: str) -> None:
    check_filter(text, FIELDS, "accounts")
    assert emulator_accepts(text)


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("name eq 'x", 10, "not closed"),
        ("nme eq 'x'", 0, "no field 'nme'"),
        ("name eq 1", 8, "string field"),
        (f"accountid eq '{GUID}'", 13, "without quotes"),
        ("not name eq 'x'", 0, "not (field eq value)"),
        ("true eq true", 0, "cannot be compared"),
        ("name eq 'a' eq 'b'", 12, "one comparison at a time"),
        ("employees", 0, "needs a condition"),
        ("", 0, "empty"),
        ("employees add 1 eq 2", 10, "'add'"),
        ("employees in (1,2)", 10, "'in'"),
        ("tolower(name) eq 'x'", 0, "'tolower' is not supported"),
        ("name eq revenue", 5, "another field"),
        ("blocked gt 'x'", 8, "eq or ne"),
        ("name gt null", 5, "null"),
        ("name eq 'x' and", 15, "the end"),
        ("birthday eq 2024-02-30", 12, "not a valid date"),
        ("parent/name eq 'x'", 6, "'/'"),
        ("contains(revenue, '1')", 0, "text field"),
        ("contains(name, name)", 15, "quoted text"),
        ("Microsoft.Dynamics.CRM.In(PropertyName='x')", 9, "'.'"),
        ("(" * (MAX_DEPTH + 1) + "isactive" + ")" * (MAX_DEPTH + 1), MAX_DEPTH, "deeper"),
        ("name eq '" + "x" * MAX_FILTER_LENGTH + "'", MAX_FILTER_LENGTH, "limit"),
    ],
)
def test_a_refused_filter_says_what_and_where(text: str, position: int, words: str) -> None:
    with pytest.raises(FilterError) as refused:
        check_filter(text, FIELDS, "accounts")
    assert refused.value.position == position
    assert words in refused.value.reason
    assert f"(at position {position})" in str(refused.value)


def test_a_very_deep_or_very_long_filter_never_exhausts_the_stack() -> None:
    for text in ("(" * 1_900, "not " * 450 + "isactive", "(" * 100_000):
        with pytest.raises(FilterError):
            check_filter(text, FIELDS, "accounts")
    check_filter(" or ".join(["isactive"] * 160), FIELDS, "accounts")  # a long chain is a loop, not recursion


TOKENS = st.sampled_from(
    [
        *FIELDS, "eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "(", ")", ",", "'x'", "''", "'a''b'", "1",
        "-2.5", "1e3", "true", "false", "null", GUID, f"'{GUID}'", "2024-01-01", "2024-01-01T00:00:00Z",
        "contains(", "startswith(", "endswith(", "tolower(", "in", "add", "/", "'", "nope",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(TOKENS, min_size=1, max_size=12))
def test_whatever_the_check_accepts_the_services_accept_too(tokens: list[str]) -> None:
    """Random token soup: the check either refuses it with a FilterError (never another exception), or accepts it and
    the emulators' full compiler (which refuses what Dataverse and BC refuse) accepts it as well."""
    text = " ".join(tokens)
    try:
        check_filter(text, FIELDS, "accounts")
    except FilterError as refused:
        assert 0 <= refused.position <= len(text)
        return
    assert emulator_accepts(text), text
