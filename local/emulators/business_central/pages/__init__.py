"""Page web services (`/ODataV4/Company('...')/{Service}`) and the companion extension's custom API route:
`routes.py` and `custom.py` answer them through a `Context` (`context.py`), over rows (`data.py`), page views of API
rows (`contacts.py`, `orders.py`, `order_write.py`), keys, queries, writes and table rules (`keys.py`, `query.py`,
`write.py`, `rules.py`), the page schema and `$metadata` (`schema.py`, `metadata.py`), demo rows (`seed.py`) and
where each entity comes from (`sources.py`).
"""
