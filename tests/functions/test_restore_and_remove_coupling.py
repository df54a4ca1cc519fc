"""Restore Records and Remove Coupling of the Sync errors list (issue 24) over the real stack: a BC customer deleted
and its account left is created again in BC from the account and coupled to it, and a Sales account deleted is
created again in Sales, each entry gone; a pair the engine created comes back under the same deterministic id; a
pair whose two records exist is left (`bothExist`, nothing created); a one-way mapping that cannot write to the app
where the record is gone is refused per id and keeps its coupling, as does a record with a lookup not coupled; a
create the app refuses leaves the record uncoupled with the refusal on its entry; Remove Coupling uncouples and
leaves both records; every mapping answers both without a 500; bad input is a 400 naming the field."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.domain.coupling import Coupling
from shared.domain.records import Side
from shared.mappings import CATALOG
from tests.functions.conftest import Api
from tests.functions.test_sync_errors_actions import (
    M,
    bc_exists,
    coupled_pair,
    errors,
    find,
    gone_in_bc,
    gone_in_sales,
    sales_exists,
)

pytestmark = pytest.mark.integration


def restore(api: Api, ids: list[str], mapping: str = M) -> tuple[int, Any]:
    return api.call("restore_deleted_records", "POST", {"mapping": mapping, "ids": ids})


def remove(api: Api, ids: list[str]) -> tuple[int, Any]:
    return api.call("remove_error_couplings", "POST", {"mapping": M, "ids": ids})


def test_restore_records_creates_the_gone_record_again_from_the_one_left_and_couples_them(api: Api) -> None:
    customer_gone, account_gone, intact = (coupled_pair(api, f"Restore {n} {uuid.uuid4().hex[:6]}") for n in range(3))
    gone_in_bc(api, customer_gone)
    gone_in_sales(api, account_gone)
    find(api)
    api.stack.context.errors.record_error(M, Side.BC, intact.bc_id, "badValue", "both records exist")
    customers_before = sum(len(page) for page in api.stack.context.bc.list_ids("customers"))
    ids = [customer_gone.dv_id, account_gone.bc_id, intact.bc_id, "no-such-error"]

    status, done = restore(api, ids)
    assert status == 200, done
    records = {r["id"]: r for r in done["records"]}
    assert done["counts"] == {"restored": 2, "bothExist": 1, "noError": 1}, done
    in_bc, in_sales = records[customer_gone.dv_id], records[account_gone.bc_id]
    assert (in_bc["outcome"], in_bc["side"]) == ("restored", "bc") and in_bc["newId"] != customer_gone.bc_id
    assert (in_sales["outcome"], in_sales["side"]) == ("restored", "dv") and in_sales["newId"] != account_gone.dv_id

    context = api.stack.context
    customer = context.bc.get_entity("customers", in_bc["newId"])
    assert customer is not None and customer["displayName"] == customer_gone.name  # from the account's values
    account = context.dataverse.get_row("accounts", in_sales["newId"])
    assert account is not None and account["name"] == account_gone.name
    coupled = context.couplings.find_by_bc_id(M, in_bc["newId"])
    assert coupled is not None and coupled.dataverse_id == customer_gone.dv_id and coupled.creating is None
    coupled = context.couplings.find_by_bc_id(M, account_gone.bc_id)
    assert coupled is not None and coupled.dataverse_id == in_sales["newId"]
    assert context.couplings.find_by_bc_id(M, customer_gone.bc_id) is None  # the broken coupling is replaced
    assert set(errors(api)) == {intact.bc_id}  # both entries gone, the other one kept
    # nothing made for the pair that exists: one customer more in BC, the restored one
    assert sum(len(page) for page in context.bc.list_ids("customers")) == customers_before + 1
    assert bc_exists(api, intact.bc_id) and sales_exists(api, intact.dv_id)

    status, again = restore(api, [customer_gone.dv_id])  # its entry is gone: nothing to restore twice
    assert (status, again["records"][0]["outcome"]) == (200, "noError")


def test_a_one_way_mapping_cannot_restore_into_the_app_it_does_not_write_to(api: Api) -> None:
    """CURRENCY goes to Dataverse only: a BC currency gone, its Sales currency left, cannot be made again in BC."""
    context = api.stack.context
    currency_id = str(uuid.uuid4())
    code = f"X{uuid.uuid4().hex[:2].upper()}"
    context.dataverse.create_row(
        "transactioncurrencies",
        currency_id,
        {"currencyname": f"Test {code}", "isocurrencycode": code, "currencysymbol": code, "exchangerate": 1.5},
    )
    gone_bc_id = str(uuid.uuid4())  # a BC currency deleted: no such record left in BC
    context.couplings.create_coupling(Coupling("CURRENCY", gone_bc_id, currency_id))
    context.errors.record_error("CURRENCY", Side.DATAVERSE, currency_id, "coupledRecordDeleted", "gone in BC")

    status, done = restore(api, [currency_id], "CURRENCY")
    assert status == 200, done
    [record] = done["records"]
    assert (record["outcome"], record["side"], record["newId"]) == ("directionNotAllowed", "bc", None), record
    assert "toDataverse" in record["message"]
    coupling = context.couplings.find_by_bc_id("CURRENCY", gone_bc_id)
    assert coupling is not None and coupling.dataverse_id == currency_id  # nothing changed
    assert context.errors.find_errors("CURRENCY", [(Side.DATAVERSE, currency_id)])


def test_remove_coupling_uncouples_the_entries_and_leaves_both_records(api: Api) -> None:
    broken, failing = (coupled_pair(api, f"Remove {n} {uuid.uuid4().hex[:6]}") for n in range(2))
    gone_in_sales(api, broken)
    find(api)
    context = api.stack.context
    context.errors.record_error(M, Side.DATAVERSE, failing.dv_id, "badValue", "a value Sales refused")
    context.errors.record_error(M, Side.DATAVERSE, "never-coupled", "badValue", "an uncoupled record's")

    status, done = remove(api, [broken.bc_id, failing.dv_id, "never-coupled", "no-such-error"])
    assert status == 200, done
    assert {r["id"]: r["outcome"] for r in done["records"]} == {
        broken.bc_id: "uncoupled",
        failing.dv_id: "uncoupled",
        "never-coupled": "notCoupled",
        "no-such-error": "noError",
    }
    assert context.couplings.find_by_bc_id(M, broken.bc_id) is None
    assert context.couplings.find_by_bc_id(M, failing.bc_id) is None
    assert bc_exists(api, broken.bc_id) and bc_exists(api, failing.bc_id) and sales_exists(api, failing.dv_id)
    assert set(errors(api)) == {"never-coupled"}  # the uncoupled records' entries went with their couplings

    status, again = remove(api, [failing.dv_id])
    assert (status, again["records"][0]["outcome"]) == (200, "noError")


@pytest.mark.parametrize("name", ["restore_deleted_records", "remove_error_couplings"])
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mapping": M}, "ids"),
        ({"ids": ["x"]}, "mapping"),
        ({"mapping": M, "ids": []}, "ids"),
        ({"mapping": M, "ids": "all"}, "ids"),
        ({"mapping": M, "ids": [" "]}, "ids"),
        ({"mapping": M, "ids": [5]}, "ids"),
        ({"mapping": M, "ids": ["x"] * 201}, "ids"),
        ({"mapping": "NOPE", "ids": ["x"]}, "mapping"),
        ({"mapping": M, "ids": ["x"], "confirmationToken": "t"}, "confirmationToken"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api: Api, name: str, body: dict[str, Any], field: str) -> None:
    status, answer = api.call(name, "POST", body)
    assert (status, answer["error"]["field"]) == (400, field), answer


def test_a_lookup_not_coupled_is_refused_before_anything_changes(api: Api) -> None:
    """The checks that do not need the write come first: a customer whose currency is not coupled keeps its broken
    coupling and its entry, and the message says what to couple."""
    context = api.stack.context
    pair = coupled_pair(api, f"Currency {uuid.uuid4().hex[:6]}")
    ids = [i for page in context.bc.list_ids("currencies") for i in page]
    code = next(
        str(row["code"])
        for row in (context.bc.get_entity("currencies", i) for i in ids)
        if row is not None and context.couplings.find_by_bc_id("CURRENCY", str(row["id"])) is None
    )
    context.bc.update_entity("customers", pair.bc_id, {"currencyCode": code}, "*")
    gone_in_sales(api, pair)
    find(api)

    status, done = restore(api, [pair.bc_id])
    assert status == 200, done
    [record] = done["records"]
    assert (record["outcome"], record["code"], record["side"]) == ("refused", "dependencyNotCoupled", "dv"), record
    assert f"CURRENCY '{code}'" in record["message"]
    coupling = context.couplings.find_by_bc_id(M, pair.bc_id)
    assert coupling is not None and coupling.dataverse_id == pair.dv_id
    assert errors(api)[pair.bc_id]["code"] == "coupledRecordDeleted"


def test_a_create_the_app_refuses_leaves_the_record_uncoupled_with_the_refusal_on_its_entry(api: Api) -> None:
    """Sales keeps account numbers unique (an alternate key): an account holding the customer's number already
    refuses the new one (the number is sent once BC's disabled No. -> accountnumber is enabled). As BC's, the
    broken coupling went before the create; the entry now says why."""
    status, _ = api.call("patch_mapping", "PATCH", {"fields": {"number>accountnumber": True}}, route={"name": M})
    assert status == 200
    try:
        refused_create_is_recorded(api)
    finally:
        api.call("reset_mapping", "POST", route={"name": M})


def refused_create_is_recorded(api: Api) -> None:
    context = api.stack.context
    pair = coupled_pair(api, f"Numbered {uuid.uuid4().hex[:6]}")
    customer = context.bc.get_entity("customers", pair.bc_id)
    assert customer is not None
    context.dataverse.create_row(
        "accounts", str(uuid.uuid4()), {"name": "Holds the number", "accountnumber": customer["number"]}
    )
    gone_in_sales(api, pair)
    find(api)

    status, done = restore(api, [pair.bc_id])
    assert status == 200, done
    [record] = done["records"]
    assert (record["outcome"], record["side"], record["newId"]) == ("refused", "dv", None), record
    assert record["code"] == "0x80060892" and "accountnumber already exists" in record["message"], record
    assert context.couplings.find_by_bc_id(M, pair.bc_id) is None
    entry = errors(api)[pair.bc_id]
    assert (entry["code"], entry["message"]) == (record["code"], record["message"])


def test_a_pair_the_engine_created_is_restored_under_the_same_deterministic_id(api: Api) -> None:
    """A record the engine created has its source's deterministic id; deleted and restored from the same source, it
    comes back under that id (the create path's own id rule), in both apps."""
    context = api.stack.context
    made_in_sales = context.bc.create_entity("customers", {"displayName": f"To Sales {uuid.uuid4().hex[:6]}"})
    status, created = api.call("create_in_dataverse", "POST", {"bcId": str(made_in_sales["id"])}, route={"mapping": M})
    assert status == 201, created
    account_id = created["dataverseId"]
    made_in_bc_from = str(uuid.uuid4())
    account = {"name": f"To BC {uuid.uuid4().hex[:6]}", "customertypecode": 3}  # a Customer account: CUSTOMER's
    context.dataverse.create_row("accounts", made_in_bc_from, account)
    status, created = api.call(
        "create_in_business_central", "POST", {"dataverseId": made_in_bc_from}, route={"mapping": M}
    )
    assert status == 201, created
    customer_id = created["bcId"]
    context.dataverse.delete_row("accounts", account_id)
    context.bc.delete_entity("customers", customer_id)
    find(api)

    status, done = restore(api, [str(made_in_sales["id"]), made_in_bc_from])
    assert status == 200, done
    assert [(r["outcome"], r["newId"]) for r in done["records"]] == [
        ("restored", account_id),
        ("restored", customer_id),
    ]
    assert sales_exists(api, account_id) and bc_exists(api, customer_id)
    assert context.couplings.find_by_bc_id(M, str(made_in_sales["id"])) is not None
    coupling = context.couplings.find_by_bc_id(M, customer_id)
    assert coupling is not None and coupling.dataverse_id == made_in_bc_from and coupling.creating is None
    assert errors(api) == {}


def test_every_mapping_answers_both_actions_without_a_500(api: Api) -> None:
    """A mapping the engine cannot run record by record is 409 `mappingNotRunnable` for Restore Records (it would
    create), as Delete Records answers it; Remove Coupling only uncouples, so every mapping answers it."""
    for name in CATALOG:
        status, restored = restore(api, ["not-listed"], name)
        assert status in (200, 409), (name, restored)
        if status == 409:
            assert restored["error"]["code"] == "mappingNotRunnable", (name, restored)
        else:
            assert [r["outcome"] for r in restored["records"]] == ["noError"]
        status, removed = api.call("remove_error_couplings", "POST", {"mapping": name, "ids": ["not-listed"]})
        assert (status, [r["outcome"] for r in removed["records"]]) == (200, ["noError"]), (name, removed)
