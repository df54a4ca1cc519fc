"""Companies of the BC emulator and the environments they live in: every API, page or custom API path names an
environment (the last segment before `api/` or `ODataV4/`) and then one company of that environment.

Why environments: a tenant has several environments (production and sandboxes), each a database of its own with
its own companies, and the web service URL routes by the environment name (`.../v2.0/<tenant>/<environment>/api/
...`: Microsoft Dynamics 365 blog, "Web Services and Multiple Production Environments with Dynamics 365 Business
Central", 2019-08-27; Business Central Admin Center API "Environments": the name is unique within an application
family). A sync configured for one environment must never see, or write to, another's companies.

How: a company row may carry `@environment` (internal keys start with "@" and are never returned). A company
without one is served under any environment name: that is the default seed's single company (today's behaviour,
which the single-company tests rely on). Data stays keyed by company id (`naming.table_name`), so two companies
never share a row; company ids are unique across environments in the emulator (a sandbox copied from production
keeps production's SystemIds in BC: not modelled). Once some company names an environment, an environment name
no company has is refused with 404 (UNCONFIRMED: BC's exact status and code for an unknown environment), and a
company of another environment is not found (404 `BadRequest_NotFound`, as for a company that does not exist).
Environment names compare exactly (UNCONFIRMED whether BC ignores case there: the stricter reading).
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from local.emulators.business_central.errors import NOT_FOUND, BcError
from local.emulators.business_central.values import now_text
from local.emulators.store import Row, Store

SYSTEM_USER = "00000000-0000-0000-0000-000000000001"
COMPANIES = "companies"
ENVIRONMENT = "@environment"
_SERVICE_SEGMENTS = ("api", "ODataV4")


def add_company(store: Store, company_id: str, name: str, environment: str | None = None) -> None:
    """A company row; with `environment` it is served only under that environment's URLs."""
    now = now_text()
    version = store.next_version()
    row: Row = {
        "id": company_id,
        "systemVersion": "27.0.0.0",
        "timestamp": version,
        "name": name,
        "displayName": name,
        "businessProfileId": "",
        "systemCreatedAt": now,
        "systemCreatedBy": SYSTEM_USER,
        "systemModifiedAt": now,
        "systemModifiedBy": SYSTEM_USER,
        "@version": version,
    }
    if environment is not None:
        row[ENVIRONMENT] = environment
    store.put(COMPANIES, company_id, row, version=version)


def environment_of(root: str) -> str:
    """The environment a service root names: `http://host/<tenant>/<env>/api/v2.0` -> `<env>` (also for the forms
    `/v2.0/<tenant>/<env>/...`, `/<env>/...`, `.../ODataV4` and the custom API's `.../api/bcsalessync/...`)."""
    segments = [segment for segment in urlsplit(root).path.split("/") if segment]
    for index, segment in enumerate(segments):
        if segment in _SERVICE_SEGMENTS and index > 0:
            return segments[index - 1]
    return ""


def _served_in(row: Row, environment: str) -> bool:
    own = row.get(ENVIRONMENT)
    return own is None or own == environment


def check_environment(store: Store, environment: str) -> None:
    """404 for an environment no company has, once the companies name their environments."""
    known = {row.get(ENVIRONMENT) for row in store.rows(COMPANIES)} - {None}
    if known and environment not in known:
        raise BcError(404, NOT_FOUND, f"The environment '{environment}' does not exist.")


def companies_in(store: Store, environment: str) -> list[Row]:
    """The companies the environment serves, by name."""
    check_environment(store, environment)
    return sorted((r for r in store.rows(COMPANIES) if _served_in(r, environment)), key=lambda r: str(r["name"]))


def company_in(store: Store, company_id: str, environment: str) -> Row:
    """The company with this id in this environment (404 when there is none)."""
    check_environment(store, environment)
    row = store.get(COMPANIES, company_id)
    if row is None or not _served_in(row, environment):
        raise BcError(404, NOT_FOUND, f"The company '{company_id}' does not exist.")
    return row


def resolve_company(store: Store, raw: str, environment: str) -> str:
    """A company of the environment named in a URL by GUID or by name (404 when there is none)."""
    text = raw.strip("'")
    try:
        return str(company_in(store, str(uuid.UUID(text)), environment)["id"])
    except ValueError:
        for company in companies_in(store, environment):
            if company["name"] == text:
                return str(company["id"])
        raise BcError(404, NOT_FOUND, f"The company '{text}' does not exist.") from None
