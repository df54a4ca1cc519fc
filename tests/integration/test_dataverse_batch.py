"""`$batch` (multipart/mixed) and the bulk messages of the Dataverse emulator, over real HTTP.

The batch body is built here by hand, byte for byte as the Web API docs show it, and the response is read back with
the standard library's MIME parser, so the emulator's own multipart code is checked against an independent reader.
"""

from __future__ import annotations

import email
import email.policy
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest

from tests.conftest import EmulatorHandle

pytestmark = pytest.mark.integration

API = "/api/data/v9.2"
BATCH_BOUNDARY = "batch_AAA123"
PAYLOAD_ERROR = "0x80048d19"
NOT_FOUND = "0x80040217"
ACCOUNT_TYPE = "Microsoft.Dynamics.CRM.account"
CRLF = "\r\n"


# -- building a multipart/mixed batch body ----------------------------------------------------------------------
@dataclass
class Op:
    """One HTTP request inside a batch (a part of the batch or of a change set)."""

    method: str
    target: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_id: str | None = None


@dataclass
class ChangeSet:
    ops: list[Op]
    boundary: str = "changeset_x"


def _http_part(op: Op) -> str:
    """A MIME part of type application/http carrying one request (request line, headers, blank line, body)."""
    mime = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if op.content_id is not None:
        mime.append(f"Content-ID: {op.content_id}")
    request = [f"{op.method} {op.target} HTTP/1.1"]
    headers = dict(op.headers)
    if op.body is not None:
        headers.setdefault("Content-Type", "application/json; type=entry")
    request += [f"{name}: {value}" for name, value in headers.items()]
    body = json.dumps(op.body) if op.body is not None else ""
    return CRLF.join([*mime, "", *request, "", body])


def build_batch(items: Sequence[Op | ChangeSet], boundary: str = BATCH_BOUNDARY, *, close: bool = True) -> str:
    chunks: list[str] = []
    for item in items:
        if isinstance(item, Op):
            chunks.append(f"--{boundary}{CRLF}{_http_part(item)}{CRLF}")
        else:
            inner = "".join(f"--{item.boundary}{CRLF}{_http_part(op)}{CRLF}" for op in item.ops)
            chunks.append(
                f"--{boundary}{CRLF}Content-Type: multipart/mixed; boundary={item.boundary}{CRLF}{CRLF}"
                f"{inner}--{item.boundary}--{CRLF}"
            )
    return "".join(chunks) + (f"--{boundary}--{CRLF}" if close else "")


# -- reading the multipart/mixed response -----------------------------------------------------------------------
@dataclass
class PartResponse:
    status: int
    headers: dict[str, str]
    body: str
    content_id: str | None

    def json(self) -> Any:
        return json.loads(self.body)


def _parse_http(part: Message) -> PartResponse:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    text = payload.decode("utf-8").replace("\r\n", "\n")
    head, _, body = text.partition("\n\n")
    status_line, *header_lines = head.split("\n")
    version, status, *_ = status_line.split(" ")
    assert version == "HTTP/1.1", status_line
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return PartResponse(int(status), headers, body.strip(), part.get("Content-ID"))


def parse_batch_response(content_type: str, body: bytes) -> list[PartResponse | list[PartResponse]]:
    """One entry per answered batch item: a response, or for a committed change set the list of its responses."""
    message = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP
    )
    assert message.is_multipart(), content_type
    answers: list[PartResponse | list[PartResponse]] = []
    outer = message.get_payload()
    assert isinstance(outer, list)
    for part in outer:
        assert isinstance(part, Message)
        if part.get_content_type() == "multipart/mixed":
            inner = part.get_payload()
            assert isinstance(inner, list)
            answers.append([_parse_http(p) for p in inner if isinstance(p, Message)])
        else:
            assert part.get_content_type() == "application/http"
            answers.append(_parse_http(part))
    return answers


@dataclass
class BatchResult:
    status: int
    parts: list[PartResponse | list[PartResponse]]
    raw: Any


def post_batch(dv: EmulatorHandle, items: Sequence[Op | ChangeSet], *, prefer: str | None = None) -> BatchResult:
    headers = {
        "Content-Type": f"multipart/mixed; boundary={BATCH_BOUNDARY}",
        "Accept": "application/json",
        "OData-Version": "4.0",
        "OData-MaxVersion": "4.0",
    }
    if prefer is not None:
        headers["Prefer"] = prefer
    response = dv.session.post(
        f"{dv.base_url}{API}/$batch", data=build_batch(items).encode(), headers=headers, timeout=30
    )
    content_type = response.headers.get("Content-Type", "")
    if content_type.startswith("multipart/mixed"):
        return BatchResult(response.status_code, parse_batch_response(content_type, response.content), None)
    return BatchResult(response.status_code, [], response.json() if response.content else None)


