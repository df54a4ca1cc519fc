"""BC's business events on sales documents: the bound actions of API v2.0 (`actions.py`: ship and invoice, make
order or invoice, post, cancel) and what happens in BC outside the API, under `/_admin` (`admin.py`: payments,
release, reopen, backdate; `ship.py`, `payment_reversal.py`, `inventory.py`, `exchange_rates.py`), on shared
building blocks (`common.py`); `registry.py` is the one surface `app.py` sees.
"""
