"""Every test `make test` runs (pytest; markers in pyproject.toml): the app's tests one folder per kind of proof,
and the local platform's own in `local/`. The session fixtures that start the real local parts (Azurite, the token
authority, both emulators) on free ports are in `conftest.py`.
"""
