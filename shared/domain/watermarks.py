"""Watermark rules for incremental sync, pure functions (dict in, dict out), so they can be tested exhaustively.

- Closed lower bound with an overlap: the next read starts `overlap` before the watermark (`modified-on ge since`),
  because a transaction that commits late can carry an earlier timestamp than one already seen, and Dataverse
  timestamps have whole seconds. Re-reading is harmless: an unchanged record hashes equal and costs no write.
- Forward only: a watermark never moves back.
- Capped at the run's start: a record modified during the run may not have been read, so the watermark must not
  pass the moment reading began.
- Committed only after every record up to it is durably applied (the engine's job: it saves the checkpoint last).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

DEFAULT_OVERLAP = timedelta(seconds=5)


def parse_instant(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def read_from(watermark: str | None, overlap: timedelta = DEFAULT_OVERLAP) -> datetime | None:
    """Where the next read starts; None (read everything) when there is no watermark yet."""
    return None if watermark is None else parse_instant(watermark) - overlap


def advance(watermark: str | None, seen: Iterable[str], run_started: datetime) -> str | None:
    """The new watermark: the latest modified-on seen, never before the old one, never after the run's start."""
    latest = max((parse_instant(text) for text in seen), default=None)
    candidates = [moment for moment in (latest, parse_instant(watermark) if watermark else None) if moment is not None]
    if not candidates:
        return watermark
    return format_instant(min(max(candidates), run_started))
