"""CURRENCY: BC currencies -> Dataverse transaction currencies (BC's default: ToIntegrationTable).

Why coupling by ISO code and creating missing ones: every currency lookup (accounts, price lists, documents) resolves
through these couplings, so they must exist before anything else; BC's own defaults match on Code = isocurrencycode,
create what is missing and synchronize right after coupling.

BC's local currency (LCY) is not a row in API v2.0 currencies: a blank currency code means LCY everywhere. It
is never coupled; lookups resolve blank (or the LCY code) to the Dataverse currency with the LCY's ISO code, which
is normally the organization's base currency.
"""

from __future__ import annotations

from shared.domain.mapping import FieldMapping, TableMapping
from shared.mappings.common import SYNC_SCHEDULE, TO

CURRENCY = TableMapping(
    name="CURRENCY",
    bc_entity="currency",
    bc_entity_set="currencies",
    dataverse_table="transactioncurrency",
    dataverse_entity_set="transactioncurrencies",
    dataverse_id="transactioncurrencyid",
    direction=TO,
    bc_default_table="Currency",
    sync_only_coupled=True,
    create_if_no_match=True,
    sync_after_coupling=True,
    dataverse_on_create={"currencyprecision": 2},
    schedule=SYNC_SCHEDULE,
    fields=(
        FieldMapping(
            "code",
            "isocurrencycode",
            TO,
            match_priority=1,
            bc_default_field="Code",
            note="BC's default match criterion. BC Code is Code[10], isocurrencycode at most 5 characters.",
        ),
        FieldMapping("symbol", "currencysymbol", TO, bc_default_field="Symbol"),
        FieldMapping("displayName", "currencyname", TO, bc_default_field="Description"),
    ),
    note=(
        "On create Dataverse needs an exchange rate: BC writes the latest LCY -> currency rate (error if none); the "
        "engine reads it from currencyExchangeRates. currencyprecision is BC's 'Dataverse default precision' (2)."
    ),
)

MAPPINGS = (CURRENCY,)
