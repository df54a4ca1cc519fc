"""Companies of the BC emulator (global, not company-scoped): every API path names one of them."""

from __future__ import annotations

from local.emulators.business_central.values import now_text
from local.emulators.store import Row, Store

SYSTEM_USER = "00000000-0000-0000-0000-000000000001"


def add_company(store: Store, company_id: str, name: str) -> None:
    now = now_text()
    version = store.next_version()
    row: Row = {
        "id": company_id,
        "systemVersion": "27.0.0.0",
        "timestamp": version,
        "name": name,
        "displayName": name,
        "businessProfileId": "",
        "systemCreatedAt": now,
        "systemCreatedBy": SYSTEM_USER,
        "systemModifiedAt": now,
        "systemModifiedBy": SYSTEM_USER,
        "@version": version,
    }
    store.put("companies", company_id, row, version=version)
