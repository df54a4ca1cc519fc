"""Certificate credentials and managed identity for the local token authority (pure logic, no HTTP server code).

Why: production authenticates with a certificate or the Function App's managed identity rather than a secret, and
both go through MSAL code paths (a signed client assertion; `ManagedIdentityClient`) that only a real exchange proves.

Certificates: an app is trusted by dropping its certificate(s) as PEM into `<cert-dir>/clients/<client_id>.pem`
(several certificates in one file are all trusted, for rollover). The file is read on every token request, so a test
can register a certificate while the authority runs. A client assertion is accepted when its header's `x5t#S256`
(SHA-256) or `x5t` (SHA-1) names one of those certificates, it is signed by that certificate's key (RS256 or PS256),
`aud` is the token endpoint, `iss` = `sub` = the client id, and it is within its validity (and the certificate in its).

Managed identity: the App Service / Functions protocol MSAL 1.39 speaks when `IDENTITY_ENDPOINT` and
`IDENTITY_HEADER` are set: `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<resource>[&client_id=<id>]`
with headers `X-IDENTITY-HEADER: {IDENTITY_HEADER}` and `Metadata: true`; the answer is
`{"access_token", "expires_on" (epoch seconds, a string), "resource", "token_type", "client_id"}`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from local.emulators.identity.oauth import AssertionCheck, SigningMaterial, TokenError, mint_access_token

CLIENTS_DIR = "clients"
MSI_PATH = "/msi/token"
MSI_API_VERSION = "2019-08-01"
MSI_TOKEN_LIFETIME_S = 24 * 3600  # managed identity tokens live 24 hours (MSAL then refreshes after half of it)
SYSTEM_ASSIGNED_CLIENT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "local-system-assigned-managed-identity"))
_ALGORITHMS = ("RS256", "PS256")
_LEEWAY_S = 300  # Entra tolerates five minutes of clock skew on client assertions
_SAFE_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_UNSUPPORTED_IDS = ("mi_res_id", "msi_res_id", "object_id", "principal_id")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def certificate_thumbprints(cert: x509.Certificate) -> tuple[str, str]:
    """(`x5t`, `x5t#S256`) header values for `cert`: base64url of its SHA-1 and SHA-256 DER digests."""
    return _b64url(cert.fingerprint(hashes.SHA1())), _b64url(cert.fingerprint(hashes.SHA256()))  # noqa: S303


def trusted_certificates(clients_dir: Path, client_id: str) -> list[x509.Certificate]:
    """The certificates registered for `client_id` (none when the file is missing, unreadable or not PEM)."""
    if not _SAFE_CLIENT_ID.match(client_id):
        return []  # never build a path from a client id that could climb out of the directory
    for name in dict.fromkeys((client_id, client_id.lower())):
        try:
            return x509.load_pem_x509_certificates((clients_dir / f"{name}.pem").read_bytes())
        except (OSError, ValueError):
            continue
    return []


def _refuse(code: int, message: str) -> TokenError:
    return TokenError(401, "invalid_client", code, message)


def _thumbprint(value: Any) -> str | None:
    """A header thumbprint in canonical form: MSAL pads its base64url (`=`), RFC 7515 does not; accept both."""
    return value.rstrip("=").replace("+", "-").replace("/", "_") if isinstance(value, str) and value else None


def _matching(header: Mapping[str, Any], certificates: Sequence[x509.Certificate]) -> x509.Certificate | None:
    sha1, sha256 = _thumbprint(header.get("x5t")), _thumbprint(header.get("x5t#S256"))
    for cert in certificates:
        cert_sha1, cert_sha256 = certificate_thumbprints(cert)
        if sha256 == cert_sha256 if sha256 else sha1 == cert_sha1:  # x5t#S256 wins when both are given
            return cert
    return None


def verify_client_assertion(
    client_id: str,
    assertion: str,
    *,
    certificates: Sequence[x509.Certificate],
    token_endpoint: str,
    now: float | None = None,
) -> None:
    """Accept a private_key_jwt client assertion, or raise the TokenError Entra would answer with."""
    if not certificates:
        raise _refuse(
            700027,
            f"Client assertion failed signature validation: no certificate is registered for app '{client_id}' "
            "with the local authority.",
        )
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.DecodeError as exc:
        raise _refuse(50027, "JWT token is invalid or malformed.") from exc
    if header.get("alg") not in _ALGORITHMS:
        raise _refuse(50027, f"JWT token is invalid or malformed: algorithm {header.get('alg')!r} is not accepted.")
    cert = _matching(header, certificates)
    if cert is None:
        used = header.get("x5t#S256") or header.get("x5t")
        raise _refuse(
            700027,
            "The certificate with identifier used to sign the client assertion is not registered on application. "
            f"[Reason - The key was not found., Thumbprint of key used by client: '{used}']",
        )
    moment = dt.datetime.fromtimestamp(time.time() if now is None else now, dt.UTC)
    if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
        raise _refuse(700027, "The certificate used to sign the client assertion is expired or not yet valid.")
    try:
        claims = jwt.decode(
            assertion,
            key=cert.public_key(),  # type: ignore[arg-type]  # an RSA key; PyJWT's alias is narrower than x509's
            algorithms=[str(header["alg"])],
            audience=token_endpoint,
            leeway=_LEEWAY_S,
            options={"require": ["exp", "aud", "iss", "sub"], "verify_iat": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise _refuse(700027, "Client assertion failed signature validation.") from exc
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError) as exc:
        raise _refuse(700024, "Client assertion is not within its valid time range.") from exc
    except jwt.InvalidAudienceError as exc:
        raise _refuse(50027, f"JWT token is invalid or malformed: the audience must be '{token_endpoint}'.") from exc
    except jwt.InvalidTokenError as exc:
        raise _refuse(50027, f"JWT token is invalid or malformed: {exc}.") from exc
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise _refuse(700021, "Client assertion application identifier doesn't match 'client_id' parameter.")


def certificate_check(clients_dir: Path, token_endpoint: str) -> AssertionCheck:
    """The assertion check `oauth.issue_token` runs for one request to `token_endpoint`."""

    def check(client_id: str, assertion: str) -> None:
        certificates = trusted_certificates(clients_dir, client_id)
        verify_client_assertion(client_id, assertion, certificates=certificates, token_endpoint=token_endpoint)

    return check


class ManagedIdentityError(Exception):
    """A refusal rendered the way the App Service identity endpoint answers: `{"statusCode", "message"}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self, correlation_id: str) -> dict[str, Any]:
        return {"statusCode": self.status, "message": self.message, "correlationId": correlation_id}


def issue_managed_identity_token(
    query: Mapping[str, str],
    identity_header: str | None,
    *,
    expected_header: str,
    signing: SigningMaterial,
    issuer: str,
    tenant: str,
    now: float | None = None,
) -> tuple[str, dict[str, Any]]:
    """Handle one identity-endpoint request; returns (client id of the identity, response body)."""
    if not identity_header or not hmac.compare_digest(identity_header.encode(), expected_header.encode()):
        raise ManagedIdentityError(401, "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.")
    if query.get("api-version") != MSI_API_VERSION:
        raise ManagedIdentityError(400, f"Unsupported api-version {query.get('api-version')!r}; use {MSI_API_VERSION}.")
    resource = (query.get("resource") or "").strip()
    if not resource:
        raise ManagedIdentityError(400, "The 'resource' query parameter is required.")
    if any(name in query for name in _UNSUPPORTED_IDS):
        raise ManagedIdentityError(400, "Only client_id identifies a user-assigned identity on the local authority.")
    client_id = query.get("client_id") or SYSTEM_ASSIGNED_CLIENT_ID
    if not _SAFE_CLIENT_ID.match(client_id):
        raise ManagedIdentityError(400, "Unable to load the requested managed identity.")
    issued_at = int(time.time() if now is None else now)
    token = mint_access_token(
        signing,
        issuer=issuer,
        audience=resource,
        client_id=client_id,
        tenant=tenant,
        now=issued_at,
        lifetime_s=MSI_TOKEN_LIFETIME_S,
        client_auth="2",
    )
    body = {
        "access_token": token,
        "expires_on": str(issued_at + MSI_TOKEN_LIFETIME_S),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": client_id,
    }
    return client_id, body
