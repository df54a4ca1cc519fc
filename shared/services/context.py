"""What every sync service is given: the ports, the mapping catalog with overrides, option maps and a clock."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.domain.mapping import TableMapping
from shared.domain.transforms import OptionMap
from shared.ports import (
    BusinessCentralClientPort,
    CheckpointStore,
    CouplingStore,
    DataverseClientPort,
    JobLog,
    SyncErrorStore,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SyncContext:
    bc: BusinessCentralClientPort
    dataverse: DataverseClientPort
    couplings: CouplingStore
    checkpoints: CheckpointStore
    errors: SyncErrorStore
    jobs: JobLog
    mapping: Callable[[str], TableMapping]  # the catalog with the stored overrides applied
    option_maps: Mapping[str, OptionMap] = field(default_factory=dict)
    local_currency: str = "USD"  # BC's LCY: a blank currency code in BC means this currency
    clock: Callable[[], datetime] = utc_now
    bulk_size: int = 500
