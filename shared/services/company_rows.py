"""A BC company's own rows in Dataverse: its `bcbi_company` row and, for the Team ownership model, the business unit
and default owning team BC makes for it (issue 22). BC does both in CDSIntegrationImpl.SyncCompany (microsoft/BCApps
src/Layers/W1/BaseApp/Integration/Dataverse/CDSIntegrationImpl.Codeunit.al) when the integration is set up; here they
are made the first time a company's run needs them, and every later call only reads.

Rules and their sources (SyncCompany unless said otherwise):
- A company's row is the `bcbi_company` whose `bcbi_externalid` is the BC company's SystemId written in lower case
  without braces (GetCompanyExternalId: Format(SystemId).ToLower() with '{' and '}' removed; Text[36]). A new row has
  that external id and `bcbi_name` = the company name cut to 30 characters (CDS Company.Name is Text[30]).
- The root business unit is the one without a parent (RootCRMBusinessunit.SetRange(ParentBusinessUnitId, empty GUID)),
  not WhoAmI's: the caller's business unit need not be the root.
- The company's business unit is a child of the root named "<company name> (<external id>)" cut to 160 characters
  (BusinessUnitNameTemplateTok '%1 (%2)', GetDefaultBusinessUnitName); a child of the root whose name ends in
  " (<external id>)" is taken as well (an admin may have renamed it: BusinessUnitNameSuffixTok).
- Its owning team is the non-default team of that business unit named "BCI - <business unit name>" cut to 160
  (TeamNameTemplateTok, GetOwningTeamName, FilterTeam: IsDefault = false), an Owner team.
- The company row names the team as `bcbi_defaultowningteam` and is owned by it (a new CDS Company gets OwnerIdType
  team and OwnerId = the team); an existing row keeps a default owning team it has already (it is set only when
  empty) - so a company BC itself has set up keeps BC's team.
Not done (UNCONFIRMED in the emulator, which has no roles): BC assigns the integration user's role to the team
(AssignTeamRole) and fails when the business unit has no copy of it; BC's connection setup may name another business
unit (CDS Connection Setup "Business Unit Id"), which then gets the team instead.

Why race-safe: every row made here has an id derived from the company's external id (uuid5) and is written with a
create-only write (`create_row`: an existing row with that id is success), so two callers that both found nothing
make one row, not two; the lookups come first, so a row BC made (another id) is found and used.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from shared.domain.errors import FatalError, NotFoundError
from shared.ports import DataverseClientPort, Row

COMPANIES, BUSINESS_UNITS, TEAMS = "bcbi_companies", "businessunits", "teams"
NAME_LENGTH, UNIT_NAME_LENGTH = 30, 160
OWNER_TEAM = 0
_NAMESPACE = uuid.UUID("6f1d2a4c-3b7e-4c59-9e0a-8d5b2c7f1e34")


def external_id(bc_company_id: str) -> str:
    """The BC company's SystemId as BC writes it to `bcbi_externalid`: lower case, no braces."""
    try:
        return str(uuid.UUID(str(bc_company_id).strip().strip("{}")))
    except ValueError:
        raise FatalError("InvalidCompanyId", f"The BC company id '{bc_company_id}' is not a GUID.") from None


def company_row_id(external: str) -> str:
    """The id this app gives a company's `bcbi_company` row (BC's own rows have random ids)."""
    return str(uuid.uuid5(_NAMESPACE, f"bcbi_company:{external}"))


def business_unit_name(company_name: str, external: str) -> str:
    return f"{company_name} ({external})"[:UNIT_NAME_LENGTH]


def team_name(unit_name: str) -> str:
    return f"BCI - {unit_name}"[:UNIT_NAME_LENGTH]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _first(dataverse: DataverseClientPort, entity_set: str, select: list[str], where: str) -> Row | None:
    """The row with the lowest id among those matching (the same answer for every caller)."""
    rows: list[Row] = []
    for page in dataverse.list_changed_since(entity_set, None, select, extra_filter=where):
        rows += page.rows
    return min(rows, key=lambda row: str(row[select[0]])) if rows else None


