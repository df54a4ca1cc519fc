"""The job queue on Service Bus: the `JobQueue` adapter (`queue.py`) and the job <-> message translations it shares
with the queue trigger and the in-memory queue of `local/fakes/` (`messages.py`).

Why here with the other connectors: it is an adapter to a service outside the app like BC and Dataverse; it shares
no HTTP with them (the SDK speaks AMQP, and is imported on first send only).
"""
