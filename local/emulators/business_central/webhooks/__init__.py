"""BC webhooks in the emulator: API v2.0 subscriptions (`subscriptions.py`) and the notifications a committed change
sends them (`notifier.py`)."""
