"""The local platform itself (`local/`), not the app: the local Functions host (against its own small test app,
`host_test_app.py`), the launcher and `make serve`, and the token authority, each run as real processes."""
