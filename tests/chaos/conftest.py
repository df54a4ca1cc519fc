"""The chaos tests run on the sync stack of tests/sync (both emulators over HTTP, Azurite)."""

from collections.abc import Iterator

import pytest

from tests.chaos.simulation import WriteCrasher
from tests.chaos.simulation_scenarios import Simulation
from tests.chaos.simulation_world import World
from tests.sync.conftest import SyncStack, sync_stack  # noqa: F401 - the fixture, shared


@pytest.fixture
def simulation(sync_stack: SyncStack, azurite: str) -> Iterator[Simulation]:  # noqa: F811 - the imported fixture
    """The fault simulation on the real stack, its crash points patched into `requests` for this test only."""
    crasher = WriteCrasher()
    with crasher.installed():
        yield Simulation(World(sync_stack, azurite), crasher)
