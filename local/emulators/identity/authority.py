"""A local, Entra-like token authority served over real HTTPS.

Why it exists: the Functions app authenticates to Business Central and Dataverse with MSAL's client-credentials flow.
To exercise that exact code path locally (no tenant, no internet), this server answers MSAL's OIDC discovery, JWKS and
token requests like Microsoft Entra ID does, and the emulators validate the tokens it issues (see `tokens.py`).
MSAL refuses non-HTTPS authorities, hence a self-signed certificate written to the certificate directory *before* the
port opens: anyone who sees the port listening can already read `authority.crt` and trust it.

Beyond client secrets it accepts certificate credentials (trust an app by dropping its certificate PEM into
`<cert-dir>/clients/<client_id>.pem`) and serves the App Service managed identity endpoint at `GET /msi/token`
(set `IDENTITY_ENDPOINT=<authority>/msi/token` and `IDENTITY_HEADER` to env `LOCAL_IDENTITY_HEADER`, default
`local-identity-header`); see `credentials.py`.

Run: `python -m local.emulators.identity --port 7083 [--host 127.0.0.1] [--cert-dir DIR]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import socket
import socketserver
import ssl
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from local.emulators.identity import credentials, keys, oauth
from local.emulators.identity.credentials import ManagedIdentityError
from local.emulators.identity.oauth import SigningMaterial, TokenError

LOG = logging.getLogger("local.emulators.identity")
DEFAULT_CLIENT_SECRET = "local-dev-secret"  # noqa: S105 - a documented local-only default, overridable by env
DEFAULT_IDENTITY_HEADER = "local-identity-header"  # the managed identity endpoint's shared secret, env-overridable
DEFAULT_MSI_TENANT = "local"  # the tenant managed identity tokens name (env LOCAL_MSI_TENANT)
_MAX_BODY = 64 * 1024
_SAFE_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_]*$")


class AuthorityServer(ThreadingHTTPServer):
    """The HTTPS server plus the state every request needs (signing key, secret, fallback base URL)."""

    daemon_threads = True

    def __init__(
        self,
        host: str,
        port: int,
        signing: SigningMaterial,
        client_secret: str,
        tls: ssl.SSLContext,
        *,
        clients_dir: Path | None = None,
        identity_header: str = DEFAULT_IDENTITY_HEADER,
        msi_tenant: str = DEFAULT_MSI_TENANT,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), _Handler)
        # The handshake is deferred to the request thread so a slow or broken client cannot stall `accept()`.
        self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.signing = signing
        self.client_secret = client_secret
        self.clients_dir = clients_dir  # None: no certificate is trusted
        self.identity_header = identity_header
        self.msi_tenant = msi_tenant
        bound_port = self.server_address[1]
        self.base_url = f"https://[{host}]:{bound_port}" if ":" in host else f"https://{host}:{bound_port}"

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS `getfqdn()`, which can stall startup for seconds on some hosts."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that rejects our certificate or hangs up mid-request is routine here, not a traceback."""
        LOG.debug("connection from %s ended: %s", client_address, sys.exc_info()[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Entra; every response therefore carries Content-Length
    server_version = "LocalEntra/1.0"
    timeout = 30

    @property
    def authority(self) -> AuthorityServer:
        return cast(AuthorityServer, self.server)

    def setup(self) -> None:
        super().setup()
        cast(ssl.SSLSocket, self.request).do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        LOG.info("%s %s", self.address_string(), format % args)

    # -- plumbing -------------------------------------------------------------------------------------------------

    def _base_url(self) -> str:
        """Answer with the name the client used (127.0.0.1, localhost, ::1) so URLs match its TLS expectations."""
        host = self.headers.get("Host", "")
        return f"https://{host}" if _SAFE_HOST.match(host) else self.authority.base_url

    def _correlation_id(self) -> str:
        requested = self.headers.get("client-request-id", "")
        try:
            return str(uuid.UUID(requested))
        except ValueError:
            return str(uuid.uuid4())

    def _send_json(self, status: int, body: dict[str, Any], *, no_store: bool = False) -> None:
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("client-request-id", self._correlation_id())
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        if no_store:
            self.send_header("Cache-Control", "no-store, no-cache")
            self.send_header("Pragma", "no-cache")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _not_found(self) -> None:
        self._send_json(404, {"error": "not_found", "error_description": f"No endpoint at {self.path}."})

    def _read_form(self) -> dict[str, str] | None:
        """The form body (first value wins); None when the body is too large or not a number of bytes we can read."""
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if length < 0 or length > _MAX_BODY:
            return None
        raw = self.rfile.read(length).decode("utf-8", errors="replace")
        form: dict[str, str] = {}
        for key, value in parse_qsl(raw, keep_blank_values=True):
            form.setdefault(key, value)
        return form

    def _route(self) -> tuple[str, str] | None:
        """(endpoint name, tenant) for a known path, else None."""
        segments = [s for s in urlsplit(self.path).path.split("/") if s]
        if len(segments) < 2 or not _TENANT.match(segments[0]):
            return None
        tenant, rest = segments[0], tuple(segments[1:])
        endpoints = {
            ("v2.0", ".well-known", "openid-configuration"): "discovery",
            (".well-known", "openid-configuration"): "discovery",
            ("discovery", "v2.0", "keys"): "keys",
            ("discovery", "keys"): "keys",
            ("oauth2", "v2.0", "token"): "token",
        }
        name = endpoints.get(rest)
        return (name, tenant) if name else None

    # -- verbs ----------------------------------------------------------------------------------------------------

    def _managed_identity(self) -> None:
        """The App Service identity endpoint MSAL's ManagedIdentityClient calls (never logs the identity header)."""
        query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        tenant = self.authority.msi_tenant
        try:
            client_id, body = credentials.issue_managed_identity_token(
                query,
                self.headers.get("X-IDENTITY-HEADER"),
                expected_header=self.authority.identity_header,
                signing=self.authority.signing,
                issuer=oauth.issuer_for(self._base_url(), tenant),
                tenant=tenant,
            )
        except ManagedIdentityError as exc:
            LOG.info("managed identity token refused: %s", exc.message)
            self._send_json(exc.status, exc.body(self._correlation_id()), no_store=True)
            return
        LOG.info("managed identity token issued: client_id=%s aud=%s", client_id, body["resource"])
        self._send_json(200, body, no_store=True)

    def do_GET(self) -> None:
        if urlsplit(self.path).path == credentials.MSI_PATH:
            self._managed_identity()
            return
        route = self._route()
        if route is None:
            self._not_found()
        elif route[0] == "discovery":
            self._send_json(200, oauth.discovery_document(self._base_url(), route[1]))
        elif route[0] == "keys":
            self._send_json(200, oauth.jwks_document(self.authority.signing))
        else:
            self._send_json(405, {"error": "invalid_request", "error_description": "The token endpoint needs POST."})

    do_HEAD = do_GET

    def do_POST(self) -> None:
        form = self._read_form()
        if form is None:
            self.close_connection = True  # the unread body would otherwise be parsed as the next request
            self._send_json(413, {"error": "invalid_request", "error_description": "Unreadable request body."})
            return
        route = self._route()
        if route is None or route[0] != "token":
            self._not_found()
            return
        tenant = route[1]
        clients_dir = self.authority.clients_dir
        token_endpoint = f"{self._base_url()}/{tenant}/oauth2/v2.0/token"
        check = credentials.certificate_check(clients_dir, token_endpoint) if clients_dir else None
        try:
            client_id, audience, body = oauth.issue_token(
                form,
                self.headers.get("Authorization"),
                base_url=self._base_url(),
                tenant=tenant,
                signing=self.authority.signing,
                expected_secret=self.authority.client_secret,
                check_assertion=check,
            )
        except TokenError as exc:
            LOG.info("token refused for tenant %s: %s", tenant, exc)
            self._send_json(exc.status, exc.body(self._correlation_id()), no_store=True)
            return
        LOG.info("token issued: tenant=%s client_id=%s aud=%s", tenant, client_id, audience)
        self._send_json(200, body, no_store=True)


def build_server(
    host: str, port: int, cert_dir: Path | str, client_secret: str | None = None, identity_header: str | None = None
) -> AuthorityServer:
    """Prepare key material on disk, then bind and listen (port 0 picks a free port; see `server.server_address`).

    The client secret defaults to env `LOCAL_CLIENT_SECRET` (else `local-dev-secret`), the managed identity header
    to env `LOCAL_IDENTITY_HEADER` (else `local-identity-header`). Trusted client certificates: `<cert_dir>/clients/`.
    """
    directory = Path(cert_dir)
    tls_files = keys.ensure_tls_files(directory, host)
    key = keys.load_or_create_signing_key(directory)
    signing = SigningMaterial(key=key, jwk=keys.public_jwk(key))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.load_cert_chain(tls_files.cert, tls_files.key)
    if client_secret is None:
        client_secret = os.environ.get("LOCAL_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
    header = identity_header or os.environ.get("LOCAL_IDENTITY_HEADER", DEFAULT_IDENTITY_HEADER)
    tenant = os.environ.get("LOCAL_MSI_TENANT", DEFAULT_MSI_TENANT)
    clients = directory / credentials.CLIENTS_DIR
    clients.mkdir(parents=True, exist_ok=True)  # a visible place to drop client certificates
    return AuthorityServer(
        host, port, signing, client_secret, tls, clients_dir=clients, identity_header=header, msi_tenant=tenant
    )


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.emulators.identity", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=7083)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--cert-dir", type=Path, default=None, help="default: $LOCAL_AUTHORITY_CERT_DIR or <repo>/.local/identity"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    cert_dir: Path = args.cert_dir or keys.default_cert_dir()
    server = build_server(args.host, args.port, cert_dir)

    def stop(signum: int, _frame: FrameType | None) -> None:
        LOG.info("signal %d: stopping", signum)
        # shutdown() waits for serve_forever() to return, which runs on this very thread: hand it to another one.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"identity: listening on {server.base_url} (cert {cert_dir / keys.CERT_FILE})", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0

