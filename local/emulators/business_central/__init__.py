"""A local emulator of the Business Central API v2.0 and the page web services the Sales integration needs.

Rooms, each depending only on the ones before it (tests/unit/test_local_layout.py forbids import cycles):
the base (`errors`, `naming`, `schema`, `values`, `companies`); `api/` (the writer with BC's table rules, reads,
the OData context); `posting/` (bound actions and admin-side business events); `pages/` (page web services and
the custom API route); `handler_context.py` (the narrow handle the route modules get from the app); `batch.py`,
`seed.py` and `app.py`, which composes them (`python -m local.emulators.business_central`).
"""
