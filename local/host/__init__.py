"""The local Azure Functions host (`python -m local.host`), since Core Tools cannot be installed here: the same
`function_app.app` the Python worker runs in Azure, with Azure's settings files (`settings.py`), function indexing
(`functions.py`), HTTP routing and keys (`routes.py`, `http_server.py`), NCRONTAB timers (`ncrontab.py`,
`timers.py`), Service Bus peek-lock delivery (`queues.py`, and `broker.py`: the AMQP 1.0 broker behind the real
`azure-servicebus` sender), the admin API (`admin.py`) and delivery faults on purpose (`chaos.py`).
`functions_host.py` composes them. Never deployed.
"""
