"""Queue messages (`sync-jobs`): typed, versioned, with a deterministic message id.

A message id derived from the work it names (`run/mapping/chunk`) lets Service Bus duplicate detection drop a
repeated send, and lets a redelivered message be recognised as work already done.

Two layers: `JobMessage` is the envelope on the wire (kind, version, message id, a JSON object as payload), and
each kind's payload is parsed once into its command (`RunMapping`, `MatchCoupling`, `FullSyncChunk`, `RunProcess`,
`UncoupleAll`, `FindDeleted`: frozen, typed)
by `parse_command`, in the Service Bus adapter, before any work starts. The services dispatch on the command
(`services/job_handlers.py`), never on payload keys.

Parsing is strict on purpose: a body that is not exactly a job of a known kind and version, or a payload its kind
cannot run (a missing mapping, a chunk number that is no whole number), raises `InvalidJobMessage` naming what is
wrong, before the services are even built; the queue trigger refuses it (it ends in the dead-letter queue, where the
dead-letter trigger logs the same reason) instead of failing somewhere inside the work. The payloads are those
sent today and before (pinned by `tests/unit/test_job_commands.py`): keys a kind does not know are ignored, so a
message sent by a newer or older version of the app still runs.

The company (issue 22): every kind's payload may carry `"company"`, the storage key of the BC company the work is
for (`domain/companies.py`); absent (or "") is the primary company, so every message sent before several companies
existed still runs where it always did. `with_company` adds it; the queue trigger builds that company's services.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from shared.domain.companies import FIELD as COMPANY
from shared.domain.companies import KEY

SCHEMA_VERSION = 1
# Service Bus refuses a MessageId longer than 128 characters; refusing it here names the job that is at fault.
MAX_MESSAGE_ID_LENGTH = 128


class JobKind(StrEnum):
    FULL_SYNC_CHUNK = "fullSyncChunk"
    MAPPING_RUN = "mappingRun"
    MATCH_COUPLING = "matchCoupling"
    PROCESS_RUN = "processRun"
    UNCOUPLE_ALL = "uncoupleAll"
    FIND_DELETED = "findDeleted"


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


def with_company(job: JobMessage, key: str) -> JobMessage:
    """`job` for the company of storage key `key`: its payload carries `"company": key` ("" the primary: left out,
    as every message before several companies)."""
    if not key or job.payload.get(COMPANY) == key:
        return job
    return JobMessage(job.kind, job.message_id, {**job.payload, COMPANY: key}, job.version)


def chunk_message_id(run_id: str, mapping: str, chunk: int) -> str:
    return f"{run_id}/{mapping}/{chunk}"


def run_prefix(job_id: str) -> str | None:
    """The part every chunk job id of one full-sync line shares (`run/mapping/`), None for a job that is no chunk."""
    head, _, chunk = job_id.rpartition("/")
    return f"{head}/" if head and chunk.isdigit() else None


# -- commands: each kind's payload, parsed once ----------------------------------------------------------------------
@dataclass(frozen=True)
class RunMapping:
    """`mappingRun` `{"mapping"}`: an incremental run of the mapping, as its timer would run it."""

    kind: ClassVar[JobKind] = JobKind.MAPPING_RUN
    message_id: str
    mapping: str
    company: str = ""  # the company's storage key ("" the primary)


@dataclass(frozen=True)
class MatchChoice:
    """One field a match-based coupling job matches on (issue 24, BC's "Match Based Coupling Criteria"): a field key
    or BC field name, its priority (lower first) and whether its text compares with case."""

    field: str
    priority: int
    case_sensitive: bool = False


@dataclass(frozen=True)
class MatchCoupling:
    """`matchCoupling` `{"mapping", "createIfNoMatch"?, "synchronizeAfter"?, "criteria"?, "queuedOn"?}`: match-based
    coupling; a missing or null option takes the mapping's own default. Issue 24 added `criteria`
    (`[{"field", "priority", "caseSensitive"?}]`: the job's own criteria, else the mapping's) and `queuedOn` (when the
    route queued it: the start of its job entry, which then tells its progress); a message without them runs as
    before."""

    kind: ClassVar[JobKind] = JobKind.MATCH_COUPLING
    message_id: str
    mapping: str
    create_if_no_match: bool | None = None
    synchronize_after: bool | None = None
    company: str = ""
    criteria: tuple[MatchChoice, ...] | None = None
    queued_on: str | None = None


@dataclass(frozen=True)
class FullSyncChunk:
    """`fullSyncChunk` `{"runId", "mapping", "chunk", "attempt"?, "phase"?, "mode"?, "side"?, "ids"?, "waits"?}`:
    chunk 0 is a line's split, any other chunk a slice of its records. `payload` is the payload as delivered: the
    full synchronization reads its mode, side and ids, and a throttled chunk is sent again with it unchanged (but
    for its wait count), so a key added by a later version survives the round trip."""

    kind: ClassVar[JobKind] = JobKind.FULL_SYNC_CHUNK
    message_id: str
    run_id: str
    mapping: str
    chunk: int
    attempt: int = 0
    phase: int = 0
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False)
    company: str = ""

    @property
    def is_split(self) -> bool:
        return self.chunk == 0


# What a `processRun` may name: the sales document processes a BC notification wakes (issue 23), each one run of
# what its timer does for one company (`triggers/document_timers.py` `PROCESS_RUNS`). Lower camel case, so a process
# name never equals a mapping name (upper case) in a wake message id (`services/wake.py`).
POSTED_INVOICES, ORDER_STATUS = "postedInvoices", "orderStatus"
PROCESSES = (POSTED_INVOICES, ORDER_STATUS)


@dataclass(frozen=True)
class RunProcess:
    """`processRun` `{"process"}`: one run of a sales document process for the company, as its timer would run it
    (`process` one of `PROCESSES`; the process itself still checks its setup first)."""

    kind: ClassVar[JobKind] = JobKind.PROCESS_RUN
    message_id: str
    process: str
    company: str = ""


@dataclass(frozen=True)
class UncoupleAll:
    """`uncoupleAll` `{"mapping", "queuedOn"?}`: remove every coupling of the mapping (BC's background uncouple,
    `services/uncouple_all.py`); the message id is the job's id, and `queuedOn` the start its job entry was logged
    with when queued (its key: the job's progress replaces that entry)."""

    kind: ClassVar[JobKind] = JobKind.UNCOUPLE_ALL
    message_id: str
    mapping: str
    queued_on: str = ""
    company: str = ""


@dataclass(frozen=True)
class FindDeleted:
    """`findDeleted` `{"mapping", "queuedOn"?}`: BC's "Find for Deleted" of the mapping as a queued job
    (`services/find_deleted_job.py`); as `UncoupleAll`, the message id is the job's id and `queuedOn` the start its
    job entry was logged with when queued."""

    kind: ClassVar[JobKind] = JobKind.FIND_DELETED
    message_id: str
    mapping: str
    queued_on: str = ""
    company: str = ""


JobCommand = RunMapping | MatchCoupling | FullSyncChunk | RunProcess | UncoupleAll | FindDeleted
CHUNK_SIDES = ("bc", "dv")


def parse_command(job: JobMessage) -> JobCommand:
    """The job's command; `InvalidJobMessage` naming the payload key at fault when its kind cannot run it."""
    payload = job.payload
    where = f"{job.kind.value} job {job.message_id!r}"
    company = _company(payload, where)
    if job.kind is JobKind.MAPPING_RUN:
        return RunMapping(job.message_id, _text(payload, "mapping", where), company)
    if job.kind is JobKind.MATCH_COUPLING:
        return MatchCoupling(
            job.message_id,
            _text(payload, "mapping", where),
            _option(payload, "createIfNoMatch", where),
            _option(payload, "synchronizeAfter", where),
            company,
            _choices(payload, where),
            _optional_text(payload, "queuedOn", where),
        )
    if job.kind is JobKind.UNCOUPLE_ALL:
        return UncoupleAll(job.message_id, _text(payload, "mapping", where), _queued_on(payload, where), company)
    if job.kind is JobKind.FIND_DELETED:
        return FindDeleted(job.message_id, _text(payload, "mapping", where), _queued_on(payload, where), company)
    if job.kind is JobKind.PROCESS_RUN:
        process = _text(payload, "process", where)
        if process not in PROCESSES:
            raise InvalidJobMessage(f"{where}: 'process' must be one of {', '.join(PROCESSES)}, got {process!r}")
        return RunProcess(job.message_id, process, company)
    side = payload.get("side")
    if side is not None and side not in CHUNK_SIDES:
        raise InvalidJobMessage(f"{where}: 'side' must be one of {', '.join(CHUNK_SIDES)}, got {side!r}")
    ids = payload.get("ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) and i for i in ids)):
        raise InvalidJobMessage(f"{where}: 'ids' must be a list of non-empty texts")
    _whole(payload, "waits", where)
    return FullSyncChunk(
        job.message_id,
        _text(payload, "runId", where),
        _text(payload, "mapping", where),
        _whole(payload, "chunk", where),
        _whole(payload, "attempt", where),
        _whole(payload, "phase", where),
        dict(payload),
        company,
    )


def _text(payload: Mapping[str, Any], key: str, where: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidJobMessage(f"{where}: '{key}' must be a non-empty text, got {value!r}")
    return value


def _queued_on(payload: Mapping[str, Any], where: str) -> str:
    """`queuedOn` of a job the route logged before it queued it: a text, "" when left out."""
    value = payload.get("queuedOn", "")
    if not isinstance(value, str):
        raise InvalidJobMessage(f"{where}: 'queuedOn' must be a text, got {value!r}")
    return value


def _optional_text(payload: Mapping[str, Any], key: str, where: str) -> str | None:
    value = payload.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise InvalidJobMessage(f"{where}: '{key}' must be a non-empty text or left out, got {value!r}")
    return value


def _choices(payload: Mapping[str, Any], where: str) -> tuple[MatchChoice, ...] | None:
    """`criteria`: None when left out; else a list of `{"field", "priority", "caseSensitive"?}` (what the match
    route checked before it sent them; whether the fields exist is the job's to say)."""
    value = payload.get("criteria")
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidJobMessage(f"{where}: 'criteria' must be a list, got {value!r}")
    choices: list[MatchChoice] = []
    for index, item in enumerate(value):
        name = f"criteria[{index}]"
        if not isinstance(item, dict):
            raise InvalidJobMessage(f"{where}: '{name}' must be an object, got {item!r}")
        field_name, priority = item.get("field"), item.get("priority")
        if not isinstance(field_name, str) or not field_name.strip():
            raise InvalidJobMessage(f"{where}: '{name}.field' must be a non-empty text, got {field_name!r}")
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise InvalidJobMessage(f"{where}: '{name}.priority' must be a whole number, got {priority!r}")
        case = item.get("caseSensitive", False)
        if not isinstance(case, bool):
            raise InvalidJobMessage(f"{where}: '{name}.caseSensitive' must be true or false, got {case!r}")
        choices.append(MatchChoice(field_name, priority, case))
    return tuple(choices)


def _company(payload: Mapping[str, Any], where: str) -> str:
    """The company's storage key: letters and digits, "" (or left out) for the primary company."""
    value = payload.get(COMPANY, "")
    if value is None:
        return ""
    if not isinstance(value, str) or (value and not KEY.match(value)):
        raise InvalidJobMessage(f"{where}: '{COMPANY}' must be a company key (letters and digits), got {value!r}")
    return value


def _option(payload: Mapping[str, Any], key: str, where: str) -> bool | None:
    value = payload.get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidJobMessage(f"{where}: '{key}' must be true, false or left out, got {value!r}")
    return value


def _whole(payload: Mapping[str, Any], key: str, where: str) -> int:
    """A whole number from 0, 0 when left out (as every sender so far wrote them: JSON integers)."""
    value = payload.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidJobMessage(f"{where}: '{key}' must be a whole number from 0, got {value!r}")
    return value
