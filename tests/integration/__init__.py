"""One part against the real thing over HTTP: the emulators' fidelity to BC and Dataverse, the connectors and the
storage and queue adapters against the emulators, Azurite and the local broker."""