def single(answer: PartResponse | list[PartResponse]) -> PartResponse:
    assert isinstance(answer, PartResponse), answer
    return answer


def entity_id(answer: PartResponse) -> str:
    return answer.headers["odata-entityid"].rsplit("(", 1)[1].rstrip(")")


# -- small helpers over the Web API ------------------------------------------------------------------------------
def api(dv: EmulatorHandle) -> str:
    return f"{dv.base_url}{API}"


def account_names(dv: EmulatorHandle) -> set[str]:
    response = dv.session.get(f"{api(dv)}/accounts", params={"$select": "name"}, timeout=30)
    assert response.status_code == 200
    return {row["name"] for row in response.json()["value"]}


def count_of(dv: EmulatorHandle, entity_set: str) -> int:
    response = dv.session.get(f"{api(dv)}/{entity_set}", params={"$count": "true", "$select": "createdon"}, timeout=30)
    assert response.status_code == 200
    count: int = response.json()["@odata.count"]
    return count


def create(name: str, target: str = f"{API}/accounts", **extra: Any) -> Op:
    return Op("POST", target, {"name": name, **extra})


# -- $batch ------------------------------------------------------------------------------------------------------
def test_independent_requests_answer_in_order_and_are_stored(dataverse: EmulatorHandle) -> None:
    result = post_batch(
        dataverse,
        [
            create("Absolute path"),
            create("Relative target", target="accounts"),
            create("Absolute URL", target=f"{api(dataverse)}/accounts"),
            Op("POST", f"{API}/contacts", {"firstname": "Ada", "lastname": "Batch"}),
            Op("GET", f"{API}/accounts?$select=name", headers={"Accept": "application/json"}),
        ],
    )

    assert result.status == 200
    assert len(result.parts) == 5
    answers = [single(a) for a in result.parts]
    assert [a.status for a in answers] == [204, 204, 204, 204, 200]
    # the GET ran after the creates, in order
    assert {row["name"] for row in answers[4].json()["value"]} == {"Absolute path", "Relative target", "Absolute URL"}
    for answer, entity_set in zip(answers[:4], ["accounts", "accounts", "accounts", "contacts"], strict=True):
        assert f"/{entity_set}(" in answer.headers["odata-entityid"]
        row = dataverse.session.get(f"{api(dataverse)}/{entity_set}({entity_id(answer)})", timeout=30)
        assert row.status_code == 200
    assert account_names(dataverse) == {"Absolute path", "Relative target", "Absolute URL"}


def test_change_set_is_all_or_nothing_and_stops_the_batch(dataverse: EmulatorHandle) -> None:
    result = post_batch(
        dataverse,
        [
            ChangeSet(
                [
                    Op("POST", f"{API}/accounts", {"name": "CS one"}, content_id="1"),
                    Op("POST", f"{API}/accounts", {"name": "CS two"}, content_id="2"),
                    Op("POST", f"{API}/accounts", {"name": "CS three", "nosuchattribute": 1}, content_id="3"),
                ]
            ),
            create("After the change set"),
        ],
    )

    assert result.status == 400
    assert len(result.parts) == 1  # the failing change set answers with its error; the next part never ran
    failure = single(result.parts[0])
    assert failure.status == 400
    assert failure.json()["error"]["code"] == PAYLOAD_ERROR
    assert account_names(dataverse) == set()


def test_batch_stops_at_first_error_without_continue_on_error(dataverse: EmulatorHandle) -> None:
    items = [create("First"), create("Broken", nosuchattribute=True), create("Third")]

    result = post_batch(dataverse, items)

    assert result.status == 400
    assert [single(a).status for a in result.parts] == [204, 400]
    assert single(result.parts[1]).json()["error"]["code"] == PAYLOAD_ERROR
    assert account_names(dataverse) == {"First"}


def test_batch_continues_after_errors_when_asked(dataverse: EmulatorHandle) -> None:
    items: list[Op | ChangeSet] = [
        create("First"),
        create("Broken", nosuchattribute=True),
        create("Third"),
        ChangeSet([create("In change set")]),
    ]

    result = post_batch(dataverse, items, prefer="odata.continue-on-error")

    assert result.status == 200
    assert len(result.parts) == 4
    assert [single(a).status for a in result.parts[:3]] == [204, 400, 204]
    committed = result.parts[3]
    assert isinstance(committed, list)
    assert [a.status for a in committed] == [204]
    assert account_names(dataverse) == {"First", "Third", "In change set"}


