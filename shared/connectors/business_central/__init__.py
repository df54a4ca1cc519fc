"""The Business Central adapter, `BusinessCentralClient` (`client.py`): where each entity lives, as data
(`entity_sources.py`), page-web-service entities behind the same calls as API entities (`pages.py`), the JSON
`$batch` (`batch.py`) and OData pieces (`odata.py`).

Why a package: the client was one module with three `bc_*` satellites and the entity sources beside Dataverse's
modules; together here, each named for what it holds.
"""
