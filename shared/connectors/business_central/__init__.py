"""The Business Central adapter, `BusinessCentralClient` (`client.py`): where each entity lives, as data
(`entity_sources.py`); one surface per entity set that knows how its entities are read and written (`surface.py`:
`ApiSurface` in `api_surface.py` for API v2.0 and the custom API route, `PageSurface` in `page_surface.py` for page
web services); pure request builders (`requests.py`) that `transport.py` alone sends, for one company; the JSON
`$batch` (`batch.py`), page keys and names (`pages.py`) and OData pieces (`odata.py`).

Why surfaces: Microsoft ends page web services at BC version 30 and a companion extension's custom route replaces
them entity by entity, so where an entity lives changes by configuration; the client picks a set's surface once
instead of asking "is it a page?" in every call.
"""
