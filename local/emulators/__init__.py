"""Real HTTP servers on loopback that answer like the services the app talks to: `business_central/`, `dataverse/`
and `identity/` (the token authority), on what they share: the OData query options (`odata/`), the row store
(`store.py`), the HTTP server (`web.py`), the request pipeline with faults and service protection (`service.py`,
`protection.py`), the clock (`clock.py`), the command line (`cli.py`) and the schemas (`schemas/`). They import
nothing of the app, so they answer like the real services whatever the app's code says.
"""
