"""Small helpers shared by the Dataverse emulator tests."""

from __future__ import annotations

from typing import Any

from tests.conftest import EmulatorHandle

API = "/api/data/v9.2"


def api(dv: EmulatorHandle, path: str) -> str:
    return f"{dv.base_url}{API}/{path.lstrip('/')}"


def create(dv: EmulatorHandle, entity_set: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST with return=representation and return the created row (fails the test on any error)."""
    response = dv.session.post(api(dv, entity_set), json=body, headers={"Prefer": "return=representation"})
    assert response.status_code == 201, response.text
    row: dict[str, Any] = response.json()
    return row


def error_code(response: Any) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    code: str = body["error"]["code"]
    return code
