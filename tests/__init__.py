"""Every test `make test` runs (pytest; markers in pyproject.toml), one folder per kind of proof. The session
fixtures that start the real local parts (Azurite, the token authority, both emulators) on free ports are in
`conftest.py`.
"""
