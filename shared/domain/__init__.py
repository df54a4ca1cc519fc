"""Pure logic and value types of the sync: no I/O, no azure.*, no requests (an import test checks it)."""
