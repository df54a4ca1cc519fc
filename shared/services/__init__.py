"""Use cases (coupling, Synchronize Now, incremental and full sync, documents). They depend on `shared.ports` and
`shared.domain` only, never on azure.* or requests; `shared/bootstrap.py` hands them the adapters."""
