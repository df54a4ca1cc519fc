"""OPPORTUNITY: BC opportunities <-> Dataverse opportunities, as far as API v2.0 carries them.

Why it is thin: API v2.0 opportunities make the figures read-only and expose the contact's company only as a name,
so of BC's ten default fields the description, contact, owner, estimates and closing figures travel, the company
account does not. BC schedules no job for this mapping (it runs in full synchronization and on demand), and it is
not sync-only-coupled: open BC opportunities are created in Sales when it runs.
"""

from __future__ import annotations

from shared.domain.mapping import FieldMapping, Lookup, TableMapping
from shared.mappings.common import BOTH, TO, missing, owner, owner_type_gap

OPPORTUNITY = TableMapping(
    name="OPPORTUNITY",
    bc_entity="opportunity",
    bc_entity_set="opportunities",
    dataverse_table="opportunity",
    dataverse_entity_set="opportunities",
    dataverse_id="opportunityid",
    direction=BOTH,
    bc_default_table="Opportunity",
    bc_filter="status eq 'Not_x0020_Started' or status eq 'In_x0020_Progress'",
    dependencies=("CONTACT",),
    sync_only_coupled=False,
    fields=(
        FieldMapping(
            "description",
            "name",
            BOTH,
            transform="truncate100",
            bc_default_field="Description",
            note="BC Description is Text[100], the opportunity topic up to 300 characters.",
        ),
        FieldMapping(
            "contactNumber",
            "parentcontactid",
            TO,
            lookup=Lookup("CONTACT", "contacts", "parentcontactid", bc_key="number", bc_entity_set="contacts"),
            bc_default_field="Contact No.",
        ),
        owner(),
        FieldMapping("estimatedValue", "estimatedvalue", TO, bc_default_field="Estimated Value (LCY)"),
        FieldMapping(
            "estimatedClosingDate",
            "estimatedclosedate",
            TO,
            transform="blankToNull",
            bc_default_field="Estimated Closing Date",
        ),
        FieldMapping(
            "dateClosed",
            "actualclosedate",
            TO,
            transform="blankToNull",
            enabled=False,
            bc_default_field="Date Closed",
            note="Added disabled by BC.",
        ),
        FieldMapping(
            "calculatedCurrentValue",
            "actualvalue",
            TO,
            enabled=False,
            bc_default_field="Calcd. Current Value (LCY)",
            note="Added disabled by BC.",
        ),
    ),
    gaps=(
        missing(
            "Contact Company No.",
            "parentaccountid",
            "API v2.0 opportunities expose the contact's company only as a name (contactCompanyName); BC resolves "
            "the account through the company contact's business relation, which needs a lookup `Lookup` cannot "
            "express yet (as for CONTACT's parent).",
        ),
        owner_type_gap(),
        missing(
            "Probability %",
            "closeprobability",
            "Probability % is not exposed by API v2.0 opportunities (chancesOfSuccessPrc is another BC field, "
            "Chances of Success %).",
        ),
    ),
    note="Only the name flows back from Sales; BC's filter keeps opportunities that are Not Started or In Progress.",
)

MAPPINGS = (OPPORTUNITY,)
