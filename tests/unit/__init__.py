"""Fast tests without processes: the pure domain and catalog, small parts of the connectors, the emulators' OData and
the local host's schedules, and the tests of the tree itself (import rules, the local wings, generated docs)."""
