"""`python -m local.host`: the local Azure Functions host (local/host/functions_host.py)."""

from __future__ import annotations

import sys

from local.host.functions_host import main

if __name__ == "__main__":
    sys.exit(main())
