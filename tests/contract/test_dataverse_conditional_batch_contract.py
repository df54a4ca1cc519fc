"""Contract (the real client against the emulator): PATCH operations in `$batch`, each with its own
`If-Match`, are how the runs update coupled rows (issue 17). A stale one loses alone, with Dataverse's 412
ConcurrencyVersionMismatch body, and the others of the batch are applied; the run relies on exactly that."""

from __future__ import annotations

import uuid

from shared.connectors.dataverse.client import DataverseClient
from tests.contract.test_dataverse_client_contract import dv  # noqa: F401 (the real client on the emulator)

Client = DataverseClient


def read_account(client: Client, name: str) -> tuple[str, str]:
    row_id = str(uuid.uuid4())
    client.create_row("accounts", row_id, {"name": name})
    row = client.get_row("accounts", row_id, ["name"])
    assert row is not None
    return row_id, str(row["@odata.etag"])


def test_a_stale_if_match_in_batch_loses_alone_with_412(dv: Client) -> None:  # noqa: F811
    client = dv
    stale_id, stale_etag = read_account(client, "Stale")
    current_id, current_etag = read_account(client, "Current")
    client.update_row("accounts", stale_id, {"name": "Edited meanwhile"})
    outcomes = client.execute_batch(
        [
            {
                "method": "PATCH",
                "url": f"accounts({stale_id})",
                "body": {"name": "X"},
                "headers": {"If-Match": stale_etag},
            },
            {
                "method": "PATCH",
                "url": f"accounts({current_id})",
                "body": {"name": "Y"},
                "headers": {"If-Match": current_etag},
            },
        ],
        atomic=False,
        continue_on_error=True,
    )
    assert [o.status for o in outcomes] == [412, 204]
    assert outcomes[0].body["error"]["code"] == "0x80060882"
    assert (client.get_row("accounts", stale_id, ["name"]) or {})["name"] == "Edited meanwhile"
    assert (client.get_row("accounts", current_id, ["name"]) or {})["name"] == "Y"
