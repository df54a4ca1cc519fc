"""The sync engine: the run machinery every mapping shares (context, sides, values, lookups, candidates, outcomes,
creation, deletions, option runs, the unit of work, the mapping run). It knows mappings only through what a
`TableMapping` declares and the context hands it (it never imports the catalog nor names a mapping: the import test
checks both), so adding a mapping never touches it; services and processes build on it."""
