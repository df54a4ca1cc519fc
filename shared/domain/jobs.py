"""Queue messages (`sync-jobs`): typed, versioned, with a deterministic message id.

A message id derived from the work it names (`run/mapping/chunk`) lets Service Bus duplicate detection drop a
repeated send, and lets a redelivered message be recognised as work already done.

Parsing is strict on purpose: a body that is not exactly a job of a known kind and version raises
`InvalidJobMessage`, which the queue trigger dead-letters instead of retrying (retrying junk only burns the
delivery count and hides the cause).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1
# Service Bus refuses a MessageId longer than 128 characters; refusing it here names the job that is at fault.
MAX_MESSAGE_ID_LENGTH = 128


class JobKind(StrEnum):
    FULL_SYNC_CHUNK = "fullSyncChunk"
    MAPPING_RUN = "mappingRun"
    MATCH_COUPLING = "matchCoupling"


class InvalidJobMessage(ValueError):
    """A message body that is not a job of a known kind and version: dead-letter it, never retry."""


@dataclass(frozen=True)
class JobMessage:
    kind: JobKind
    message_id: str
    payload: dict[str, Any] = field(default_factory=dict)
    version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        # Accept the kind's wire value too (`"mappingRun"`), so callers and parsers build the same object.
        try:
            object.__setattr__(self, "kind", JobKind(self.kind))
        except ValueError:
            raise InvalidJobMessage(f"unknown job kind {self.kind!r}") from None
        _check_message_id(self.message_id)

    def to_json(self) -> str:
        return json.dumps(
            {"kind": self.kind.value, "version": self.version, "messageId": self.message_id, "payload": self.payload},
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> JobMessage:
        try:
            data = json.loads(text)
            kind = JobKind(data["kind"])
            version = data["version"]
            message_id = data["messageId"]
            payload = data.get("payload", {})
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InvalidJobMessage(f"not a job message: {error}") from None
        # bool is an int in Python, and "1" or 1.5 are not versions: only a JSON integer is.
        if not isinstance(version, int) or isinstance(version, bool):
            raise InvalidJobMessage(f"job message version must be an integer, got {version!r}")
        if version != SCHEMA_VERSION:
            raise InvalidJobMessage(f"job message version {version} is not supported (expected {SCHEMA_VERSION})")
        if not isinstance(message_id, str):
            raise InvalidJobMessage("job messageId must be a string")
        if not isinstance(payload, dict):
            raise InvalidJobMessage("job payload must be an object")
        return cls(kind, message_id, payload, version)


def _check_message_id(message_id: object) -> None:
    if not isinstance(message_id, str) or not message_id.strip():
        raise InvalidJobMessage("a job needs a non-empty messageId")
    if len(message_id) > MAX_MESSAGE_ID_LENGTH:
        raise InvalidJobMessage(f"job messageId is longer than {MAX_MESSAGE_ID_LENGTH} characters: {message_id!r}")


def chunk_message_id(run_id: str, mapping: str, chunk: int) -> str:
    return f"{run_id}/{mapping}/{chunk}"


def run_prefix(job_id: str) -> str | None:
    """The part every chunk job id of one full-sync line shares (`run/mapping/`), None for a job that is no chunk."""
    head, _, chunk = job_id.rpartition("/")
    return f"{head}/" if head and chunk.isdigit() else None
