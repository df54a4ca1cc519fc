"""The mapping catalog as one run sees it: the catalog with the administrator's stored overrides (`Settings`,
partition `mapping`), read once when the run begins.

Why a snapshot: the engine looks a mapping up wherever it needs one (the run loop, `runnable`, every lookup field's
target mapping ...), and a timer tick reading the overrides at each lookup cost about 38 `Settings` reads on demo
data with nothing to synchronize; one run also saw one catalog only if nobody saved an override meanwhile. Now a
run reads them once, and an override saved during a run applies from the next run (the next tick, message or
request), as a setup change does.

A stored override that no longer validates (saved before a check existed) still fails only the mapping it belongs
to, at each lookup of it (`InvalidOverride`, 409), exactly as before: the other mappings run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.domain.errors import SyncError
from shared.domain.mapping import TableMapping
from shared.mappings import get_mapping, with_overrides
from shared.ports import SettingsStore

PARTITION = "mapping"


@dataclass(frozen=True)
class CatalogSnapshot:
    """Callable as `SyncContext.mapping`: name -> the mapping with its overrides. `base` is the catalog without
    overrides (the real one, or a test's own mappings)."""

    overrides: Mapping[str, Any]
    base: Callable[[str], TableMapping] = get_mapping
    _resolved: dict[str, TableMapping] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def read(cls, store: SettingsStore, base: Callable[[str], TableMapping] = get_mapping) -> CatalogSnapshot:
        """One read of the stored overrides."""
        overrides, _ = store.get_settings(PARTITION)
        return cls(dict(overrides), base)

    def __call__(self, name: str) -> TableMapping:
        found = self._resolved.get(name)
        if found is None:
            mapping = self.base(name)
            own = self.overrides.get(name)
            found = with_overrides(mapping, own) if isinstance(own, dict) and own else mapping
            self._resolved[name] = found  # only a valid one: an invalid override raises at every lookup
        return found


def valid_mappings(mapping: Callable[[str], TableMapping], names: Iterable[str]) -> list[TableMapping]:
    """The mappings `names` as `mapping` resolves them (a `CatalogSnapshot` or `SyncContext.mapping`: overrides
    applied), leaving out one whose stored overrides no longer validate (it cannot run either; its poll reports it)."""
    found: list[TableMapping] = []
    for name in names:
        try:
            found.append(mapping(name))
        except SyncError:  # InvalidOverride
            continue
    return found
