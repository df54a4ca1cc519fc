"""One timer tick, several companies (issue 22, item 6): `scheduled_runs.run_companies_fairly` hands out turns of one
mapping run per company, each company in its own dependency order, so a company with a big backlog delays another's
next run by one run at most; and each company's outcomes are its own. Fake runs: only the order is under test."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from shared.domain.errors import ConflictError, TransientError
from shared.services import scheduled_runs

SCHEDULE = "SYNC_SCHEDULE"
NAMES = ["CURRENCY", "CUSTOMER", "CONTACT", "ITEM-PRODUCT"]


class World:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ran: list[tuple[str, str]] = []
        self.holding: dict[str, set[str]] = {}
        self.broken_holds: set[str] = set()
        monkeypatch.setattr(scheduled_runs, "run_mapping", self.run_mapping)
        monkeypatch.setattr(scheduled_runs, "Recovery", self.recovery)

    def company(self, name: str, due: list[str], *, failing: tuple[str, ...] = ()) -> Any:
        def mapping(mapping_name: str) -> Any:
            if mapping_name in failing:
                raise ConflictError("invalidOverride", f"{mapping_name} of {name} no longer validates")
            enabled = mapping_name in due
            return SimpleNamespace(enabled=enabled, schedule=SCHEDULE)

        context = SimpleNamespace(company=name, mapping=mapping, clock=lambda: datetime(2025, 1, 1, tzinfo=UTC))
        return SimpleNamespace(context=context)

    def run_mapping(self, context: Any, name: str, **options: Any) -> Any:
        assert options["trigger"] == "poll"  # the timer's runs are the poll
        self.ran.append((context.company, name))
        return SimpleNamespace(counters=SimpleNamespace(as_dict=lambda: {"inserted": 1}), missed=0)

    def recovery(self, full_sync: Any) -> Any:
        company = full_sync.context.company

        def holding_mappings(recent: datetime) -> set[str]:
            if company in self.broken_holds:
                raise TransientError("StorageUnavailable", f"the tables of {company} do not answer")
            return self.holding.get(company, set())

        return SimpleNamespace(holding_mappings=holding_mappings)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return World(monkeypatch)


def test_companies_take_turns_one_run_each_in_their_own_order(world: World) -> None:
    full_syncs = {
        "big": world.company("big", NAMES),  # a backlog of four runs
        "small": world.company("small", ["CUSTOMER"]),
        "mid": world.company("mid", ["CURRENCY", "ITEM-PRODUCT"]),
    }
    outcomes = scheduled_runs.run_companies_fairly(full_syncs, NAMES, SCHEDULE)
    assert world.ran == [
        ("big", "CURRENCY"),
        ("small", "CUSTOMER"),
        ("mid", "CURRENCY"),
        ("big", "CUSTOMER"),
        ("mid", "ITEM-PRODUCT"),
        ("big", "CONTACT"),
        ("big", "ITEM-PRODUCT"),
    ]
    assert list(outcomes) == ["big", "small", "mid"]
    assert list(outcomes["big"]) == NAMES and list(outcomes["small"]) == ["CUSTOMER"]
    assert outcomes["mid"] == {"CURRENCY": "finished: {'inserted': 1}", "ITEM-PRODUCT": "finished: {'inserted': 1}"}


def test_a_disabled_or_held_mapping_costs_no_turn_and_a_failure_is_its_companys_only(world: World) -> None:
    world.holding["a"] = {"CUSTOMER"}
    full_syncs = {
        "a": world.company("a", NAMES, failing=("CONTACT",)),
        "b": world.company("b", ["CONTACT", "ITEM-PRODUCT"]),
    }
    outcomes = scheduled_runs.run_companies_fairly(full_syncs, NAMES, SCHEDULE)
    # a: CURRENCY ran, CUSTOMER held (no turn), CONTACT failed (its turn), ITEM-PRODUCT ran.
    assert world.ran == [("a", "CURRENCY"), ("b", "CONTACT"), ("b", "ITEM-PRODUCT"), ("a", "ITEM-PRODUCT")]
    assert outcomes["a"]["CUSTOMER"] == "skipped: its full synchronization line is running"
    assert outcomes["a"]["CONTACT"].startswith("record error invalidOverride: CONTACT of a")
    assert outcomes["b"] == {"CONTACT": "finished: {'inserted': 1}", "ITEM-PRODUCT": "finished: {'inserted': 1}"}


def test_a_company_whose_storage_fails_runs_nothing_and_the_others_still_run_before_it_is_raised(
    world: World,
) -> None:
    world.broken_holds.add("down")
    full_syncs = {"down": world.company("down", NAMES), "up": world.company("up", ["CUSTOMER", "CONTACT"])}
    with pytest.raises(TransientError, match="the tables of down"):
        scheduled_runs.run_companies_fairly(full_syncs, NAMES, SCHEDULE)
    assert world.ran == [("up", "CUSTOMER"), ("up", "CONTACT")]


def test_one_company_runs_as_it_always_did(world: World) -> None:
    outcomes = scheduled_runs.run_scheduled_mappings(world.company("only", ["CUSTOMER", "CURRENCY"]), NAMES, SCHEDULE)
    assert world.ran == [("only", "CURRENCY"), ("only", "CUSTOMER")]
    assert list(outcomes) == ["CURRENCY", "CUSTOMER"]
