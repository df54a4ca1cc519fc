"""`python -m local.emulators.identity --port 7083`: the local token authority (see authority.py)."""

from __future__ import annotations

import sys

from local.emulators.identity.authority import main

if __name__ == "__main__":
    sys.exit(main())
