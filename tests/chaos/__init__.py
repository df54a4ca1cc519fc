"""Fault injection on the sync stack: crashes between writes, redeliveries, throttling and clock skew, proving that
a run is redone and never loses or duplicates a record (some in `make test`, all with `make chaos`)."""
