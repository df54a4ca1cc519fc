"""Option mappings: BC code tables <-> Dataverse option sets (PAYMENT TERMS, SHIPMENT METHOD, SHIPPING AGENT).

Why they are table mappings at all: BC couples each BC code record to one *option value* of an account option set
(`account.paymenttermscode`, `account.address1_freighttermscode`, `account.address1_shippingmethodcode`), and the
option values then stand for the codes on accounts and documents. How the engine treats them:

- The Dataverse side has no rows: `dataverse_id` names the option-set attribute and a coupling pairs the BC record's
  id with the option value (as text). Option values have no modified-on, so these mappings only ever run
  toDataverse (never bidirectional: a Dataverse option cannot be told apart from a changed one).
- Match-based coupling compares the BC code with the option's label (case-insensitive). With "create if no match"
  the engine adds an option value labelled with the code (metadata action InsertOptionValue on the attribute's
  option set) and couples it; "sync after coupling" refreshes the label. Built: `engine/option_runs.py`
  (every run does all three).
- Every other mapping reaches these couplings through a transform `option:<name>` (each option mapping declares
  the option map its couplings build, `option_map`; `OPTION_MAPS` collects them; `engine/option_maps.py` builds
  the maps from the couplings). API v2.0 customers and documents carry the code record's *id*
  (`paymentTermsId`, `shipmentMethodId`), so an option map is keyed by BC id: `to_dataverse(id)` gives the option
  value, `to_bc(value)` the id. A value without a coupled BC record must be a record error (BC's "Option Mapping
  Failure"), never a blanked BC field (`OptionMappingFailed`).
- Sales orders, quotes and invoices have their own picklists of the same names (`paymenttermscode`,
  `freighttermscode`, `shippingmethodcode`); BC uses the same codes there, so each option mapping names them
  (`document_picklists`) and every run keeps their values and labels equal to the account's
  (`engine/document_options.py`).
- In a full synchronization an option mapping couples BC's codes when BC has any (`FullSyncRule.COUPLE`): Sales'
  side is a picklist, with no rows to copy.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.domain.mapping import FieldMapping, FullSyncRule, MappingKind, TableMapping
from shared.mappings.common import NO_SHIPPING_AGENT, SYNC_SCHEDULE, TO, missing

PAYMENT_TERMS = TableMapping(
    name="PAYMENT TERMS",
    bc_entity="paymentTerms",
    bc_entity_set="paymentTerms",
    dataverse_table="account",
    dataverse_entity_set="accounts",
    dataverse_id="paymenttermscode",
    direction=TO,
    bc_default_table="Payment Terms",
    kind=MappingKind.OPTION_SET,
    option_map="paymentTerms",
    document_picklists=(
        ("salesorder", "paymenttermscode"), ("quote", "paymenttermscode"), ("invoice", "paymenttermscode"),
    ),
    full_sync=FullSyncRule.COUPLE,
    sync_only_coupled=True,
    create_if_no_match=True,
    sync_after_coupling=True,
    schedule=SYNC_SCHEDULE,
    fields=(
        FieldMapping(
            "code",
            "paymenttermscode",
            TO,
            match_priority=1,
            bc_default_field="Code",
            note="The option's label is the BC code (BC's default match criterion).",
        ),
    ),
    note="Option mapping on account.paymenttermscode; builds the option map 'paymentTerms'.",
)

SHIPMENT_METHOD = TableMapping(
    name="SHIPMENT METHOD",
    bc_entity="shipmentMethod",
    bc_entity_set="shipmentMethods",
    dataverse_table="account",
    dataverse_entity_set="accounts",
    dataverse_id="address1_freighttermscode",
    direction=TO,
    bc_default_table="Shipment Method",
    kind=MappingKind.OPTION_SET,
    option_map="shipmentMethods",
    document_picklists=(("salesorder", "freighttermscode"), ("quote", "freighttermscode")),  # no invoice freight terms
    full_sync=FullSyncRule.COUPLE,
    sync_only_coupled=True,
    create_if_no_match=True,
    sync_after_coupling=True,
    schedule=SYNC_SCHEDULE,
    fields=(
        FieldMapping(
            "code",
            "address1_freighttermscode",
            TO,
            match_priority=1,
            bc_default_field="Code",
            note=(
                "BC creates this field mapping FromIntegrationTable and its own reset action turns it "
                "ToIntegrationTable like the table mapping; we use the latter."
            ),
        ),
    ),
    note="Option mapping on account.address1_freighttermscode (freight terms); builds the map 'shipmentMethods'.",
)

SHIPPING_AGENT = TableMapping(
    name="SHIPPING AGENT",
    bc_entity="shippingAgent",
    bc_entity_set="shippingAgents",
    dataverse_table="account",
    dataverse_entity_set="accounts",
    dataverse_id="address1_shippingmethodcode",
    direction=TO,
    bc_default_table="Shipping Agent",
    kind=MappingKind.OPTION_SET,
    option_map="shippingAgents",
    document_picklists=(
        ("salesorder", "shippingmethodcode"), ("quote", "shippingmethodcode"), ("invoice", "shippingmethodcode"),
    ),
    full_sync=FullSyncRule.COUPLE,
    enabled=False,
    fields=(),
    gaps=(missing("Code", "address1_shippingmethodcode", NO_SHIPPING_AGENT),),
    note="Gap-only: a companion-extension API page over Shipping Agent (table 291) would make it possible.",
)

MAPPINGS = (PAYMENT_TERMS, SHIPMENT_METHOD, SHIPPING_AGENT)

OPTION_MAPS: Mapping[str, str] = {m.option_map: m.name for m in MAPPINGS if m.option_map}
"""Option map name (the `<name>` of a transform `option:<name>`) -> the option mapping whose couplings build it, as
the option mappings declare it (the catalog test checks every `option:` transform names one)."""
