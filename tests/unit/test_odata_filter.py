"""`$filter` compilation: what matches, and that everything the real services refuse is refused the same way."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulators.odata.filter import compile_filter
from local.emulators.odata.types import MAX_DEPTH, MAX_OPTION_LENGTH, EdmType, ODataQueryError, dict_resolver

ENTITY = "Microsoft.Dynamics.CRM.account"
TYPES: dict[str, EdmType] = {
    "id": "string",
    "name": "string",
    "revenue": "decimal",
    "employees": "int",
    "accountid": "guid",
    "_parentcustomerid_value": "guid",
    "createdon": "datetime",
    "birthday": "date",
    "isactive": "bool",
    "status": "enum",
}
RESOLVE = dict_resolver(TYPES, ENTITY)
GUID_A = "0d8a1c5e-0000-0000-0000-00000000000a"
GUID_B = "0d8a1c5e-0000-0000-0000-00000000000b"

ROWS: list[dict[str, Any]] = [
    {
        "id": "r1",
        "name": "Contoso",
        "revenue": 100.5,
        "employees": 10,
        "accountid": GUID_A,
        "createdon": "2026-01-02T03:04:05Z",
        "birthday": "1990-05-01",
        "isactive": True,
        "status": "Open",
    },
    {
        "id": "r2",
        "name": "fabrikam",
        "revenue": 5,
        "employees": -3,
        "accountid": GUID_B,
        "_parentcustomerid_value": GUID_A,
        "createdon": "2026-01-02T03:04:05.500Z",
        "birthday": "2001-12-31",
        "isactive": False,
        "status": "Closed",
    },
    {"id": "r3", "name": "O'Brien & Co", "revenue": -1.5, "employees": 0, "createdon": "2025-12-31T23:59:59Z"},
    {"id": "r4", "name": None, "revenue": None, "isactive": None},
]


def matching(text: str, *, case_insensitive: bool = False, rows: list[dict[str, Any]] = ROWS) -> list[str]:
    predicate = compile_filter(text, RESOLVE, case_insensitive=case_insensitive)
    return [row["id"] for row in rows if predicate(row)]


def rejection(text: str, *, case_insensitive: bool = False) -> ODataQueryError:
    with pytest.raises(ODataQueryError) as caught:
        compile_filter(text, RESOLVE, case_insensitive=case_insensitive)
    return caught.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name eq 'Contoso'", ["r1"]),
        ("name ne 'Contoso'", ["r2", "r3", "r4"]),
        ("name gt 'Contoso'", ["r2", "r3"]),
        ("name ge 'O'", ["r2", "r3"]),
        ("name lt 'O'", ["r1"]),
        ("name le 'fabrikam'", ["r1", "r2", "r3"]),
        ("revenue eq 5", ["r2"]),
        ("revenue eq 5.0", ["r2"]),
        ("revenue gt 5", ["r1"]),
        ("revenue ge 5", ["r1", "r2"]),
        ("revenue lt 0", ["r3"]),
        ("revenue le -1.5", ["r3"]),
        ("revenue eq -1.5", ["r3"]),
        ("revenue gt 1e1", ["r1"]),
        ("employees eq -3", ["r2"]),
        ("employees ne 10", ["r2", "r3", "r4"]),
        ("employees ge 0", ["r1", "r3"]),
        ("employees lt 0.5", ["r2", "r3"]),
        (f"accountid eq {GUID_A}", ["r1"]),
        (f"accountid eq {GUID_A.upper()}", ["r1"]),
        (f"accountid ne {GUID_A}", ["r2", "r3", "r4"]),
        (f"_parentcustomerid_value eq {GUID_A}", ["r2"]),
        ("createdon eq 2026-01-02T03:04:05Z", ["r1"]),
        ("createdon eq 2026-01-02T04:04:05+01:00", ["r1"]),
        ("createdon eq 2026-01-02T03:04:05.5Z", ["r2"]),
        ("createdon gt 2026-01-02T03:04:05Z", ["r2"]),
        ("createdon ge 2026-01-02T03:04:05Z", ["r1", "r2"]),
        ("createdon lt 2026-01-01T00:00:00Z", ["r3"]),
        ("createdon le 2026-01-02T03:04:05.4999999Z", ["r1", "r3"]),
        ("createdon ge 2026-01-02", ["r1", "r2"]),
        ("createdon lt 2026-01-01", ["r3"]),
        ("birthday eq 1990-05-01", ["r1"]),
        ("birthday gt 1990-05-01", ["r2"]),
        ("birthday le 2001-12-31", ["r1", "r2"]),
        ("isactive eq true", ["r1"]),
        ("isactive eq false", ["r2"]),
        ("isactive ne true", ["r2", "r3", "r4"]),
        ("isactive", ["r1"]),
        ("not isactive", ["r2", "r3", "r4"]),
        ("true", ["r1", "r2", "r3", "r4"]),
        ("false", []),
        ("status eq 'Open'", ["r1"]),
        ("status ne 'Open'", ["r2", "r3", "r4"]),
        ("name eq 'O''Brien & Co'", ["r3"]),
        ("name eq 'a,b) or (x'", []),
    ],
)
def test_each_operator_on_each_type(text: str, expected: list[str]) -> None:
    assert matching(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name eq null", ["r4"]),
        ("name ne null", ["r1", "r2", "r3"]),
        ("revenue eq null", ["r4"]),
        ("_parentcustomerid_value eq null", ["r1", "r3", "r4"]),
        ("_parentcustomerid_value ne null", ["r2"]),
        ("createdon eq null", ["r4"]),
        ("birthday eq null", ["r3", "r4"]),
        ("isactive eq null", ["r3", "r4"]),
        ("status eq null", ["r3", "r4"]),
        ("revenue gt null", []),
        ("revenue lt null", []),
        ("name ge null", []),
        ("null eq name", ["r4"]),
        ("name ne 'Contoso'", ["r2", "r3", "r4"]),  # OData: a null name is "not equal" to 'Contoso'
        ("not (name eq 'Contoso')", ["r2", "r3", "r4"]),  # two-valued logic: same rows as `ne`
        ("revenue lt 1000", ["r1", "r2", "r3"]),  # a null revenue is not "less than" anything
        ("employees ge -100", ["r1", "r2", "r3"]),  # missing key is null too
        ("not (revenue gt 0)", ["r3", "r4"]),
    ],
)
def test_null_rules(text: str, expected: list[str]) -> None:
    assert matching(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name eq 'Contoso' or name eq 'fabrikam' and revenue gt 100", ["r1"]),
        ("(name eq 'Contoso' or name eq 'fabrikam') and revenue gt 100", ["r1"]),
        ("revenue lt 0 or revenue eq 5 and isactive eq true", ["r3"]),
        ("(revenue lt 0 or revenue eq 5) and isactive eq false", ["r2"]),
        ("isactive eq false or isactive eq true and employees eq 0", ["r2"]),
        ("not (name eq 'Contoso') and revenue ne null", ["r2", "r3"]),
        ("not (name eq 'Contoso' or name eq 'fabrikam')", ["r3", "r4"]),
        ("not not isactive", ["r1"]),
        ("((((isactive))))", ["r1"]),
        ("employees eq 10 or employees eq -3 or employees eq 0", ["r1", "r2", "r3"]),
        ("revenue ne null and employees ne null and name ne null and isactive ne null", ["r1", "r2"]),
        ("name eq 'Contoso' eq true", ["r1"]),
        ("name eq 'Contoso' eq false", ["r2", "r3", "r4"]),
    ],
)
def test_precedence_and_logic(text: str, expected: list[str]) -> None:
    assert matching(text) == expected


@pytest.mark.parametrize(
    ("text", "insensitive", "sensitive"),
    [
        ("name eq 'contoso'", ["r1"], []),
        ("name eq 'FABRIKAM'", ["r2"], []),
        ("name ne 'contoso'", ["r2", "r3", "r4"], ["r1", "r2", "r3", "r4"]),
        ("name lt 'd'", ["r1"], ["r1", "r3"]),  # exact: 'O' sorts before 'd'
        ("name gt 'Z'", [], ["r2"]),  # exact: 'f' sorts after 'Z'
        ("name ge 'c'", ["r1", "r2", "r3"], ["r2"]),
        ("contains(name,'TOS')", ["r1"], []),
        ("contains(name,'tos')", ["r1"], ["r1"]),
        ("startswith(name,'cON')", ["r1"], []),
        ("startswith(name, 'Con')", ["r1"], ["r1"]),
        ("endswith(name,'KAM')", ["r2"], []),
        ("endswith(name,'kam')", ["r2"], ["r2"]),
        ("status eq 'open'", ["r1"], []),
    ],
)
def test_case_sensitivity(text: str, insensitive: list[str], sensitive: list[str]) -> None:
    assert matching(text, case_insensitive=True) == insensitive
    assert matching(text, case_insensitive=False) == sensitive


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("contains(name,'o')", ["r1", "r3"]),
        ("contains(name,'''')", ["r3"]),
        ("contains(name,'')", ["r1", "r2", "r3"]),  # a null name contains nothing, not even ''
        ("startswith(name,'O''B')", ["r3"]),
        ("endswith(name,'Co')", ["r3"]),
        ("not contains(name,'o')", ["r2", "r4"]),
        ("contains(name,'o') eq false", ["r2", "r4"]),
        ("contains(name,'o') ne false", ["r1", "r3"]),
        ("true eq contains(name,'o')", ["r1", "r3"]),
        ("contains(name,null)", []),
        ("contains(name,'o') and startswith(name,'C')", ["r1"]),
    ],
)
def test_string_functions(text: str, expected: list[str]) -> None:
    assert matching(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'Contoso' eq name", ["r1"]),
        ("5 lt revenue", ["r1"]),
        ("5 ge revenue", ["r2", "r3"]),
        (f"{GUID_B} eq accountid", ["r2"]),
        ("2026-01-01 gt createdon", ["r3"]),
    ],
)
def test_literal_on_the_left(text: str, expected: list[str]) -> None:
    assert matching(text) == expected


def test_whitespace_is_flexible() -> None:
    assert matching("  name   eq\t'Contoso'  and(revenue gt 5)  ") == ["r1"]


def test_fractional_and_whole_second_datetimes_compare_as_instants() -> None:
    rows = [
        {"id": "a", "createdon": "2026-01-02T03:04:05Z"},
        {"id": "b", "createdon": "2026-01-02T03:04:05.123Z"},
        {"id": "c", "createdon": "2026-01-02T03:04:04.999Z"},
    ]
    assert matching("createdon gt 2026-01-02T03:04:05Z", rows=rows) == ["b"]
    assert matching("createdon lt 2026-01-02T03:04:05.001Z", rows=rows) == ["a", "c"]
    assert matching("createdon eq 2026-01-02T03:04:05.123Z", rows=rows) == ["b"]


def test_compiled_predicate_is_reusable_over_many_rows() -> None:
    """Its speed is measured by `make bench`, not asserted here."""
    rows = [{"id": str(i), "name": "x" if i % 10 == 0 else f"n{i}", "revenue": i % 9} for i in range(100_000)]
    predicate = compile_filter("name eq 'x' and revenue gt 5", RESOLVE, case_insensitive=True)
    hits = [row for row in rows if predicate(row)]
    assert len(hits) == sum(1 for i in range(0, 100_000, 10) if i % 9 > 5)
    assert [row for row in rows[:20] if predicate(row)] == []  # the same predicate again, on other rows


def test_long_flat_chains_do_not_hit_the_recursion_limit() -> None:
    assert matching(" or ".join(f"employees eq {n}" for n in range(1000))) == ["r1", "r3"]
    assert matching(" and ".join(["isactive"] * 2000)) == ["r1"]


def test_nesting_up_to_the_limit_is_accepted() -> None:
    depth = MAX_DEPTH - 1
    assert matching("(" * depth + "isactive" + ")" * depth) == ["r1"]


# --- rejections -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unknown"),
    [
        ("foo eq 1", "foo"),
        ("Name eq 'x'", "Name"),  # names are case-sensitive
        ("isactive eq true and bogus ne null", "bogus"),
        ("contains(nickname,'x')", "nickname"),
        ("'x' eq alias", "alias"),
        ("not flag", "flag"),
    ],
)
def test_unknown_property_is_named_with_the_entity_type(text: str, unknown: str) -> None:
    error = rejection(text)
    assert error.message == f"Could not find a property named '{unknown}' on type '{ENTITY}'."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Expression expected at position 0 in ''."),
        ("   ", "Expression expected at position 3 in '   '."),
        ("name eq", "Expression expected at position 7 in 'name eq'."),
        ("name eq 'x' and", "Expression expected at position 15 in 'name eq 'x' and'."),
        ("and name eq 'x'", "Expression expected at position 0 in 'and name eq 'x''."),
        ("name eq eq 'x'", "Expression expected at position 8 in 'name eq eq 'x''."),
        ("name eq 'x' foo", "Syntax error at position 12 in 'name eq 'x' foo'."),
        ("name eq 'x')", "Syntax error at position 11 in 'name eq 'x')'."),
        ("name EQ 'x'", "Syntax error at position 5 in 'name EQ 'x''."),
        ("name eq 'x' AND isactive", "Syntax error at position 12 in 'name eq 'x' AND isactive'."),
        ("(name eq 'x'", "')' or operator expected at position 12 in '(name eq 'x''."),
        ("((isactive)", "')' or operator expected at position 11 in '((isactive)'."),
        ("contains(name 'x')", "')' or ',' expected at position 14 in 'contains(name 'x')'."),
        ("contains(name,'x'", "')' or ',' expected at position 17 in 'contains(name,'x''."),
        ("name eq 'x", "There is an unterminated string literal at position 10 in 'name eq 'x'."),
        ("name eq 'it''s", "There is an unterminated string literal at position 14 in 'name eq 'it''s'."),
        ("name = 'x'", "Syntax error: character '=' is not valid at position 5 in 'name = 'x''."),
        ('name eq "x"', "Syntax error: character '\"' is not valid at position 8 in 'name eq \"x\"'."),
        ("employees eq 12abc", "Syntax error at position 13 in 'employees eq 12abc'."),
        ("birthday eq 2026-1-2", "Syntax error at position 12 in 'birthday eq 2026-1-2'."),
        ("revenue eq - 1", "Syntax error at position 11 in 'revenue eq - 1'."),
    ],
)
def test_syntax_errors_carry_odl_wording_and_position(text: str, message: str) -> None:
    error = rejection(text)
    assert error.message == message
    assert error.position is not None
    assert f"position {error.position} " in message
    assert not error.unsupported


def test_syntax_errors_win_over_unknown_properties() -> None:
    # ODL parses the whole text before binding names, so the client sees the syntax error first.
    assert rejection("foo eq 1 and").message.startswith("Expression expected at position 12")


@pytest.mark.parametrize(
    ("text", "left", "right", "kind"),
    [
        (f"accountid eq '{GUID_A}'", "Edm.Guid", "Edm.String", "Equal"),
        (f"'{GUID_A}' ne accountid", "Edm.String", "Edm.Guid", "NotEqual"),
        ("accountid eq 5", "Edm.Guid", "Edm.Int32", "Equal"),
        ("createdon gt '2026-01-01T00:00:00Z'", "Edm.DateTimeOffset", "Edm.String", "GreaterThan"),
        ("createdon ge 5", "Edm.DateTimeOffset", "Edm.Int32", "GreaterThanOrEqual"),
        ("birthday lt 2026-01-01T00:00:00Z", "Edm.Date", "Edm.DateTimeOffset", "LessThan"),
        ("birthday le '2026-01-01'", "Edm.Date", "Edm.String", "LessThanOrEqual"),
        ("name eq 5", "Edm.String", "Edm.Int32", "Equal"),
        ("name eq true", "Edm.String", "Edm.Boolean", "Equal"),
        (f"name eq {GUID_A}", "Edm.String", "Edm.Guid", "Equal"),
        ("revenue eq '5'", "Edm.Decimal", "Edm.String", "Equal"),
        ("employees gt 1.5e3 and employees eq '1'", "Edm.Int32", "Edm.String", "Equal"),
        ("revenue eq true", "Edm.Decimal", "Edm.Boolean", "Equal"),
        ("isactive eq 'true'", "Edm.Boolean", "Edm.String", "Equal"),
        ("isactive eq 1", "Edm.Boolean", "Edm.Int32", "Equal"),
        ("status eq 1", "Edm.Enum", "Edm.Int32", "Equal"),
        ("contains(name,'x') eq 'yes'", "Edm.Boolean", "Edm.String", "Equal"),
        ("name and isactive", "Edm.String", "Edm.Boolean", "And"),
        ("isactive or revenue", "Edm.Boolean", "Edm.Decimal", "Or"),
        ("isactive and isactive and name", "Edm.Boolean", "Edm.String", "And"),
    ],
)
def test_incompatible_operand_types(text: str, left: str, right: str, kind: str) -> None:
    assert rejection(text).message == (
        "A binary operator with incompatible types was detected. "
        f"Found operand types '{left}' and '{right}' for operator kind '{kind}'."
    )


@pytest.mark.parametrize(
    ("text", "operand"),
    [("not name eq 'x'", "Edm.String"), ("not revenue", "Edm.Decimal"), ("not null", "<null>")],
)
def test_not_binds_tighter_than_comparison_like_odl(text: str, operand: str) -> None:
    assert rejection(text).message == (
        "A unary operator with an incompatible type was detected. "
        f"Found operand type '{operand}' for operator kind 'Not'."
    )


@pytest.mark.parametrize("text", ["name", "revenue", "null", "'x'", "5", "(name)"])
def test_filter_must_be_boolean(text: str) -> None:
    assert rejection(text).message == "The $filter expression must evaluate to a single boolean value."


@pytest.mark.parametrize(
    "text",
    [
        "contains(revenue,'1')",
        "startswith(accountid,'0d8a')",
        "endswith(createdon,'Z')",
        "contains(status,'Op')",
        "contains(name,5)",
        "contains(name)",
        "contains(name,'a','b')",
        "contains(isactive eq true,'x')",
    ],
)
def test_string_functions_need_string_arguments(text: str) -> None:
    name = text.split("(", 1)[0]
    error = rejection(text)
    assert error.message.startswith(f"No function signature for the function with name '{name}'")
    assert f"{name}(Edm.String Nullable=true, Edm.String Nullable=true)" in error.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("foo(name)", "An unknown function with name 'foo' was found."),
        ("Contains(name,'x')", "An unknown function with name 'Contains' was found."),
        ("substringof('x',name)", "An unknown function with name 'substringof' was found."),
    ],
)
def test_unknown_functions(text: str, fragment: str) -> None:
    error = rejection(text)
    assert error.message.startswith(fragment)
    assert not error.unsupported


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("tolower(name) eq 'x'", "The function 'tolower'"),
        ("year(createdon) eq 2026", "The function 'year'"),
        ("Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['a'])", "'Microsoft.Dynamics.CRM.In'"),
        ("revenue add 1 gt 2", "The 'add' operator"),
        ("name in ('a','b')", "The 'in' operator"),
        ("(revenue mul 2 gt 2)", "The 'mul' operator"),
        ("primarycontactid/fullname eq 'x'", "Property paths and lambda operators"),
        ("contacts/any(c: c/name eq 'x')", "Property paths and lambda operators"),
        ("name eq revenue", "Comparing two properties ('name' and 'revenue')"),
        ("1 eq 1", "Comparing 'Edm.Int32' with 'Edm.Int32'"),
        ("status gt 'Open'", "Only 'eq' and 'ne' can compare the enum property 'status'"),
        ("contains(name,'x') gt false", "Ordering comparisons of boolean expressions"),
        ("contains('Contoso',name)", "Only contains(property, 'text') is supported"),
    ],
)
def test_valid_odata_the_emulator_does_not_implement_is_flagged(text: str, fragment: str) -> None:
    error = rejection(text)
    assert fragment in error.message
    assert error.unsupported


@pytest.mark.parametrize(
    ("text", "edm"),
    [
        ("createdon eq 2026-13-01T00:00:00Z", "Edm.DateTimeOffset"),
        ("createdon eq 2026-01-01T25:00:00Z", "Edm.DateTimeOffset"),
        ("birthday eq 2026-02-30", "Edm.Date"),
    ],
)
def test_impossible_dates_are_unrecognized_literals(text: str, edm: str) -> None:
    error = rejection(text)
    assert error.message.startswith(f"Unrecognized '{edm}' literal '2026-")
    assert error.position == text.index("2026")


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    depth = MAX_DEPTH + 1
    assert "Recursion depth exceeded" in rejection("(" * depth + "isactive" + ")" * depth).message
    assert "Recursion depth exceeded" in rejection("not " * depth + "isactive").message
    assert "Recursion depth exceeded" in rejection("isactive" + " eq true" * depth).message


def test_overlong_text_is_refused_before_parsing() -> None:
    text = "name eq '" + "x" * MAX_OPTION_LENGTH + "'"
    error = rejection(text)
    assert f"the limit is {MAX_OPTION_LENGTH}" in error.message
    assert error.message.startswith("The $filter query option")


def test_ne_can_leave_nulls_out_like_sql() -> None:
    rows: list[dict[str, Any]] = [{"name": "a"}, {"name": "b"}, {"name": None}, {}]
    odata = compile_filter("name ne 'a'", dict_resolver({"name": "string"}, "x"), case_insensitive=True)
    sql = compile_filter(
        "name ne 'a'", dict_resolver({"name": "string"}, "x"), case_insensitive=True, ne_matches_null=False
    )
    assert [odata(r) for r in rows] == [False, True, True, True]
    assert [sql(r) for r in rows] == [False, True, False, False]
