"""The emulators' clock, with the `clockOffsetSeconds` fault: each emulator process can run ahead of or behind the
machine (and of the other emulator), as two real cloud services' clocks drift apart by seconds. The sync compares
each side's modified-on only with that side's own values, so an offset must change nothing; the chaos suite proves it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_offset = [0.0]


def set_offset(seconds: float) -> None:
    _offset[0] = float(seconds)


def utc_now() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=_offset[0])
