"""The use cases a trigger calls: coupling, Synchronize Now, matching, full synchronization, sync errors, compare,
health, the timer's run loop and a BC company's own Dataverse rows. They build on the engine and depend on
`shared.ports` and `shared.domain`, never on azure.* or requests; `shared/bootstrap.py` hands them the adapters."""
