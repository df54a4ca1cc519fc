"""Adapters to the services outside the app, one package per API: `business_central/` (API v2.0, page web services
and the custom API route), `dataverse/` (Web API v9.2) and `service_bus/` (the job queue). Beside them, what the
HTTP adapters share: the pooled session with its retry and paging rules (`http.py`), the structured error every
connector raises (`errors.py`), the MSAL token providers (`auth.py`) and the azure-core credential over them that
Table Storage, Service Bus and telemetry use (`credentials.py`).

Why one package per API: each API has rules of its own (BC's JSON `$batch`, page keys and entity sources;
Dataverse's multipart `$batch` and bulk messages; Service Bus's AMQP batches and schedules), and whoever changes
one finds it whole in one folder. No API's package imports another's (tests/unit/test_import_rules.py).
"""
