"""SALESPEOPLE: Dataverse users -> BC salespeople (BC's default direction: FromIntegrationTable).

Why this direction: users are administered in Entra ID / Dataverse, and BC only needs them to resolve the owner of
accounts, contacts and documents (Person ownership model).

Why salespeople are never created in BC (`creates_in_bc=False`): a salesperson's Code is the primary key of table 13
"Salesperson/Purchaser", NotBlank, and nothing can fill it from a user: the table has no number series, and BC's own
subscriber (CRMIntTableSubscriber, UpdateSalesPersOnBeforeInsertRecord, microsoft/BCApps) invents a code only for the
legacy CRM connection and leaves it blank when the Dataverse integration is on, so the insert fails. BC's Full Synch.
Review therefore asks the admin to couple every salesperson to a user before the full synchronization ("Couple
Salespeople"). Our full synchronization's SALESPEOPLE line does that coupling itself: it keeps BC's recommendation
(always Full Synchronization), couples BC's salespeople to users by the match criterion below (the sign-in e-mail),
then copies the users' values to the coupled salespeople, and leaves (and counts) the users without a salesperson.
"""

from __future__ import annotations

from shared.domain.mapping import FieldMapping, FullSyncRule, TableMapping
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
    creates_in_bc=False,
    schedule=SYNC_SCHEDULE,
    full_sync=FullSyncRule.ALWAYS_FULL,  # users are never created, only coupled and read
    fields=(
        FieldMapping(
            "email",
            "internalemailaddress",
            FROM,
            match_priority=1,
            bc_default_field="E-Mail",
            note=(
                "Our match criterion: the sign-in e-mail identifies a user; BC defines no default criteria. A full "
                "synchronization couples by it (salespeople are never created in BC)."
            ),
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
        "salespeoplePurchasers is a recent addition: older tenants do not expose it. Salespeople are never created "
        "in BC (the Code is a key a person chooses; BC refuses a blank one): a full synchronization couples BC's "
        "salespeople to users by e-mail, copies the users' values to the coupled ones and counts the users left "
        "without a salesperson."
    ),
)

MAPPINGS = (SALESPEOPLE,)
