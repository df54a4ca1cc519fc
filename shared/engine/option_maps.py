"""The option maps the option mappings' couplings build, read when a mapping run needs them.

Which mapping builds which map is declared by the option mappings (`TableMapping.option_map`) and handed over by the
context (`sources`, from its catalog): the engine names none of them.

Why a lazy mapping: `SyncContext` lives as long as the worker, and couplings change whenever PAYMENT TERMS or
SHIPMENT METHOD runs; reading them at the moment a `ValueMapper` is made (one Table query per option map, and only
for a mapping with `option:` fields) keeps every run on the current couplings without a cache to invalidate. A map
with no coupling yet is absent, so its fields wait as before (`ValueMapper.unavailable`) instead of failing every
record; once the option mapping has run, a value it does not know is a record error (`OptionMappingFailed`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from shared.domain.transforms import EMPTY_GUID, OptionMap
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
        values = {
            c.bc_id: int(c.dataverse_id) for c in self._couplings.list_couplings(mapping) if _number(c.dataverse_id)
        }
        if not values:
            raise KeyError(name)
        # keyed by the BC records' ids (API v2.0 carries paymentTermsId / shipmentMethodId): none is the empty GUID
        return OptionMap(name, values, mapping=mapping, strict=True, blank=EMPTY_GUID)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self._fixed, *self._sources]))

    def __len__(self) -> int:
        return len(dict.fromkeys([*self._fixed, *self._sources]))


def _number(text: str) -> bool:
    return text.lstrip("-").isdigit()
