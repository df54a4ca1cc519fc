"""PartitionKey / RowKey builders shared by the Table Storage repositories and the in-memory fakes.

Why one module: the keys are the contract (ARCHITECTURE section 4), and list orders follow from them (jobs newest
first, archive revisions ascending, errors by side then id). The fakes sort with these same functions, so an order
can never differ between the fake and the real table. Nothing here imports azure.*.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.domain.records import Side

_FORBIDDEN = frozenset("/\\#?%~")  # `~` too: it is the RowKey of head rows (runs, settings)
_MAX_TICKS = 10**19 - 1  # 19 digits: inverted microseconds since 1970 stay fixed-width until year 318857
REVISION_DIGITS = 10


def escape_key(value: str) -> str:
    """Percent-encode the characters Table Storage forbids in keys (`/ \\ # ?` and control characters), `%`
    itself and `~` (reserved for head rows), so any id (BC page keys may contain `/`) is a valid, unique key that
    cannot collide with a head row. Ids are also stored as properties, so keys never need decoding."""
    return "".join(f"%{ord(c):02X}" if c in _FORBIDDEN or _is_control(c) else c for c in value)


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F


def side_row_key(side: Side, record_id: str) -> str:
    """`bc:<id>` / `dv:<id>`: the row of one side of a coupling, or the error of one record."""
    return f"{side.value}:{escape_key(record_id)}"


def job_row_key(started_on: str, job_id: str) -> str:
    """Inverted start time (microseconds, fixed width) then the job id: ascending RowKeys list the newest job
    first, and two jobs started in the same microsecond still get distinct keys."""
    started = parse_instant(started_on)
    micros = int((started - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)
    return f"{_MAX_TICKS - micros:019d}_{escape_key(job_id)}"


def revision_row_key(revision: int) -> str:
    """Zero-padded so that RowKey order is numeric order (revision 10 after revision 9)."""
    if not 0 <= revision < 10**REVISION_DIGITS:
        raise ValueError(f"a quote revision is 0 to {10**REVISION_DIGITS - 1}, not {revision}")
    return f"{revision:0{REVISION_DIGITS}d}"


def parse_instant(value: str) -> datetime:
    """ISO-8601 to an aware UTC datetime; a value without offset is taken as UTC (how the domain writes them)."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_instant(value: datetime) -> str:
    """The domain's timestamp format (same as `Coupling.coupled_on`)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_now() -> datetime:
    return datetime.now(UTC)


def odata_string(value: str) -> str:
    """An OData string literal for a `$filter` (quotes doubled). Filters are built here rather than with the SDK's
    `@parameter` substitution, which only recognises parameters separated by single spaces."""
    return "'" + value.replace("'", "''") + "'"


def prefix_range(prefix: str) -> tuple[str, str]:
    """`(low, high)` such that `low <= key < high` selects exactly the keys starting with `prefix`."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)