def test_content_id_reference_binds_within_change_set(dataverse: EmulatorHandle) -> None:
    result = post_batch(
        dataverse,
        [
            ChangeSet(
                [
                    Op("POST", f"{API}/accounts", {"name": "Parent"}, content_id="1"),
                    Op(
                        "POST",
                        f"{API}/contacts",
                        {"lastname": "Child", "parentcustomerid_account@odata.bind": "$1"},
                        content_id="2",
                    ),
                ]
            )
        ],
    )

    assert result.status == 200
    assert len(result.parts) == 1
    answers = result.parts[0]
    assert isinstance(answers, list)
    assert [(a.status, a.content_id) for a in answers] == [(204, "1"), (204, "2")]
    account_id, contact_id = entity_id(answers[0]), entity_id(answers[1])
    contact = dataverse.session.get(f"{api(dataverse)}/contacts({contact_id})", timeout=30)
    assert contact.status_code == 200
    assert contact.json()["_parentcustomerid_value"] == account_id


def test_unknown_content_id_reference_rolls_back_change_set(dataverse: EmulatorHandle) -> None:
    result = post_batch(
        dataverse,
        [
            ChangeSet(
                [
                    Op("POST", f"{API}/accounts", {"name": "Parent"}, content_id="1"),
                    Op(
                        "POST",
                        f"{API}/contacts",
                        {"lastname": "Child", "parentcustomerid_account@odata.bind": "$9"},
                        content_id="2",
                    ),
                ]
            )
        ],
    )

    assert result.status == 400
    assert single(result.parts[0]).status == 400
    assert account_names(dataverse) == set()
    assert count_of(dataverse, "contacts") == 0


def test_get_inside_change_set_is_rejected(dataverse: EmulatorHandle) -> None:
    result = post_batch(dataverse, [ChangeSet([create("Before the GET"), Op("GET", f"{API}/accounts")])])

    assert result.status == 400
    assert result.raw["error"]["code"] == PAYLOAD_ERROR
    assert account_names(dataverse) == set()


def test_thousand_operations_allowed_but_not_more(dataverse: EmulatorHandle) -> None:
    read = Op("GET", f"{API}/accounts?$top=1")

    at_limit = post_batch(dataverse, [read] * 1000)
    assert at_limit.status == 200
    assert len(at_limit.parts) == 1000

    too_many: list[Op | ChangeSet] = [read] * 999
    too_many.append(ChangeSet([create("One too many"), create("Two too many")]))
    over = post_batch(dataverse, too_many)
    assert over.status == 400
    assert over.raw["error"]["code"] == PAYLOAD_ERROR
    assert account_names(dataverse) == set()


@pytest.mark.parametrize("content_type", [None, "application/json", "multipart/mixed", "text/plain; boundary=b"])
def test_batch_needs_multipart_mixed_with_boundary(dataverse: EmulatorHandle, content_type: str | None) -> None:
    body = build_batch([create("Never stored")]).encode()
    headers = {"Content-Type": content_type} if content_type else {}

    response = dataverse.session.post(f"{api(dataverse)}/$batch", data=body, headers=headers, timeout=30)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == PAYLOAD_ERROR
    assert account_names(dataverse) == set()


def test_batch_without_closing_delimiter_is_rejected(dataverse: EmulatorHandle) -> None:
    body = build_batch([create("Never stored")], close=False).encode()
    headers = {"Content-Type": f"multipart/mixed; boundary={BATCH_BOUNDARY}"}

    response = dataverse.session.post(f"{api(dataverse)}/$batch", data=body, headers=headers, timeout=30)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == PAYLOAD_ERROR
    assert account_names(dataverse) == set()


def test_each_operation_in_a_batch_is_charged(dataverse: EmulatorHandle) -> None:
    dataverse.admin("DELETE", "stats")
    items: list[Op | ChangeSet] = [
        create("A"),
        create("B"),
        Op("GET", f"{API}/accounts"),
        ChangeSet([create("C"), create("D")]),
    ]
    before = dataverse.stats()

    result = post_batch(dataverse, items)

    after = dataverse.stats()
    assert result.status == 200
    assert before["requests"] == 0
    assert before["chargedUnits"] == 0
    assert after["requests"] == 1
    assert after["chargedUnits"] == 5


# -- bulk messages -----------------------------------------------------------------------------------------------
def bulk(dv: EmulatorHandle, message: str, targets: list[dict[str, Any]], entity_set: str = "accounts") -> Any:
    return dv.session.post(
        f"{api(dv)}/{entity_set}/Microsoft.Dynamics.CRM.{message}", json={"Targets": targets}, timeout=30
    )


