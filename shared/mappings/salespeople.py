"""SALESPEOPLE: Dataverse users -> BC salespeople (BC's default direction: FromIntegrationTable).

Why this direction: users are administered in Entra ID / Dataverse, and BC only needs them to resolve the owner of
accounts, contacts and documents (Person ownership model). BC never creates salespeople by sync (it is coupling
only, no "create if no match"): a salesperson Code is a BC key a person chooses.
"""

from __future__ import annotations

from shared.domain.mapping import FieldMapping, TableMapping
from shared.mappings.common import FROM, SYNC_SCHEDULE

SALESPEOPLE = TableMapping(
    name="SALESPEOPLE",
    bc_entity="salesperson",
    bc_entity_set="salespeoplePurchasers",
    dataverse_table="systemuser",
    dataverse_entity_set="systemusers",
    dataverse_id="systemuserid",
    direction=FROM,
    bc_default_table="Salesperson/Purchaser",
    dataverse_filter="isdisabled eq false and islicensed eq true and isintegrationuser eq false",
    sync_only_coupled=True,
    schedule=SYNC_SCHEDULE,
    fields=(
        FieldMapping(
            "email",
            "internalemailaddress",
            FROM,
            match_priority=1,
            bc_default_field="E-Mail",
            note="Our match criterion: the sign-in e-mail identifies a user; BC defines no default criteria.",
        ),
        FieldMapping(
            "displayName",
            "fullname",
            FROM,
            transform="truncate50",
            bc_default_field="Name",
            note="BC Name is Text[50], fullname up to 200 characters.",
        ),
        FieldMapping("phoneNo", "mobilephone", FROM, bc_default_field="Phone No."),
        FieldMapping(
            "jobTitle",
            "jobtitle",
            FROM,
            enabled=False,
            bc_default_field="Job Title",
            note="Added disabled by BC (bidirectional there; only the mapping's direction can apply).",
        ),
        FieldMapping(
            "email2",
            "personalemailaddress",
            FROM,
            enabled=False,
            bc_default_field="E-Mail 2",
            note="Added disabled by BC (bidirectional there; only the mapping's direction can apply).",
        ),
    ),
    note=(
        "Only the Person ownership model uses this mapping (with Team ownership BC deletes it). API v2.0 "
        "salespeoplePurchasers is a recent addition: older tenants do not expose it."
    ),
)

MAPPINGS = (SALESPEOPLE,)
