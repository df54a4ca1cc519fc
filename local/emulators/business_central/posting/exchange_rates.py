"""Currency exchange rates of the BC emulator: seeded rates and `POST /_admin/exchangeRates`.

Why an admin route: API v2.0 serves `currencyExchangeRates` read-only (page 30085 "APIV2- Currency Exchange Rates":
InsertAllowed, ModifyAllowed and DeleteAllowed are false, see schemas/bc_api_v2.json), so a rate is only ever
entered in BC's own UI (Currency Exchange Rates, table 330). Tests and the demo need to add one, as a user would in
BC, to see the sync carry it to Sales: this route inserts (or replaces, same currency and starting date, the table's
primary key) one row, stamping `lastModifiedDateTime` like any write. The currency row itself is left alone, as in
BC: a new rate does not modify the Currency record, which is why the sync cannot find rate changes through the
currency's `lastModifiedDateTime`.

Row shape (API v2.0): currencyCode, startingDate, exchangeRateAmount, relationalCurrencyCode,
relationalExchangeRateAmount. BC's rule for an amount (Currency Exchange Rate table: both amounts must be positive)
is enforced strictly: UNCONFIRMED which message BC shows, the emulator answers 400 with a sentence.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from local.emulators.business_central.api.writer import Writer
from local.emulators.business_central.errors import bad_request, not_found
from local.emulators.business_central.naming import table_name
from local.emulators.business_central.posting.admin import _company_id
from local.emulators.service import admin_body
from local.emulators.web import Request, Response

RATES = "currencyExchangeRates"
RATE_NAMESPACE = uuid.UUID("6f0b8c3e-2d4a-4f7b-9a1c-3e5d7b9f1a24")
# LCY (USD) is the relational currency: `exchangeRateAmount` units of the currency = `relational...` USD.
DEMO_RATES = [
    ("EUR", "2024-01-01", 100.0, 108.5),
    ("EUR", "2025-01-01", 92.0, 100.0),
    ("GBP", "2025-01-01", 79.0, 100.0),
    ("CAD", "2025-01-01", 136.0, 100.0),
]


def _positive(body: dict[str, Any], name: str, default: float | None = None) -> float:
    value = body.get(name, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise bad_request(f"'{name}' must be a positive number, as BC's Currency Exchange Rate table requires.")
    return float(value)


def _date(body: dict[str, Any]) -> str:
    text = body.get("startingDate")
    try:
        return date.fromisoformat(str(text)).isoformat()
    except ValueError:
        raise bad_request("'startingDate' must be a date (YYYY-MM-DD).") from None


def put_rate(
    writer: Writer, company_id: str, code: str, starting: str, amount: float, relational: float, relational_code: str
) -> dict[str, Any]:
    """Insert or replace the rate of `code` starting on `starting` (BC's key: Currency Code, Starting Date)."""
    code, relational_code = code.strip().upper(), relational_code.strip().upper()
    for needed in (code, relational_code):
        if needed and writer.find_by(company_id, "currencies", "code", needed) is None:
            raise not_found("currency", needed)
    row_id = str(uuid.uuid5(RATE_NAMESPACE, f"{company_id}|{code}|{starting}"))
    row = {
        "id": row_id,
        "currencyCode": code,
        "startingDate": starting,
        "exchangeRateAmount": amount,
        "relationalCurrencyCode": relational_code,
        "relationalExchangeRateAmount": relational,
        "lastModifiedDateTime": "",
    }
    writer.put(company_id, writer.entity_set(RATES), row)
    stored = writer.store.get(table_name(company_id, RATES), row_id)
    return dict(stored or row)


def add_rate(writer: Writer, request: Request) -> Response:
    body = admin_body(request)
    code = body.get("currencyCode")
    if not isinstance(code, str) or not code.strip():
        raise bad_request("Give 'currencyCode'.")
    relational_code = body.get("relationalCurrencyCode", "")
    if not isinstance(relational_code, str):
        raise bad_request("'relationalCurrencyCode' must be a currency code (blank: the local currency).")
    with writer.store.transaction():
        company_id = _company_id(writer, body)
        row = put_rate(
            writer,
            company_id,
            code,
            _date(body),
            _positive(body, "exchangeRateAmount"),
            _positive(body, "relationalExchangeRateAmount"),
            relational_code,
        )
    return Response.json(200, {key: value for key, value in row.items() if not key.startswith("@")})


def seed_demo(writer: Writer, company_id: str) -> dict[str, int]:
    """The demo company's rates: every seeded currency has one, EUR two (the later one is the current rate)."""
    for code, starting, amount, relational in DEMO_RATES:
        put_rate(writer, company_id, code, starting, amount, relational, "")
    return {RATES: len(DEMO_RATES)}
