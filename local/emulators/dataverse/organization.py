"""The org's business units and teams: the root business unit every org has, the default team of each business unit,
and which principals may own a record.

Why here: in the Team ownership model BC owns what it writes by a team of a business unit made for the company
(`BCI - <business unit>`, CDSIntegrationImpl.Codeunit.al SyncCompany, microsoft/BCApps
src/Layers/W1/BaseApp/Integration/Dataverse/), and a company (`bcbi_company`) names that team as its
`bcbi_defaultowningteam`. So the emulator needs the two tables the team hangs on, and `ownerid` must take a team as
well as a user (dataverse_overlay.json `_lookupNotes`).

Rules and their sources:
- One root business unit (no parent) exists in every org; the emulator puts it back after every reset, with the id
  WhoAmI answers as `BusinessUnitId`, and its default team. Its name is the org's (`emulatororg` here).
- Every business unit has a default team (`isdefault` true, "Information about whether the team is a default
  business unit team": the Team table reference and BC's proxy CRMTeam.Table.al; Microsoft Learn dual-write
  "User-specified team owner" speaks of "the root business unit's default team"), made by the platform when the
  business unit is created; it is an owner team named after the business unit (the name is UNCONFIRMED).
- `ownerid` takes a user or a team: its navigation is of type principal, from which both derive (Microsoft Learn,
  Web API reference "principal EntityType": derived types systemuser and team, `owner_accounts` partnered by
  `ownerid`).
- An access team owns no records ("An access team doesn't own records": MicrosoftDocs/dynamics-365-customer-
  engagement ce/customerengagement/on-premises/admin/manage-teams.md); binding `ownerid` to one is refused. The
  error code and wording are UNCONFIRMED (the emulator's INVALID_ARGUMENT).
- A record always has an owner (`ownerid` is SystemRequired): binding it to null is refused (UNCONFIRMED answer,
  the stricter reading).
Not modelled: owninguser / owningteam / owningbusinessunit (read-only and left empty), team membership, security
roles, what deleting a business unit or a team that owns records does.
"""

from __future__ import annotations

import uuid

from local.emulators.dataverse.errors import invalid
from local.emulators.dataverse.values import now_text
from local.emulators.store import Row, Store

BUSINESS_UNIT = "businessunit"
TEAM = "team"
ROOT_BUSINESS_UNIT_ID = "00000000-0000-0000-0000-00000000b001"  # the BusinessUnitId of WhoAmI
ROOT_BUSINESS_UNIT_NAME = "emulatororg"
ORGANIZATION_ID = "00000000-0000-0000-0000-00000000e001"  # the OrganizationId of WhoAmI and of a webhook's context
OWNER_TEAM = 0
ACCESS_TEAM = 1
_TEAM_NAMESPACE = uuid.UUID("3c5e1f0a-8d2b-4f6e-9a7c-1b0d2e4f6a8c")


def default_team_id(business_unit_id: str) -> str:
    """The default team's id follows from its business unit's (the real one is random; this one is stable)."""
    return str(uuid.uuid5(_TEAM_NAMESPACE, f"default-team:{business_unit_id}"))


def default_team(business_unit: Row) -> Row:
    """The owner team the platform makes with a business unit (not stamped: the writer stamps it)."""
    business_unit_id = str(business_unit["businessunitid"])
    return {
        "teamid": default_team_id(business_unit_id),
        "name": business_unit.get("name"),
        "_businessunitid_value": business_unit_id,
        "teamtype": OWNER_TEAM,
        "isdefault": True,
    }


def ensure_root(store: Store) -> None:
    """The root business unit and its default team, unless they are there (untracked, like the app's user)."""
    if store.get(BUSINESS_UNIT, ROOT_BUSINESS_UNIT_ID) is not None:
        return
    with store.transaction():
        now = now_text()
        root: Row = {
            "businessunitid": ROOT_BUSINESS_UNIT_ID,
            "name": ROOT_BUSINESS_UNIT_NAME,
            "_parentbusinessunitid_value": None,
            "isdisabled": False,
        }
        for table, row_id, row in (
            (BUSINESS_UNIT, ROOT_BUSINESS_UNIT_ID, root),
            (TEAM, default_team_id(ROOT_BUSINESS_UNIT_ID), default_team(root)),
        ):
            version = store.next_version()
            row.update({"versionnumber": version, "createdon": now, "modifiedon": now})
            store.put(table, row_id, row, version=version, track=False)


def check_owner(target_table: str, target: Row | None) -> None:
    """`ownerid` may name a user or an owner team, and may not be emptied."""
    if target is None:
        raise invalid("A record must have an owner: ownerid cannot be set to null.")
    if target_table == TEAM and target.get("teamtype") == ACCESS_TEAM:
        raise invalid(f"The team '{target.get('name')}' is an access team: an access team cannot own records.")
