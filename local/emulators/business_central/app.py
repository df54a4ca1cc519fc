"""Routes of the Business Central emulator: API v2.0 (company-scoped or `?company=`), its JSON `$batch`, bound
actions, and (through `pages/routes.py`) the page web services under `ODataV4` and custom API routes.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from local.emulators.business_central import batch, seed
from local.emulators.business_central.api import contact_rules, reads
from local.emulators.business_central.api.odata_context import context_url
from local.emulators.business_central.api.writer import Writer
from local.emulators.business_central.companies import companies_in, company_in, environment_of, resolve_company
from local.emulators.business_central.errors import BAD_REQUEST, METHOD_NOT_ALLOWED, BcError, error_response
from local.emulators.business_central.naming import etag_of
from local.emulators.business_central.pages import routes as pages
from local.emulators.business_central.posting import registry
from local.emulators.business_central.schema import EntitySet, load_schema
from local.emulators.business_central.webhooks.notifier import Notifier
from local.emulators.business_central.webhooks.subscriptions import Registry
from local.emulators.identity.tokens import Principal
from local.emulators.protection import Limits
from local.emulators.service import BATCH_MARKER, admin_body
from local.emulators.store import Row, Store
from local.emulators.web import Request, Response

BC_RESOURCE = "https://api.businesscentral.dynamics.com"
_API = re.compile(r"^(?P<root>(?:/[^/]+){1,3}/api/v2\.0)(?P<rest>/.*)?$")  # [/v2.0]/{tenant}/{environment}
_COMPANY = re.compile(r"^/companies\((?P<id>[^)]+)\)(?P<rest>/.*)?$")
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_.]+)(?:\((?P<key>[^)]*)\))?$")


class BusinessCentralApp:
    name = "business_central"
    seed_profiles = seed.PROFILES

    def __init__(self) -> None:
        self.schema = load_schema()
        self.store = Store()
        self.writer = Writer(self.schema, self.store)
        self.subscriptions = Registry()
        self.notifier = Notifier(self.store, self.subscriptions)

    # -- EmulatorApp protocol --------------------------------------------------------------------------------
    def default_limits(self) -> Limits:
        """BC online: 6,000 requests per 5 minutes and 5 concurrent per principal; up to 95 more wait in a queue."""
        return Limits(requestsPerWindow=6000, windowSeconds=300.0, maxConcurrent=5, maxQueued=95)

    def entity_set_of(self, request: Request) -> str:
        match = _API.match(request.path)
        if match is None:
            return request.path.split("/")[-1].split("(")[0] or "/"
        rest = match.group("rest") or "/"
        if rest == "/$batch":
            return BATCH_MARKER
        company = _COMPANY.match(rest)
        if company:
            rest = company.group("rest") or "/companies"
        first = rest.strip("/").split("/")[0]
        return first.split("(")[0] or "companies"

    def error(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
        return error_response(status, code, message, headers)

    def reset(self) -> None:
        self.store.clear()
        self.writer.reset_numbers()
        self.subscriptions.clear()
        self.notifier.reset()

    def seed(self, profile: str, counts: Mapping[str, int]) -> dict[str, int]:
        return seed.seed(self.writer, profile, counts)

    def admin_routes(self) -> Mapping[tuple[str, str], Callable[[Request], Response]]:
        routes = dict(registry.admin_routes(self.writer))
        routes[("GET", "/_admin/webhooks")] = self._webhooks
        routes[("POST", "/_admin/webhooks")] = self._webhooks
        return routes

    def _webhooks(self, request: Request) -> Response:
        """The webhook knobs (`webhooks/notifier.py` WebhookSettings: `batchDelaySeconds`, `collectionThreshold`,
        `retryDelaySeconds`, `retryForSeconds`), `subscriptionClockAdvanceSeconds` (the subscriptions' clock ahead, to
        test the 3-day expiry) and what was delivered; `/_admin/reset` restores the defaults."""
        if request.method == "POST":
            body = admin_body(request)
            advance = body.pop("subscriptionClockAdvanceSeconds", None)
            if advance is not None:
                if isinstance(advance, bool) or not isinstance(advance, int | float):
                    raise ValueError("subscriptionClockAdvanceSeconds must be a number")
                self.subscriptions.advance = float(advance)
            self.notifier.settings.configure(body)
        return Response.json(
            200,
            {
                **self.notifier.settings.json(),
                "subscriptions": len(self.subscriptions.live()),
                "deliveries": list(self.notifier.deliveries),
            },
        )

    # -- routing ---------------------------------------------------------------------------------------------
    def handle(self, request: Request, principal: Principal) -> Response:
        match = _API.match(request.path)
        if match is None:
            return pages.handle(self, request)
        root = request.base_url + match.group("root")
        rest = match.group("rest") or "/"
        if rest == "/$batch":
            if request.method != "POST":
                raise BcError(405, METHOD_NOT_ALLOWED, "$batch takes POST.")
            return batch.run(self, request, principal, root)
        if rest == "/subscriptions" or rest.startswith("/subscriptions("):
            return self._subscriptions(request, rest, root, principal)
        return self.dispatch(request, rest, root)

    def _subscriptions(self, request: Request, rest: str, root: str, principal: Principal) -> Response:
        """Webhook subscriptions (`webhooks/subscriptions.py`): per environment, not under a company."""
        environment = environment_of(root)
        response = self.subscriptions.handle(
            request,
            rest,
            environment,
            principal.object_id,
            lambda raw: self.company_id(raw, environment),
            lambda: self.store.version,
        )
        if request.method in ("POST", "PATCH") and response.status < 300:
            self.notifier.start()
        return response

    def dispatch(self, request: Request, rest: str, root: str) -> Response:
        """`root` is the API root the request came in on; its environment scopes the companies (companies.py)."""
        environment = environment_of(root)
        if rest in ("/companies", "/companies/"):
            return Response.json(
                200,
                {
                    "@odata.context": f"{root}/$metadata#companies",
                    "value": [self._company_json(c) for c in companies_in(self.store, environment)],
                },
            )
        company = _COMPANY.match(rest)
        if company:
            company_id = self.company_id(company.group("id"), environment)
            rest = company.group("rest") or ""
            if not rest:
                return Response.json(200, self._company_json(company_in(self.store, company_id, environment)))
        else:
            raw = request.query.get("company")
            if raw is None:
                raise BcError(400, BAD_REQUEST, "The company must be given: companies({id})/... or ?company=.")
            company_id = self.company_id(raw, environment)
        base = f"{root}/companies({company_id})"
        return self._entity_path(request, company_id, rest.strip("/").split("/"), base)

    def company_id(self, raw: str, environment: str) -> str:
        """A company of the environment by GUID or by name (URLs may use either)."""
        return resolve_company(self.store, raw, environment)

    @staticmethod
    def _company_json(row: Row) -> dict[str, Any]:
        return {"@odata.etag": etag_of(row), **{k: v for k, v in row.items() if not k.startswith("@")}}

    def _entity_path(self, request: Request, company_id: str, segments: list[str], base: str) -> Response:
        first = _SEGMENT.match(segments[0])
        if first is None:
            raise BcError(404, "BadRequest_NotFound", f"No HTTP resource was found for '{segments[0]}'.")
        entity_set = self.writer.entity_set(first.group("name"))
        key = first.group("key")
        if key is None:
            if len(segments) > 1:
                raise BcError(404, "BadRequest_NotFound", f"No HTTP resource was found for '{'/'.join(segments)}'.")
            return self._collection(request, company_id, entity_set, base)
        row_id = self._guid(key)
        if len(segments) == 1:
            return self._entity(request, company_id, entity_set, row_id, base)
        tail = segments[1]
        if tail.startswith("Microsoft.NAV.") and len(segments) == 2:
            return self._action(request, company_id, entity_set, row_id, tail.removeprefix("Microsoft.NAV."), base)
        parent = self.writer.get(company_id, entity_set, row_id)
        nav = _SEGMENT.match(tail)
        if nav is None or len(segments) > 2:
            raise BcError(404, "BadRequest_NotFound", f"No HTTP resource was found for '{tail}'.")
        return self._navigation(request, company_id, entity_set, parent, nav.group("name"), nav.group("key"), base)

    @staticmethod
    def _guid(key: str) -> str:
        try:
            return str(uuid.UUID(key.strip("'")))
        except ValueError:
            raise BcError(400, BAD_REQUEST, f"The key '{key}' is not a valid Edm.Guid.") from None

    @staticmethod
    def json_body(request: Request) -> Any:
        if not request.body:
            return {}
        try:
            return json.loads(request.body)
        except ValueError:
            raise BcError(400, BAD_REQUEST, "Invalid Request Body: not valid JSON.") from None

    def _entity_json(
        self, request: Request, company_id: str, entity_set: EntitySet, row: Row, base: str, status: int
    ) -> Response:
        body = {"@odata.context": context_url(request, base, company_id, entity=True)}
        body.update(reads.format_row(self.writer, company_id, entity_set, row, None, []))
        return Response.json(status, body, {"ETag": etag_of(row)})

    def _collection(
        self, request: Request, company_id: str, entity_set: EntitySet, base: str, parent_id: str | None = None
    ) -> Response:
        if request.method == "GET":
            rows = None
            if parent_id is not None:
                rows = [
                    r
                    for r in reads.rows_of(self.writer, company_id, entity_set)
                    if r.get(entity_set.parent_key) == parent_id
                ]
            return Response.json(200, reads.list_rows(self.writer, company_id, entity_set, request, base, rows))
        if request.method == "POST":
            with self.writer.store.transaction():  # a customer or vendor and its company contact, or neither
                row = self.writer.create(company_id, entity_set, self.json_body(request), parent_id=parent_id)
                contact_rules.company_contact_for_new_customer_or_vendor(self.writer, company_id, entity_set.name, row)
            return self._entity_json(request, company_id, entity_set, row, base, 201)
        raise BcError(405, METHOD_NOT_ALLOWED, f"{request.method} is not allowed on a collection.")

    def _entity(self, request: Request, company_id: str, entity_set: EntitySet, row_id: str, base: str) -> Response:
        if request.method == "GET":
            rows = [r for r in reads.rows_of(self.writer, company_id, entity_set) if r["id"] == row_id]
            if not rows:
                self.writer.get(company_id, entity_set, row_id)
            return Response.json(
                200,
                reads.get_row(self.writer, company_id, entity_set, rows[0], request, base),
                {"ETag": etag_of(rows[0])},
            )
        if request.method == "PATCH":
            row = self.writer.update(
                company_id, entity_set, row_id, self.json_body(request), request.header("if-match")
            )
            return self._entity_json(request, company_id, entity_set, row, base, 200)
        if request.method == "DELETE":
            self.writer.delete(company_id, entity_set, row_id, request.header("if-match"))
            return Response.empty(204)
        raise BcError(405, METHOD_NOT_ALLOWED, f"{request.method} is not allowed on an entity.")

    def _navigation(
        self,
        request: Request,
        company_id: str,
        entity_set: EntitySet,
        parent: Row,
        name: str,
        key: str | None,
        base: str,
    ) -> Response:
        if name == entity_set.lines:
            line_set = self.writer.entity_set(name)
            if key is None:
                return self._collection(request, company_id, line_set, base, parent_id=parent["id"])
            line = self.writer.get(company_id, line_set, self._guid(key))
            if line.get(line_set.parent_key) != parent["id"]:
                raise BcError(404, "BadRequest_NotFound", f"The line '{key}' does not belong to this document.")
            return self._entity(request, company_id, line_set, line["id"], base)
        if name == "customerFinancialDetails" and entity_set.name == "customers" and request.method == "GET":
            details_set = self.writer.entity_set(name)
            rows = reads.rows_of(self.writer, company_id, details_set)
            row = next(r for r in rows if r["id"] == parent["id"])
            return Response.json(200, reads.get_row(self.writer, company_id, details_set, row, request, base))
        raise BcError(404, "BadRequest_NotFound", f"No HTTP resource was found for the navigation '{name}'.")

    def _action(
        self, request: Request, company_id: str, entity_set: EntitySet, row_id: str, name: str, base: str
    ) -> Response:
        if request.method != "POST":
            raise BcError(405, METHOD_NOT_ALLOWED, "Bound actions take POST.")
        if name not in entity_set.actions:
            raise BcError(400, BAD_REQUEST, f"The action '{name}' is not bound to '{entity_set.name}'.")
        action = registry.action_for(entity_set.name, name)
        if action is None:
            raise BcError(400, BAD_REQUEST, f"The action '{name}' is not implemented by the emulator.")
        with self.store.transaction():
            row = self.writer.get(company_id, entity_set, row_id)
            result = action(self.writer, company_id, entity_set, row)
        headers = {}
        if result is not None:
            target_set, target = result
            headers["Location"] = f"{base}/{target_set}({target['id']})"
        return Response.empty(204, headers)


__all__ = ["BC_RESOURCE", "BusinessCentralApp"]
