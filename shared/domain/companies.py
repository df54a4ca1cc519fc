"""The BC companies one deployment serves (issue 22): a list of (environment, company) pairs, each with its own
storage key. Pure: `settings.py` reads the app settings into it, `bootstrap.py` builds each company's services.

Why a key per company, and why the primary's is "": a company's tables are the deployment's tables with its key
added to the table prefix (`TABLE_PREFIX` + key + `Couplings`), so two companies' couplings, checkpoints, runs,
errors, setup and archive never meet. The company today's settings name (`BC_BASE_URL`'s environment and
`BC_COMPANY`) keeps key "", hence today's table names: a single-company deployment that adds companies keeps its data
where it is, nothing moves (docs/architecture.md, "Companies: keys and migration").

A key is letters and digits, starting with a letter (it may begin a table name when `TABLE_PREFIX` is empty), and the
prefix and key together are 30 characters at most (`storage/tables.py`'s prefix rule). A company without a configured
key gets `c` + the first 8 hex digits of sha256("<environment>/<company>" lower-cased): stable across restarts and
deployments, so its tables are found again.

How a caller names a company (`resolve`: the HTTP API's `company` parameter): its key, or its company name as
configured (case-insensitive), or `environment/company` when that name is configured in two environments. With one
company configured the name may be left out; with several it is required.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from shared.domain.errors import InvalidInputError

KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
MAX_PREFIX = 30  # TABLE_PREFIX + key: a letter then up to 29 letters or digits (storage/tables.py)
# What counts as blank: ASCII spaces and controls \t \n \v \f \r only, as the HTTP document's `NOT_BLANK` pattern
# says (`triggers/http_support.BLANK`); not `str.strip()`'s set, which also drops \x1c-\x1f and \x85 (the API
# fuzzer sent `company=%1F`, valid for the document, and the code had called it blank).
BLANK = "\t\n\v\f\r "
FIELD = "company"  # the HTTP parameter and the queue payload key


@dataclass(frozen=True)
class Company:
    environment: str  # BC's environment (the last segment of BC_BASE_URL: production, sandbox, ...)
    company: str  # BC's company name or id, as configured
    key: str = ""  # the storage key: "" for the primary company (today's tables)

    @property
    def is_primary(self) -> bool:
        return self.key == ""

    @property
    def label(self) -> str:
        """`environment/company`: how a message or a log names it."""
        return f"{self.environment}/{self.company}" if self.environment else self.company


def derived_key(environment: str, company: str) -> str:
    """The key of a company configured without one: `c` + 8 hex digits of sha256 of `environment/company`."""
    digest = hashlib.sha256(f"{environment}/{company}".lower().encode()).hexdigest()
    return "c" + digest[:8]


def environment_of(base_url: str) -> str:
    """The environment of a BC base URL (`https://api.businesscentral.dynamics.com/v2.0/<tenant>/<environment>`):
    its last path segment."""
    return base_url.rstrip("/").rsplit("/", 1)[-1]


def base_url_for(base_url: str, environment: str) -> str:
    """`base_url` with its environment segment replaced by `environment` (the same tenant)."""
    head, _, _ = base_url.rstrip("/").rpartition("/")
    return f"{head}/{environment}"


def primary_company(base_url: str, company: str) -> Company:
    """Today's single company: BC_BASE_URL's environment and BC_COMPANY, key ""."""
    return Company(environment_of(base_url), company, "")


def key_problems(companies: Sequence[Company], table_prefix: str) -> list[str]:
    """What is wrong with the keys of `companies` (each named), empty when they are usable."""
    problems: list[str] = []
    seen: dict[str, Company] = {}
    places: dict[tuple[str, str], Company] = {}
    for company in companies:
        place = (company.environment.lower(), company.company.lower())
        if place in places:
            problems.append(f"BC_COMPANIES lists {company.label} twice")
            continue
        places[place] = company
        if company.key and not KEY.match(company.key):
            problems.append(
                f"BC_COMPANIES: the key {company.key!r} of {company.label} must be letters and digits, "
                "starting with a letter"
            )
        elif len(table_prefix + company.key) > MAX_PREFIX:
            problems.append(
                f"BC_COMPANIES: TABLE_PREFIX + the key of {company.label} ({table_prefix + company.key!r}) "
                f"is longer than {MAX_PREFIX} characters"
            )
        clash = seen.get(company.key.lower())
        if clash is not None:
            problems.append(f"BC_COMPANIES: {company.label} and {clash.label} have the same key {company.key!r}")
        seen[company.key.lower()] = company
    return problems


def resolve(companies: Sequence[Company], requested: str | None) -> Company:
    """The company `requested` names (see the module docstring); `InvalidInputError` naming `company` when it is
    missing while several are configured, unknown, or ambiguous."""
    wanted = (requested or "").strip(BLANK)
    if requested is not None and not wanted:  # given, but blank: a mistake, not "the only company"
        raise InvalidInputError("invalidValue", "'company' must not be blank.", field=FIELD)
    if not wanted:
        if len(companies) == 1:
            return companies[0]
        raise InvalidInputError(
            "companyRequired",
            f"Several companies are configured: name one with 'company' ({_listed(companies)}).",
            field=FIELD,
        )
    by_key = [c for c in companies if c.key and c.key == wanted]
    if by_key:
        return by_key[0]
    folded = wanted.lower()
    by_name = [c for c in companies if c.company.lower() == folded]
    if len(by_name) > 1:
        raise InvalidInputError(
            "companyAmbiguous",
            f"'{wanted[:100]}' is configured in several environments: name it as environment/company "
            f"({_listed(by_name)}).",
            field=FIELD,
        )
    by_label = [c for c in companies if f"{c.environment}/{c.company}".lower() == folded]
    found = by_name or by_label
    if not found:
        raise InvalidInputError(
            "companyNotConfigured", f"No company '{wanted[:100]}' is configured ({_listed(companies)}).", field=FIELD
        )
    return found[0]


def _listed(companies: Sequence[Company]) -> str:
    return ", ".join(f"{c.label}" + (f" (key {c.key})" if c.key else "") for c in companies)
