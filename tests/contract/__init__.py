"""One contract suite per port (storage, queue, the BC and Dataverse clients), run against every implementation of
it (the in-memory fakes, Azurite, the local broker, the emulators), so no fake drifts from the real thing."""
