"""The demo's full synchronization: start it through the API, show each line's progress while the queue works it
off, then the final review (BC's "Full Synch. Review"). A progress line is printed whenever a line moves, so the
output reads the same in a terminal and in a CI log."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

BAR = 20
POLL_SECONDS = 0.3


def bar(done: int, total: int | None) -> str:
    if not total:
        return "[" + "." * BAR + "]"
    filled = round(BAR * min(done, total) / total)
    return "[" + "#" * filled + "-" * (BAR - filled) + "]"


def progress_line(line: dict[str, Any]) -> str:
    chunks = line["chunks"]
    total = chunks["total"]
    counted = f"{chunks['done']}/{total if total is not None else '?'} chunks"
    return f"   {line['mapping']:<18} {bar(chunks['done'], total)} {counted:<14} {line['status']}"


def review_table(review: dict[str, Any]) -> list[str]:
    rows = [f"   {'mapping':<18} {'recommendation':<20} {'status':<9} inserted coupled modified failed  rec/s"]
    for line in review["lines"]:
        c = line["counters"]
        speed = line["recordsPerSecond"] if line["recordsPerSecond"] is not None else "-"
        rows.append(
            f"   {line['mapping']:<18} {line['recommendation']:<20} {line['status']:<9} {c['inserted']:>8} "
            f"{c['coupled']:>7} {c['modified']:>8} {c['failed']:>6} {speed:>6}"
        )
        if line["error"]:
            rows.append(f"      ! {line['error']}")
        for entry in line.get("errors", [])[:2]:  # the record errors of the line, as the review lists them
            rows.append(f"      - {entry['id']}: {entry['code']}: {entry['message']}")
    return rows


def run_full_sync(api: Callable[..., Any], timeout: float = 300) -> dict[str, Any]:
    """Start a full synchronization of every mapping that can run, print progress, return the final review."""
    review = api("POST", "full-sync", {}, expect=202)
    for name, why in review.get("notRunnable", {}).items():
        print(f"   left out: {name}: {why}")
    shown: dict[str, tuple[str, int]] = {}
    deadline = time.monotonic() + timeout
    while True:
        for line in review["lines"]:
            state = (line["status"], line["chunks"]["done"])
            if shown.get(line["mapping"]) != state:
                shown[line["mapping"]] = state
                print(progress_line(line), flush=True)
        if review["status"] in ("finished", "failed") or time.monotonic() > deadline:
            return dict(review)
        time.sleep(POLL_SECONDS)
        review = api("GET", f"full-sync/{review['runId']}")


def contact_names(dataverse: Callable[..., Any], limit: int = 4) -> str:
    """The summary line of the contacts the sync keeps under accounts: each with its first and last name as Sales
    holds them (BC's First Name and Surname), so a lost first name shows at a glance."""
    query = "contacts?$select=firstname,lastname&$filter=_parentcustomerid_value ne null&$orderby=lastname"
    rows = (dataverse("GET", query) or {}).get("value", [])
    named = [f"{row.get('firstname') or '(no first name)'} / {row.get('lastname') or ''}" for row in rows]
    with_first = sum(1 for row in rows if row.get("firstname"))
    shown = ", ".join(named[:limit]) + (", ..." if len(named) > limit else "")
    return f"contacts (first / last name): {with_first} of {len(rows)} with a first name: {shown}"


def product_states(dataverse: Callable[..., Any]) -> str:
    """Products as a salesperson sees them: Active (statecode 0) and on the default price list, or not, so a Draft
    product or one missing its price shows at a glance."""
    rows = (dataverse("GET", "products?$select=name,statecode,_pricelevelid_value") or {}).get("value", [])
    active = sum(1 for row in rows if row.get("statecode") == 0)
    priced = sum(1 for row in rows if row.get("_pricelevelid_value"))
    return f"products: {active} of {len(rows)} Active, {priced} on the default price list"


def currency_rates(dataverse: Callable[..., Any]) -> str:
    """Currencies with the exchange rate Sales holds (BC's current rate; never empty)."""
    rows = (dataverse("GET", "transactioncurrencies?$select=isocurrencycode,exchangerate") or {}).get("value", [])
    shown = ", ".join(f"{row.get('isocurrencycode')} {row.get('exchangerate')}" for row in rows)
    return f"currencies (exchange rate): {shown}"
