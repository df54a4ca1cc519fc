"""The identity rule: a record the engine created on one side, and the record it was created from, are one pair.

Every record the engine creates gets the deterministic id of its source (`sides.deterministic_id`), and its coupling
is written before the create (`Creator._claim`). So a row whose id is the deterministic id of a record on the other
side *is* that record's partner: when both come in uncoupled (a coupling deleted with BC's "Delete Coupling", or lost
to an older version's crash), they are coupled again, never copied a second time. Why it matters: without it, a
mapping that creates in both directions turns one uncoupled pair into two (the customer makes an account, the
account makes a customer).

Among a run's candidates only ids are compared (no read). A partner that is not among them is adopted by the create
itself when the create writes to the partner's id (an upsert in Dataverse, a create that BC answers with the existing
row). The one case the ids cannot tell is a record created *by* the engine coming in alone, its source unchanged: the
source's id cannot be computed back from a uuid5. For that, BC's Delete Coupling keeps each record's former partner
(`CouplingStore.former_partners`); a mapping with none costs one one-row read per run.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.domain.coupling import Coupling
from shared.domain.records import Side
from shared.engine.context import SyncContext
from shared.engine.sides import deterministic_id


def is_identity_pair(mapping: str, bc_id: str, dataverse_id: str) -> bool:
    """Whether one of the two records was created from the other by the engine."""
    return dataverse_id.lower() == deterministic_id(mapping, "bc", bc_id) or bc_id.lower() == deterministic_id(
        mapping, "dv", dataverse_id
    )


def former_pairs(
    context: SyncContext, mapping: str, uncoupled_bc: Iterable[str], uncoupled_dv: Iterable[str]
) -> dict[str, str]:
    """BC id -> Dataverse id of uncoupled candidates whose former partner (kept by Delete Coupling) is their
    identity partner. The partner may not be a candidate: the caller checks that it still exists."""
    bc_ids, dv_ids = list(uncoupled_bc), list(uncoupled_dv)
    store = context.couplings
    if not (bc_ids or dv_ids) or not store.has_former_couplings(mapping):
        return {}
    pairs = {
        b: x for b, x in store.former_partners(mapping, Side.BC, bc_ids).items() if is_identity_pair(mapping, b, x)
    }
    taken = set(pairs.values())
    for x, b in store.former_partners(mapping, Side.DATAVERSE, dv_ids).items():
        if b not in pairs and x not in taken and is_identity_pair(mapping, b, x):
            pairs[b] = x
            taken.add(x)
    return pairs


def identity_pairs(mapping: str, uncoupled_bc: Iterable[str], uncoupled_dv: Iterable[str]) -> dict[str, str]:
    """BC id -> Dataverse id of the uncoupled records that are each other's deterministic partner, each id once."""
    bc_ids = {i.lower(): i for i in uncoupled_bc}
    dv_ids = {i.lower(): i for i in uncoupled_dv}
    pairs: dict[str, str] = {}
    taken: set[str] = set()
    for bc_id in sorted(bc_ids.values()):
        partner = dv_ids.get(deterministic_id(mapping, "bc", bc_id))
        if partner is not None:
            pairs[bc_id] = partner
            taken.add(partner)
    for dv_id in sorted(dv_ids.values()):
        partner = bc_ids.get(deterministic_id(mapping, "dv", dv_id))
        if partner is not None and partner not in pairs and dv_id not in taken:
            pairs[partner] = dv_id
            taken.add(dv_id)
    return pairs


def adopt(context: SyncContext, mapping: str, pairs: dict[str, str]) -> dict[str, Coupling]:
    """Couple each identity pair (BC id -> the new coupling), in one batch. A pair one of whose records was coupled
    meanwhile (another worker, a user) is left: the coupling table as of now wins."""
    wanted = [Coupling(mapping, bc_id, dataverse_id) for bc_id, dataverse_id in pairs.items()]
    made = context.couplings.create_couplings(wanted) if wanted else []  # one batch: 50 couplings a transaction
    return {coupling.bc_id: coupling for coupling in made if coupling is not None}
