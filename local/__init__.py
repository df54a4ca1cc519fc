"""Everything needed to run the app on one machine without Azure, in wings that stand on each other in one order
(tests/unit/test_local_layout.py): `emulators/` (BC, Dataverse and the token authority as real HTTP servers),
`fakes/` (in-memory ports), `host/` (the local Functions host), `stack/` (the launcher, `make serve`) and `demo/`
(`make demo`). Never deployed (.funcignore), and the app never imports it.
"""
