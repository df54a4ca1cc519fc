"""The record-error rule (count, first/last seen, skip after the same code twice in a row), as a pure function.

Why here and shared: the table store and the in-memory fake must apply exactly the same rule, and the contract
tests check both against it. Why "the same code twice in a row": a record that fails twice for the same reason will
fail a third time; skipping it stops it from costing every run an API call until an admin retries it (BC's
behaviour). A different code means something changed, so it is counted but not (newly) skipped. Transient errors
never reach this rule (the services retry them). `restore` clears the flag but keeps the history, so a record that
fails again the same way after a restore is skipped again straight away.
"""

from __future__ import annotations

from dataclasses import replace

from shared.domain.records import RecordErrorEntry, Side

MAX_MESSAGE_CHARS = 16_000  # a string property holds 64 KiB of UTF-16; 16K characters fit even if all are astral


def clip_message(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"


def next_error(
    previous: RecordErrorEntry | None,
    mapping: str,
    side: Side,
    record_id: str,
    code: str,
    message: str,
    now: str,
) -> RecordErrorEntry:
    """The entry after one more error; `etag` is carried over for the conditional write."""
    if previous is None:
        return RecordErrorEntry(mapping, side, record_id, code, clip_message(message), 1, now, now, False)
    return replace(
        previous,
        code=code,
        message=clip_message(message),
        count=previous.count + 1,
        last_seen=now,
        skipped=previous.skipped or previous.code == code,
    )
