"""The option maps the option mappings' couplings build, read when a mapping run needs them.

Which mapping builds which map is declared by the option mappings (`TableMapping.option_map`) and handed over by the
context (`sources`, from its catalog): the engine names none of them.

Why a lazy mapping: `SyncContext` lives as long as the worker, and couplings change whenever PAYMENT TERMS or
SHIPMENT METHOD runs; reading them at the moment a `ValueMapper` is made (one Table query per option map, and only
for a mapping with `option:` fields) keeps every run on the current couplings without a cache to invalidate. A map
with no coupling yet is absent, so its fields wait as before (`ValueMapper.unavailable`) instead of failing every
record; once the option mapping has run, a value it does not know is a record error (`OptionMappingFailed`).

In a full-synchronization chunk a map is read once per run and process (`engine/run_cache.py`), not per chunk (it
was one of the CUSTOMER chunk's Table reads per option map). The full synchronization starts CUSTOMER only after
its option lines finished, so the snapshot holds what they coupled; an option coupled later by a concurrent run of
the option mapping is missed for the snapshot's lifetime, and the record waits with its error for the next run, as
it would have had it been read a moment before that run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from shared.domain.transforms import EMPTY_GUID, OptionMap
from shared.engine import run_cache
from shared.ports import CouplingStore


class CouplingOptionMaps(Mapping[str, OptionMap]):
    def __init__(
        self, couplings: CouplingStore, sources: Mapping[str, str], fixed: Mapping[str, OptionMap] | None = None
    ) -> None:
        self._couplings = couplings
        self._sources = dict(sources)  # option map name -> the option mapping whose couplings build it
        self._fixed = dict(fixed or {})  # set up by hand (tests, or an installation without option mappings)

    def __getitem__(self, name: str) -> OptionMap:
        if name in self._fixed:
            return self._fixed[name]
        mapping = self._sources.get(name)
        if mapping is None:
            raise KeyError(name)
        values = run_cache.run_fact(("option-map", mapping), lambda: self._values(name, mapping))
        # keyed by the BC records' ids (API v2.0 carries paymentTermsId / shipmentMethodId): none is the empty GUID
        return OptionMap(name, values, mapping=mapping, strict=True, blank=EMPTY_GUID)

    def _values(self, name: str, mapping: str) -> dict[str, int]:
        """BC id -> option value; KeyError when the option mapping has coupled nothing yet (nothing is kept for the
        run then: the next chunk reads again)."""
        values = {bc_id: int(dv_id) for bc_id, dv_id in self._couplings.coupled_ids(mapping) if _number(dv_id)}
        if not values:
            raise KeyError(name)
        return values

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self._fixed, *self._sources]))

    def __len__(self) -> int:
        return len(dict.fromkeys([*self._fixed, *self._sources]))


def _number(text: str) -> bool:
    return text.lstrip("-").isdigit()
