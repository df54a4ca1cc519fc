"""CURRENCY: BC currencies -> Dataverse transaction currencies (BC's default: ToIntegrationTable).

Why coupling by ISO code and creating missing ones: every currency lookup (accounts, price lists, documents) resolves
through these couplings, so they must exist before anything else; BC's own defaults match on Code = isocurrencycode,
create what is missing and synchronize right after coupling.

BC's local currency (LCY) is not a row in API v2.0 currencies: a blank currency code means LCY everywhere. It
is never coupled; lookups resolve blank (or the LCY code) to the Dataverse currency with the LCY's ISO code, which
is normally the organization's base currency.
"""

from __future__ import annotations

from shared.domain.mapping import FieldMapping, FullSyncRule, TableMapping
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
    full_sync=FullSyncRule.BASE_CURRENCY,  # BC's review: couple, unless Sales has only its base currency
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
        FieldMapping(
            "code",
            "exchangerate",
            TO,
            transform="latestExchangeRate",
            note=(
                "Not a BC field mapping: BC sets it in code (CRMIntTableSubscriber, after transferring the fields). "
                "The engine reads BC's currencyExchangeRates once per run and writes the current LCY -> currency "
                "factor; a currency without a rate fails with exchangeRateMissing, never a null rate."
            ),
        ),
    ),
    note=(
        "Dataverse refuses a currency without an exchange rate: the engine writes BC's latest LCY -> currency rate "
        "(one read of currencyExchangeRates per run; no rate -> record error naming the currency) and, because a new "
        "rate does not modify the BC currency, compares every coupled currency on each run, so a rate change reaches "
        "Sales on the next run. currencyprecision is BC's 'Dataverse default precision' (2)."
    ),
)

MAPPINGS = (CURRENCY,)
