"""Write a generated document, or check that the committed one is current: what every docs generator of `tools/`
ends with (`python -m tools.X` writes, `--check` fails on drift and says which command mends it)."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(path: Path, text: str, *, check: bool, what: str, command: str, wrote: str) -> int:
    """`what`: how the messages name the document; `wrote`: the line printed after writing it. 0, or 1 on drift."""
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{what} is out of date: run python -m {command}", file=sys.stderr)
            return 1
        print(f"{what} is up to date")
        return 0
    path.write_text(text, encoding="utf-8")
    print(wrote)
    return 0
