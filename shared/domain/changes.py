"""Change detection and conflict decisions, pure: from the values both sides hold now and the per-field hashes of the
values the sync last wrote, decide per field what to send where.

Why hashes of the last written values instead of timestamps: equal values are "unchanged" whatever the clocks say.
That removes the echo of our own writes (our write moves the other side's modified-on) and BC's false "changed on
both sides" conflicts from millisecond timestamps, and it lets a field-level merge tell which side changed which
field. Timestamps are only used to find candidates (and as a hint when no hashes are stored yet).
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared.domain.mapping import ConflictPolicy, Direction
from shared.domain.transforms import normalize

HASH_VERSION = "h1"


def value_hash(value: Any) -> str:
    """A short, stable hash of a canonical value (10 hex digits: collisions are irrelevant at per-field scale)."""
    text = json.dumps(normalize(value), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def field_hashes(values: Mapping[str, Any]) -> dict[str, str]:
    return {key: value_hash(value) for key, value in values.items()}


def encode_hashes(hashes: Mapping[str, str]) -> str:
    """Stored on the coupling as one string: compact even for mappings with many fields."""
    raw = json.dumps(dict(sorted(hashes.items())), separators=(",", ":")).encode()
    return f"{HASH_VERSION}:{base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode()}"


def decode_hashes(text: str | None) -> dict[str, str] | None:
    """None for no (or an unreadable older) stored state: the decision then falls back to timestamps."""
    if not text or not text.startswith(f"{HASH_VERSION}:"):
        return None
    try:
        data = json.loads(zlib.decompress(base64.urlsafe_b64decode(text.split(":", 1)[1])))
    except (ValueError, zlib.error):
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None


class Outcome(StrEnum):
    UNCHANGED = "unchanged"
    WRITE = "write"  # write the fields in `to_dataverse` / `to_bc`
    CONFLICT = "conflict"  # both sides changed and the policy does not say who wins: write nothing


@dataclass(frozen=True)
class FieldRule:
    """What the decision needs of one field mapping: its key and which way it may carry data."""

    key: str
    direction: Direction


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    to_dataverse: tuple[str, ...] = ()
    to_bc: tuple[str, ...] = ()
    conflicting: tuple[str, ...] = ()
    changed_in_bc: tuple[str, ...] = ()
    changed_in_dataverse: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())


def _changed(current: str, stored: Mapping[str, str] | None, key: str, hint: bool) -> bool:
    if stored is None or key not in stored:
        return hint
    return current != stored[key]


def decide(
    rules: tuple[FieldRule, ...],
    bc_values: Mapping[str, Any],
    dataverse_values: Mapping[str, Any],
    stored: Mapping[str, str] | None,
    *,
    table_direction: Direction,
    policy: ConflictPolicy,
    bc_changed_hint: bool = True,
    dataverse_changed_hint: bool = True,
) -> Decision:
    """Decide per field. `*_values` are canonical values keyed by field key; `stored` the per-field hashes of what
    the sync last wrote (None when unknown, e.g. a coupling made by matching: then the hints, from modified-on since
    the last sync, say which side changed).

    One-way fields follow their direction (the master side overwrites). Two-way fields go from the side that changed
    to the side that did not. When both records changed two-way fields (BC's "both records changed"), the policy
    decides: `bcWins`/`dataverseWins` send every differing two-way field one way; `merge` applies each side's changes
    when no field changed on both sides; `none` (and `merge` with an overlap) writes nothing and reports a conflict.
    """
    bc_hashes, dv_hashes = field_hashes(bc_values), field_hashes(dataverse_values)
    to_dv: list[str] = []
    to_bc: list[str] = []
    from_bc: list[str] = []  # two-way fields changed only in BC
    from_dv: list[str] = []  # two-way fields changed only in Dataverse
    overlap: list[str] = []  # two-way fields changed in both (or differing with no record of either change)
    changed_bc: list[str] = []
    changed_dv: list[str] = []
    for rule in rules:
        if bc_hashes.get(rule.key) == dv_hashes.get(rule.key):
            continue
        bc_changed = _changed(bc_hashes.get(rule.key, ""), stored, rule.key, bc_changed_hint)
        dv_changed = _changed(dv_hashes.get(rule.key, ""), stored, rule.key, dataverse_changed_hint)
        changed_bc += [rule.key] if bc_changed else []
        changed_dv += [rule.key] if dv_changed else []
        may_send = rule.direction.allows(Direction.TO_DATAVERSE) and table_direction.allows(Direction.TO_DATAVERSE)
        may_get = rule.direction.allows(Direction.FROM_DATAVERSE) and table_direction.allows(Direction.FROM_DATAVERSE)
        if may_send and not may_get:
            to_dv.append(rule.key)
        elif may_get and not may_send:
            to_bc.append(rule.key)
        elif may_send and may_get:
            if bc_changed and not dv_changed:
                from_bc.append(rule.key)
            elif dv_changed and not bc_changed:
                from_dv.append(rule.key)
            else:
                overlap.append(rule.key)
    both_changed = bool(overlap) or (bool(from_bc) and bool(from_dv))
    if not both_changed or (policy is ConflictPolicy.MERGE and not overlap):
        to_dv += from_bc
        to_bc += from_dv
    elif policy is ConflictPolicy.BC_WINS:
        to_dv += from_bc + from_dv + overlap
    elif policy is ConflictPolicy.DATAVERSE_WINS:
        to_bc += from_bc + from_dv + overlap
    else:
        return Decision(
            Outcome.CONFLICT,
            conflicting=tuple(overlap or from_bc + from_dv),
            changed_in_bc=tuple(changed_bc),
            changed_in_dataverse=tuple(changed_dv),
        )
    if not to_dv and not to_bc:
        return Decision(Outcome.UNCHANGED, changed_in_bc=tuple(changed_bc), changed_in_dataverse=tuple(changed_dv))
    return Decision(
        Outcome.WRITE,
        to_dataverse=tuple(to_dv),
        to_bc=tuple(to_bc),
        changed_in_bc=tuple(changed_bc),
        changed_in_dataverse=tuple(changed_dv),
    )


def forced(
    rules: tuple[FieldRule, ...],
    bc_values: Mapping[str, Any],
    dataverse_values: Mapping[str, Any],
    direction: Direction,
) -> Decision:
    """Synchronize Now: the caller chose which side overwrites; every differing field allowed that way is written."""
    bc_hashes, dv_hashes = field_hashes(bc_values), field_hashes(dataverse_values)
    keys = tuple(r.key for r in rules if r.direction.allows(direction) and bc_hashes.get(r.key) != dv_hashes.get(r.key))
    if not keys:
        return Decision(Outcome.UNCHANGED)
    if direction is Direction.TO_DATAVERSE:
        return Decision(Outcome.WRITE, to_dataverse=keys)
    return Decision(Outcome.WRITE, to_bc=keys)
