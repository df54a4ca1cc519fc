"""The OAuth 2.0 / OIDC logic of the local token authority, free of any HTTP server code.

It mirrors what Microsoft Entra ID answers to the client-credentials flow closely enough that unmodified MSAL (and
code written against Entra) cannot tell the difference: the discovery document, the JWKS, the token response and the
error shape (`error`, `AADSTS...` description, `error_codes`, trace and correlation ids). Keeping it pure makes the
rules easy to read and lets tests mint tokens (for example already expired ones) with exactly the server's claims.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

TOKEN_LIFETIME_S = 3600
_EXPIRES_IN_S = TOKEN_LIFETIME_S - 1  # Entra reports one second less than the token's real lifetime.
_DEFAULT_SUFFIX = "/.default"
_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AssertionCheck = Callable[[str, str], None]


@dataclass(frozen=True)
class SigningMaterial:
    """The private key that signs tokens and its public JWK (whose `kid` goes into every token header)."""

    key: rsa.RSAPrivateKey
    jwk: Mapping[str, Any]

    @property
    def kid(self) -> str:
        return str(self.jwk["kid"])


class TokenError(Exception):
    """A refusal that the server renders as an Entra-shaped JSON error with the given HTTP status."""

    def __init__(self, status: int, error: str, code: int, message: str) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.status = status
        self.error = error
        self.code = code
        self.message = message

    def body(self, correlation_id: str) -> dict[str, Any]:
        trace_id = str(uuid.uuid4())
        timestamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.code}: {self.message} Trace ID: {trace_id} Correlation ID: {correlation_id} "
                f"Timestamp: {timestamp}"
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }


def app_object_id(client_id: str) -> str:
    """The object id of the app's service principal (the Dataverse/BC "application user") for `client_id`.

    Derived, not stored, so emulators can map a token's `oid` to a seeded application user without asking us.
    """
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "local-app-user:" + client_id))


def tenant_id_for(tenant: str) -> str:
    """A stable tenant GUID: the segment itself if it is a GUID, else uuid5(NAMESPACE_DNS, lowercased name)."""
    try:
        return str(uuid.UUID(tenant))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_DNS, tenant.lower()))


def issuer_for(base_url: str, tenant: str) -> str:
    return f"{base_url}/{tenant}/v2.0"


def discovery_document(base_url: str, tenant: str) -> dict[str, Any]:
    """The OIDC discovery document MSAL reads to find the token endpoint; every URL points back at this server."""
    prefix = f"{base_url}/{tenant}"
    return {
        "issuer": issuer_for(base_url, tenant),
        "authorization_endpoint": f"{prefix}/oauth2/v2.0/authorize",
        "token_endpoint": f"{prefix}/oauth2/v2.0/token",
        "device_authorization_endpoint": f"{prefix}/oauth2/v2.0/devicecode",
        "end_session_endpoint": f"{prefix}/oauth2/v2.0/logout",
        "jwks_uri": f"{prefix}/discovery/v2.0/keys",
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "private_key_jwt"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": ["aud", "iss", "iat", "nbf", "exp", "appid", "azp", "oid", "sub", "tid", "idtyp", "ver"],
        "request_uri_parameter_supported": False,
        "tenant_region_scope": "NA",
        "cloud_instance_name": "local",
    }


def jwks_document(signing: SigningMaterial) -> dict[str, Any]:
    return {"keys": [dict(signing.jwk)]}


def mint_access_token(
    signing: SigningMaterial,
    *,
    issuer: str,
    audience: str,
    client_id: str,
    tenant: str,
    now: float | None = None,
    lifetime_s: int = TOKEN_LIFETIME_S,
    client_auth: str = "1",
) -> str:
    """An RS256 app-only access token with Entra's claims; `client_auth` (appidacr): 1 secret, 2 certificate/MI."""
    issued_at = int(time.time() if now is None else now)
    object_id = app_object_id(client_id)
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": issuer,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + lifetime_s,
        "appid": client_id,
        "azp": client_id,
        "appidacr": client_auth,
        "azpacr": client_auth,
        "oid": object_id,
        "sub": object_id,
        "tid": tenant_id_for(tenant),
        "idtyp": "app",
        "ver": "2.0",
        "jti": str(uuid.uuid4()),
        "uti": base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii"),
    }
    return jwt.encode(claims, signing.key, algorithm="RS256", headers={"kid": signing.kid, "typ": "JWT"})


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """client_id/secret from `Authorization: Basic` (RFC 6749 §2.3.1: each part form-urlencoded before base64)."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise TokenError(400, "invalid_request", 90014, "The Basic authorization header is malformed.") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise TokenError(400, "invalid_request", 90014, "The Basic authorization header is malformed.")
    return unquote_plus(client_id), unquote_plus(secret)


def _check_client_secret(client_id: str, secret: str, expected_secret: str) -> None:
    if not hmac.compare_digest(secret.encode("utf-8"), expected_secret.encode("utf-8")):
        raise TokenError(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "
            f"not the client secret ID, for a secret added to app '{client_id}'.",
        )


def _check_client_assertion(
    client_id: str, assertion_type: str, assertion: str, check_assertion: AssertionCheck | None
) -> None:
    """Certificate (private_key_jwt) credentials: `check_assertion(client_id, assertion)` (see credentials.py)
    accepts them or raises TokenError; without one, no certificate is trusted."""
    if assertion_type != _ASSERTION_TYPE or not assertion:
        raise TokenError(400, "invalid_request", 90014, "The request must contain a valid 'client_assertion'.")
    if check_assertion is not None:
        check_assertion(client_id, assertion)
        return
    raise TokenError(
        401,
        "invalid_client",
        700027,
        f"Client assertion failed signature validation: no certificate is registered for app '{client_id}' "
        "with the local authority.",
    )


def authenticate_client(
    form: Mapping[str, str],
    authorization: str | None,
    expected_secret: str,
    check_assertion: AssertionCheck | None = None,
) -> str:
    """Return the authenticated client id, or raise the TokenError Entra would answer with."""
    basic = _basic_credentials(authorization)
    client_id = basic[0] if basic else form.get("client_id", "")
    if not client_id:
        raise TokenError(
            400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'."
        )
    if basic and form.get("client_id") not in (None, client_id):
        raise TokenError(400, "invalid_request", 90014, "The client_id in the body does not match the Basic header.")
    secret = basic[1] if basic else form.get("client_secret")
    if secret is not None:
        _check_client_secret(client_id, secret, expected_secret)
    elif "client_assertion_type" in form or "client_assertion" in form:
        assertion_type, assertion = form.get("client_assertion_type", ""), form.get("client_assertion", "")
        _check_client_assertion(client_id, assertion_type, assertion, check_assertion)
    else:
        raise TokenError(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    return client_id


def resource_from_scope(scope: str | None) -> str:
    """The token audience: the single `<resource>/.default` scope with its suffix removed (app-only flows)."""
    scopes = (scope or "").split()
    if not scopes:
        raise TokenError(400, "invalid_scope", 70011, "The provided request must include a 'scope' input parameter.")
    if len(scopes) > 1:
        raise TokenError(
            400,
            "invalid_scope",
            70011,
            f"The provided value for the input parameter 'scope' is not "
            f"valid. The scope {' '.join(scopes)} is not valid. .default scope can't be combined with "
            "resource-specific scopes.",
        )
    resource = scopes[0].removesuffix(_DEFAULT_SUFFIX)
    if resource == scopes[0] or not resource:
        raise TokenError(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scopes[0]} is not valid. "
            "Client credential flows must have a scope value with /.default suffixed to the resource "
            "identifier (application ID URI).",
        )
    return resource


def issue_token(
    form: Mapping[str, str],
    authorization: str | None,
    *,
    base_url: str,
    tenant: str,
    signing: SigningMaterial,
    expected_secret: str,
    check_assertion: AssertionCheck | None = None,
) -> tuple[str, str, dict[str, Any]]:
    """Handle one token request; returns (client_id, audience, response body) or raises TokenError.

    Checks run in the order Entra reports them: grant type, client id, scope, then the credential itself.
    """
    grant_type = form.get("grant_type")
    if not grant_type:
        raise TokenError(
            400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'."
        )
    if grant_type != "client_credentials":
        raise TokenError(
            400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'."
        )
    if not form.get("client_id") and not (authorization or "").strip().lower().startswith("basic "):
        raise TokenError(
            400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'."
        )
    audience = resource_from_scope(form.get("scope"))
    client_id = authenticate_client(form, authorization, expected_secret, check_assertion)
    by_secret = "client_secret" in form or _basic_credentials(authorization) is not None
    token = mint_access_token(
        signing,
        issuer=issuer_for(base_url, tenant),
        audience=audience,
        client_id=client_id,
        tenant=tenant,
        client_auth="1" if by_secret else "2",
    )
    body = {"token_type": "Bearer", "expires_in": _EXPIRES_IN_S, "ext_expires_in": _EXPIRES_IN_S, "access_token": token}
    return client_id, audience, body
