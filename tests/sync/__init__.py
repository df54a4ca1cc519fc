"""The services (incremental and full sync, coupling, matching, documents, statistics) on a real sync stack: both
emulators over HTTP, Azurite storage and the real connectors, wired as bootstrap wires them (`conftest.py`)."""
