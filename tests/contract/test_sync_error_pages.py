"""The record errors read one page at a time (issue 24), on the fake and on Azurite: every entry exactly once, in
`list_errors`' order, and a token that is not one of the list's own is refused naming `continuationToken`."""

from __future__ import annotations

import pytest

from shared.domain.errors import InvalidInputError
from shared.domain.records import RecordErrorEntry, Side
from tests.contract.test_storage_contract import Stores, stores  # noqa: F401 - the fixture, shared

M = "CUSTOMER"


def _all_pages(stores: Stores, mapping: str | None, top: int) -> tuple[list[RecordErrorEntry], int]:  # noqa: F811
    entries, token = stores.errors.list_errors_page(mapping, top)
    pages = 1
    while token is not None:
        more, token = stores.errors.list_errors_page(mapping, top, token)
        entries += more
        pages += 1
    return entries, pages


def test_pages_list_every_error_once_in_key_order(stores: Stores) -> None:  # noqa: F811
    for n in range(7):
        stores.errors.record_error(M, Side.BC if n % 2 else Side.DATAVERSE, f"r{n}", "e", "m")
    stores.errors.record_error("ITEM", Side.BC, "i1", "e", "m")

    first, token = stores.errors.list_errors_page(M, 3)
    assert len(first) == 3 and token is not None
    listed, pages = _all_pages(stores, M, 3)
    assert listed == stores.errors.list_errors(M) and pages == 3
    everything, _ = _all_pages(stores, None, 2)
    assert everything == stores.errors.list_errors()
    exact, token = stores.errors.list_errors_page("ITEM", 1)
    assert [e.record_id for e in exact] == ["i1"]
    if token is not None:  # Table Storage may hand out a token for an empty last page; it must then be empty
        assert stores.errors.list_errors_page("ITEM", 1, token) == ([], None)


@pytest.mark.parametrize("token", ["not-a-token", "e30", "eyJtIjoiIiwicGsiOiIiLCJyayI6IiJ9", "%%%"])
def test_a_token_the_list_did_not_hand_out_is_refused(stores: Stores, token: str) -> None:  # noqa: F811
    with pytest.raises(InvalidInputError) as refused:
        stores.errors.list_errors_page(M, 10, token)
    assert (refused.value.code, refused.value.field) == ("invalidContinuationToken", "continuationToken")


def test_a_token_of_another_mappings_list_is_refused(stores: Stores) -> None:  # noqa: F811
    for n in range(3):
        stores.errors.record_error("ITEM", Side.BC, f"i{n}", "e", "m")
    _, token = stores.errors.list_errors_page("ITEM", 1)
    assert token is not None
    with pytest.raises(InvalidInputError):
        stores.errors.list_errors_page(M, 1, token)