def find_company_row(dataverse: DataverseClientPort, bc_company_id: str) -> str | None:
    external = external_id(bc_company_id)
    mine = company_row_id(external)
    rows: list[Row] = []
    for page in dataverse.list_changed_since(
        COMPANIES, None, ["bcbi_companyid"], extra_filter=f"bcbi_externalid eq {_literal(external)}"
    ):
        rows += page.rows
    ids = sorted(str(row["bcbi_companyid"]) for row in rows)
    return mine if mine in ids else (ids[0] if ids else None)  # ours first: every caller of this app agrees


def ensure_company_row(dataverse: DataverseClientPort, bc_company_id: str, bc_company_name: str) -> str:
    """The id of the BC company's `bcbi_company` row, made when there is none."""
    found = find_company_row(dataverse, bc_company_id)
    if found is not None:
        return found
    external = external_id(bc_company_id)
    row_id = company_row_id(external)
    body = {"bcbi_externalid": external, "bcbi_name": bc_company_name[:NAME_LENGTH]}
    dataverse.create_row(COMPANIES, row_id, body)  # create-only: a concurrent caller's identical row is success
    return row_id


def root_business_unit(dataverse: DataverseClientPort) -> str:
    root = _first(dataverse, BUSINESS_UNITS, ["businessunitid"], "_parentbusinessunitid_value eq null")
    if root is None:
        raise FatalError("NoRootBusinessUnit", "Dataverse answered no business unit without a parent.")
    return str(root["businessunitid"])


def ensure_owning_team(
    dataverse: DataverseClientPort,
    company_row_id: str,
    bc_company_name: str,
    root_business_unit_id: str | None = None,
) -> str:
    """The company's default owning team: the one its `bcbi_company` row names, else the team (and business unit)
    BC would make for it, made when missing and then named on the row."""
    company = dataverse.get_row(COMPANIES, company_row_id, ["bcbi_externalid", "_bcbi_defaultowningteam_value"])
    if company is None:
        raise NotFoundError("companyNotFound", f"No bcbi_company row {company_row_id}.")
    if company.get("_bcbi_defaultowningteam_value"):
        return str(company["_bcbi_defaultowningteam_value"])
    external = external_id(str(company.get("bcbi_externalid") or ""))
    root = root_business_unit_id or root_business_unit(dataverse)
    unit = _ensure_business_unit(dataverse, root, business_unit_name(bc_company_name, external), external)
    team = _ensure_team(dataverse, unit, external)
    bind = f"/{TEAMS}({team})"
    dataverse.update_row(
        COMPANIES, company_row_id, {"bcbi_defaultowningteam@odata.bind": bind, "ownerid@odata.bind": bind}
    )
    return team


def _ensure_business_unit(dataverse: DataverseClientPort, root: str, name: str, external: str) -> str:
    under_root = f"_parentbusinessunitid_value eq {root}"
    for where in (f"{under_root} and name eq {_literal(name)}", f"{under_root} and endswith(name,' ({external})')"):
        found = _first(dataverse, BUSINESS_UNITS, ["businessunitid", "name"], where)
        if found is not None:
            return str(found["businessunitid"])
    unit_id = str(uuid.uuid5(_NAMESPACE, f"businessunit:{external}"))
    body: Mapping[str, Any] = {"name": name, "parentbusinessunitid@odata.bind": f"/{BUSINESS_UNITS}({root})"}
    dataverse.create_row(BUSINESS_UNITS, unit_id, body)
    return unit_id


def _ensure_team(dataverse: DataverseClientPort, unit: str, external: str) -> str:
    unit_row = dataverse.get_row(BUSINESS_UNITS, unit, ["name"]) or {}
    name = team_name(str(unit_row.get("name") or ""))
    where = f"_businessunitid_value eq {unit} and isdefault eq false and name eq {_literal(name)}"
    found = _first(dataverse, TEAMS, ["teamid", "name"], where)
    if found is not None:
        return str(found["teamid"])
    team_id = str(uuid.uuid5(_NAMESPACE, f"team:{external}"))
    body = {"name": name, "teamtype": OWNER_TEAM, "businessunitid@odata.bind": f"/{BUSINESS_UNITS}({unit})"}
    dataverse.create_row(TEAMS, team_id, body)
    return team_id
