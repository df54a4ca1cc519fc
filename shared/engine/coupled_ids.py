"""Which Dataverse id a lookup's BC record is coupled to, and back: read once per full-synchronization run.

Why: a lookup resolves a record's reference (a contact's company, an item's unit group) through the couplings of the
mapping it points to. A chunk's references are scattered over that mapping's whole partition (a chunk of 200 persons
names about 200 customers in no key order), so reading them per chunk cost a range over the whole CUSTOMER
partition: about ten requests of 1,000 rows per CONTACT chunk at 10,000 customers, 510 requests in a 26,000-record
full synchronization, most of its Table traffic and CPU. In a full-synchronization chunk (`run_cache.current_run()`)
the pointed-to mapping's pairs are read whole once per run and process instead: a scan of its coupling rows with only
the two ids selected (ten requests at 10,000 couplings).

How it stays correct (the rules of `engine/run_cache.py`):
- a full synchronization starts a line when its dependencies are finished, so the couplings a line's lookups point to
  are those its dependencies made; a snapshot taken earlier (a lookup to a mapping that runs later) simply lacks them;
- an id the snapshot lacks is read from the store (a coupling made since), never taken for "not coupled";
- a coupling deleted after the snapshot still answers with its former partner for the rest of the snapshot's
  lifetime, as a chunk that had read just before the delete would: a reference is a pointer to a record that still
  exists (Delete Coupling leaves both records), not a coupling the run writes;
- more than `run_cache.MAX_ROWS` couplings: no snapshot, every chunk reads its own ids as before.
Outside a full-synchronization run nothing is shared: the store is read for the ids asked.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.domain.records import Side
from shared.engine import run_cache
from shared.ports import CouplingStore


def _snapshot(couplings: CouplingStore, mapping: str, side: Side) -> dict[str, str] | None:
    """`side`'s id -> the partner's id, for every coupling of `mapping`, once per run (None outside a run or when too
    many to hold)."""
    if run_cache.current_run() is None:
        return None

    def load() -> dict[str, str] | None:
        found: dict[str, str] = {}
        for bc_id, dataverse_id in couplings.coupled_ids(mapping):
            if side is Side.BC:
                found[bc_id] = dataverse_id
            else:
                found[dataverse_id] = bc_id
            if len(found) > run_cache.MAX_ROWS:
                return None
        return found

    return run_cache.run_fact(("coupled-ids", mapping, side.value), load)


def dataverse_ids(couplings: CouplingStore, mapping: str, bc_ids: Iterable[str]) -> dict[str, str]:
    """BC id -> the Dataverse id it is coupled to, for those of `bc_ids` that are coupled in `mapping`."""
    return _partners(couplings, mapping, Side.BC, bc_ids)


def bc_ids(couplings: CouplingStore, mapping: str, dataverse_ids: Iterable[str]) -> dict[str, str]:
    """Dataverse id -> the BC id it is coupled to, for those of `dataverse_ids` that are coupled in `mapping`."""
    return _partners(couplings, mapping, Side.DATAVERSE, dataverse_ids)


def _partners(couplings: CouplingStore, mapping: str, side: Side, ids: Iterable[str]) -> dict[str, str]:
    """`side`'s id -> its partner's, from the run's snapshot, and what it lacks read from the store."""
    wanted = list(dict.fromkeys(ids))
    known = _snapshot(couplings, mapping, side) if wanted else None
    found = {i: known[i] for i in wanted if i in known} if known is not None else {}
    missing = [i for i in wanted if i not in found]
    if missing and side is Side.BC:
        found.update({i: c.dataverse_id for i, c in couplings.find_many_by_bc_ids(mapping, missing).items()})
    elif missing:
        found.update({i: c.bc_id for i, c in couplings.find_many_by_dataverse_ids(mapping, missing).items()})
    return found
