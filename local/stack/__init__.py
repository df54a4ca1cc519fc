"""The local stack launcher: token authority, Azurite tables, both emulators and the local Functions host, each a
child process in its own process group (`processes.py`, `azurite.py`), composed and started in dependency order on
checked ports (`launcher.py`: `LocalStack`); `make serve` runs it in the foreground (`python -m local.stack.serve`).
Never deployed.
"""
