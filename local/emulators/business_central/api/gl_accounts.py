"""G/L accounts (API v2.0 `accounts`, read-only) and the Sales Line rules that need them or the item's own units.

Why here: BC's integration writes a G/L Account line for a Sales order's freight (Sales & Receivables Setup
"Freight G/L Acc. No."; bc-integration-facts "sales order creation from dataverse"), and the sync validates its
freight-account setting against `accounts`. The emulator serves the set (schema: bc_api_v2_additions.json) with a
few seeded accounts (ours, not a Cronus chart) and applies Sales Line's rules for such a line:
- a line of type Account (G/L Account) names an existing account, by `lineObjectNumber` or `accountId` (BC fills the
  other), which must pass G/L Account.CheckGLAcc (not Blocked, Account Type Posting) and, as the line is not a
  system-created entry, have Direct Posting; the line's description defaults to the account's name.
  Source: Sales Line field "No." OnValidate for Type G/L Account (CopyFromGLAccount: GLAcc.Get, CheckGLAcc,
  TestField("Direct Posting", true) unless System-Created Entry), seen in BC-derived copies of SalesLine.Table.al;
  the exact error texts are BC's TestField/Get wording, UNCONFIRMED.
- an Item line's unit of measure must be one of the item's own units (Sales Line "Unit of Measure Code"
  TableRelation "Item Unit of Measure".Code where "Item No." = "No."): a code the item has no Item Unit of Measure
  for is refused, as BC's table relation refuses it (the wording is UNCONFIRMED). The line's unit used to be taken
  without that check; the sync now sends the unit of the Sales line (CRMSalesOrdertoSalesOrder
  UpdateSalesLineUnitOfMeasure validates "Unit of Measure Code" with the coupled Item Unit of Measure's code).
"""

from __future__ import annotations

from collections.abc import Callable

from local.emulators.business_central.api.records import Records
from local.emulators.business_central.errors import dialog
from local.emulators.business_central.naming import table_name
from local.emulators.business_central.schema import EntitySet
from local.emulators.business_central.values import EMPTY_GUID, default_value
from local.emulators.store import Row

ACCOUNTS = "accounts"
ITEM_UNITS = "itemUnitsOfMeasure"
# number, name, category, account type, direct posting, blocked
SEEDED: tuple[tuple[str, str, str, str, bool, bool], ...] = (
    ("6000", "Revenue", "Income", "Heading", False, False),
    ("6110", "Sales, Retail", "Income", "Posting", False, False),
    ("6810", "Freight and Delivery", "Income", "Posting", True, False),
    ("6820", "Freight, old account", "Income", "Posting", True, True),
)


def seed_demo(records: Records, company_id: str, make_id: Callable[[str, str], str]) -> dict[str, int]:
    """The seeded chart (read-only through the API: written straight into the store, as BC's own setup would)."""
    entity_set = records.entity_set(ACCOUNTS)
    for number, name, category, kind, direct, blocked in SEEDED:
        row: Row = {prop.name: default_value(prop) for prop in entity_set.properties.values()}
        row.update(
            {
                "id": make_id("account", number),
                "number": number,
                "displayName": name,
                "category": category,
                "accountType": kind,
                "directPosting": direct,
                "blocked": blocked,
            }
        )
        records.put(company_id, entity_set, row)
    return {ACCOUNTS: len(SEEDED)}


def line_rules(records: Records, company_id: str, entity_set: EntitySet, row: Row, changed: set[str]) -> None:
    """The rules above for one Sales line being written (no-op for other sets and line types)."""
    if entity_set.parent is None or "lineType" not in entity_set.properties or entity_set.read_only:
        return
    line_type = row.get("lineType")
    if line_type == "Account" and changed & {"lineObjectNumber", "accountId", "lineType"}:
        _account_line(records, company_id, row, changed)
    elif line_type == "Item" and changed & {"unitOfMeasureCode", "unitOfMeasureId", "itemId", "lineObjectNumber"}:
        _item_unit(records, company_id, row, changed)


def _account_line(records: Records, company_id: str, row: Row, changed: set[str]) -> None:
    account = None
    if "accountId" in changed and row.get("accountId") not in (None, "", EMPTY_GUID):
        account = records.store.get(table_name(company_id, ACCOUNTS), row["accountId"])
    elif row.get("lineObjectNumber"):
        account = records.find_by(company_id, ACCOUNTS, "number", row["lineObjectNumber"])
    if account is None:
        raise dialog(
            "The G/L Account does not exist. Identification fields and values: "
            f"No.='{row.get('lineObjectNumber') or row.get('accountId')}'"
        )
    number = account["number"]
    if account.get("blocked"):
        raise dialog(f"Blocked must be equal to 'No'  in G/L Account: No.={number}. Current value is 'Yes'.")
    if account.get("accountType") != "Posting":
        raise dialog(
            f"Account Type must be equal to 'Posting'  in G/L Account: No.={number}. "
            f"Current value is '{account.get('accountType')}'."
        )
    if not account.get("directPosting"):
        raise dialog(f"Direct Posting must be equal to 'Yes'  in G/L Account: No.={number}. Current value is 'No'.")
    row["accountId"], row["lineObjectNumber"] = account["id"], number
    if "description" not in changed:
        row["description"] = account.get("displayName", "")


def _item_unit(records: Records, company_id: str, row: Row, changed: set[str]) -> None:
    code = str(row.get("unitOfMeasureCode") or "")
    if not code or not ({"unitOfMeasureCode", "unitOfMeasureId"} & changed):
        return  # the item's base unit, filled by the item line rule
    number = str(row.get("lineObjectNumber") or "")
    units = records.store.rows(table_name(company_id, ITEM_UNITS))
    if not any(str(u.get("Item_No")) == number and str(u.get("Code")).upper() == code.upper() for u in units):
        raise dialog(
            "The Item Unit of Measure does not exist. Identification fields and values: "
            f"Item No.='{number}',Code='{code}'"
        )
