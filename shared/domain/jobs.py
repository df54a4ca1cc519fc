"""Queue messages (`sync-jobs`): typed, versioned, with a deterministic message id.

A message id derived from the work it names (`run/mapping/chunk`) lets Service Bus duplicate detection drop a
repeated send, and lets a redelivered message be recognised as work already done.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1


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
            version = int(data["version"])
            message_id = str(data["messageId"])
            payload = data.get("payload") or {}
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidJobMessage(f"not a job message: {error}") from None
        if version != SCHEMA_VERSION:
            raise InvalidJobMessage(f"job message version {version} is not supported (expected {SCHEMA_VERSION})")
        if not isinstance(payload, dict):
            raise InvalidJobMessage("job payload must be an object")
        return cls(kind, message_id, payload, version)


def chunk_message_id(run_id: str, mapping: str, chunk: int) -> str:
    return f"{run_id}/{mapping}/{chunk}"
