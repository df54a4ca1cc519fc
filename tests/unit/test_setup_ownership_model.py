"""The setup's ownership model (issue 22, item 5): BC's CDS Connection Setup "Ownership Model" (Person, Team), `person`
unless an app setting or an override says `team`; anything else is refused before it is stored."""

from __future__ import annotations

from typing import Any

import pytest

from local.fakes.storage import InMemorySettingsStore
from shared.domain.errors import InvalidInputError
from shared.engine.setup import BY_NAME, default_setup, read_setup, update_setup


def patch(store: InMemorySettingsStore, value: Any, environment: dict[str, str] | None = None) -> Any:
    never: Any = None  # the ownership model asks neither BC nor the couplings
    return update_setup(
        store, environment or {}, {"ownershipModel": value}, etag=None, bc=never, couplings=never, mappings=()
    )


def test_the_default_is_person_and_an_app_setting_may_choose_team() -> None:
    assert BY_NAME["ownershipModel"].app_setting == "OWNERSHIP_MODEL"
    setup = default_setup()
    assert (setup["ownershipModel"], setup.ownership_model, setup.sources["ownershipModel"]) == (
        "person",
        "person",
        "default",
    )
    chosen = read_setup(InMemorySettingsStore(), {"OWNERSHIP_MODEL": " Team "})
    assert (chosen.ownership_model, chosen.sources["ownershipModel"]) == ("team", "appSetting")


def test_an_override_is_validated_stored_and_dropped_again() -> None:
    store = InMemorySettingsStore()
    assert patch(store, "team").ownership_model == "team"
    assert read_setup(store, {}).sources["ownershipModel"] == "override"
    for wrong in ("Team", "manager", "", 1, True):
        with pytest.raises(InvalidInputError) as refused:
            patch(store, wrong)
        assert refused.value.field == "ownershipModel"
    assert read_setup(store, {}).ownership_model == "team"  # a refused value changed nothing
    dropped = patch(store, None, {"OWNERSHIP_MODEL": "person"})
    assert (dropped.ownership_model, dropped.sources["ownershipModel"]) == ("person", "appSetting")
