"""The use cases a trigger calls: coupling, Synchronize Now, matching, full synchronization, sync errors, compare,
health and the timer's run loop. They build on the engine and depend on `shared.ports` and `shared.domain`, never on
azure.* or requests; `shared/bootstrap.py` hands them the adapters."""
