"""The request pipeline both emulators share: admin endpoints, faults, token check, service protection, stats.

An emulator supplies an `EmulatorApp` (its routes, error shapes and seed data); this module wraps it so every
emulator throttles, fails and counts the same way, and `/_admin` is identical on both.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any, Protocol

from local.emulators.identity.tokens import InvalidToken, Principal, TokenValidator
from local.emulators.protection import FaultInjector, Limits, ServiceProtection, Stats, Throttled
from local.emulators.web import HttpError, Request, Response

BATCH_MARKER = "$batch"


class EmulatorApp(Protocol):
    """What an emulator implements; the service does everything else."""

    name: str

    @property
    def seed_profiles(self) -> tuple[str, ...]:
        """What `/_admin/seed` (and `--seed`) take."""
        ...

    def default_limits(self) -> Limits: ...

    def handle(self, request: Request, principal: Principal) -> Response: ...

    def entity_set_of(self, request: Request) -> str:
        """The entity set a request targets (for stats); `$batch` for a batch (its operations charge themselves)."""
        ...

    def error(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Response: ...

    def reset(self) -> None: ...

    def seed(self, profile: str, counts: Mapping[str, int]) -> dict[str, int]: ...

    def admin_routes(self) -> Mapping[tuple[str, str], Callable[[Request], Response]]: ...


class EmulatorService:
    """Callable handler for `EmulatorHTTPServer`: `/_admin/*` first, then faults, auth, throttling, the app."""

    def __init__(self, app: EmulatorApp, validator: TokenValidator | None) -> None:
        self.app = app
        self.validator = validator
        self.protection = ServiceProtection(app.default_limits())
        self.faults = FaultInjector()
        self.stats = Stats()

    # -- admin ---------------------------------------------------------------------------------------------
    def _admin(self, request: Request) -> Response:
        route = (request.method, request.path.rstrip("/"))
        try:
            body = json.loads(request.body) if request.body else {}
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            if route == ("POST", "/_admin/reset"):
                self.app.reset()
                self.stats.reset()
                self.faults.configure(asdict(type(self.faults.faults)()))
                self.protection.reset(self.app.default_limits())
                return Response.json(200, {"reset": True})
            if route == ("POST", "/_admin/seed"):
                profile = body.get("profile", "demo")
                counts = body.get("counts") or {}
                if profile not in self.app.seed_profiles:
                    raise ValueError(f"profile must be one of {', '.join(repr(p) for p in self.app.seed_profiles)}")
                if not isinstance(counts, dict) or not all(
                    isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts.values()
                ):
                    raise ValueError("counts must map entity names to non-negative integers")
                started = time.perf_counter()
                created = self.app.seed(profile, counts)
                return Response.json(
                    200, {"profile": profile, "created": created, "seconds": round(time.perf_counter() - started, 3)}
                )
            if route == ("POST", "/_admin/faults"):
                return Response.json(200, asdict(self.faults.configure(body)))
            if route == ("GET", "/_admin/faults"):
                return Response.json(200, asdict(self.faults.faults))
            if route == ("POST", "/_admin/limits"):
                self.protection.configure(body)
                return Response.json(200, asdict(self.protection.limits))
            if route == ("GET", "/_admin/limits"):
                return Response.json(200, asdict(self.protection.limits))
            if route == ("GET", "/_admin/stats"):
                return Response.json(200, self.stats.snapshot())
            if route == ("DELETE", "/_admin/stats"):
                self.stats.reset()
                return Response.empty(204)
            extra = self.app.admin_routes().get(route)
            if extra is not None:
                return extra(request)
        except (ValueError, TypeError) as error:
            return Response.json(400, {"error": {"code": "BadRequest", "message": str(error)}})
        return Response.json(404, {"error": {"code": "NotFound", "message": f"no admin route {route[0]} {route[1]}"}})

    # -- requests ------------------------------------------------------------------------------------------
    def _inject_faults(self, request: Request) -> Response | None:
        faults = self.faults.faults
        if self.faults.roll(faults.dropRate):
            self.stats.record_fault("drop")
            return Response(0, drop_connection=True)
        if self.faults.roll(faults.status429Rate):
            self.stats.record_fault("429")
            retry = str(faults.retryAfterSeconds)
            return self.app.error(429, "TooManyRequests", "Injected fault: too many requests.", {"Retry-After": retry})
        if self.faults.roll(faults.status5xxRate):
            status = self.faults.choose_5xx()
            self.stats.record_fault(str(status))
            return self.app.error(status, "ServiceUnavailable", f"Injected fault: {status}.", {"Retry-After": "1"})
        return None

    def charge_operation(self, principal: Principal, method: str, entity_set: str) -> None:
        """Charge one operation of a `$batch` (each counts toward the limits, like the real services)."""
        self.protection.charge(principal.object_id, 1)
        self.stats.record_operation(method, entity_set, 1)

    def __call__(self, request: Request) -> Response:
        if request.path.startswith("/_admin/") or request.path == "/_admin":
            return self._admin(request)
        injected = self._inject_faults(request)
        if injected is not None:
            return injected
        try:
            principal = self._authenticate(request)
        except InvalidToken as error:
            return self.app.error(
                401,
                "Unauthorized",
                f"The access token is invalid: {error.reason}",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        entity_set = self.app.entity_set_of(request)
        units = 0 if entity_set == BATCH_MARKER else 1
        try:
            with self.protection.admit(principal.object_id):
                self.protection.charge(principal.object_id, units)
                self.stats.record_request(request.method, entity_set, units)
                request.context["service"] = self
                latency = self.faults.faults.latencyMs
                if latency:  # service time: it holds the concurrency slot, as a slow real request would
                    time.sleep(latency / 1000)
                try:
                    response = self.app.handle(request, principal)
                except HttpError as error:
                    response = error.response
        except Throttled as throttled:
            self.stats.record_throttled()
            code = "TooManyRequests" if throttled.kind == "requests" else "TooManyConcurrentRequests"
            return self.app.error(429, code, throttled.message, {"Retry-After": str(throttled.retry_after)})
        if self.faults.roll(self.faults.faults.dropAfterProcessingRate):
            self.stats.record_fault("dropAfterProcessing")
            return Response(0, drop_connection=True)
        return response

    def _authenticate(self, request: Request) -> Principal:
        if self.validator is None:  # only in-process unit tests build a service without auth
            return Principal(client_id="anonymous", object_id="00000000-0000-0000-0000-000000000000", tenant_id="")
        return self.validator.validate(request.header("authorization"))


def admin_body(request: Request) -> dict[str, Any]:
    """Parse an admin JSON object body (emulator-specific admin routes use it)."""
    body = json.loads(request.body) if request.body else {}
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body
