"""The Dataverse emulator called the way independent Web API clients call a real org, over real HTTP with a plain
`requests` session: alternate-key segments and `@odata.id` targets, `$count`, `WhoAmI()`, `$ref`, single-property
writes, `$1` as a request URL inside a change set with `Location` headers, and `BulkDelete` with its system job.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import EmulatorHandle
from tests.integration.dataverse_helpers import api, create, error_code
from tests.integration.test_dataverse_batch import ChangeSet, Op, PartResponse, post_batch

pytestmark = pytest.mark.integration
ACCOUNT = "Microsoft.Dynamics.CRM.account"


def account_by_number(dv: EmulatorHandle, number: str) -> Any:
    return dv.session.get(api(dv, f"accounts(accountnumber='{number}')"), params={"$select": "name,accountnumber"})


def test_an_alternate_key_addresses_a_row_for_get_upsert_and_delete(dataverse: EmulatorHandle) -> None:
    dv = dataverse
    created = dv.session.patch(api(dv, "accounts(accountnumber='A-100')"), json={"name": "Keyed"})
    assert created.status_code == 204, created.text
    account_id = created.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    found = account_by_number(dv, "a-100")  # key values compare like the SQL collation
    assert found.status_code == 200 and found.json()["accountid"] == account_id
    assert found.json()["accountnumber"] == "A-100"
    updated = dv.session.patch(
        api(dv, "accounts(accountnumber='A-100')"), json={"name": "Renamed"}, headers={"If-Match": "*"}
    )
    assert updated.status_code == 204 and account_by_number(dv, "A-100").json()["name"] == "Renamed"
    named_primary = dv.session.get(api(dv, f"accounts(accountid={account_id})"), params={"$select": "name"})
    assert named_primary.status_code == 200 and named_primary.json()["name"] == "Renamed"
    assert dv.session.delete(api(dv, "accounts(accountnumber='A-100')")).status_code == 204
    assert account_by_number(dv, "A-100").status_code == 404
    absent = dv.session.patch(api(dv, "accounts(accountnumber='NONE')"), json={"name": "x"}, headers={"If-Match": "*"})
    assert absent.status_code == 404


def test_alternate_keys_are_unique_and_only_defined_keys_are_accepted(dataverse: EmulatorHandle) -> None:
    dv = dataverse
    create(dv, "accounts", {"name": "First", "accountnumber": "DUP"})
    duplicate = dv.session.post(api(dv, "accounts"), json={"name": "Second", "accountnumber": "dup"})
    assert duplicate.status_code == 412 and error_code(duplicate) == "0x80060892"
    not_a_key = dv.session.get(api(dv, "accounts(name='First')"))
    assert not_a_key.status_code == 400 and "not valid for resource 'Microsoft.Dynamics.CRM.account'" in not_a_key.text
    user_id = dv.session.get(api(dv, "WhoAmI")).json()["UserId"]
    inherited = dv.session.get(api(dv, f"systemusers(systemuserid={user_id})"))
    assert inherited.status_code == 400  # systemuser's key is inherited from principal: no named primary key
    contact = dv.session.post(
        api(dv, "contacts"),
        json={"lastname": "K", "parentcustomerid_account@odata.bind": "/accounts(accountnumber='DUP')"},
    )
    assert contact.status_code == 204, contact.text


def test_upsert_multiple_takes_targets_named_by_odata_id(dataverse: EmulatorHandle) -> None:
    dv = dataverse
    existing = create(dv, "accounts", {"name": "Old", "accountnumber": "U-1"})
    targets = [
        {"@odata.type": ACCOUNT, "@odata.id": "accounts(accountnumber='U-1')", "name": "Old, updated"},
        {"@odata.type": ACCOUNT, "@odata.id": "accounts(accountnumber='U-2')", "name": "New"},
    ]
    response = dv.session.post(api(dv, "accounts/Microsoft.Dynamics.CRM.UpsertMultiple"), json={"Targets": targets})
    assert response.status_code == 200, response.text
    results = response.json()["Results"]
    assert [r["RecordCreated"] for r in results] == [False, True]
    assert results[0]["Target"]["accountid"] == existing["accountid"]
    assert account_by_number(dv, "U-1").json()["name"] == "Old, updated"
    assert account_by_number(dv, "U-2").json()["name"] == "New"


def test_count_segment_and_who_am_i_with_parentheses(dataverse: EmulatorHandle) -> None:
    dv = dataverse
    for name in ("C1", "C2", "D1"):
        create(dv, "accounts", {"name": name})
    count = dv.session.get(api(dv, "accounts/$count"))
    assert count.status_code == 200 and count.headers["Content-Type"].startswith("text/plain") and count.text == "3"
    assert dv.session.get(api(dv, "accounts/$count"), params={"$filter": "startswith(name,'C')"}).text == "2"
    who = dv.session.get(api(dv, "WhoAmI()"))
    assert who.status_code == 200 and who.json()["UserId"] == dv.session.get(api(dv, "WhoAmI")).json()["UserId"]


def test_ref_associates_and_disassociates_through_both_navigations(dataverse: EmulatorHandle) -> None:
    dv = dataverse
    account = create(dv, "accounts", {"name": "Parent"})
    contacts = [create(dv, "contacts", {"lastname": name}) for name in ("One", "Two")]
    ref = api(dv, f"accounts({account['accountid']})/contact_customer_accounts/$ref")
    for contact in contacts:
        linked = dv.session.post(
            ref, json={"@odata.id": f"{dv.base_url}/api/data/v9.2/contacts({contact['contactid']})"}
        )
        assert linked.status_code == 204, linked.text

    def parent_of(contact: dict[str, Any]) -> Any:
        return dv.session.get(api(dv, f"contacts({contact['contactid']})/_parentcustomerid_value")).json()["value"]

    assert [parent_of(c) for c in contacts] == [account["accountid"]] * 2
    by_id = dv.session.delete(ref, params={"$id": f"contacts({contacts[0]['contactid']})"})
    by_key = dv.session.delete(
        api(dv, f"accounts({account['accountid']})/contact_customer_accounts({contacts[1]['contactid']})/$ref")
    )
    assert (by_id.status_code, by_key.status_code) == (204, 204)
    assert [parent_of(c) for c in contacts] == [None, None]
    single = api(dv, f"contacts({contacts[0]['contactid']})/parentcustomerid_account/$ref")
    assert dv.session.put(single, json={"@odata.id": f"accounts({account['accountid']})"}).status_code == 204
    assert parent_of(contacts[0]) == account["accountid"]
    assert dv.session.delete(single).status_code == 204 and parent_of(contacts[0]) is None


def test_a_single_property_is_read_written_and_cleared(dataverse: EmulatorHandle) -> None:
    dv = dataverse
    account = create(dv, "accounts", {"name": "Prop", "telephone1": "555"})
    url = api(dv, f"accounts({account['accountid']})/name")
    assert dv.session.put(url, json={"value": "Renamed"}).status_code == 204
    assert dv.session.get(url).json()["value"] == "Renamed"
    phone = api(dv, f"accounts({account['accountid']})/telephone1")
    assert dv.session.delete(phone).status_code == 204 and dv.session.get(phone).json()["value"] is None


def _created_id(part: PartResponse) -> str:
    return part.headers["odata-entityid"].rsplit("(", 1)[1].rstrip(")")


def test_a_content_id_works_as_request_url_and_creates_carry_location(dataverse: EmulatorHandle) -> None:
    dv = dataverse
    change_set = ChangeSet(
        [
            Op("POST", "/api/data/v9.2/accounts", {"name": "Batch parent"}, content_id="1"),
            Op("POST", "/api/data/v9.2/contacts", {"lastname": "Batch child"}, content_id="2"),
            Op("PATCH", "$1", {"primarycontactid@odata.bind": "$2"}, content_id="3"),
            Op("PUT", "$2/firstname", {"value": "Ada"}, content_id="4"),
            Op("PUT", "$2/parentcustomerid_account/$ref", {"@odata.id": "$1"}, content_id="5"),
        ]
    )
    result = post_batch(dv, [change_set])
    assert result.status == 200, result.raw
    parts = result.parts[0]
    assert isinstance(parts, list)
    assert [p.status for p in parts] == [204] * 5, [p.body for p in parts]
    assert parts[0].headers["location"] == parts[0].headers["odata-entityid"]
    account_id, contact_id = _created_id(parts[0]), _created_id(parts[1])
    account = dv.session.get(api(dv, f"accounts({account_id})"), params={"$select": "_primarycontactid_value"})
    assert account.json()["_primarycontactid_value"] == contact_id
    contact = dv.session.get(
        api(dv, f"contacts({contact_id})"), params={"$select": "firstname,_parentcustomerid_value"}
    )
    assert (contact.json()["firstname"], contact.json()["_parentcustomerid_value"]) == ("Ada", account_id)
    forward = post_batch(dv, [ChangeSet([Op("PATCH", "$9", {"name": "x"}, content_id="1")])])
    [refused] = forward.parts
    assert forward.status == 400 and isinstance(refused, PartResponse) and refused.status == 400
    assert refused.json()["error"]["message"] == "Content-ID Reference: '$9' does not exist in the batch context."


def test_bulk_delete_runs_the_query_and_records_a_system_job(dataverse: EmulatorHandle) -> None:
    dv = dataverse
    keep, *gone = [create(dv, "accounts", {"name": name, "accountnumber": name}) for name in ("K", "G1", "G2")]
    body = {
        "JobName": "Remove G",
        "SendEmailNotification": False,
        "ToRecipients": [],
        "CCRecipients": [],
        "RecurrencePattern": "",
        "StartDateTime": "2026-01-01T00:00:00Z",
        "QuerySet": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.QueryExpression",
                "EntityName": "account",
                "ColumnSet": {"AllColumns": False, "Columns": []},
                "Criteria": {
                    "FilterOperator": "And",
                    "Conditions": [
                        {
                            "AttributeName": "accountid",
                            "Operator": "In",
                            "Values": [{"Value": a["accountid"], "Type": "System.Guid"} for a in gone],
                        }
                    ],
                },
            }
        ],
    }
    response = dv.session.post(api(dv, "BulkDelete"), json=body)
    assert response.status_code == 200, response.text
    job = dv.session.get(
        api(dv, f"asyncoperations({response.json()['JobId']})"),
        params={"$select": "statecode,statuscode,operationtype"},
    )
    assert (job.json()["statecode"], job.json()["statuscode"], job.json()["operationtype"]) == (3, 30, 13)
    remaining = dv.session.get(api(dv, "accounts"), params={"$select": "name"}).json()["value"]
    assert [row["accountid"] for row in remaining] == [keep["accountid"]]
    incomplete = dv.session.post(api(dv, "BulkDelete"), json={**body, "JobName": None})
    assert incomplete.status_code == 400
