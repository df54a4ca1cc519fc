"""The freight G/L account setting (BC's Sales & Receivables Setup "Freight G/L Acc. No."): checked against API v2.0
`accounts` when it is set; an account a sales line could not take is a 400 naming the field, and nothing is stored."""

from __future__ import annotations

import pytest

from tests.functions.conftest import Api

pytestmark = pytest.mark.integration
FIELD = "freightGLAccountNumber"


def test_a_posting_account_is_stored_upper_cased(api: Api) -> None:
    status, body = api.call("patch_setup", "PATCH", {FIELD: "6810"})
    assert status == 200 and body["values"][FIELD] == "6810" and body["sources"][FIELD] == "override"


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("9999", "unknownFreightAccount"),  # no such G/L account
        ("6000", "unusableFreightAccount"),  # a heading
        ("6110", "unusableFreightAccount"),  # no direct posting
        ("6820", "unusableFreightAccount"),  # blocked
        ("X" * 21, "invalidValue"),  # Code[20]
    ],
)
def test_an_account_a_sales_line_cannot_take_is_a_400_naming_the_field(api: Api, number: str, code: str) -> None:
    status, body = api.call("patch_setup", "PATCH", {FIELD: number})
    assert status == 400, body
    assert (body["error"]["field"], body["error"]["code"]) == (FIELD, code)
    status, body = api.call("get_setup", "GET")
    assert body["values"][FIELD] == ""
