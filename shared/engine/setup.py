"""Connection and document setup (BC's "Dynamics 365 Connection Setup" plus the Sales & Receivables write-in fields):
defaults from app settings, overrides stored in Table Storage (`Settings`, partition `setup`), one etag for the page.

Why both sources: a deployment sets its defaults as app settings (Bicep, no portal clicks), and an admin changes a
value from the API or console without a redeploy; `GET` says where each value comes from (`appSetting`, `default`,
`override`), and `PATCH` with `null` drops an override so the app setting applies again.

Why the write-in check: BC's write-in item or resource is "never synchronized as a product". If it were coupled to a
Sales product, that product's lines would come back as write-ins and the item's sync would fight the write-in
texts, so a coupled write-in product is refused (409, naming the coupling), as BC's setup page refuses it. The
coupling is looked for in the mapping that leaves the write-in product out (`write_in_mapping`: declared by the
catalog, never named here).

Why the freight account check: BC writes a Sales order's freight as a line of Sales & Receivables Setup's "Freight
G/L Acc. No." (bc-integration-facts "sales order creation from dataverse"), and a Sales line takes only a G/L
account that exists, is a posting account, is not blocked and allows direct posting; an account that cannot take
the line is refused when it is set (400 naming `freightGLAccountNumber`), not when the first order with freight
comes. Checked against API v2.0 `accounts` (read-only in BC).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.domain.documents import WRITE_IN_BEHAVIOUR, WRITE_IN_SETS, WRITE_IN_TYPES, WriteInProduct
from shared.domain.errors import ConflictError, FatalError, InvalidInputError
from shared.domain.mapping import TableMapping
from shared.ports import BusinessCentralClientPort, CouplingStore, SettingsStore

PARTITION = "setup"
BLANK = "\t\n\v\f\r "  # what counts as blank: the same ASCII set as the API document's patterns (http_support)
# CDS Connection Setup "Ownership Model" (Person, Team): microsoft/BCApps src/Layers/W1/BaseApp/Integration/Dataverse/
# CDSConnectionSetup.Table.al; what each means for the records written: connectors/dataverse/company_scope.py
OWNERSHIP_MODELS = ("person", "team")


@dataclass(frozen=True)
class SetupKey:
    """One setup value: its app setting, its type and the value when neither app setting nor override is set."""

    name: str
    app_setting: str
    kind: type
    default: Any
    description: str


KEYS = (
    SetupKey("salesOrderIntegrationEnabled", "SALES_ORDER_INTEGRATION_ENABLED", bool, False,
             "Orders from Sales become BC orders, and SALESORDER-ORDER keeps Sales informed of their progress."),
    SetupKey("autoCreateSalesOrders", "AUTO_CREATE_SALES_ORDERS", bool, False,
             "The timer creates BC orders from submitted Sales orders (else only on request)."),
    SetupKey("autoProcessQuotes", "AUTO_PROCESS_SALES_QUOTES", bool, False,
             "The timer processes active and won Sales quotes (else only on request)."),
    SetupKey("writeInProductType", "WRITE_IN_PRODUCT_TYPE", str, "Item", "Item or Resource."),
    SetupKey("writeInProductNumber", "WRITE_IN_PRODUCT_NO", str, "",
             "The BC item or resource number write-in lines use (Code[20])."),
    SetupKey("freightGLAccountNumber", "FREIGHT_GL_ACCOUNT_NO", str, "",
             "The BC G/L account (Code[20]) of the line a Sales order's or quote's freight amount becomes."),
    SetupKey("bcCompany", "BC_COMPANY", str, "", "The Business Central company (name or id)."),
    SetupKey("ownershipModel", "OWNERSHIP_MODEL", str, "person",
             "Who owns what the sync creates in Sales: person (the salesperson's user) or team (the company's "
             "default owning team, BC's Team ownership model)."),
    SetupKey("pageServices", "BC_PAGE_SERVICES", dict, {},
             "Service names the admin published for page-backed entities (entity -> service name)."),
)  # fmt: skip
BY_NAME = {key.name: key for key in KEYS}


@dataclass(frozen=True)
class Setup:
    values: dict[str, Any]
    sources: dict[str, str]  # name -> appSetting | default | override
    etag: str | None

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def write_in(self) -> WriteInProduct | None:
        number = str(self.values["writeInProductNumber"] or "")
        return WriteInProduct(str(self.values["writeInProductType"]), number) if number else None

    @property
    def ownership_model(self) -> str:
        """`person` (default) or `team`."""
        return str(self.values.get("ownershipModel") or "person")

    @property
    def freight_account(self) -> str:
        """Sales & Receivables Setup "Freight G/L Acc. No." (ours): blank when not set."""
        return str(self.values.get("freightGLAccountNumber") or "")

    def as_dict(self) -> dict[str, Any]:
        return {"values": self.values, "sources": self.sources, "etag": self.etag}


def _from_app_setting(key: SetupKey, raw: str) -> Any:
    if key.kind is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if key.kind is dict:
        return {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip() for p in raw.split(",") if "=" in p}
    if key.name == "ownershipModel":
        return raw.strip().lower()
    return raw.strip()


def read_setup(store: SettingsStore, environment: Mapping[str, str]) -> Setup:
    """The effective setup: override, else app setting, else default."""
    stored, etag = store.get_settings(PARTITION)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in KEYS:
        if key.name in stored:
            values[key.name], sources[key.name] = stored[key.name], "override"
        elif (environment.get(key.app_setting) or "").strip():
            values[key.name] = _from_app_setting(key, environment[key.app_setting])
            sources[key.name] = "appSetting"
        else:
            values[key.name], sources[key.name] = key.default, "default"
    return Setup(values, sources, etag)


def default_setup() -> Setup:
    """The setup with neither app settings nor overrides: what a context built without one (tests) runs with."""
    return read_setup(_Fixed({}, None), {})


def _validated(name: str, value: Any) -> Any:
    key = BY_NAME.get(name)
    if key is None:
        raise InvalidInputError("unknownField", f"Unknown setup value '{name}'.", field=name)
    if value is None:
        return None
    if key.kind is bool and not isinstance(value, bool):
        raise InvalidInputError("invalidValue", f"'{name}' must be true or false.", field=name)
    if name == "writeInProductType" and value not in WRITE_IN_TYPES:
        raise InvalidInputError("invalidValue", f"'{name}' must be one of {', '.join(WRITE_IN_TYPES)}.", field=name)
    if name in ("writeInProductNumber", "freightGLAccountNumber"):
        if not isinstance(value, str) or len(value) > 20:
            raise InvalidInputError("invalidValue", f"'{name}' must be a text of at most 20 characters.", field=name)
        return value.strip().upper()  # Code[20]
    if name == "bcCompany" and (not isinstance(value, str) or not value.strip(BLANK) or len(value) > 100):
        message = f"'{name}' must be a non-empty text of at most 100 characters."
        raise InvalidInputError("invalidValue", message, field=name)
    if name == "ownershipModel" and value not in OWNERSHIP_MODELS:
        raise InvalidInputError("invalidValue", f"'{name}' must be one of {', '.join(OWNERSHIP_MODELS)}.", field=name)
    if name == "pageServices":
        ok = isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) and v.strip(BLANK) and len(v) <= 240 for k, v in value.items()
        )
        if not ok:
            raise InvalidInputError("invalidValue", f"'{name}' must map entity names to service names.", field=name)
    return value


def update_setup(
    store: SettingsStore,
    environment: Mapping[str, str],
    changes: Mapping[str, Any],
    *,
    etag: str | None,
    bc: BusinessCentralClientPort,
    couplings: CouplingStore,
    mappings: Iterable[TableMapping],
    check_page_services: Callable[[Mapping[str, str]], None] | None = None,
) -> Setup:
    """Apply `changes` (None drops an override) if the setup is still at `etag` (the caller's If-Match; None: take
    the current one). Every value is checked before anything is stored, so a refused PATCH changes nothing."""
    cleaned = {name: _validated(name, value) for name, value in changes.items()}
    stored, current_etag = store.get_settings(PARTITION)
    merged = {**stored}
    for name, value in cleaned.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    effective = read_setup(_Fixed(merged, current_etag), environment)
    if "pageServices" in cleaned and check_page_services is not None:
        check_page_services(effective["pageServices"])
    if "bcCompany" in cleaned and cleaned["bcCompany"] is not None:
        try:
            bc.resolve_company(cleaned["bcCompany"])
        except FatalError as error:
            raise InvalidInputError("unknownCompany", error.message, field="bcCompany") from None
    if {"writeInProductType", "writeInProductNumber"} & set(cleaned):
        check_write_in(effective.write_in, bc, couplings, mappings)
    if cleaned.get("freightGLAccountNumber"):
        check_freight_account(effective.freight_account, bc)
    new_etag = store.update_settings(PARTITION, merged, current_etag if etag is None else etag)
    return read_setup(_Fixed(merged, new_etag), environment)


def write_in_mapping(mappings: Iterable[TableMapping], kind: str) -> TableMapping:
    """The product mapping of write-in type `kind` (the catalog's, `SyncContext.catalog`): the one that leaves the
    write-in product out (`excludeWriteIn`) of that type's BC entity set."""
    for mapping in mappings:
        if WRITE_IN_BEHAVIOUR in mapping.behaviours and WRITE_IN_SETS.get(mapping.bc_entity_set) == kind:
            return mapping
    raise LookupError(f"no mapping leaves the write-in {kind.lower()} out (behaviour {WRITE_IN_BEHAVIOUR})")


def check_write_in(
    write_in: WriteInProduct | None,
    bc: BusinessCentralClientPort,
    couplings: CouplingStore,
    mappings: Iterable[TableMapping],
) -> str:
    """The write-in item's or resource's BC id; 400 when BC has no such number, 409 when it is coupled to a product
    (in the mapping of `mappings` that leaves it out)."""
    if write_in is None:
        return ""
    product = write_in_mapping(mappings, write_in.kind)
    entity_set, mapping = product.bc_entity_set, product.name
    literal = write_in.number.replace("'", "''")
    found = [
        row
        for page in bc.list_changed_since(entity_set, None, ["id", "number"], extra_filter=f"number eq '{literal}'")
        for row in page.rows
    ]
    if not found:
        raise InvalidInputError(
            "unknownWriteInProduct",
            f"Business Central has no {write_in.kind.lower()} '{write_in.number}' for write-in lines.",
            field="writeInProductNumber",
        )
    bc_id = str(found[0]["id"])
    coupling = couplings.find_by_bc_id(mapping, bc_id)
    if coupling is not None:
        raise ConflictError(
            "writeInProductCoupled",
            f"The {write_in.kind.lower()} '{write_in.number}' is coupled to the Sales product {coupling.dataverse_id} "
            f"({mapping}); a write-in product is never synchronized as a product. Uncouple it first or choose another.",
            field="writeInProductNumber",
        )
    return bc_id


def check_freight_account(number: str, bc: BusinessCentralClientPort) -> str:
    """The freight G/L account's BC id; 400 naming `freightGLAccountNumber` when BC has no such account or a Sales
    line could not take it (not a posting account, blocked, no direct posting: G/L Account.CheckGLAcc and the Sales
    line's Direct Posting test)."""
    literal = number.replace("'", "''")
    select = ["id", "number", "accountType", "blocked", "directPosting"]
    found = [
        row
        for page in bc.list_changed_since("accounts", None, select, extra_filter=f"number eq '{literal}'")
        for row in page.rows
    ]
    if not found:
        raise InvalidInputError(
            "unknownFreightAccount",
            f"Business Central has no G/L account '{number}' for freight lines.",
            field="freightGLAccountNumber",
        )
    account = found[0]
    problem = (
        "is not a posting account" if account.get("accountType") != "Posting"
        else "is blocked" if account.get("blocked")
        else "does not allow direct posting" if not account.get("directPosting")
        else ""
    )  # fmt: skip
    if problem:
        raise InvalidInputError(
            "unusableFreightAccount",
            f"The G/L account '{number}' {problem}, so a sales line cannot use it for freight.",
            field="freightGLAccountNumber",
        )
    return str(account["id"])


class _Fixed:
    """A read-only view of values not yet stored, so the effective setup is computed once, the same way."""

    def __init__(self, values: dict[str, Any], etag: str | None) -> None:
        self._values, self._etag = values, etag

    def get_settings(self, partition: str) -> tuple[dict[str, Any], str | None]:
        return dict(self._values), self._etag

    def get_all_settings(self) -> dict[str, tuple[dict[str, Any], str | None]]:
        return {PARTITION: self.get_settings(PARTITION)}

    def update_settings(self, partition: str, values: Mapping[str, Any], etag: str | None) -> str:
        raise NotImplementedError("read-only")