def account_target(name: str, account_id: str | None = None, **extra: Any) -> dict[str, Any]:
    target: dict[str, Any] = {"@odata.type": ACCOUNT_TYPE, "name": name, **extra}
    if account_id is not None:
        target["accountid"] = account_id
    return target


def test_create_multiple_thousand_is_one_request_and_one_unit(dataverse: EmulatorHandle) -> None:
    targets = [account_target(f"Bulk {n:04d}") for n in range(1000)]

    response = bulk(dataverse, "CreateMultiple", targets)

    assert response.status_code == 200
    ids = response.json()["Ids"]
    assert len(ids) == 1000
    assert len(set(ids)) == 1000
    stats = dataverse.stats()
    assert stats["requests"] == 1
    assert stats["chargedUnits"] == 1
    assert count_of(dataverse, "accounts") == 1000
    sample = dataverse.session.get(f"{api(dataverse)}/accounts({ids[-1]})", params={"$select": "name"}, timeout=30)
    assert sample.json()["name"] == "Bulk 0999"


def test_create_multiple_target_without_odata_type_is_rejected(dataverse: EmulatorHandle) -> None:
    targets = [account_target("Typed"), {"name": "Untyped"}]

    response = bulk(dataverse, "CreateMultiple", targets)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == PAYLOAD_ERROR
    assert account_names(dataverse) == set()


def test_create_multiple_is_all_or_nothing(dataverse: EmulatorHandle) -> None:
    targets = [account_target("Good 1"), account_target("Good 2"), account_target("Bad", nosuchattribute=1)]

    response = bulk(dataverse, "CreateMultiple", targets)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == PAYLOAD_ERROR
    assert account_names(dataverse) == set()


def test_update_multiple_with_missing_row_changes_nothing(dataverse: EmulatorHandle) -> None:
    existing = str(uuid.uuid4())
    assert bulk(dataverse, "CreateMultiple", [account_target("Original", existing)]).status_code == 200

    response = bulk(
        dataverse, "UpdateMultiple", [account_target("Renamed", existing), account_target("Ghost", str(uuid.uuid4()))]
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == NOT_FOUND
    assert account_names(dataverse) == {"Original"}


def test_update_multiple_updates_existing_rows(dataverse: EmulatorHandle) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    assert bulk(dataverse, "CreateMultiple", [account_target(f"Old {i}", i) for i in ids]).status_code == 200

    response = bulk(dataverse, "UpdateMultiple", [account_target(f"New {i}", i) for i in ids])

    assert response.status_code == 204
    assert account_names(dataverse) == {f"New {i}" for i in ids}


def test_upsert_multiple_creates_then_updates(dataverse: EmulatorHandle) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]

    first = bulk(dataverse, "UpsertMultiple", [account_target(f"v1 {i}", i) for i in ids])
    second = bulk(dataverse, "UpsertMultiple", [account_target(f"v2 {i}", i) for i in ids])

    assert first.status_code == 200
    assert [r["RecordCreated"] for r in first.json()["Results"]] == [True, True, True]
    assert [r["Target"]["accountid"] for r in first.json()["Results"]] == ids
    assert second.status_code == 200
    assert [r["RecordCreated"] for r in second.json()["Results"]] == [False, False, False]
    assert account_names(dataverse) == {f"v2 {i}" for i in ids}


def test_upsert_multiple_of_a_thousand_creates_then_updates_them_all(dataverse: EmulatorHandle) -> None:
    """Its speed is a benchmark figure (`make bench`); here only the behaviour at that size is asserted."""
    ids = [str(uuid.uuid4()) for _ in range(1000)]
    for version in ("created", "updated"):
        targets = [account_target(f"{version} {n}", i) for n, i in enumerate(ids)]
        response = bulk(dataverse, "UpsertMultiple", targets)
        assert response.status_code == 200
        assert {r["RecordCreated"] for r in response.json()["Results"]} == {version == "created"}
    assert count_of(dataverse, "accounts") == 1000


def test_a_boundary_string_inside_a_json_value_does_not_split_the_batch(dataverse: EmulatorHandle) -> None:
    tricky = f"notes --{BATCH_BOUNDARY} inside"
    result = post_batch(dataverse, [create("Tricky", description=tricky), create("Second")])
    assert result.status == 200
    assert [single(a).status for a in result.parts] == [204, 204]
    rows = dataverse.session.get(f"{api(dataverse)}/accounts", params={"$filter": "name eq 'Tricky'"}).json()
    assert rows["value"][0]["description"] == tricky
