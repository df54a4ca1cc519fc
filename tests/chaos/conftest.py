"""The chaos tests run on the sync stack of tests/sync (both emulators over HTTP, Azurite)."""

from tests.sync.conftest import sync_stack  # noqa: F401 - the fixture, shared
