"""The Dataverse Web API v9.2 adapter, `DataverseClient` (`client.py`, which sends): pure request builders
(`requests.py`; the close actions and timeline posts in `actions.py`), the port operations built on them
(`operations.py`), the multipart `$batch` (`batch.py`), bulk writes with their per-record fallback (`bulk.py`),
reading changes and watermark boundaries (`changes.py`), option sets (`options.py`), the client's errors
(`errors.py`) and one BC company's view of an org several companies share (`company_scope.py`).

Why a package: the client was one module with seven `dataverse_*` satellites beside BC's; together here, each
named for what it holds, and only `client.py` touches HTTP.
"""
