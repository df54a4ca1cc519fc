"""Table triggers and field validations of the page-backed BC tables, as far as the sync can observe them.

Why these and no more: each rule is one a sync could trip over in production and would otherwise only discover
there: a table relation that refuses an unknown number, a price list that cannot be edited once Active (unless
Sales & Receivables Setup allows it), header defaults copied into new lines, the base unit of measure that
creates its unit-of-measure row, number series for a card inserted without a number. Errors are BC's TestField /
table-relation dialogs (400 `Application_DialogException`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from local.emulators.business_central.errors import bad_request, dialog
from local.emulators.business_central.pages.context import Context
from local.emulators.business_central.pages.data import SETUP, ensure_setup, new_row, remove, save
from local.emulators.business_central.schema import NumberSeries
from local.emulators.store import Row

Before = Callable[[Context, Row | None, Row, set[str]], None]
After = Callable[[Context, Row | None, Row | None], None]


def next_number(ctx: Context, family: str, column: str) -> str:
    """The next unused number of the family's series (numbers a client chose are skipped, as BC's No. Series is)."""
    series = NumberSeries(**ctx.schema.overlay["numberSeries"][family])
    index = 0
    while ctx.lookup(family, column, series.format(index)) is not None:
        index += 1
    return series.format(index)


def _relation(ctx: Context, family: str, column: str, value: Any, field: str, table: str, related: str) -> Row:
    row = ctx.lookup(family, column, value)
    if row is None:
        raise dialog(
            f"The field {field} of table {table} contains a value ({value}) that cannot be found in the related "
            f"table ({related})."
        )
    return row


def _unit_exists(ctx: Context, code: str, field: str, table: str) -> None:
    _relation(ctx, "unitsOfMeasure", "code", code, field, table, "Unit of Measure")


# -- Resource (table 156) ----------------------------------------------------------------------------------------
def _resource(ctx: Context, old: Row | None, row: Row, given: set[str]) -> None:
    if old is None and not row.get("No"):
        row["No"] = next_number(ctx, "resources", "No")
    if "Name" in given and "Search_Name" not in given:
        row["Search_Name"] = str(row["Name"]).upper()[:100]
    if "Base_Unit_of_Measure" in given and row["Base_Unit_of_Measure"]:
        _unit_exists(ctx, row["Base_Unit_of_Measure"], "Base Unit of Measure", "Resource")
    row["Last_Date_Modified"] = datetime.now(UTC).date().isoformat()


def _resource_after(ctx: Context, old: Row | None, row: Row | None) -> None:
    """Validating Base Unit of Measure inserts the Resource Unit of Measure (qty 1) when it is missing."""
    if row is None:
        for unit in ctx.rows("resourceUnitsOfMeasure"):
            if old is not None and unit.get("Resource_No") == old["No"]:
                remove(ctx, "resourceUnitsOfMeasure", unit)
        return
    code = row.get("Base_Unit_of_Measure")
    units = ctx.rows("resourceUnitsOfMeasure")
    if code and not any(u.get("Resource_No") == row["No"] and u.get("Code") == code for u in units):
        save(
            ctx,
            "resourceUnitsOfMeasure",
            new_row(ctx, "resourceUnitsOfMeasure", {"Resource_No": row["No"], "Code": code}),
        )


# -- Item / Resource Unit of Measure (tables 5404, 205) ----------------------------------------------------------
def _item_unit(ctx: Context, old: Row | None, row: Row, given: set[str]) -> None:
    item = _relation(ctx, "items", "number", row["Item_No"], "Item No.", "Item Unit of Measure", "Item")
    _unit_exists(ctx, row["Code"], "Code", "Item Unit of Measure")
    _quantity(row, item.get("baseUnitOfMeasureCode") == row["Code"], "Item Unit of Measure")


def _resource_unit(ctx: Context, old: Row | None, row: Row, given: set[str]) -> None:
    resource = _relation(
        ctx, "resources", "No", row["Resource_No"], "Resource No.", "Resource Unit of Measure", "Resource"
    )
    _unit_exists(ctx, row["Code"], "Code", "Resource Unit of Measure")
    _quantity(row, resource.get("Base_Unit_of_Measure") == row["Code"], "Resource Unit of Measure")


def _quantity(row: Row, is_base: bool, table: str) -> None:
    quantity = row.get("Qty_per_Unit_of_Measure") or 0
    if quantity <= 0:
        raise dialog(f"Qty. per Unit of Measure must be greater than 0 in {table}: Code={row['Code']}.")
    if is_base and quantity != 1:
        raise dialog(f"The quantity per base unit of measure must be 1. {row['Code']} is the base unit of measure.")


# -- Price List Header / Line (tables 7000, 7001) ----------------------------------------------------------------
def editable(ctx: Context, header: Row) -> bool:
    """PriceListHeader.IsEditable(): Draft always; Active only with Allow Editing Active Price; Inactive never."""
    if header.get("Status") == "Draft":
        return True
    ensure_setup(ctx)
    setup = ctx.rows(SETUP)[0]
    return header.get("Status") == "Active" and bool(setup.get("Allow_Editing_Active_Price"))


def _status_error(header: Row) -> Exception:
    return dialog(
        f"Status must be equal to 'Draft'  in Price List Header: Code={header.get('Code')}. "
        f"Current value is '{header.get('Status')}'."
    )


def _source(ctx: Context, row: Row, table: str) -> None:
    source_type, number = row.get("Source_Type"), row.get("Source_No")
    if source_type == "Customer Price Group":
        _relation(ctx, "customerPriceGroups", "Code", number, "Assign-to No.", table, "Customer Price Group")
    elif source_type == "Customer":
        _relation(ctx, "customers", "number", number, "Assign-to No.", table, "Customer")
    elif source_type in ("All", "All Customers") and number:
        raise dialog(f"Assign-to No. must be blank for Assign-to Type {source_type} in {table}.")


def _header(ctx: Context, old: Row | None, row: Row, given: set[str]) -> None:
    if old is None and not row.get("Code"):
        row["Code"] = next_number(ctx, "priceListHeaders", "Code")
    if old is not None and given - {"Status"} and not editable(ctx, old):
        raise _status_error(old)
    if given & {"Source_Type", "Source_No"}:
        _source(ctx, row, "Price List Header")
    if "Currency_Code" in given and row["Currency_Code"]:
        _relation(ctx, "currencies", "code", row["Currency_Code"], "Currency Code", "Price List Header", "Currency")


def _header_after(ctx: Context, old: Row | None, row: Row | None) -> None:
    """Lines follow their header: deleted with it, Status copied, defaults copied unless Allow Updating Defaults."""
    code = (row or old or {}).get("Code")
    for line in ctx.rows("priceListLines"):
        if line.get("Price_List_Code") != code:
            continue
        if row is None:
            remove(ctx, "priceListLines", line)
            continue
        columns = ["Status"] if row.get("Allow_Updating_Defaults") else ctx.schema.overlay["headerDefaults"]
        changes = {c: row[c] for c in columns if c in row and line.get(c) != row[c]}
        if changes:
            save(ctx, "priceListLines", {**line, **changes})


def _header_delete(ctx: Context, old: Row | None, row: Row, given: set[str]) -> None:
    if not editable(ctx, row):
        raise _status_error(row)


def _line(ctx: Context, old: Row | None, row: Row, given: set[str]) -> None:
    header = _relation(
        ctx,
        "priceListHeaders",
        "Code",
        row["Price_List_Code"],
        "Price List Code",
        "Price List Line",
        "Price List Header",
    )
    if not editable(ctx, header):
        raise _status_error(header)
    if old is None:
        if int(row.get("Line_No") or 0) <= 0:
            raise bad_request("Line_No must be given (a positive integer) when a price list line is inserted.")
        for column in ctx.schema.overlay["headerDefaults"]:
            if column in header and (column not in given or column == "Status"):
                row[column] = header[column]
        if "Amount_Type" not in given and header.get("Amount_Type") != "Any":
            row["Amount_Type"] = header.get("Amount_Type")
    if given & {"Source_Type", "Source_No"}:
        _source(ctx, row, "Price List Line")
    if given & {"Asset_Type", "Asset_No"}:
        _asset(ctx, row, given)


def _asset(ctx: Context, row: Row, given: set[str]) -> None:
    """Validating Asset No. fills Description and the unit from the item or resource (a twin pair is mirrored)."""
    asset_type, number = row.get("Asset_Type"), row.get("Asset_No")
    if asset_type == "Item":
        item = _relation(ctx, "items", "number", number, "Product No.", "Price List Line", "Item")
        description, unit = item.get("displayName", ""), item.get("baseUnitOfMeasureCode", "")
    elif asset_type == "Resource":
        resource = _relation(ctx, "resources", "No", number, "Product No.", "Price List Line", "Resource")
        description, unit = resource.get("Name", ""), resource.get("Base_Unit_of_Measure", "")
    else:
        return
    if "Description" not in given:
        row["Description"] = description
    if "Unit_of_Measure_Code" not in given:
        row["Unit_of_Measure_Code"] = row["Unit_of_Measure_Code_Lookup"] = unit


def _line_delete(ctx: Context, old: Row | None, row: Row, given: set[str]) -> None:
    header = ctx.lookup("priceListHeaders", "Code", row.get("Price_List_Code"))
    if header is not None and not editable(ctx, header):
        raise _status_error(header)


# -- Sales & Receivables Setup (table 311) -----------------------------------------------------------------------
def _setup(ctx: Context, old: Row | None, row: Row, given: set[str]) -> None:
    changed_type = old is not None and old.get("Write_in_Product_Type") != row["Write_in_Product_Type"]
    if changed_type and "Write_in_Product_No" not in given:  # OnValidate of the type clears the number
        row["Write_in_Product_No"] = ""
    number = row.get("Write_in_Product_No")
    if given & {"Write_in_Product_Type", "Write_in_Product_No"} and number:
        if row.get("Write_in_Product_Type") == "Resource":
            _relation(ctx, "resources", "No", number, "Write-in Product No.", "Sales & Receivables Setup", "Resource")
        else:
            _relation(ctx, "items", "number", number, "Write-in Product No.", "Sales & Receivables Setup", "Item")


def _nothing(ctx: Context, old: Row | None, row: Row, given: set[str]) -> None:
    return None


BEFORE_WRITE: dict[str, Before] = {
    "resources": _resource,
    "itemUnitsOfMeasure": _item_unit,
    "resourceUnitsOfMeasure": _resource_unit,
    "priceListHeaders": _header,
    "priceListLines": _line,
    SETUP: _setup,
}
BEFORE_DELETE: dict[str, Before] = {"priceListHeaders": _header_delete, "priceListLines": _line_delete}
AFTER: dict[str, After] = {"resources": _resource_after, "priceListHeaders": _header_after}


def before_write(ctx: Context, family: str, old: Row | None, row: Row, given: set[str]) -> None:
    BEFORE_WRITE.get(family, _nothing)(ctx, old, row, given)


def before_delete(ctx: Context, family: str, row: Row) -> None:
    BEFORE_DELETE.get(family, _nothing)(ctx, None, row, set())


def after(ctx: Context, family: str, old: Row | None, row: Row | None) -> None:
    hook = AFTER.get(family)
    if hook is not None:
        hook(ctx, old, row)
